"""Reading CT volumes and writing label volumes, keeping geometry exact.

- :func:`read_volume`: a DICOM series folder (searched recursively) or list of files (pydicom), or an image
  file .mhd/.mha (.raw/.zraw), .nii/.nii.gz, .nrrd (SimpleITK).
- :func:`write_volume`, :func:`write_mask`, :func:`read_mask`: image files on exactly a volume's grid.
- :func:`write_dicom_series`: a CT Image Storage series.
See docs/formats.md for the choices made.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cacscore.errors import CacscoreError
from cacscore.io.dicom_read import read_dicom_series
from cacscore.io.dicom_write import write_dicom_series
from cacscore.io.geometry import clamp_outside_fov, orientation_code
from cacscore.io.images import IMAGE_SUFFIXES, image_suffix, read_image_volume
from cacscore.io.write import read_mask, write_mask, write_volume
from cacscore.volume import Volume

__all__ = [
    "IMAGE_SUFFIXES",
    "clamp_outside_fov",
    "orientation_code",
    "read_mask",
    "read_volume",
    "write_dicom_series",
    "write_mask",
    "write_volume",
]


def read_volume(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    series_uid: str | None = None,
) -> Volume:
    """Read a CT volume in HU from a DICOM folder, a list of DICOM files or an image file.

    Args:
        path: a folder of DICOM files (searched recursively), a list of DICOM files, a single DICOM file
            (read as a one-slice volume, with a warning), or .mhd/.mha/.nii/.nii.gz/.nrrd.
        series_uid: for DICOM, the series to read when several are present (default: the CT series with
            most slices, recorded in ``volume.info.series_note``).

    Raises:
        CacscoreError: a wrong path or an unreadable, inconsistent or implausible input, with what to do
            (every check is listed in docs/formats.md; the shared ones are :mod:`cacscore.io.validate`).
    """
    if not isinstance(path, str | os.PathLike):
        return read_dicom_series(list(path), series_uid=series_uid)
    p = Path(path)
    if not p.exists():
        raise CacscoreError(f"{p} does not exist; give a DICOM folder or an image file (.mhd, .nii.gz, ...)")
    if p.is_dir():
        return read_dicom_series(p, series_uid=series_uid)
    if image_suffix(p) is not None:
        if series_uid is not None:
            raise CacscoreError(f"a series UID applies to DICOM only, not to {p.name}")
        return read_image_volume(p)
    if _is_dicom(p):
        return read_dicom_series([p], series_uid=series_uid)
    raise CacscoreError(
        f"{p.name} is neither a DICOM file nor an image of a known type ({', '.join(IMAGE_SUFFIXES)})"
    )


def _is_dicom(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"
