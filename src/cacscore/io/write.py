"""Writing volumes and label masks on exactly the input's geometry; reading masks back with a grid check."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.io.images import geometry_of, image_suffix, read_sitk, to_sitk, write_sitk_atomic
from cacscore.volume import Volume

_INT16 = np.iinfo(np.int16)


def write_volume(volume: Volume, path: str | os.PathLike[str], *, compress: bool = False) -> Path:
    """Write a volume's HU to an image file (.nii, .nii.gz, .mhd(+.raw/.zraw), .mha, .nrrd), atomically.

    Stored as int16 when every HU value is an integer within the int16 range (as orCaScore's MET_SHORT
    images), else as float32. ``compress`` gives a MetaImage a zlib-compressed ``.zraw`` data file.
    Scan metadata (kVp, ...) is not kept by these formats. Returns the path written.
    """
    hu = np.asarray(volume.hu)
    integral = (
        hu.size > 0
        and np.all(np.isfinite(hu))
        and float(hu.min()) >= _INT16.min
        and float(hu.max()) <= _INT16.max
        and np.array_equal(hu, np.round(hu))
    )
    array = hu.astype(np.int16) if integral else hu.astype(np.float32)
    return write_sitk_atomic(to_sitk(array, volume), path, compress=compress)


def write_mask(
    labels: np.ndarray,
    like: Volume,
    path: str | os.PathLike[str],
    dtype: type | np.dtype = np.uint8,
    *,
    compress: bool = False,
) -> Path:
    """Write an integer label volume on ``like``'s grid (same shape, spacing, origin, direction), atomically.

    Args:
        labels: (z, y, x) integer (or bool) array with ``like``'s shape.
        like: the volume whose geometry the mask takes.
        path: .nii, .nii.gz, .mhd, .mha or .nrrd.
        dtype: stored integer type (np.uint8 by default; np.int16 for an orCaScore submission, MET_SHORT).
        compress: MetaImage data as .zraw.

    Raises:
        CacscoreError: wrong shape, values that do not fit ``dtype``, or an unknown file ending.
    """
    labels = np.asarray(labels)
    if labels.shape != like.shape:
        raise CacscoreError(f"the mask's shape {labels.shape} differs from the volume's {like.shape}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise CacscoreError(f"a mask is stored as an integer type, not {dtype}")
    if labels.dtype.kind == "b":
        labels = labels.astype(np.uint8)
    if labels.dtype.kind == "f":
        if not np.array_equal(labels, np.round(labels)):
            raise CacscoreError("the mask holds non-integer values; labels must be integers")
    elif labels.dtype.kind not in "iu":
        raise CacscoreError(f"a mask must hold integers, not {labels.dtype}")
    if labels.size:
        info = np.iinfo(dtype)
        low, high = float(labels.min()), float(labels.max())
        if low < info.min or high > info.max:
            raise CacscoreError(f"label values {low:g}..{high:g} do not fit {dtype}; choose a wider dtype")
    return write_sitk_atomic(to_sitk(labels.astype(dtype), like), path, compress=compress)


def read_mask(path: str | os.PathLike[str], like: Volume | None = None) -> np.ndarray:
    """Read an integer label volume (z, y, x); with ``like``, check it lies on exactly that volume's grid.

    Raises:
        CacscoreError: missing/damaged file, NaN or non-integer values, or (with ``like``) a different
            shape, spacing, origin or direction (:meth:`Volume.grid_differences`, which
            :meth:`Volume.same_grid` tests).
    """
    import SimpleITK as sitk  # noqa: N813

    name = Path(path).name
    if image_suffix(path) is None:
        raise CacscoreError(f"{name} is not a mask file (.nii, .nii.gz, .mhd, .mha, .nrrd)")
    image = read_sitk(path)
    array = sitk.GetArrayFromImage(image)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise CacscoreError(f"{name} holds NaN or infinite values; a mask must hold integer labels")
        if not np.array_equal(array, np.round(array)):
            raise CacscoreError(f"{name} holds non-integer values; a mask must hold integer labels")
        array = array.astype(np.int32)
    if like is not None:
        spacing, origin, direction = geometry_of(image)
        problems = like.grid_differences(Volume(array, spacing, origin, direction))
        if problems:
            raise CacscoreError(
                f"the mask {name} is not on the image's grid ({'; '.join(problems)}); "
                "resample it or pair it with the right image"
            )
    return array
