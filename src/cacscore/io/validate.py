"""Checks of what a reader read, shared by every format: HU values, geometry and the memory a volume needs.

Each reader family checks its own header first (declared size against the data, decompression, fields that
only that format has: :mod:`cacscore.io.metaimage`, :mod:`cacscore.io.nifti`, :mod:`cacscore.io.nrrd`,
:mod:`cacscore.io.dicom_checks`); then :func:`check_volume` checks the volume itself, whatever it was read
from. A volume that fails raises one :class:`~cacscore.errors.CacscoreError` line naming what is wrong:
a read that goes on would give a score that looks right and is not.

:func:`check_scorable` holds what ``predict`` needs beyond a valid volume: a slice with room for a heart,
and values on the Hounsfield scale (air in the image; an error for DICOM CT, a warning for formats that
declare no unit).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.volume import Volume

#: Lowest and highest value (HU) a CT voxel can hold: int16 storage with an intercept of -1024 reaches
#: -33792 (padding), and the extended CT scale of metal reconstructions ends near 30710 HU. A value outside
#: is no CT value (a damaged RescaleSlope/Intercept, a signed/unsigned mix-up, a scale factor of 1e30).
HU_LIMITS: tuple[float, float] = (-33_792.0, 32_767.0)

#: Smallest and largest voxel spacing (mm) of a CT scan cacscore reads: reconstructions go down to about
#: 0.1 mm pixels and up to 10 mm slices; values outside are damaged headers (0, 1e-9, 1e6 mm).
SPACING_LIMITS_MM: tuple[float, float] = (0.01, 20.0)

#: Environment variable that sets the memory budget of one volume in bytes (default: half the memory).
MEMORY_BUDGET_ENV = "CACSCORE_MAX_VOLUME_BYTES"

#: Bytes per voxel cacscore holds for a volume as it computes (float32 HU plus labels and masks).
BYTES_PER_VOXEL_IN_USE = 8

#: Fewest rows and columns a slice must have for ``predict``: a heart does not fit in fewer.
MIN_SLICE_PIXELS = 16

#: Air (HU) as every chest CT shows it, in the lungs and around the body.
AIR_HU: tuple[float, float] = (-1100.0, -500.0)

#: Smallest fraction of the voxels (padding excluded) that must be air for a chest CT in HU.
MIN_AIR_FRACTION = 1e-3


def memory_budget_bytes() -> int:
    """The most memory (bytes) one volume may take: ``$CACSCORE_MAX_VOLUME_BYTES``, else half the RAM."""
    value = os.environ.get(MEMORY_BUDGET_ENV)
    if value:
        try:
            return int(float(value))
        except ValueError:
            raise CacscoreError(f"{MEMORY_BUDGET_ENV}={value!r} is not a number of bytes") from None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):  # not a POSIX system: 8 GiB
        return 8 << 30


def check_declared_size(shape: Sequence[int], source: str) -> None:
    """Refuse a declared image size that is empty or does not fit the memory budget, before allocating.

    Args:
        shape: the voxel counts the header declares (any order).
        source: the file or folder, for the message.
    """
    dims = [int(d) for d in shape]
    if not dims or min(dims) < 1:
        raise CacscoreError(f"{source} declares an image of size {' x '.join(map(str, dims))}: "
                            "a size of 0 is a damaged header; re-export the image")
    need = int(np.prod(dims, dtype=object)) * BYTES_PER_VOXEL_IN_USE
    budget = memory_budget_bytes()
    if need > budget:
        raise CacscoreError(
            f"{source} declares {' x '.join(map(str, dims))} voxels, {need / 2**30:.1f} GiB to score, more "
            f"than the {budget / 2**30:.1f} GiB allowed (set {MEMORY_BUDGET_ENV} to allow more); "
            "the header is damaged or the image is not one CT scan"
        )


def declared_size(text: str | None, field: str, header: str, source: str) -> list[int]:
    """The voxel counts of a header's size field (``DimSize``, ``sizes``), checked by
    :func:`check_declared_size`.

    Args:
        text: the field's value as written (None when the header lacks it).
        field, header: the field's and the header format's names, for the message.
        source: the file, for the message.
    """
    if text is None:
        raise CacscoreError(f"{source} is a damaged {header} header (no {field}); re-export the image")
    try:
        dims = [int(v) for v in text.split()]
    except ValueError:
        raise CacscoreError(
            f"{source} is a damaged {header} header ({field} {text!r} is not a list of integers); "
            "re-export the image"
        ) from None
    check_declared_size(dims, source)
    return dims


def check_spacing(spacing_zyx_mm: Sequence[float], source: str) -> None:
    """Refuse spacings that are not finite or lie outside :data:`SPACING_LIMITS_MM`."""
    low, high = SPACING_LIMITS_MM
    values = [float(s) for s in spacing_zyx_mm]
    if not all(np.isfinite(values)) or min(values) < low or max(values) > high:
        shown = ", ".join(f"{s:g}" for s in values)
        raise CacscoreError(
            f"{source} has a voxel spacing of ({shown}) mm (z, y, x): a CT voxel is {low:g} to {high:g} mm; "
            "the header is damaged"
        )


def check_direction(direction: np.ndarray, source: str) -> None:
    """Refuse a direction matrix that is not finite with orthonormal columns (within 1e-3)."""
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    if not np.all(np.isfinite(d)) or not np.allclose(d.T @ d, np.eye(3), atol=1e-3):
        raise CacscoreError(
            f"{source} has an orientation whose axes are not perpendicular unit vectors "
            f"({np.round(d, 4).tolist()}); the header is damaged"
        )


def check_hu(hu: np.ndarray, source: str) -> None:
    """Refuse NaN or infinite voxels and values outside :data:`HU_LIMITS`."""
    finite = np.isfinite(hu)
    if not finite.all():
        bad = int(hu.size - np.count_nonzero(finite))
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise CacscoreError(
            f"{source} holds {bad} NaN or infinite voxel(s) (the first at index {first}): a CT image "
            "holds finite HU; fill them (e.g. with -1024) or re-export the image"
        )
    if hu.size:
        low, high = float(hu.min()), float(hu.max())
        if low < HU_LIMITS[0] or high > HU_LIMITS[1]:
            raise CacscoreError(
                f"{source} holds values from {low:.6g} to {high:.6g}, beyond any CT scan's "
                f"{HU_LIMITS[0]:g}..{HU_LIMITS[1]:g} HU: the rescale (slope, intercept) or the pixel "
                "format in the header is damaged"
            )


def check_volume(volume: Volume, source: str) -> Volume:
    """Check a volume as read (finite HU in range, spacing, orientation, origin); return it unchanged."""
    check_spacing(volume.spacing_zyx_mm, source)
    check_direction(volume.direction, source)
    if not np.all(np.isfinite(volume.origin_xyz_mm)):
        raise CacscoreError(f"{source} has an origin of {volume.origin_xyz_mm} mm; the header is damaged")
    check_hu(volume.hu, source)
    return volume


def check_scorable(volume: Volume, source: str) -> list[str]:
    """Refuse a volume that ``predict`` cannot score; return the warnings of one it scores with doubts.

    Slices too small to hold a heart are refused. A chest CT holds air (lungs, around the body); an image
    without any, its padding left aside, is not on the Hounsfield scale (a shifted RescaleIntercept, an
    unsigned image storing HU + 1024) or shows no chest. Where the file declares its values to be HU (a
    DICOM CT image) that is an error; where the format declares no unit (NIfTI, MetaImage, NRRD: a cropped
    or synthetic image may lack air) it is a warning.
    """
    _, rows, columns = volume.shape
    if min(rows, columns) < MIN_SLICE_PIXELS:
        raise CacscoreError(
            f"{source} has slices of {rows} x {columns} pixels: too small to hold a heart (at least "
            f"{MIN_SLICE_PIXELS} x {MIN_SLICE_PIXELS}); is the image's axis order right?"
        )
    hu = volume.hu
    values = hu[hu > hu.min()]
    air = np.count_nonzero((values >= AIR_HU[0]) & (values <= AIR_HU[1]))
    if air >= MIN_AIR_FRACTION * max(values.size, 1) and values.size:
        return []
    problem = (f"{source} holds no air ({AIR_HU[0]:g} to {AIR_HU[1]:g} HU) apart from its padding: its "
               "values are not Hounsfield units (check the rescale intercept or the image's scaling) or it "
               "shows no chest")
    if volume.info.modality == "CT":
        raise CacscoreError(f"{problem}; cacscore scores chest CT in HU")
    return [f"{problem}: the scores are only right if the values are HU"]
