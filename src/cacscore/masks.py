"""Binary-mask operations in physical units (mm), for (z, y, x) volumes and (y, x) slices.

Distances come from SciPy's exact Euclidean distance transform with the voxel spacing as ``sampling``, so
thresholding a distance map is an erosion or dilation by a disc or ball of that radius in millimetres,
whatever the pixel size. In-plane operations work slice by slice (scans are often much coarser in z).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def largest_component(mask: np.ndarray, structure: np.ndarray | None = None) -> np.ndarray:
    """The largest connected part of ``mask`` (a copy of ``mask`` when it is empty)."""
    lab, n = ndi.label(mask, structure=structure)
    if n == 0:
        return mask.copy()
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def fill_slices(mask: np.ndarray) -> np.ndarray:
    """Holes filled slice by slice."""
    out = np.empty_like(mask)
    for z in range(mask.shape[0]):
        out[z] = ndi.binary_fill_holes(mask[z])
    return out


def distance2d(mask: np.ndarray, wy: float, wx: float) -> np.ndarray:
    """Per-slice distance (mm) from each voxel of ``mask`` to the nearest voxel outside it (0 outside).

    Thresholding it erodes by a disc; thresholding the distance of the complement dilates. A slice that
    is all inside has infinite distance.
    """
    out = np.zeros(mask.shape, dtype=np.float32)
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        if mask[z].all():
            out[z] = np.inf
        else:
            out[z] = ndi.distance_transform_edt(mask[z], sampling=(wy, wx))
    return out


def dilate2d(mask: np.ndarray, radius_mm: float, wy: float, wx: float) -> np.ndarray:
    """Per-slice dilation by a disc of ``radius_mm``."""
    return distance2d(~mask, wy, wx) <= radius_mm


def opening2d(mask: np.ndarray, radius_mm: float, wy: float, wx: float) -> np.ndarray:
    """Per-slice opening by a disc of ``radius_mm``: removes what is thinner than the disc's diameter."""
    if radius_mm <= 0:
        return mask
    inner = distance2d(mask, wy, wx) > radius_mm
    return dilate2d(inner, radius_mm, wy, wx) & mask


def opening3d(mask: np.ndarray, radius_mm: float, sampling: tuple[float, float, float]) -> np.ndarray:
    """Opening by a ball of ``radius_mm`` (anisotropic voxels) via two distance transforms."""
    inner = ndi.distance_transform_edt(mask, sampling=sampling) > radius_mm
    if not inner.any():
        return inner
    return (ndi.distance_transform_edt(~inner, sampling=sampling) <= radius_mm) & mask


def hull2d(mask: np.ndarray) -> np.ndarray:
    """Filled convex hull of a 2-D mask: pixels whose centre lies in the hull of the pixels' corners.

    Only the leftmost and rightmost pixel of each row can be hull vertices, so the hull is built from those
    (at most four corners per row) and filled row by row; much faster than testing every pixel.
    """
    from scipy.spatial import ConvexHull, QhullError

    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return mask.copy()
    sub = mask[rows]
    left = np.argmax(sub, axis=1)
    right = mask.shape[1] - 1 - np.argmax(sub[:, ::-1], axis=1)
    r = rows.astype(float)
    pts = np.concatenate(
        [
            np.stack([r - 0.5, left - 0.5], 1),
            np.stack([r + 0.5, left - 0.5], 1),
            np.stack([r - 0.5, right + 0.5], 1),
            np.stack([r + 0.5, right + 0.5], 1),
        ]
    )
    try:
        v = pts[ConvexHull(pts).vertices]
    except QhullError:  # degenerate
        return mask.copy()
    return _fill_convex(v, mask.shape) | mask


def hull_slices(mask: np.ndarray) -> np.ndarray:
    """:func:`hull2d` of every slice."""
    out = np.zeros_like(mask)
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        out[z] = hull2d(mask[z])
    return out


def _fill_convex(vertices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels (row, col) whose centre lies inside a convex polygon given by its (row, col) vertices."""
    out = np.zeros(shape, dtype=bool)
    y0, x0 = vertices[:, 0], vertices[:, 1]
    y1, x1 = np.roll(y0, -1), np.roll(x0, -1)
    ys = np.arange(max(0, int(np.ceil(y0.min()))), min(shape[0] - 1, int(np.floor(y0.max()))) + 1)
    if ys.size == 0:
        return out
    lo_y, hi_y = np.minimum(y0, y1), np.maximum(y0, y1)
    cross = (ys[:, None] >= lo_y[None]) & (ys[:, None] <= hi_y[None]) & (hi_y > lo_y)[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ys[:, None] - y0[None]) / (y1 - y0)[None]
        xs = x0[None] + t * (x1 - x0)[None]
    xmin = np.where(cross, xs, np.inf).min(axis=1)
    xmax = np.where(cross, xs, -np.inf).max(axis=1)
    cols = np.arange(shape[1])
    ok = np.isfinite(xmin)
    out[ys[ok]] = (cols[None] >= np.ceil(xmin[ok])[:, None]) & (cols[None] <= np.floor(xmax[ok])[:, None])
    return out


def bbox_yx(mask: np.ndarray, pad_y: float, pad_x: float) -> tuple[slice, slice, slice]:
    """(all slices, rows, columns) of the in-plane bounding box of ``mask`` padded by the given pixels."""
    rows = np.flatnonzero(mask.any(axis=(0, 2)))
    cols = np.flatnonzero(mask.any(axis=(0, 1)))
    ny, nx = mask.shape[1:]
    if rows.size == 0:
        return (slice(None), slice(0, ny), slice(0, nx))
    py, px = int(np.ceil(pad_y)) + 1, int(np.ceil(pad_x)) + 1
    return (
        slice(None),
        slice(max(0, rows[0] - py), min(ny, rows[-1] + 1 + py)),
        slice(max(0, cols[0] - px), min(nx, cols[-1] + 1 + px)),
    )
