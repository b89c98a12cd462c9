"""The voxel grid of a phantom scan and the shape primitives painted on it.

World coordinates are patient LPS millimetres (x to the patient's left, y posterior, z superior); the grid
has identity direction, so voxel (k, j, i) sits at ``origin + (i dx, j dy, k dz)``. Shapes are evaluated
analytically on the voxel centres of a bounding box only (float32), never on the whole volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Shape (z, y, x), spacing (z, y, x) in mm and origin (x, y, z) in mm of a scan grid."""

    shape: tuple[int, int, int]
    spacing_zyx_mm: tuple[float, float, float]
    origin_xyz_mm: tuple[float, float, float]

    def axis_mm(self, axis: int) -> np.ndarray:
        """World coordinates (mm, float32) of the voxel centres along array axis 0 (z), 1 (y) or 2 (x)."""
        world = (2, 1, 0)[axis]
        return (self.origin_xyz_mm[world] + np.arange(self.shape[axis]) * self.spacing_zyx_mm[axis]).astype(
            np.float32
        )

    def box(self, lo_xyz: np.ndarray, hi_xyz: np.ndarray) -> tuple[slice, slice, slice] | None:
        """Array slices (z, y, x) of the voxels whose centres lie in the world box, or None when empty."""
        out = []
        for axis in range(3):
            world = (2, 1, 0)[axis]
            s = self.spacing_zyx_mm[axis]
            o = self.origin_xyz_mm[world]
            i0 = max(int(np.ceil((lo_xyz[world] - o) / s)), 0)
            i1 = min(int(np.floor((hi_xyz[world] - o) / s)) + 1, self.shape[axis])
            if i1 <= i0:
                return None
            out.append(slice(i0, i1))
        return tuple(out)  # type: ignore[return-value]

    def coords(self, box: tuple[slice, slice, slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable world coordinates (z[:,None,None], y[None,:,None], x[None,None,:]) of a box."""
        z = self.axis_mm(0)[box[0]][:, None, None]
        y = self.axis_mm(1)[box[1]][None, :, None]
        x = self.axis_mm(2)[box[2]][None, None, :]
        return z, y, x

    def to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Fractional voxel index (z, y, x) of world points (..., 3) given as (x, y, z)."""
        p = np.asarray(xyz, dtype=float)
        o = np.asarray(self.origin_xyz_mm)
        s = np.asarray(self.spacing_zyx_mm[::-1])
        return ((p - o) / s)[..., ::-1]


def tube_occupancy(
    grid: Grid,
    points_xyz: np.ndarray,
    radii_mm: np.ndarray,
    box: tuple[slice, slice, slice],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Fraction (0..1) of each voxel cell covered by a tube, as a union of balls along a centreline.

    Along z the fraction is the chord of each ball inside the voxel's cell (one slice increment), so tubes
    running in-plane do not vanish between slice centres; in-plane it is 0/1 at voxel centres (the in-plane
    PSF blur comes later). ``box`` is the region the result covers; ``out`` (same shape) is updated in place
    with the maximum.
    """
    shape = tuple(s.stop - s.start for s in box)
    occ = np.zeros(shape, np.float32) if out is None else out
    dz = grid.spacing_zyx_mm[0]
    zc = grid.axis_mm(0)[box[0]]
    yc = grid.axis_mm(1)[box[1]]
    xc = grid.axis_mm(2)[box[2]]
    pts = np.asarray(points_xyz, dtype=np.float32)
    rad = np.asarray(radii_mm, dtype=np.float32)
    i0s = np.searchsorted(xc, pts[:, 0] - rad)
    i1s = np.searchsorted(xc, pts[:, 0] + rad, side="right")
    j0s = np.searchsorted(yc, pts[:, 1] - rad)
    j1s = np.searchsorted(yc, pts[:, 1] + rad, side="right")
    k0s = np.searchsorted(zc, pts[:, 2] - rad - dz / 2)
    k1s = np.searchsorted(zc, pts[:, 2] + rad + dz / 2, side="right")
    keep = (i1s > i0s) & (j1s > j0s) & (k1s > k0s)
    for n in np.nonzero(keep)[0]:
        p, r = pts[n], rad[n]
        i0, i1, j0, j1, k0, k1 = i0s[n], i1s[n], j0s[n], j1s[n], k0s[n], k1s[n]
        d2 = (yc[j0:j1, None] - p[1]) ** 2 + (xc[None, i0:i1] - p[0]) ** 2
        h = np.sqrt(np.maximum(r * r - d2, 0.0))[None]
        z = zc[k0:k1, None, None]
        frac = (np.minimum(z + dz / 2, p[2] + h) - np.maximum(z - dz / 2, p[2] - h)) / dz
        np.clip(frac, 0.0, 1.0, out=frac)
        frac[:, h[0] <= 0] = 0.0
        sub = occ[k0:k1, j0:j1, i0:i1]
        np.maximum(sub, frac, out=sub)
    return occ


def resample_polyline(points: np.ndarray, step_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step_mm`` along a polyline (N, 3), and their arc length (mm) from the first point."""
    pts = np.asarray(points, dtype=float)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.ceil(s[-1] / step_mm)) + 1, 2)
    t = np.linspace(0.0, s[-1], n)
    out = np.stack([np.interp(t, s, pts[:, k]) for k in range(3)], axis=1)
    return out, t


def frame_from(direction: np.ndarray) -> np.ndarray:
    """A right-handed orthonormal frame (rows) whose first row is ``direction``."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    a = np.cross(d, helper)
    a /= np.linalg.norm(a)
    b = np.cross(d, a)
    return np.stack([d, a, b])
