"""Thoracic anatomy of the phantom in Hounsfield units, painted on the scan grid before blurring.

Tissue values (HU at 120 kVp, non-contrast) follow standard tables (e.g. Lev & Gonzalez, Radiology
1990s CT number tables; Hounsfield-unit appendix of Bushberg, The Essential Physics of Medical Imaging):
fat -90..-110, muscle and myocardium 40-50, unenhanced blood 35-45, liver 50-65, lung parenchyma ~-850,
cancellous bone 150-300, cortical bone > 700 (thin cortex appears lower after blur), CSF ~10.

Everything that does not vary along z (body wall, lungs, mediastinal fat, spine, sternum, descending aorta)
is painted once on a 2-D template and broadcast; the ribs, discs, trachea, great vessels, diaphragm domes
and the heart are painted in 3-D on their bounding boxes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cacscore.phantom.grid import Grid, ellipsoid_q, resample_polyline, tube_occupancy
from cacscore.phantom.heart import HeartGeometry

HU_AIR = -1000.0
HU_FAT = -100.0
HU_EPICARDIAL_FAT = -90.0
HU_MUSCLE = 45.0
HU_MYOCARDIUM = 45.0
HU_BLOOD = 38.0
HU_LIVER = 58.0
HU_LUNG = -850.0
HU_CSF = 10.0
HU_CORTEX = 1100.0
HU_DISC = 80.0
HU_PERICARDIUM = 25.0
HU_CORONARY = 40.0


@dataclass
class Body:
    """Patient build (world mm): body ellipse, wall layers, spine and mediastinum positions."""

    semi_x_mm: float
    semi_y_mm: float
    fat_mm: float
    muscle_mm: float
    spine_y_mm: float
    vertebra_radius_mm: float
    cancellous_hu: float
    desc_aorta_xy_mm: tuple[float, float]
    desc_aorta_radius_mm: float

    @property
    def cavity_semi_mm(self) -> tuple[float, float]:
        w = self.fat_mm + self.muscle_mm
        return self.semi_x_mm - w, self.semi_y_mm - w


def draw_body(rng: np.random.Generator) -> Body:
    """Draw a patient build: body 270-370 mm wide, 190-260 mm deep, 6-30 mm subcutaneous fat."""
    sx = rng.uniform(135, 185)
    sy = rng.uniform(95, 130)
    r_vb = rng.uniform(16, 20)
    spine_y = sy - rng.uniform(48, 58)
    r_da = rng.uniform(10, 14)
    return Body(
        semi_x_mm=sx,
        semi_y_mm=sy,
        fat_mm=rng.uniform(6, 30),
        muscle_mm=rng.uniform(8, 14),
        spine_y_mm=spine_y,
        vertebra_radius_mm=r_vb,
        cancellous_hu=rng.uniform(140, 280),
        desc_aorta_xy_mm=(r_vb + r_da * 0.6 + rng.uniform(0, 6), spine_y - r_vb * 0.9),
        desc_aorta_radius_mm=r_da,
    )


@dataclass
class Anatomy:
    """The sharp (unblurred) HU image and the masks the labels need."""

    hu: np.ndarray
    heart_mask: np.ndarray
    bone_mask: np.ndarray
    landmarks: dict[str, np.ndarray] = field(default_factory=dict)


def _ellipse2d(x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2


def paint_anatomy(grid: Grid, body: Body, heart: HeartGeometry, rng: np.random.Generator) -> Anatomy:
    """Paint the whole thorax on ``grid``; returns sharp HU (float32) with heart and bone masks."""
    _, ny, nx = grid.shape
    x = grid.axis_mm(2)[None, :]
    y = grid.axis_mm(1)[:, None]
    zs = grid.axis_mm(0)

    # --- 2-D template: body wall, lungs, mediastinum, spine, sternum, descending aorta --------------------
    q_body = _ellipse2d(x, y, 0, 0, body.semi_x_mm, body.semi_y_mm)
    ax_m = body.semi_x_mm - body.fat_mm
    ay_m = body.semi_y_mm - body.fat_mm
    q_muscle = _ellipse2d(x, y, 0, 0, ax_m, ay_m)
    cax, cay = body.cavity_semi_mm
    q_cav = _ellipse2d(x, y, 0, 0, cax, cay)
    t2 = np.full((ny, nx), HU_AIR, np.float32)
    t2[q_body <= 1] = HU_FAT
    t2[q_muscle <= 1] = HU_MUSCLE
    lung_grad = HU_LUNG + 35.0 * (y / cay)  # dependent lung is denser
    t2 = np.where(q_cav <= 1, lung_grad, t2).astype(np.float32)
    # Mediastinum: from the sternum to the spine, wider low down; fat.
    med_cx = rng.uniform(-5, 10)
    q_med = _ellipse2d(x, y, med_cx, -cay * 0.25, rng.uniform(28, 38), cay * 0.85)
    t2[(q_med <= 1) & (q_cav <= 1)] = HU_EPICARDIAL_FAT
    # Paraspinal muscles and spine.
    sy = body.spine_y_mm
    r = body.vertebra_radius_mm
    canal_y = sy + r + 8
    for side in (-1, 1):
        q_ps = _ellipse2d(x, y, side * 33, canal_y + 14, 26, 20)
        t2[(q_ps <= 1) & (q_body <= 1)] = HU_MUSCLE
    bone2 = np.zeros((ny, nx), bool)
    d_vb = np.sqrt(x**2 + (y - sy) ** 2)
    d_canal = np.sqrt(x**2 + (y - canal_y) ** 2)
    arch = (d_canal <= 13.5) & (d_canal > 8) & (y > canal_y - 4)
    spinous = (np.abs(x) <= 4) & (y > canal_y + 8) & (y < canal_y + 36)
    transverse = (np.abs(x) < 32) & (np.abs(y - canal_y + 2) < 4.5) & (np.abs(x) > 8)
    posterior_all = arch | spinous | transverse
    t2[d_canal <= 8] = HU_CSF
    t2[d_vb <= r] = body.cancellous_hu
    t2[(d_vb <= r) & (d_vb > r - 1.5)] = HU_CORTEX
    bone2 |= d_vb <= r
    # Sternum in the anterior chest wall.
    st_y = -ay_m + body.muscle_mm * 0.45
    q_st = _ellipse2d(x, y, 0, st_y, rng.uniform(12, 16), 5.5)
    t2[q_st <= 1] = body.cancellous_hu
    q_st_in = _ellipse2d(x, y, 0, st_y, 11, 4.3)
    t2[(q_st <= 1) & (q_st_in > 1)] = HU_CORTEX
    bone2 |= q_st <= 1
    # Oesophagus and descending aorta in front of / beside the spine.
    t2[_ellipse2d(x, y, -4, sy - r - 9, 8, 6) <= 1] = HU_MUSCLE
    dax, day = body.desc_aorta_xy_mm
    t2[_ellipse2d(x, y, dax, day, body.desc_aorta_radius_mm, body.desc_aorta_radius_mm) <= 1] = HU_BLOOD

    hu = np.broadcast_to(t2, grid.shape).copy()
    bone = np.broadcast_to(bone2, grid.shape).copy()

    # --- intervertebral discs (every ~27 mm) ------------------------------------------------------------
    # --- intervertebral discs (every ~27 mm) and the posterior arch, which changes along a vertebra -----
    disc_phase = rng.uniform(0, 27)
    in_vb = d_vb <= r
    rim_arch = arch & ~_erode2d(arch)
    for k, z in enumerate(zs):
        ph = (z - disc_phase) % 27.0
        if ph < 5.0:
            hu[k][in_vb] = HU_DISC
            bone[k][in_vb] = False
        post = arch if 5.0 <= ph < 9.0 or ph >= 22.0 else (arch | spinous if ph >= 15.0 else posterior_all)
        rim = post & ~_erode2d(post)
        hu[k][post] = body.cancellous_hu + 100
        hu[k][rim | rim_arch] = HU_CORTEX * 0.8
        bone[k][post] = True

    # --- ribs: oblique bands in the chest wall, descending anteriorly -----------------------------------
    rho = np.sqrt((x / cax) ** 2 + (y / cay) ** 2)
    band = (rho >= 1 + 1.0 / cax) & (rho < 1 + 9.0 / cax)
    band &= ~((y < 0) & (np.abs(x) < 28)) & ~((y > 0) & (np.abs(x) < 30))
    jj, ii = np.nonzero(band)
    radial = (rho[jj, ii] - 1) * cax  # mm from the cavity edge
    ynorm = (y[jj, 0] / cay).astype(np.float32)
    rib_phase = rng.uniform(0, 30)
    for k, z in enumerate(zs):
        ph = (z - 45.0 * ynorm - rib_phase) % 30.0
        inside = ph < 11.0
        if not inside.any():
            continue
        cortex = inside & ((ph < 1.3) | (ph > 9.7) | (radial < 2.3) | (radial > 7.7))
        vals = np.where(cortex, HU_CORTEX * 0.85, body.cancellous_hu).astype(np.float32)
        hu[k, jj[inside], ii[inside]] = vals[inside]
        bone[k, jj[inside], ii[inside]] = True

    landmarks: dict[str, np.ndarray] = {}
    _paint_domes(grid, hu, heart, body, rng)
    _paint_lung_vessels(grid, hu, heart, rng)
    _paint_airways(grid, hu, body, heart, rng, landmarks)
    heart_mask = _paint_heart(grid, hu, heart, rng)
    _paint_great_vessels(grid, hu, heart, rng, landmarks)
    return Anatomy(hu=hu, heart_mask=heart_mask, bone_mask=bone, landmarks=landmarks)


def _erode2d(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:] &= mask[:-1]
    out[:-1] &= mask[1:]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    return out


def _heart_extent_z(heart: HeartGeometry) -> tuple[float, float]:
    half = np.sqrt(((heart.frame * heart.sac_semi_mm[:, None]) ** 2).sum(axis=0))
    return heart.centre[2] - half[2], heart.centre[2] + half[2]


def _paint_domes(grid: Grid, hu: np.ndarray, heart: HeartGeometry, body: Body, rng) -> None:
    """Liver dome under the right hemidiaphragm and a soft-tissue dome (spleen/stomach) on the left."""
    z_bottom, _ = _heart_extent_z(heart)
    cax, cay = body.cavity_semi_mm
    domes = (
        (
            np.array([-cax * 0.35, 0.0, z_bottom + rng.uniform(-5, 20) - 75]),
            (cax * 0.75, cay * 0.95, 75.0),
            HU_LIVER,
        ),
        (
            np.array([cax * 0.45, cay * 0.2, z_bottom + rng.uniform(-25, -5) - 60]),
            (cax * 0.5, cay * 0.7, 60.0),
            HU_MUSCLE,
        ),
    )
    for centre, semi, value in domes:
        box, q = ellipsoid_q(grid, centre, np.eye(3), np.array(semi))
        if box is None:
            continue
        sub = hu[box]
        lung = sub < -500
        sub[(q <= 1) & lung] = value


def _paint_lung_vessels(grid: Grid, hu: np.ndarray, heart: HeartGeometry, rng) -> None:
    """A branching pulmonary vessel tree from each hilum, painted only inside aerated lung."""
    root = heart.root_centre
    segments: list[tuple[np.ndarray, float, float]] = []
    for side in (-1, 1):
        hilum = np.array([root[0] + side * rng.uniform(45, 60), root[1] + rng.uniform(15, 30), root[2] - 5])
        stack = [
            (hilum, d, 5.0, 0)
            for d in (
                np.array([side, 0.3, 1.0]),
                np.array([side, 0.4, -0.6]),
                np.array([side * 0.6, 1.0, -0.2]),
                np.array([side, -0.6, 0.2]),
                np.array([side * 0.8, 0.8, -1.0]),
            )
        ]
        while stack:
            p0, d, rad, level = stack.pop()
            d = d / np.linalg.norm(d)
            length = rng.uniform(22, 40) * (0.8**level)
            p1 = p0 + d * length
            segments.append((np.stack([p0, p1]), rad, rad * 0.7))
            if level < 4:
                for _ in range(2):
                    nd = d + rng.normal(0, 0.5, 3)
                    stack.append((p1, nd, rad * 0.65, level + 1))
    box = (slice(0, grid.shape[0]), slice(0, grid.shape[1]), slice(0, grid.shape[2]))
    occ = np.zeros(grid.shape, np.float32)
    for pts, r0, r1 in segments:
        p, arc = resample_polyline(pts, max(r1 * 0.6, 0.6))
        radii = r0 + (r1 - r0) * arc / arc[-1]
        tube_occupancy(grid, p, radii, box, out=occ)
    lung = hu < -500
    hu += np.where(lung, occ * (HU_BLOOD - hu), 0.0).astype(np.float32)


def _paint_airways(grid: Grid, hu: np.ndarray, body: Body, heart: HeartGeometry, rng, landmarks) -> None:
    """Trachea down to the carina at the top of the scan, then the two main bronchi."""
    z_top = grid.axis_mm(0)[-1]
    carina = np.array([rng.uniform(-3, 5), body.spine_y_mm - body.vertebra_radius_mm - 20, 0.0])
    carina[2] = min(heart.root_centre[2] + rng.uniform(35, 55), z_top - 6)
    landmarks["carina"] = carina
    trachea = np.stack([carina, carina + np.array([0, 0, max(z_top - carina[2], 0) + 10])])
    branches = [
        (trachea, 9.0),
        (np.stack([carina, carina + np.array([-30, 8, -20])]), 6.5),
        (np.stack([carina, carina + np.array([35, 10, -28])]), 6.0),
    ]
    for pts, rad in branches:
        p, _ = resample_polyline(pts, 2.0)
        lo = p.min(axis=0) - rad - 3
        hi = p.max(axis=0) + rad + 3
        box = grid.box(lo, hi)
        if box is None:
            continue
        wall = tube_occupancy(grid, p, np.full(len(p), rad + 1.5), box)
        lumen = tube_occupancy(grid, p, np.full(len(p), rad), box)
        sub = hu[box]
        sub += wall * (HU_MUSCLE - sub)
        sub += lumen * (HU_AIR - sub)


def _heart_local(grid: Grid, box, heart: HeartGeometry, centre: np.ndarray):
    z, y, x = grid.coords(box)
    d = (x - np.float32(centre[0]), y - np.float32(centre[1]), z - np.float32(centre[2]))
    f = heart.frame.astype(np.float32)
    return [d[0] * f[k, 0] + d[1] * f[k, 1] + d[2] * f[k, 2] for k in range(3)]


def _paint_heart(grid: Grid, hu: np.ndarray, heart: HeartGeometry, rng) -> np.ndarray:
    """Pericardial sac, epicardial fat, myocardium, chambers, aortic root, coronary grooves and vessels."""
    heart_mask = np.zeros(grid.shape, bool)
    a, b, c = heart.sac_semi_mm
    half = np.sqrt(((heart.frame * heart.sac_semi_mm[:, None]) ** 2).sum(axis=0)) + 3.0
    box = grid.box(heart.centre - half, heart.centre + half)
    if box is None:
        return heart_mask
    u, v, w = _heart_local(grid, box, heart, heart.centre)
    q_sac = (u / np.float32(a)) ** 2 + (v / np.float32(b)) ** 2 + (w / np.float32(c)) ** 2
    sub = hu[box]
    sac = q_sac <= 1
    peri = (q_sac > 1) & (q_sac <= (1 + 1.5 / b) ** 2)
    sub[peri] = HU_PERICARDIUM
    sub[sac] = HU_EPICARDIAL_FAT + rng.uniform(-8, 8)
    ms = heart.muscle_scale
    # Myocardium: the sac shrunk, a little thicker fat at the base than at the apex.
    # Epicardial fat is thick at the base, along the right heart and at the apex, thin over the lateral LV:
    # shift the myocardium towards the apex and the patient's left inside the sac.
    phl = heart.phi["left"]
    u_m = u - np.float32(0.03 * a)
    v_m = v - np.float32(0.05 * b * np.cos(phl))
    w_m = w - np.float32(0.05 * c * np.sin(phl))
    q_m = (u_m / (a * ms)) ** 2 + (v_m / (b * ms)) ** 2 + (w_m / (c * ms)) ** 2
    muscle = q_m <= 1
    sub[muscle] = HU_MYOCARDIUM
    chambers = (
        ((0.1 * a, -0.05 * b, 0.22 * c), (0.55 * a, 0.45 * b, 0.42 * c)),  # LV
        ((0.0, 0.35 * b, -0.3 * c), (0.55 * a, 0.28 * b, 0.45 * c)),  # RV
        ((-0.7 * a, -0.25 * b, 0.2 * c), (0.25 * a, 0.35 * b, 0.4 * c)),  # LA
        ((-0.65 * a, 0.2 * b, -0.35 * c), (0.25 * a, 0.35 * b, 0.35 * c)),  # RA
    )
    for (cu, cv, cw), (su, sv, sw) in chambers:
        centre = heart.centre + np.array([cu, cv, cw]) @ heart.frame
        cbox, q = ellipsoid_q(grid, centre, heart.frame, np.array([su, sv, sw]))
        if cbox is None:
            continue
        lo = [max(cs.start, bs.start) for cs, bs in zip(cbox, box, strict=True)]
        hi = [min(cs.stop, bs.stop) for cs, bs in zip(cbox, box, strict=True)]
        if any(h <= lo_ for lo_, h in zip(lo, hi, strict=True)):
            continue
        rel = tuple(slice(l0 - bs.start, h - bs.start) for l0, h, bs in zip(lo, hi, box, strict=True))
        qrel = tuple(slice(l0 - cs.start, h - cs.start) for l0, h, cs in zip(lo, hi, cbox, strict=True))
        sub_c = sub[rel]
        sub_c[(q[qrel] <= 1) & muscle[rel]] = HU_BLOOD
    heart_mask[box] = sac | peri
    # Aortic root (sinus of Valsalva) at the base.
    rbox, q_root = ellipsoid_q(grid, heart.root_centre, np.eye(3), np.full(3, heart.root_radius_mm))
    if rbox is not None:
        inside = q_root <= 1
        hu[rbox][inside] = HU_BLOOD
        heart_mask[rbox] |= inside
    # Coronary grooves (fat) and vessels (wall + non-contrast lumen ~ blood).
    groove = np.zeros(sub.shape, np.float32)
    vessel = np.zeros(sub.shape, np.float32)
    for br in heart.branches:
        tube_occupancy(grid, br.points, br.radii_mm + 2.8, box, out=groove)
    for br in heart.branches:
        tube_occupancy(grid, br.points, br.radii_mm + 0.4, box, out=vessel)
    groove *= sac
    sub += groove * (HU_EPICARDIAL_FAT - sub)
    sub += vessel * (HU_CORONARY - sub)
    heart_mask[box] |= vessel > 0
    return heart_mask


def _paint_great_vessels(grid: Grid, hu: np.ndarray, heart: HeartGeometry, rng, landmarks) -> None:
    """Ascending aorta, pulmonary trunk and arteries, superior vena cava (tubes of unenhanced blood)."""
    z_top = float(grid.axis_mm(0)[-1]) + 10
    root = heart.root_centre
    rr = heart.root_radius_mm
    ra = rr * rng.uniform(0.85, 0.95)
    asc = np.stack([root, root + np.array([-4.0, -6.0, 35.0]), [root[0] - 8, root[1] - 4, z_top]])
    landmarks["ascending_aorta"] = asc
    landmarks["ascending_aorta_radius"] = np.array([ra])
    rvot = root + np.array([rr * 1.3, -rr * 1.0, 8.0])
    sac_top = heart.centre[2] + np.sqrt(((heart.frame[:, 2] * heart.sac_semi_mm) ** 2).sum())
    pa_bif = root + np.array([rr * 1.4, rr * 0.6, 0.0])
    pa_bif[2] = max(root[2] + rng.uniform(30, 42), sac_top + rng.uniform(6, 14))
    lpa_end = pa_bif + np.array([45, 35, 5])
    rpa_end = pa_bif + np.array([-55, 22, -2])
    svc = np.stack([[root[0] - rr - 12, root[1] + 6, z_top], [root[0] - rr - 12, root[1] + 8, root[2] + 12]])
    tubes = [
        (np.stack([rvot, pa_bif]), rng.uniform(12, 14)),
        (np.stack([pa_bif, lpa_end]), rng.uniform(9, 11)),
        (np.stack([pa_bif, rpa_end]), rng.uniform(9, 10.5)),
        (svc, rng.uniform(8, 10)),
        (asc, ra),
    ]
    landmarks["pulmonary_bifurcation"] = pa_bif
    for pts, rad in tubes:
        p, _ = resample_polyline(pts, max(rad / 3, 1.0))
        box = grid.box(p.min(axis=0) - rad - 2, p.max(axis=0) + rad + 2)
        if box is None:
            continue
        occ = tube_occupancy(grid, p, np.full(len(p), rad), box)
        sub = hu[box]
        sub += occ * (HU_BLOOD - sub)
