"""Rods: a centreline with an elliptical cross-section (ribs, costal cartilages, spinous processes).

A rod is a chain of short elliptic-cylinder slabs, one per centreline point, each with the point's tangent,
a cross-section axis ``normal`` (orthogonalised to the tangent) and two semi-axes. Occupancy is evaluated
on ``n_sub`` sub-planes inside every slice and averaged, so a rib that crosses a 5 mm slice obliquely fills
the fraction of the slice it really fills (painting at the slice centre only would make it flicker between
slices). Nested rods (a cortex round marrow) are the same rod with the semi-axes reduced by an offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.phantom.grid import Grid

#: Sub-plane spacing (mm) used for occupancy along z.
SUB_PLANE_MM: float = 1.25


@dataclass
class Rod:
    """Centreline points (N, 3) world mm, cross-section axis (N, 3), semi-axes along it and across (N,)."""

    points: np.ndarray
    normals: np.ndarray
    semi_n_mm: np.ndarray
    semi_b_mm: np.ndarray

    def sub(self, keep: np.ndarray) -> Rod:
        """The rod restricted to the points where ``keep`` is true."""
        return Rod(self.points[keep], self.normals[keep], self.semi_n_mm[keep], self.semi_b_mm[keep])


def sub_planes(grid: Grid) -> int:
    """Number of sub-planes per slice: one every :data:`SUB_PLANE_MM` or closer."""
    return max(1, int(np.ceil(grid.spacing_zyx_mm[0] / SUB_PLANE_MM - 1e-6)))


def rod_occupancy(
    grid: Grid, rod: Rod, offsets_mm: tuple[float, ...] = (0.0,)
) -> tuple[tuple[slice, slice, slice] | None, list[np.ndarray]]:
    """Fraction of each voxel (0..1, float32) inside the rod, for each semi-axis reduction in ``offsets_mm``.

    Returns the box the arrays cover (None when the rod misses the grid) and one array per offset.
    """
    pts = np.asarray(rod.points, dtype=float)
    if len(pts) < 2:
        return None, []
    tan = np.gradient(pts, axis=0)
    seg = np.linalg.norm(tan, axis=1)
    tan /= np.maximum(seg, 1e-9)[:, None]
    nrm = rod.normals - (rod.normals * tan).sum(axis=1, keepdims=True) * tan
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1), 1e-9)[:, None]
    bin_ = np.cross(tan, nrm)
    half = 0.6 * seg + 0.05  # each slab reaches a little past half-way to its neighbours
    reach = np.maximum(rod.semi_n_mm, rod.semi_b_mm) + half
    box = grid.box((pts - reach[:, None]).min(axis=0), (pts + reach[:, None]).max(axis=0))
    if box is None:
        return None, []
    n_sub = sub_planes(grid)
    dz = grid.spacing_zyx_mm[0]
    zc = grid.axis_mm(0)[box[0]].astype(np.float64)
    zf = (zc[:, None] + dz * ((np.arange(n_sub) + 0.5) / n_sub - 0.5)[None, :]).ravel().astype(np.float32)
    yc = grid.axis_mm(1)[box[1]]
    xc = grid.axis_mm(2)[box[2]]
    shape = (zf.size, yc.size, xc.size)
    inside = [np.zeros(shape, bool) for _ in offsets_mm]
    for i in range(len(pts)):
        p, r = pts[i], reach[i]
        k0, k1 = np.searchsorted(zf, p[2] - r), np.searchsorted(zf, p[2] + r, side="right")
        j0, j1 = np.searchsorted(yc, p[1] - r), np.searchsorted(yc, p[1] + r, side="right")
        i0, i1 = np.searchsorted(xc, p[0] - r), np.searchsorted(xc, p[0] + r, side="right")
        if k1 <= k0 or j1 <= j0 or i1 <= i0:
            continue
        dz_ = (zf[k0:k1] - np.float32(p[2]))[:, None, None]
        dy_ = (yc[j0:j1] - np.float32(p[1]))[None, :, None]
        dx_ = (xc[i0:i1] - np.float32(p[0]))[None, None, :]
        t, n, b = (
            dx_ * np.float32(v[0]) + dy_ * np.float32(v[1]) + dz_ * np.float32(v[2])
            for v in (tan[i], nrm[i], bin_[i])
        )
        along = np.abs(t) <= half[i]
        for off, acc in zip(offsets_mm, inside, strict=True):
            sn = max(rod.semi_n_mm[i] - off, 0.05)
            sb = max(rod.semi_b_mm[i] - off, 0.05)
            hit = along & ((n / np.float32(sn)) ** 2 + (b / np.float32(sb)) ** 2 <= 1.0)
            acc[k0:k1, j0:j1, i0:i1] |= hit
    nz = zc.size
    out = [a.reshape(nz, n_sub, yc.size, xc.size).mean(axis=1, dtype=np.float32) for a in inside]
    return box, out


def paint_layers(
    hu: np.ndarray,
    tissue: np.ndarray,
    box: tuple[slice, slice, slice],
    occupancies: list[np.ndarray],
    values_hu: list[float | np.ndarray],
    code: int,
) -> None:
    """Paint nested occupancies (outermost first) with their HU; label ``code`` where the outer one >= 0.5."""
    sub = hu[box]
    for occ, val in zip(occupancies, values_hu, strict=True):
        sub += occ * (np.float32(val) - sub) if np.isscalar(val) else occ * (val - sub)
    tissue[box][occupancies[0] >= 0.5] = code
