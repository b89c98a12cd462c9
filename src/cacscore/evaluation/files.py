"""Which prediction, reference and image belong to one case, for ``cacscore evaluate``.

- Predictions (PRED): a folder of label files named ``<case id>.<ext>`` (.nii.gz, .nii, .mhd, .mha, .nrrd),
  or of ``cacscore predict`` case folders ``<case id>/calcium.<ext>``.
- Reference (REF): a folder of label files named the same way, where orCaScore reference names
  ``TRV1P1R.mhd`` stand for case ``TRV1P1`` (the trailing R is dropped); or a dataset root that
  :func:`cacscore.datasets.open_dataset` reads (orCaScore folder, COCA release, manifest .csv), which also
  says where each case's image is.
- Images (HU are needed to find calcium): ``--images`` is a dataset root as above, or a folder holding
  ``<case id>.<ext>``, ``<case id>CTI.mhd`` (orCaScore) or a DICOM folder ``<case id>/``; without it the
  reference dataset's images are used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from cacscore.errors import CacscoreError

_ORCASCORE_REFERENCE = re.compile(r"^((?:TR|TE|VA)V\d+P\d+)R$", re.IGNORECASE)
_LABEL_SUFFIXES = (".nii.gz", ".nii", ".mhd", ".mha", ".nrrd")


@dataclass(frozen=True)
class CaseFiles:
    """Files of one case: prediction and reference label sources, the image (file or DICOM folder).

    ``reference`` is a path, or a :class:`cacscore.datasets.Case` when REF is a dataset (COCA outlines are
    rasterised by the case itself).
    """

    case_id: str
    prediction: Path
    reference: object
    image: Path


def case_id_of(path: str | os.PathLike[str]) -> str | None:
    """The case id a label file stands for (``TRV1P1R.mhd`` -> ``TRV1P1``), or None for other files."""
    name = Path(path).name
    for suffix in _LABEL_SUFFIXES:
        if name.lower().endswith(suffix):
            stem = name[: -len(suffix)]
            m = _ORCASCORE_REFERENCE.match(stem)
            return m.group(1) if m else stem
    return None


def label_files(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """{case id: label file} of a folder of ``<id>.<ext>`` files or ``<id>/calcium.<ext>`` case folders."""
    root = Path(folder)
    if not root.is_dir():
        raise CacscoreError(f"{root} is not a folder of label volumes")
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            case_id = case_id_of(path)
        elif path.is_dir():
            inner = [path / f"calcium{s}" for s in _LABEL_SUFFIXES if (path / f"calcium{s}").is_file()]
            case_id, path = (path.name, inner[0]) if inner else (None, path)
        else:
            case_id = None
        if case_id is None:
            continue
        if case_id in found:
            raise CacscoreError(
                f"two label files for case {case_id} in {root}: {found[case_id].name}, {path.name}"
            )
        found[case_id] = path
    return found


def _is_dataset(path: Path) -> bool:
    from cacscore.datasets.coca import release_folder
    from cacscore.datasets.orcascore import is_orcascore

    if path.is_file():
        return path.suffix.lower() == ".csv"
    return path.is_dir() and (release_folder(path) is not None or is_orcascore(path))


def _dataset_cases(path: Path) -> dict:
    from cacscore.datasets import open_dataset

    return {case.case_id: case for case in open_dataset(path)}


def find_image(case_id: str, folder: Path) -> Path | None:
    """The image of ``case_id`` in a plain folder (see the module docstring), or None."""
    for name in [f"{case_id}{s}" for s in _LABEL_SUFFIXES] + [f"{case_id}CTI.mhd", f"{case_id}CTI.mha"]:
        if (folder / name).is_file():
            return folder / name
    if (folder / case_id).is_dir():
        return folder / case_id
    return None


def pair_cases(
    pred: str | os.PathLike[str], ref: str | os.PathLike[str], images: str | os.PathLike[str] | None = None
) -> tuple[list[CaseFiles], dict[str, list[str]]]:
    """Cases found in both PRED and REF, with their image; and the ids left unmatched.

    Returns:
        (cases sorted by id, {"prediction_only": [...], "reference_only": [...]}).

    Raises:
        CacscoreError: no case in common, or a case whose image cannot be found (says where it looked).
    """
    pred_files = label_files(pred)
    ref_path = Path(ref)
    if not ref_path.exists():
        raise CacscoreError(f"{ref_path} does not exist; give the reference label folder or dataset")
    if _is_dataset(ref_path):
        cases = {k: c for k, c in _dataset_cases(ref_path).items() if c.has_reference}
        references: dict[str, object] = dict(cases)
        ref_images = {k: Path(c.image_path) for k, c in cases.items()}
    else:
        references = dict(label_files(ref_path))
        ref_images = {}
    image_lookup = None
    if images is not None:
        image_root = Path(images)
        if not image_root.exists():
            raise CacscoreError(f"{image_root} does not exist; give the folder or dataset holding the scans")
        if _is_dataset(image_root):
            dataset_images = {k: Path(c.image_path) for k, c in _dataset_cases(image_root).items()}

            def image_lookup(case_id: str) -> Path | None:
                return dataset_images.get(case_id)
        else:

            def image_lookup(case_id: str) -> Path | None:
                return find_image(case_id, image_root)

    common = sorted(set(pred_files) & set(references))
    unmatched = {
        "prediction_only": sorted(set(pred_files) - set(references)),
        "reference_only": sorted(set(references) - set(pred_files)),
    }
    if not common:
        raise CacscoreError(
            f"no case is in both {pred} ({len(pred_files)} cases) and {ref} ({len(references)} cases); "
            "name predictions <case id>.<ext> or <case id>/calcium.<ext> after the reference cases"
        )
    out = []
    for case_id in common:
        image = image_lookup(case_id) if image_lookup else None
        image = image or ref_images.get(case_id)
        if image is None:
            where = images if images is not None else "the reference (a plain folder of labels has no images)"
            raise CacscoreError(
                f"no image found for case {case_id} in {where}; give --images with {case_id}.<ext>, "
                f"{case_id}CTI.mhd or a DICOM folder {case_id}/, or an orCaScore/COCA/manifest dataset"
            )
        out.append(CaseFiles(case_id, pred_files[case_id], references[case_id], image))
    return out, unmatched
