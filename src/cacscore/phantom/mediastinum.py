"""The mediastinum on the grid: the fat envelope between the lungs, and the tubes in it.

The lungs fill the thoracic cavity except the mediastinum. Its outline is the union of every mediastinal
structure grown by the fat kept round it (the heart by its paracardial fat, with fat pads at the
cardiophrenic angles; the aorta, airways, oesophagus and veins by a few mm; the spine's front; the
anterior mediastinum behind the sternum above the heart), closed morphologically so that the fat fills the
clefts between structures, as real mediastinal fat does. Everything inside that outline that is still lung
becomes fat; then the tubes are painted with their walls and lumens (unenhanced blood, air, soft tissue).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cacscore.phantom.grid import Grid, tube_occupancy
from cacscore.phantom.heart import HeartGeometry
from cacscore.phantom.heart_tissue import HeartFields
from cacscore.phantom.patient import Patient
from cacscore.phantom.ribcage import Sternum
from cacscore.phantom.shapes import CoarseBox, balls_sdf
from cacscore.phantom.tissues import HU_AIR, Tissue
from cacscore.phantom.vessels import Mediastinum


def paint_mediastinum(
    grid: Grid,
    hu: np.ndarray,
    tissue: np.ndarray,
    p: Patient,
    heart: HeartGeometry,
    fields: HeartFields | None,
    med: Mediastinum,
    sternum: Sternum,
    rng: np.random.Generator,
) -> None:
    """Fat envelope (into the lung placeholder), then the tubes."""
    _paint_envelope(grid, hu, tissue, p, heart, fields, med, sternum, rng)
    h = p.hu
    values = {Tissue.BLOOD: h.blood, Tissue.AIR: HU_AIR, Tissue.SOFT_TISSUE: h.soft_tissue}
    for t in med.tubes:
        lo = t.points.min(axis=0) - t.radii_mm.max() - t.wall_mm - 1
        hi = t.points.max(axis=0) + t.radii_mm.max() + t.wall_mm + 1
        box = grid.box(lo, hi)
        if box is None:
            continue
        sub, lab = hu[box], tissue[box]
        wall_hu = h.blood + 8.0 if t.name == "aorta" else values[t.wall]
        layers = [(t.radii_mm + t.wall_mm, wall_hu, t.wall), (t.radii_mm, values[t.lumen], t.lumen)]
        if t.name == "oesophagus" and med.air_in_oesophagus:
            layers.append((t.radii_mm * 0.3, HU_AIR, Tissue.AIR))
        for radii, value, code in layers:
            occ = tube_occupancy(grid, t.points, radii, box)
            sub += occ * (np.float32(value) - sub)
            lab[occ >= 0.5] = code


def _paint_envelope(
    grid,
    hu,
    tissue,
    p: Patient,
    heart: HeartGeometry,
    fields: HeartFields | None,
    med: Mediastinum,
    sternum: Sternum,
    rng,
) -> None:
    z_axis = grid.axis_mm(0)
    r_ant = float(p.cavity_semi_y_ant_mm) * 1.1
    y_back = float(np.max(p.spine_y_mm(p.level_at(z_axis))))
    box = grid.box(np.array([-120.0, -r_ant - 5, z_axis[0] - 1]), np.array([130.0, y_back, z_axis[-1] + 1]))
    if box is None:
        return
    cb = CoarseBox.of(grid, box, 1.6)
    env = cb.full()
    for t in med.tubes:
        if t.in_mediastinum:
            balls_sdf(cb.x, cb.y, cb.z, t.points[::2], t.radii_mm[::2] + t.wall_mm + t.fat_mm, 2.0, env)
    if fields is not None:
        _heart_envelope(grid, cb, env, p, heart, fields, rng)
    _, yc, xc = cb.coords()
    # The front of the spine, and the anterior mediastinum behind the sternum above the heart.
    level = p.level_at(cb.z)
    w, d = p.body_semi_mm(level)
    y_vb = p.spine_y_mm(level)
    q = (xc / (w[:, None, None] + 3)) ** 2 + ((yc - y_vb[:, None, None]) / (d[:, None, None] + 3)) ** 2
    env = np.minimum(env, (np.sqrt(q) - 1) * d[:, None, None])
    y_st = -p.cavity_radius(np.full(level.shape, -np.pi / 2), level)[:, None, None]
    half_w = rng.uniform(8, 20) + 10 * p.adiposity
    depth = rng.uniform(25, 45)
    above = (cb.z >= heart.root_centre[2] - 10) & (cb.z <= sternum.z_notch + 10)
    qa = (xc / half_w) ** 2 + ((yc - y_st - depth / 2) / (depth / 2)) ** 2
    env = np.where(above[:, None, None], np.minimum(env, (np.sqrt(qa) - 1) * min(half_w, depth / 2)), env)
    closed = _closing(env <= 0, cb, float(rng.uniform(4, 8) + 4 * p.adiposity))
    fine = cb.upsample(closed.astype(np.float32)) >= 0.5
    sub, lab = hu[box], tissue[box]
    fat = fine & (lab == Tissue.LUNG)
    sub[fat] = p.hu.fat
    lab[fat] = Tissue.FAT


def _heart_envelope(
    grid, cb: CoarseBox, env, p: Patient, heart: HeartGeometry, fields: HeartFields, rng
) -> None:
    """The sac grown by paracardial fat: a thin layer (0-3 mm: the lungs touch the pericardium at the sides
    of the heart) and fat pads at the cardiophrenic angles."""
    fb = fields.box
    # Coarse samples of this box that fall inside the heart's (fine) box, at the same fine indices.
    sel = []
    for axis in range(3):
        start = cb.box[axis].start
        step = cb.strides[axis]
        idx = start + np.arange(env.shape[axis]) * step
        ok = (idx >= fb[axis].start) & (idx < fb[axis].stop)
        sel.append((np.nonzero(ok)[0], idx[ok] - fb[axis].start))
    if any(s[0].size == 0 for s in sel):
        return
    (kc, kf), (jc, jf), (ic, if_) = sel
    sac = fields.sac[np.ix_(kf, jf, if_)]
    z = cb.z[kc][:, None, None]
    y = cb.y[jc][None, :, None]
    x = cb.x[ic][None, None, :]
    base = rng.uniform(0, 1) + 2 * p.adiposity
    pad = rng.uniform(0, 8) + 12 * p.adiposity
    floor = heart.floor_z if np.isfinite(heart.floor_z) else float(cb.z[0])
    low = np.exp(-(((z - floor) / 30.0) ** 2))
    front = np.clip((heart.centre[1] + 10 - y) / 40.0, 0, 1)
    right = 0.6 + 0.4 * np.clip((heart.centre[0] - x) / 50.0, 0, 1)
    margin = base + pad * low * front * right
    sub = env[np.ix_(kc, jc, ic)]
    env[np.ix_(kc, jc, ic)] = np.minimum(sub, sac - margin)


def _closing(mask: np.ndarray, cb: CoarseBox, radius_mm: float) -> np.ndarray:
    """Morphological closing with a ball of ``radius_mm`` by distance transforms (anisotropic grid)."""
    sampling = (
        float(cb.z[1] - cb.z[0]) if cb.z.size > 1 else 1.0,
        float(cb.y[1] - cb.y[0]),
        float(cb.x[1] - cb.x[0]),
    )
    if not mask.any():
        return mask
    dilated = ndimage.distance_transform_edt(~mask, sampling=sampling) <= radius_mm
    return ndimage.distance_transform_edt(dilated, sampling=sampling) > radius_mm
