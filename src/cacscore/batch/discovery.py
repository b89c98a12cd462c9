"""Which cases a batch run holds: discovery in a folder or a manifest, sharding for job arrays, resuming."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cacscore.errors import CacscoreError

#: The file whose presence marks a case as done (written last and atomically by the pipeline).
DONE_MARKER = "result.json"


#: The file that makes a folder a manifest cohort (what ``cacscore phantom --layout manifest`` writes).
MANIFEST_NAME = "manifest.csv"

#: Hex characters of the study hash that tells apart the studies found in one folder.
STUDY_ID_LENGTH = 8


@dataclass(frozen=True)
class BatchCase:
    """One scan of a cohort: where it is, its id (the output folder name), an optional heart mask, and the
    DICOM series to read when its folder holds several studies."""

    case_id: str
    input_path: Path
    heart_mask_path: Path | None = None
    series_uid: str | None = None


def discover_cases(source: str | os.PathLike[str]) -> list[BatchCase]:
    """The cases of a cohort, sorted by case id; every scan once, none merged with another.

    ``source`` is a manifest CSV (:func:`cacscore.datasets.read_manifest`), a folder holding
    ``manifest.csv`` (that manifest), or a folder whose entries are cases: each image file
    (.mhd/.mha/.nii/.nii.gz/.nrrd/.nhdr) is one case, and each subfolder is a DICOM export tree holding one
    case per study (a subfolder with one study is one case named after it; with several, each study is a
    case ``<folder>-<hash of its StudyInstanceUID>``, reading the series the reader would choose in it).
    Hidden entries and the data files of MetaImages (.raw/.zraw) are ignored. Case ids (the output folder
    names) are a manifest's ``case_id`` column, else :func:`cacscore.case_ids.case_id_for`.

    Raises:
        CacscoreError: the source does not exist, holds no case, two cases share an id, or an id cannot
            name an output folder (:func:`cacscore.case_ids.check_case_id`).
    """
    from cacscore.io import IMAGE_SUFFIXES

    path = Path(source)
    if path.is_file() and path.suffix.lower() == ".csv":
        cases = _manifest_cases(path)
    elif path.is_dir():
        manifest = path / MANIFEST_NAME
        cases = _manifest_cases(manifest) if manifest.is_file() else _folder_cases(path)
    elif path.exists():
        raise CacscoreError(f"{path} is neither a folder of cases nor a manifest .csv; give one of those")
    else:
        raise CacscoreError(f"{path} does not exist; give a folder of cases or a manifest .csv")
    if not cases:
        raise CacscoreError(
            f"no case found in {path}: expected subfolders of DICOM files, image files "
            f"({', '.join(IMAGE_SUFFIXES)}) or a {MANIFEST_NAME}"
        )
    ids = [c.case_id.casefold() for c in cases]
    duplicates = sorted({c.case_id for c in cases if ids.count(c.case_id.casefold()) > 1})
    if duplicates:
        raise CacscoreError(
            f"several inputs have the same case id ({', '.join(duplicates[:5])}); "
            "rename them or list them in a manifest with distinct ids"
        )
    return sorted(cases, key=lambda c: c.case_id)


def _manifest_cases(manifest: Path) -> list[BatchCase]:
    from cacscore.case_ids import check_case_id
    from cacscore.datasets import read_manifest

    cases = []
    for c in read_manifest(manifest):
        try:
            check_case_id(c.case_id)
        except CacscoreError as exc:
            raise CacscoreError(f"{manifest.name}: {exc}") from None
        mask = Path(c.heart_mask_path) if c.heart_mask_path else None
        cases.append(BatchCase(c.case_id, Path(c.image_path), mask))
    return cases


def _folder_cases(folder: Path) -> list[BatchCase]:
    from cacscore.case_ids import case_id_for, check_case_id
    from cacscore.io import image_suffix

    cases = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            cases.extend(_dicom_cases(entry))
        elif entry.is_file() and image_suffix(entry):
            cases.append(BatchCase(case_id_for(entry), entry))
    for case in cases:
        check_case_id(case.case_id)
    return cases


def _dicom_cases(folder: Path) -> list[BatchCase]:
    """One case per study of a DICOM export tree (the folder itself when it holds one study or none)."""
    from cacscore.case_ids import case_id_for
    from cacscore.io.dicom_read import pick_series, study_series
    from cacscore.log import collect_warnings
    from cacscore.privacy import hashed_id

    name = case_id_for(folder)
    try:
        with collect_warnings():  # pydicom's warnings on odd headers come again, recorded, when read
            studies = study_series(folder)
    except CacscoreError:  # e.g. an empty folder: reading it gives the error of that case
        studies = {}
    if len(studies) <= 1:
        return [BatchCase(name, folder)]
    return [BatchCase(f"{name}-{hashed_id(study, STUDY_ID_LENGTH)}", folder, series_uid=pick_series(series))
            for study, series in sorted(studies.items())]


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
