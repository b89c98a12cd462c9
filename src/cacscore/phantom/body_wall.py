"""The body wall, slice by slice: skin, subcutaneous fat (breasts in women), muscle, the cage layer
(intercostal muscle; the ribs are painted into it later) and the thoracic cavity, filled with lung for now;
behind the vertebral bodies the cavity gives way to paravertebral soft tissue.

Everything is a polar layer round the cavity's centre (see :mod:`cacscore.phantom.patient`): the cavity
radius at each angle, then the cage, muscle, fat and skin thicknesses added outwards. The lung placeholder
is the cavity; the mediastinum, heart and the organs below the diaphragm are painted into it afterwards.
Aerated lung is denser where it is dependent (posterior in a supine patient; gravity-dependent density
gradient, e.g. Verschakelen et al., AJR 1993), as in the real scans (-836 HU in front, -770 at the back).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cacscore.phantom.grid import Grid
from cacscore.phantom.patient import Patient
from cacscore.phantom.tissues import HU_AIR, Tissue

_N_THETA = 1440


def paint_body_wall(
    grid: Grid, hu: np.ndarray, tissue: np.ndarray, p: Patient, rng: np.random.Generator, z_abdomen_mm: float
) -> None:
    """Fill ``hu`` and ``tissue`` (whole grid) with the body wall and the lung-filled cavity.

    ``z_abdomen_mm``: below this height the wall is abdominal wall (more fat).
    """
    x = grid.axis_mm(2)[None, :]
    y = grid.axis_mm(1)[:, None]
    r = np.sqrt(x * x + y * y).astype(np.float32)
    theta = np.arctan2(np.broadcast_to(y, r.shape), np.broadcast_to(x, r.shape))
    ti = ((theta + np.pi) / (2 * np.pi) * _N_THETA).astype(np.int32) % _N_THETA
    th = np.linspace(-np.pi, np.pi, _N_THETA, endpoint=False) + np.pi / _N_THETA
    h = p.hu
    layer_hu = np.array([0.0, h.muscle, h.muscle, h.fat, h.skin, HU_AIR], np.float32)
    layer_tissue = np.array(
        [Tissue.LUNG, Tissue.MUSCLE, Tissue.MUSCLE, Tissue.FAT, Tissue.SOFT_TISSUE, Tissue.AIR], np.uint8
    )
    depth_ant, depth_post = p.cavity_semi_y_ant_mm, p.cavity_semi_y_post_mm
    dependent = np.clip((y + depth_ant) / (depth_ant + depth_post), 0, 1) ** 1.5
    lung = (h.lung + h.lung_gradient * dependent).astype(np.float32)
    # Fibroglandular texture of the breasts: one smooth random field (~3 mm grain) for every slice.
    gland_tex = None
    if p.breast_mm > 0:
        gland_tex = ndimage.gaussian_filter(rng.standard_normal(r.shape).astype(np.float32), 3.0)
        gland_tex /= max(float(gland_tex.std()), 1e-6)
        gland_thr = float(rng.uniform(-0.2, 0.8))
    for k, z in enumerate(grid.axis_mm(0)):
        level = float(p.level_at(z))
        rc = p.cavity_radius(th, level)
        r1 = rc + p.cage_mm
        r2 = r1 + p.muscle_mm(th, level)
        fat = p.fat_mm_at(th, level, abdomen=bool(z < z_abdomen_mm))
        r3 = r2 + fat
        r4 = r3 + p.skin_mm
        layer = np.zeros(r.shape, np.uint8)
        for edge in (rc - p.spine_notch_mm(th, level), r1, r2, r3, r4):
            layer += r > edge.astype(np.float32)[ti]
        sl = np.where(layer == 0, lung, layer_hu[layer])
        tissue[k] = layer_tissue[layer]
        if gland_tex is not None:
            _paint_breast(sl, tissue[k], r, ti, th, r2, fat, p, level, gland_tex > gland_thr)
        hu[k] = sl


def _paint_breast(sl, lab, r, ti, th, r2, fat, p: Patient, level: float, texture: np.ndarray) -> None:
    """Fibroglandular tissue (~soft tissue) in the middle of the breast's fat, as irregular strands."""
    bump = p.breast_profile(th, level)
    if bump.max() < 5:
        return
    bump_px = bump[ti]
    depth = (r - r2[ti] - (fat - bump)[ti]) / np.maximum(bump_px, 1e-3)
    gland = (bump_px > 5) & (depth > 0.1) & (depth < 0.8) & texture
    sl[gland] = p.hu.soft_tissue - 20.0
    lab[gland] = Tissue.SOFT_TISSUE
