"""Finding the DICOM images in a folder or a list of files, and reading their headers (no pixel data).

A file is skipped (and counted in a warning) only when it is plainly not a DICOM image: no DICOM marker and
no DICOM name (a README, a viewer's index), or a complete DICOM object of another kind (DICOMDIR, SR,
presentation state). A file that is marked or named as DICOM but cannot be read, or a CT image that lacks
its position, orientation or size, is damaged: one error naming it, never a silently shorter series.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cacscore.errors import CacscoreError

#: SOP Class UID of CT Image Storage.
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

#: File endings that say "this is a DICOM file".
DICOM_SUFFIXES: tuple[str, ...] = (".dcm", ".dicom", ".ima")


@dataclass
class DicomHeader:
    """One DICOM image: its file and its header (a pydicom Dataset read without pixel data)."""

    path: Path
    ds: object


def floats(ds, keyword: str, count: int) -> np.ndarray | None:
    """``count`` numbers of a multi-valued field, or None when absent, short or not numbers."""
    try:
        values = [float(v) for v in ds.get(keyword) or []]
    except (TypeError, ValueError, OverflowError):
        return None
    return np.array(values) if len(values) == count else None


def geometry_readable(ds) -> bool:
    """True when position, orientation, pixel spacing and matrix size parse as numbers."""
    try:
        sized = int(ds.Rows) > 0 and int(ds.Columns) > 0
    except (TypeError, ValueError, AttributeError):
        return False
    return sized and all(floats(ds, k, n) is not None for k, n in (
        ("ImagePositionPatient", 3), ("ImageOrientationPatient", 6), ("PixelSpacing", 2)))


def list_files(folder: Path) -> list[Path]:
    """Every regular file under ``folder`` (recursively), sorted.

    Raises:
        CacscoreError: the folder holds no file (saying so when it holds only links that lead nowhere).
    """
    files: list[Path] = []
    dangling: list[Path] = []
    for entry in sorted(folder.rglob("*")):
        if entry.is_file():
            files.append(entry)
        elif entry.is_symlink() and not entry.exists():
            dangling.append(entry)
    if not files and dangling:
        raise CacscoreError(
            f"the folder {folder} holds no file, only {len(dangling)} link(s) that lead nowhere (e.g. "
            f"{dangling[0].name}: a loop or a missing target); give the folder that holds the DICOM slices"
        )
    if not files:
        raise CacscoreError(f"the folder {folder} is empty; give the folder that holds the DICOM slices")
    return files


def looks_like_dicom(path: Path) -> bool:
    """True when a file says it is DICOM: a DICOM name, the ``DICM`` marker, or a truncated preamble."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    if len(head) == 132:
        return head[128:132] == b"DICM"
    return len(head) > 0 and not any(head)  # cut inside the 128-byte preamble of zeros


def decode_all(ds) -> None:
    """Decode every public element of a header and its file meta now (pydicom decodes lazily), so that a
    damaged value fails here, on reading, and not later in a writer or a viewer."""
    meta = getattr(ds, "file_meta", None)
    for dataset in (meta, ds):
        if dataset is None:
            continue
        for element in dataset:
            if not element.tag.is_private:
                _ = element.value


def _could_be_ct(ds) -> bool:
    """True unless the object says, consistently, that it is of another kind than a CT image: its SOP class
    (in the dataset and in the file meta, which comes first in the file) is known and is not CT Image
    Storage. A file cut short inside its header has a partial SOP class that disagrees with the meta."""
    meta = getattr(ds, "file_meta", None)
    meta_class = str(meta.get("MediaStorageSOPClassUID", "") or "") if meta is not None else ""
    own_class = str(ds.get("SOPClassUID", "") or "")
    classes = {c for c in (meta_class, own_class) if c}
    return not classes or CT_IMAGE_STORAGE in classes or len(classes) > 1


def _damaged(path: Path, why: str) -> CacscoreError:
    return CacscoreError(f"{path} is a damaged or truncated DICOM file ({why}); re-export or remove it")


def _read_one(path: Path, strict: bool):
    """The header of one file, or None when the file is not DICOM (raises when ``strict``)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        if strict:
            raise CacscoreError(f"{path} is not a DICOM file; give only the slices of one CT series"
                                ) from None
        if looks_like_dicom(path):
            raise _damaged(path, "it is named or marked as DICOM but is no readable DICOM") from None
        return None
    except Exception as exc:  # pydicom raises many types for damaged files
        raise _damaged(path, type(exc).__name__) from None
    try:
        decode_all(ds)
    except Exception as exc:
        raise CacscoreError(
            f"{path} is a damaged DICOM file (an unreadable element: {type(exc).__name__}); "
            "re-export or remove it"
        ) from None
    return ds


def read_headers(files: Sequence[Path], strict: bool) -> tuple[list[DicomHeader], list[Path]]:
    """Headers of the DICOM images among ``files``, and the files skipped as not DICOM images.

    With ``strict`` (an explicit list of files) every file must be a DICOM image.

    Raises:
        CacscoreError: a damaged or truncated DICOM file (see the module docstring).
    """
    headers: list[DicomHeader] = []
    skipped: list[Path] = []
    for f in files:
        ds = _read_one(f, strict)
        if ds is None:
            skipped.append(f)
            continue
        if not geometry_readable(ds):
            if _could_be_ct(ds):
                raise _damaged(f, "a CT image without a readable position, orientation, spacing or size")
            if strict:
                raise CacscoreError(f"{f} is not a DICOM image with a position; give only the slices of one "
                                    "series")
            skipped.append(f)  # DICOMDIR, SR, presentation state, a secondary capture without spacing
            continue
        headers.append(DicomHeader(f, ds))
    return headers, skipped


def folder_or_files(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
                    ) -> tuple[list[Path], bool, str]:
    """(files, strict, source text) of a folder (searched recursively) or an explicit list of files."""
    if isinstance(source, str | os.PathLike):
        folder = Path(source)
        if not folder.exists():
            raise CacscoreError(f"{folder} does not exist; give a DICOM folder or an image file")
        if not folder.is_dir():
            raise CacscoreError(f"{folder} is not a folder")
        return list_files(folder), False, str(folder)
    files = [Path(f) for f in source]
    if not files:
        raise CacscoreError("the list of DICOM files is empty")
    for f in files:
        if not f.is_file():
            raise CacscoreError(f"{f} does not exist or is not a file")
    return files, True, str(files[0].parent)
