"""Signed distances (mm, negative inside) of the soft organs' shapes, their smooth union, and evaluation on
a coarse grid upsampled to the scan grid.

An ellipsoid's signed distance is approximated to first order, d = (sqrt(q) - 1) sqrt(q) / |sum t_k a_k /
s_k^2| (exact for a sphere, good near the surface, where it matters). Organs are smooth unions of such
shapes (polynomial smooth minimum, Quilez 2013: smin(a, b, k) = min - k h^2 / 4 with h = max(k - |a - b|,
0) / k), which leaves concave creases between them, such as the heart's atrioventricular groove. Distances
vary slowly, so they are evaluated on a grid two pixels coarse in-plane and upsampled linearly; the scan
grid then gets sharp boundaries at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.phantom.grid import Grid

#: Distance (mm) given to points far from a shape (outside every evaluated box).
FAR_MM: float = 1.0e3


@dataclass
class Ellipsoid3:
    """A solid ellipsoid: centre (x, y, z) mm, unit axes as rows (3, 3), semi-axes (3,) mm."""

    centre: np.ndarray
    axes: np.ndarray
    semi_mm: np.ndarray

    def sdf(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Approximate signed distance (mm) at broadcastable coordinates."""
        dx = x - np.float32(self.centre[0])
        dy = y - np.float32(self.centre[1])
        dz = z - np.float32(self.centre[2])
        q = None
        g = None
        for k in range(3):
            a = (self.axes[k] / self.semi_mm[k]).astype(np.float32)
            t = dx * a[0] + dy * a[1] + dz * a[2]
            t2 = t * t
            q = t2 if q is None else q + t2
            gk = t2 / np.float32(self.semi_mm[k] ** 2)
            g = gk if g is None else g + gk
        sq = np.sqrt(q)
        return (sq - 1) * sq / np.sqrt(np.maximum(g, 1e-12))

    def grown(self, mm: float) -> Ellipsoid3:
        """The ellipsoid with every semi-axis changed by ``mm``."""
        return Ellipsoid3(self.centre, self.axes, np.maximum(self.semi_mm + mm, 0.5))


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of two distance fields (blend width ``k`` mm)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(np.float32(k) - np.abs(a - b), 0) / np.float32(k)
    return np.minimum(a, b) - h * h * np.float32(k / 4)


def balls_sdf(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    centres: np.ndarray,
    radii: np.ndarray,
    reach_mm: float,
    out: np.ndarray,
) -> np.ndarray:
    """Signed distance of a union of balls (a tube when the centres follow a line), written into ``out``
    (min), evaluated only within ``reach_mm`` of each ball. ``x``, ``y``, ``z`` are the 1-D axes of ``out``.
    """
    for c, r in zip(np.asarray(centres, np.float32), np.asarray(radii, np.float32), strict=True):
        lim = r + reach_mm
        k0, k1 = np.searchsorted(z, c[2] - lim), np.searchsorted(z, c[2] + lim, side="right")
        j0, j1 = np.searchsorted(y, c[1] - lim), np.searchsorted(y, c[1] + lim, side="right")
        i0, i1 = np.searchsorted(x, c[0] - lim), np.searchsorted(x, c[0] + lim, side="right")
        if k1 <= k0 or j1 <= j0 or i1 <= i0:
            continue
        d2 = (
            ((z[k0:k1] - c[2]) ** 2)[:, None, None]
            + ((y[j0:j1] - c[1]) ** 2)[None, :, None]
            + ((x[i0:i1] - c[0]) ** 2)[None, None, :]
        )
        sub = out[k0:k1, j0:j1, i0:i1]
        np.minimum(sub, np.sqrt(d2) - r, out=sub)
    return out


@dataclass
class CoarseBox:
    """A box of the scan grid and a coarse copy of it (every ``strides[axis]``-th sample along each axis)."""

    box: tuple[slice, slice, slice]
    strides: tuple[int, int, int]
    z: np.ndarray  # coarse axes (world mm, float32)
    y: np.ndarray
    x: np.ndarray
    fine_shape: tuple[int, int, int]

    @classmethod
    def of(
        cls, grid: Grid, box: tuple[slice, slice, slice], target_mm: float = 1.0, target_z_mm: float = 2.5
    ) -> CoarseBox:
        """Strides: the largest integers keeping samples at or below ``target_mm`` in-plane and
        ``target_z_mm`` along z."""
        strides = (
            max(1, int(target_z_mm // grid.spacing_zyx_mm[0])),
            max(1, int(target_mm // grid.spacing_zyx_mm[1])),
            max(1, int(target_mm // grid.spacing_zyx_mm[2])),
        )
        shape = tuple(b.stop - b.start for b in box)
        axes = []
        for axis in range(3):
            n, st = shape[axis], strides[axis]
            n_c = max(-(-(n - 1) // st) + 1, 2) if st > 1 else n
            start = grid.axis_mm(axis)[box[axis]][0]
            axes.append((start + np.arange(n_c) * st * grid.spacing_zyx_mm[axis]).astype(np.float32))
        return cls(box, strides, axes[0], axes[1], axes[2], shape)  # type: ignore[arg-type]

    def coords(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable coarse coordinates (z, y, x)."""
        return self.z[:, None, None], self.y[None, :, None], self.x[None, None, :]

    def full(self, value: float = FAR_MM) -> np.ndarray:
        """A coarse array filled with ``value``."""
        return np.full((self.z.size, self.y.size, self.x.size), value, np.float32)

    def upsample(self, coarse: np.ndarray) -> np.ndarray:
        """Linear interpolation of a coarse array onto the fine box (fine i lies at coarse i/stride)."""
        out = coarse
        for axis, st in enumerate(self.strides):
            if st == 1:
                continue
            w = np.arange(st, dtype=np.float32) / st
            a = np.moveaxis(out, axis, -1)
            lo, hi = a[..., :-1, None], a[..., 1:, None]
            fine = (lo + (hi - lo) * w).reshape(*a.shape[:-1], -1)
            fine = np.concatenate([fine, a[..., -1:]], axis=-1)[..., : self.fine_shape[axis]]
            out = np.moveaxis(fine, -1, axis)
        return np.ascontiguousarray(out)
