"""Pulmonary vessels: a branching tree from each hilum, painted into aerated lung only.

The pulmonary arteries divide dichotomously from ~10 mm at the hilum to vessels below CT resolution at the
periphery (lobar ~7 mm, segmental ~4-5 mm; Weibel, Morphometry of the Human Lung, 1963); five lobar
directions per side, five generations, each child ~0.65 of its parent's radius. Unenhanced blood reads
like the heart's blood; partial volume makes the small ones fainter.
"""

from __future__ import annotations

import numpy as np

from cacscore.phantom.grid import Grid, resample_polyline, tube_occupancy
from cacscore.phantom.tissues import Tissue

_LOBAR_DIRECTIONS = (
    (1.0, 0.3, 1.0),
    (1.0, 0.4, -0.6),
    (0.6, 1.0, -0.2),
    (1.0, -0.6, 0.2),
    (0.8, 0.8, -1.0),
)


def lung_vessel_tree(
    rng: np.random.Generator, hila: dict[str, np.ndarray]
) -> list[tuple[np.ndarray, float, float]]:
    """Segments (2 points, start radius, end radius) of the vessel trees of both lungs."""
    segments = []
    for side, key in ((-1, "right"), (1, "left")):
        stack = [(hila[key], np.array([side * a, b, c]), 5.0, 0) for a, b, c in _LOBAR_DIRECTIONS]
        while stack:
            p0, d, rad, level = stack.pop()
            d = d / np.linalg.norm(d)
            length = rng.uniform(22, 40) * (0.8**level)
            p1 = p0 + d * length
            segments.append((np.stack([p0, p1]), rad, rad * 0.7))
            if level < 5:
                for _ in range(2):
                    stack.append((p1, d + rng.normal(0, 0.5, 3), rad * 0.65, level + 1))
    return segments


def paint_lung_vessels(grid: Grid, hu: np.ndarray, tissue: np.ndarray, segments, blood_hu: float) -> None:
    """Paint the vessel segments where the tissue is still aerated lung."""
    full = (slice(0, grid.shape[0]), slice(0, grid.shape[1]), slice(0, grid.shape[2]))
    occ = np.zeros(grid.shape, np.float32)
    for pts, r0, r1 in segments:
        p, arc = resample_polyline(pts, max(r1 * 0.6, 0.6))
        tube_occupancy(grid, p, r0 + (r1 - r0) * arc / arc[-1], full, out=occ)
    lung = tissue == Tissue.LUNG
    hu += np.where(lung, occ * (np.float32(blood_hu) - hu), 0).astype(np.float32)
    tissue[lung & (occ >= 0.5)] = Tissue.BLOOD
