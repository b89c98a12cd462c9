"""Which cases a batch run holds: discovery in a folder or a manifest, sharding for job arrays, resuming."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cacscore.errors import CacscoreError

#: The file whose presence marks a case as done (written last and atomically by the pipeline).
DONE_MARKER = "result.json"


@dataclass(frozen=True)
class BatchCase:
    """One scan of a cohort: where it is, its id (the output folder name) and an optional heart mask."""

    case_id: str
    input_path: Path
    heart_mask_path: Path | None = None


def discover_cases(source: str | os.PathLike[str]) -> list[BatchCase]:
    """The cases of a cohort, sorted by case id.

    ``source`` is either a manifest CSV (read with :func:`cacscore.datasets.read_manifest`) or a folder whose
    entries are cases: each image file (.mhd/.mha/.nii/.nii.gz/.nrrd) is one case, and each subfolder is
    one DICOM case. Hidden entries and the data files of MetaImages (.raw/.zraw) are ignored. Case ids (the
    output folder names) are a manifest's ``case_id`` column, else :func:`cacscore.case_folder.case_id_for`
    (the folder name or file stem, as ``predict`` names them).

    Raises:
        CacscoreError: the source does not exist, holds no case, or two cases share an id.
    """
    from cacscore.case_folder import case_id_for, check_case_id
    from cacscore.io import IMAGE_SUFFIXES, image_suffix

    path = Path(source)
    if path.is_file() and path.suffix.lower() == ".csv":
        from cacscore.datasets import read_manifest

        cases = []
        for c in read_manifest(path):
            check_case_id(c.case_id)
            mask = Path(c.heart_mask_path) if c.heart_mask_path else None
            cases.append(BatchCase(c.case_id, Path(c.image_path), mask))
    elif path.is_dir():
        cases = []
        for entry in sorted(path.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir() or (entry.is_file() and image_suffix(entry)):
                cases.append(BatchCase(case_id_for(entry), entry))
    elif path.exists():
        raise CacscoreError(f"{path} is neither a folder of cases nor a manifest .csv; give one of those")
    else:
        raise CacscoreError(f"{path} does not exist; give a folder of cases or a manifest .csv")
    if not cases:
        raise CacscoreError(
            f"no case found in {path}: expected subfolders of DICOM files or image files "
            f"({', '.join(IMAGE_SUFFIXES)})"
        )
    ids = [c.case_id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CacscoreError(
            f"several inputs have the same case id ({', '.join(duplicates[:5])}); "
            "rename them or list them in a manifest with distinct ids"
        )
    return sorted(cases, key=lambda c: c.case_id)


def select_part(cases: list[BatchCase], num_parts: int = 1, part_id: int = 0) -> list[BatchCase]:
    """The cases of part ``part_id`` of ``num_parts``: the i-th case (by id) where i % num_parts == part_id.

    Deterministic for a given cohort, so the parts of a job array are disjoint and together hold every case.
    """
    if num_parts < 1:
        raise CacscoreError(f"--num-parts must be at least 1, not {num_parts}")
    if not 0 <= part_id < num_parts:
        raise CacscoreError(f"--part-id must be in 0..{num_parts - 1}, not {part_id}")
    ordered = sorted(cases, key=lambda c: c.case_id)
    return [c for i, c in enumerate(ordered) if i % num_parts == part_id]


def is_done(case: BatchCase, out_dir: str | os.PathLike[str]) -> bool:
    """True when ``out_dir/<case_id>/result.json`` exists (the pipeline writes it last, atomically)."""
    return (Path(out_dir) / case.case_id / DONE_MARKER).is_file()
