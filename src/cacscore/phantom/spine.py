"""The spine, slice by slice: vertebral bodies (cortex, end plates, cancellous bone with a trabecular
texture, osteophytes), discs, pedicles, laminae, the spinal canal, and the spinous and transverse processes
as rods.

Shapes follow the thoracic vertebra (Gray's Anatomy, 42nd ed.; Panjabi et al., Spine 1991): a body with a
flat-to-concave back, pedicles from its upper half, laminae roofing the canal (~15 mm), transverse processes
reaching back and out to the rib tubercles, and a spinous process that slopes steeply down so that its tip
lies behind the next vertebra. Every 2-D part is painted with the fraction of the slice it fills along z,
so a 5 mm slice through a disc shows the mixture a real slice shows. Osteophytes (marginal bony lips at the
end plates, more with age; > 60 % of people over 60, e.g. Nathan, J Bone Joint Surg 1962) and the
cancellous density (:mod:`cacscore.phantom.tissues`) vary per patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cacscore.phantom.grid import Grid, resample_polyline
from cacscore.phantom.patient import Patient
from cacscore.phantom.rods import Rod, paint_layers, rod_occupancy
from cacscore.phantom.tissues import Tissue

#: Thickness (mm) of the cortical shell of a vertebral body and of its end plates.
CORTEX_MM: float = 1.2
_N_LEVELS = 14


@dataclass
class Spine:
    """Per-patient spine details (mm, HU)."""

    canal_radius_mm: float
    osteophyte_mm: float  # 0: none
    texture_sd: float  # relative SD of the trabecular texture
    processes: list[Rod]  # spinous and transverse processes


def build_spine(rng: np.random.Generator, p: Patient) -> Spine:
    """Draw canal size, osteophytes (likelier and larger with age), texture and the process rods."""
    old = np.clip((p.age_years - 45) / 35, 0, 1)
    osteo = float(rng.uniform(1, 2 + 5 * old)) if rng.random() < 0.2 + 0.7 * old else 0.0
    canal = float(rng.uniform(7, 9))
    procs = []
    for k in range(1, _N_LEVELS + 1):
        w, d = (float(v) for v in p.body_semi_mm(k + 0.4))
        y_vb = float(p.spine_y_mm(k + 0.4))
        y_canal = y_vb + d + canal + 1.5
        z0 = float(p.z_at(k + 0.35))
        lumbar = k > 12
        # Spinous process: from the laminae's junction back and (thoracic) steeply down.
        back = float(p.cavity_radius(np.array(np.pi / 2), p.level_at(z0))) + p.cage_mm + p.erector_mm * 0.8
        tip_y = min(y_canal + (32 if lumbar else 40), back)
        tip = np.array([0.0, tip_y, float(p.z_at(k + (0.55 if lumbar else 1.25)))])
        pts, _ = resample_polyline(np.stack([[0.0, y_canal + canal + 2, z0], tip]), 1.2)
        n = len(pts)
        procs.append(Rod(pts, np.tile([1.0, 0.0, 0.0], (n, 1)), np.full(n, 3.2), np.linspace(5.5, 4.0, n)))
        if k <= 12:
            for side in (-1, 1):
                a = np.array([side * (w * 0.7), y_canal - 2, z0 + 2])
                b = np.array([side * (w + 14.0), y_canal + 8.0, z0 - 1])
                pts, _ = resample_polyline(np.stack([a, b]), 1.2)
                n = len(pts)
                procs.append(Rod(pts, np.tile([0.0, 0.0, 1.0], (n, 1)), np.full(n, 5.0), np.full(n, 4.2)))
    return Spine(
        canal_radius_mm=canal, osteophyte_mm=osteo, texture_sd=float(rng.uniform(0.05, 0.3)), processes=procs
    )


def paint_spine(
    grid: Grid, hu: np.ndarray, tissue: np.ndarray, p: Patient, spine: Spine, rng: np.random.Generator
) -> None:
    """Paint the spine into every slice it crosses, then its processes."""
    x_all = grid.axis_mm(2)
    y_all = grid.axis_mm(1)
    dz = grid.spacing_zyx_mm[0]
    h = p.hu
    for k, z in enumerate(grid.axis_mm(0)):
        level = float(p.level_at(z))
        if not 0.6 <= level <= _N_LEVELS + 0.95:
            continue
        w, d = (float(v) for v in p.body_semi_mm(level))
        y_vb = float(p.spine_y_mm(level))
        ii = np.nonzero(np.abs(x_all) < w + 30)[0]
        jj = np.nonzero((y_all > y_vb - d - 8) & (y_all < y_vb + d + 45))[0]
        if ii.size == 0 or jj.size == 0:
            continue
        box = (slice(jj[0], jj[-1] + 1), slice(ii[0], ii[-1] + 1))
        x = x_all[box[1]][None, :]
        y = y_all[box[0]][:, None] - np.float32(y_vb)
        f = _fractions(p, z, dz)
        sub = hu[k][box]
        lab = tissue[k][box]
        y_canal = d + spine.canal_radius_mm + 1.5
        # Vertebral body outline: a superellipse with a concave back.
        q = np.abs(x / w) ** 2.4 + np.abs(y / d) ** 2.4
        concave = (x / (w * 0.45)) ** 2 + ((y - d * 1.25) / (d * 0.5)) ** 2 < 1
        outline = (q <= 1) & ~concave
        q_in = np.abs(x / (w - CORTEX_MM)) ** 2.4 + np.abs(y / (d - CORTEX_MM)) ** 2.4
        interior = (q_in <= 1) & ~concave
        tex = _texture(rng, outline.shape, grid.spacing_zyx_mm[1])
        canc = h.cancellous * (1 + spine.texture_sd * tex)
        body_val = np.where(interior, canc, h.cortex) * f["cancellous"] + h.cortex * f["end_plate"]
        val = body_val + h.disc * f["disc"] + sub * f["none"]
        if spine.osteophyte_mm > 0 and f["near_end_plate"] > 0:
            o = spine.osteophyte_mm
            q_o = np.abs(x / (w + o)) ** 2.4 + np.abs(y / (d + o * 0.6)) ** 2.4
            lip = (q_o <= 1) & ~outline & (y < d * 0.5)
            sub[lip] = sub[lip] + f["near_end_plate"] * (h.cortex * 0.6 - sub[lip])
            lab[lip & (f["near_end_plate"] >= 0.5)] = Tissue.VERTEBRA
        sub[outline] = val[outline]
        bone_frac = f["cancellous"] + f["end_plate"]
        lab[outline & (bone_frac >= 0.5)] = Tissue.VERTEBRA
        lab[outline & (f["disc"] > 0.5)] = Tissue.DISC
        # Canal, then pedicles and laminae round it.
        rc = spine.canal_radius_mm
        dc = np.sqrt(x**2 + (y - y_canal) ** 2)
        canal = dc <= rc
        sub[canal] = h.csf
        lab[canal] = Tissue.CSF
        pedicle = (np.abs(np.abs(x) - (rc + 2.5)) < 3.2) & (y > d * 0.4) & (y < y_canal + 1)
        lamina = (dc > rc) & (dc <= rc + 4.5) & (y > y_canal + 1)
        for mask, frac in ((pedicle, f["pedicle"]), (lamina, f["lamina"])):
            if frac <= 0:
                continue
            edge = mask & ~ndimage.binary_erosion(mask, iterations=2)
            bone = np.where(edge, h.cortex * 0.8, h.cancellous * 1.2)
            sub[mask] = sub[mask] + frac * (bone[mask] - sub[mask])
            lab[mask & (frac >= 0.5)] = Tissue.VERTEBRA
    for rod in spine.processes:
        box, occ = rod_occupancy(grid, rod, (0.0, 1.0))
        if box is not None:
            paint_layers(hu, tissue, box, occ, [h.cortex * 0.8, h.cancellous * 1.2], Tissue.VERTEBRA)


def _fractions(p: Patient, z: float, dz: float) -> dict[str, float]:
    """Fractions of the slice [z - dz/2, z + dz/2] in cancellous bone, end plates, disc, pedicle and
    lamina height ranges, summed over the levels it overlaps."""
    lo, hi = z - dz / 2, z + dz / 2
    out = dict.fromkeys(("cancellous", "end_plate", "disc", "pedicle", "lamina", "near_end_plate"), 0.0)
    level = float(p.level_at(z))
    for k in range(max(int(level) - 1, 1), min(int(level) + 2, _N_LEVELS) + 1):
        top = float(p.level_top_z_mm[k - 1])
        bottom = float(p.level_top_z_mm[k])
        bottom_body = bottom + p.disc_mm(k)
        height = top - bottom
        ov = _overlap
        out["end_plate"] += ov(lo, hi, top - CORTEX_MM, top) + ov(
            lo, hi, bottom_body, bottom_body + CORTEX_MM
        )
        out["cancellous"] += ov(lo, hi, bottom_body + CORTEX_MM, top - CORTEX_MM)
        out["disc"] += ov(lo, hi, bottom, bottom_body)
        out["near_end_plate"] += ov(lo, hi, top - 3, top) + ov(lo, hi, bottom_body, bottom_body + 3)
        out["pedicle"] += ov(lo, hi, top - 0.55 * height, top - 0.05 * height)
        out["lamina"] += ov(lo, hi, top - 0.95 * height, top - 0.25 * height)
    out = {key: min(v / dz, 1.0) for key, v in out.items()}
    out["none"] = max(0.0, 1.0 - out["cancellous"] - out["end_plate"] - out["disc"])
    return out


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _texture(rng: np.random.Generator, shape: tuple[int, int], pixel_mm: float) -> np.ndarray:
    """Unit-SD smooth random field (~1.5 mm grain): the mottled look of trabecular bone at CT resolution."""
    t = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 1.5 / pixel_mm)
    return t / max(float(t.std()), 1e-6)
