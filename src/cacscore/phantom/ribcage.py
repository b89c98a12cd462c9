"""The rib cage: twelve pairs of ribs, the costal cartilages, the sternum, and cartilage calcification.

Anatomy (Gray's Anatomy, 42nd ed., "Chest wall"): rib k's head articulates with vertebral body k beside the
disc above it, its tubercle with the transverse process; the shaft runs laterally and then forwards round
the chest, descending, to the costochondral junction. Ribs 1-7 reach the sternum through their costal
cartilages (rib 1 on the manubrium, rib 2 at the sternal angle, rib 7 at the xiphisternal junction); the
cartilages of ribs 8-10 join the cartilage above (the costal margin); ribs 11-12 end free in the flank. The
anterior ends of the ribs lie 2-4 levels lower than their heads, and the lower cartilages rise again to
the sternum, so one axial slice cuts the posterior part of one rib and the lateral and anterior parts of
higher ones. Ribs are flat (about 10-15 mm high, 5-8 mm thick; cortex ~1-2 mm round marrow).

Costal cartilage (unossified 70-130 HU) calcifies with age: marginal (peripheral) calcification is more
common in men, central and granular in women (Navani et al., Radiology 1970; Rejtarova et al., Biomed Pap
2004), and the share of calcified cartilages rises from a few per cent at 40 to most of them after 70. The
calcium (200-800 HU) sits right in front of the heart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cacscore.phantom.grid import Grid, resample_polyline, tube_occupancy
from cacscore.phantom.patient import Patient
from cacscore.phantom.rods import Rod, paint_layers, rod_occupancy
from cacscore.phantom.tissues import Tissue

#: Level coordinate of each rib's anterior end (costochondral junction; ribs 11-12: the free tip).
RIB_END_LEVEL: tuple[float, ...] = (2.6, 4.4, 5.8, 7.1, 8.3, 9.4, 10.3, 10.9, 11.4, 11.8, 11.9, 12.2)
#: Distance (mm) of the costochondral junction from the midline, ribs 1-10.
RIB_END_X_MM: tuple[float, ...] = (32, 40, 50, 60, 70, 80, 90, 100, 110, 120)
#: Angle from the posterior midline (rad) of the free tips of ribs 11 and 12.
FLOATING_END_PSI: tuple[float, float] = (1.95, 1.5)
_STEP_MM = 1.5


@dataclass
class Sternum:
    """Sternum as z ranges (world mm) with a width and thickness per segment."""

    z_notch: float
    z_angle: float
    z_xiphisternal: float
    z_tip: float
    manubrium_width_mm: tuple[float, float]  # at the notch, at the angle
    body_width_mm: tuple[float, float, float]  # at the angle, widest (70 % down), at the xiphisternal joint
    thickness_mm: tuple[float, float, float]  # manubrium, body, xiphoid
    xiphoid_ossified: bool

    def width_mm(self, z: float) -> float:
        """Width of the sternum at world z (0 outside it)."""
        if z > self.z_notch or z < self.z_tip:
            return 0.0
        if z >= self.z_angle:
            f = (self.z_notch - z) / (self.z_notch - self.z_angle)
            return self.manubrium_width_mm[0] + f * (self.manubrium_width_mm[1] - self.manubrium_width_mm[0])
        if z >= self.z_xiphisternal:
            f = (self.z_angle - z) / (self.z_angle - self.z_xiphisternal)
            a, m, b = self.body_width_mm
            return float(np.interp(f, [0, 0.7, 1], [a, m, b]))
        f = (self.z_xiphisternal - z) / (self.z_xiphisternal - self.z_tip)
        return 14.0 - 8.0 * f

    def thick_mm(self, z: float) -> float:
        """Antero-posterior thickness at world z."""
        if z >= self.z_angle:
            return self.thickness_mm[0]
        return self.thickness_mm[1] if z >= self.z_xiphisternal else self.thickness_mm[2]


@dataclass
class Calcification:
    """Calcium in one costal cartilage: a shell or a core along part of it, and granules."""

    rod: Rod | None
    shell_mm: float  # > 0: peripheral shell of this thickness; 0: the rod is a calcified core
    density_hu: float
    granules_xyz: np.ndarray  # (n, 3)
    granule_radii_mm: np.ndarray
    granule_hu: np.ndarray


@dataclass
class RibCage:
    """Ribs (bone rods), cartilages (rods), sternum, cartilage calcification, and which is which."""

    ribs: list[Rod]
    rib_names: list[str]
    cartilages: list[Rod]
    cartilage_names: list[str]
    sternum: Sternum
    cortex_mm: float
    calcifications: list[Calcification] = field(default_factory=list)


def _cage_points(p: Patient, psi: np.ndarray, z: np.ndarray, side: int, depth: float = 0.5):
    """Points in the cage layer at angle ``psi`` from the posterior midline (side +1 left, -1 right)."""
    theta = np.pi / 2 - side * psi
    r = p.cavity_radius(theta, p.level_at(z)) + p.cage_mm * depth
    pts = np.stack([r * np.cos(theta), r * np.sin(theta), z], axis=-1)
    nrm = np.stack([np.cos(theta), np.sin(theta), np.zeros_like(theta)], axis=-1)
    return pts, nrm


def _psi_at_x(p: Patient, x_mm: float, z: float, side: int) -> float:
    """The anterior angle psi (> pi/2) where the cage layer is ``x_mm`` from the midline at height z."""
    psi = np.linspace(np.pi / 2, np.pi, 400)
    pts, _ = _cage_points(p, psi, np.full(psi.size, z), side)
    return float(np.interp(-x_mm, -np.abs(pts[:, 0]), psi))


def build_ribcage(rng: np.random.Generator, p: Patient) -> RibCage:
    """Draw the ribs, cartilages and sternum of patient ``p`` and the calcium in the cartilages."""
    sternum = Sternum(
        z_notch=float(p.z_at(rng.uniform(2.3, 2.8))),
        z_angle=float(p.z_at(rng.uniform(4.3, 4.8))),
        z_xiphisternal=float(p.z_at(rng.uniform(8.7, 9.4))),
        z_tip=0.0,
        manubrium_width_mm=(rng.uniform(46, 58), rng.uniform(28, 34)),
        body_width_mm=(rng.uniform(22, 28), rng.uniform(28, 36), rng.uniform(20, 26)),
        thickness_mm=(rng.uniform(12, 16), rng.uniform(8, 12), rng.uniform(4, 6)),
        xiphoid_ossified=bool(rng.random() < 0.5),
    )
    sternum.z_tip = sternum.z_xiphisternal - rng.uniform(30, 50)
    z_attach = [sternum.z_notch - rng.uniform(10, 16), sternum.z_angle] + [
        sternum.z_angle + (sternum.z_xiphisternal - sternum.z_angle) * (k - 1) / 5 for k in range(2, 7)
    ]
    cortex = float(rng.uniform(1.0, 1.8))
    ribs, rib_names, carts, cart_names = [], [], [], []
    thick = rng.uniform(0.9, 1.1)
    for side in (1, -1):
        name_side = "L" if side > 0 else "R"
        cart_by_rib: dict[int, Rod] = {}
        for k in range(1, 13):
            rod, psi_end, z_end = _rib(rng, p, k, side, thick)
            ribs.append(rod)
            rib_names.append(f"rib {k}{name_side}")
            if k <= 7:
                z_s = z_attach[k - 1]
                psi_s = _psi_at_x(p, sternum.width_mm(z_s) / 2 + 1.0, z_s, side)
                cart = _cartilage(p, psi_end, z_end, psi_s, z_s, side, thick, k)
            elif k <= 10:
                above = cart_by_rib[k - 1]
                j = int(0.35 * len(above.points)) if k == 8 else int(0.5 * len(above.points))
                target = above.points[j]
                cart = _cartilage(p, psi_end, z_end, _psi_of(target, side), float(target[2]), side, thick, k)
            else:
                cart = _cartilage(p, psi_end, z_end, psi_end + 15.0 / 120, z_end - 3, side, thick * 0.8, k)
            cart_by_rib[k] = cart
            carts.append(cart)
            cart_names.append(f"costal cartilage {k}{name_side}")
    cage = RibCage(ribs, rib_names, carts, cart_names, sternum, cortex)
    cage.calcifications = _calcify(rng, p, cage)
    return cage


def _psi_of(point: np.ndarray, side: int) -> float:
    theta = np.arctan2(point[1], point[0])
    return float((np.pi / 2 - theta) * side) % (2 * np.pi)


def _rib(rng, p: Patient, k: int, side: int, thick: float) -> tuple[Rod, float, float]:
    """Rib k: head at vertebra k, neck to the transverse process, shaft round the cage layer."""
    w, d = (float(v) for v in p.body_semi_mm(k + 0.3))
    y_vb = float(p.spine_y_mm(k + 0.3))
    z_head = float(p.z_at(k + 0.02))
    head = np.array([side * (w + 1.5), y_vb + 0.35 * d, z_head])
    tub = np.array([side * (w + 14.0), y_vb + d + 17.0, z_head - 2.0])
    z_a = z_head - 4.0
    r_post = float(p.cavity_radius(np.array(np.pi / 2), p.level_at(z_a))) + p.cage_mm / 2
    psi_a = float(np.arctan2(w + 34.0, r_post))
    if k <= 10:
        z_e = float(p.z_at(RIB_END_LEVEL[k - 1]))
        psi_e = _psi_at_x(p, RIB_END_X_MM[k - 1] + rng.uniform(-5, 5), z_e, side)
    else:
        z_e = float(p.z_at(RIB_END_LEVEL[k - 1]))
        psi_e = FLOATING_END_PSI[k - 11]
    n = max(int((psi_e - psi_a) * r_post / _STEP_MM), 8)
    tau = np.linspace(0, 1, n)
    psi = psi_a + (psi_e - psi_a) * tau
    z = z_a - (z_a - z_e) * (3 * tau**2 - 2 * tau**3) + rng.uniform(-1, 1) * np.sin(np.pi * tau) * 3
    shaft, shaft_n = _cage_points(p, psi, z, side)
    neck, _ = resample_polyline(np.stack([head, tub, shaft[0]]), _STEP_MM)
    neck = neck[:-1]
    pts = np.vstack([neck, shaft])
    nrm = np.vstack([np.tile([0.0, 0.0, 1.0], (len(neck), 1)), shaft_n])
    f = np.concatenate([np.zeros(len(neck)), tau])
    # Flat shaft: ~12-14 mm high and 5-6 mm thick, rounder at the neck; rib 1 short, broad and flat,
    # ribs 11-12 slender.
    scale = {1: (1.25, 0.85), 11: (0.75, 0.85), 12: (0.65, 0.8)}.get(k, (1.0, 1.0))
    semi_b = np.where(f > 0, 6.0 + 1.2 * f, 4.5) * scale[0] * thick
    semi_n = np.where(f > 0, 3.9 - 1.0 * f, 4.5) * scale[1] * thick
    semi_b[: len(neck)] = 4.6 * thick
    return Rod(pts, nrm, semi_n, semi_b), psi_e, z_e


def _cartilage(p: Patient, psi0, z0, psi1, z1, side, thick, k) -> Rod:
    """Costal cartilage from the rib end (psi0, z0) to (psi1, z1) along the cage layer."""
    length = abs(psi1 - psi0) * 110 + abs(z1 - z0)
    n = max(int(length / _STEP_MM), 4)
    tau = np.linspace(0, 1, n)
    psi = psi0 + (psi1 - psi0) * tau
    # The lower cartilages run medially first and then turn up steeply to the sternum.
    z = z0 + (z1 - z0) * tau**2.5 if k >= 5 else z0 + (z1 - z0) * tau
    pts, nrm = _cage_points(p, psi, z, side)
    taper = 1.0 - 0.15 * tau
    return Rod(pts, nrm, 4.0 * thick * taper, 6.0 * thick * taper)


def _calcify(rng, p: Patient, cage: RibCage) -> list[Calcification]:
    """Calcium in the costal cartilages: more cartilages and more calcium with age."""
    share = float(np.clip(0.04 + 0.018 * (p.age_years - 40), 0.02, 0.9))
    peripheral_pattern = rng.random() < (0.7 if not p.female else 0.25)
    out = []
    for name, rod in zip(cage.cartilage_names, cage.cartilages, strict=True):
        first = name.startswith("costal cartilage 1")
        if rng.random() >= min(share * (1.6 if first else 1.0), 0.95) or len(rod.points) < 4:
            continue
        n = len(rod.points)
        span = int(np.clip(rng.uniform(0.2, 1.0) * n, 3, n))
        start = int(rng.integers(0, n - span + 1))
        keep = np.zeros(n, bool)
        keep[start : start + span] = True
        density = rng.uniform(200, 800)
        if peripheral_pattern:
            calc_rod, shell = rod.sub(keep), float(rng.uniform(0.8, 1.5))
        else:
            core = rod.sub(keep)
            f = rng.uniform(0.3, 0.6)
            calc_rod = Rod(core.points, core.normals, core.semi_n_mm * f, core.semi_b_mm * f)
            shell, density = 0.0, density * 0.7
        n_gran = int(rng.poisson(span * 1.5 / 5.0 * (0.5 + share)))
        idx = rng.integers(start, start + span, n_gran)
        pts = rod.points[idx]
        nrm = rod.normals[idx]
        off = rng.uniform(-0.7, 0.7, (n_gran, 1)) * rod.semi_n_mm[idx, None] * nrm
        off[:, 2] += rng.uniform(-0.7, 0.7, n_gran) * rod.semi_b_mm[idx]
        out.append(
            Calcification(
                rod=calc_rod,
                shell_mm=shell,
                density_hu=float(density),
                granules_xyz=pts + off,
                granule_radii_mm=rng.uniform(0.6, 1.8, n_gran),
                granule_hu=rng.uniform(250, 900, n_gran),
            )
        )
    return out


def paint_ribcage(grid: Grid, hu: np.ndarray, tissue: np.ndarray, cage: RibCage, p: Patient) -> None:
    """Paint cartilages, their calcium, the ribs (cortex round marrow) and the sternum."""
    h = p.hu
    for rod in cage.cartilages:
        box, occ = rod_occupancy(grid, rod)
        if box is not None:
            paint_layers(hu, tissue, box, occ, [h.cartilage], Tissue.COSTAL_CARTILAGE)
    for calc in cage.calcifications:
        _paint_calcification(grid, hu, calc)
    for rod in cage.ribs:
        box, occ = rod_occupancy(grid, rod, (0.0, cage.cortex_mm))
        if box is not None:
            paint_layers(hu, tissue, box, occ, [h.cortex, h.rib_marrow], Tissue.RIB)
    _paint_sternum(grid, hu, tissue, cage, p)


def _paint_calcification(grid: Grid, hu: np.ndarray, calc: Calcification) -> None:
    if calc.rod is not None:
        offsets = (0.0, calc.shell_mm) if calc.shell_mm > 0 else (0.0,)
        box, occ = rod_occupancy(grid, calc.rod, offsets)
        if box is not None:
            layer = occ[0] - occ[1] if calc.shell_mm > 0 else occ[0]
            sub = hu[box]
            sub += layer * (np.float32(calc.density_hu) - sub)
    for c, r, v in zip(calc.granules_xyz, calc.granule_radii_mm, calc.granule_hu, strict=True):
        box = grid.box(c - r - 1, c + r + 1)
        if box is None:
            continue
        occ = tube_occupancy(grid, c[None], np.array([r]), box)
        sub = hu[box]
        sub += occ * (np.float32(v) - sub)


def _paint_sternum(grid: Grid, hu: np.ndarray, tissue: np.ndarray, cage: RibCage, p: Patient) -> None:
    """The sternum slice by slice: a rounded bar (cortex, marrow) whose back lies on the cavity wall; the
    manubriosternal and xiphisternal joints are cartilage; the ends are partial-volume fractions."""
    st = cage.sternum
    zs = grid.axis_mm(0)
    dz = grid.spacing_zyx_mm[0]
    x = grid.axis_mm(2)[None, :]
    y = grid.axis_mm(1)[:, None]
    h = p.hu
    for k, z in enumerate(zs):
        lo, hi = z - dz / 2, z + dz / 2
        f_all = _overlap(lo, hi, st.z_tip, st.z_notch) / dz
        if f_all <= 0:
            continue
        f_joint = (
            _overlap(lo, hi, st.z_angle - 1.0, st.z_angle + 1.0)
            + _overlap(lo, hi, st.z_xiphisternal - 1.0, st.z_xiphisternal + 1.0)
        ) / dz
        f_xiph = _overlap(lo, hi, st.z_tip, st.z_xiphisternal - 1.0) / dz
        if not st.xiphoid_ossified:
            f_joint, f_xiph = f_joint + f_xiph, 0.0
        f_bone = max(f_all - f_joint, 0.0)
        zc = float(np.clip(z, st.z_tip + 0.5, st.z_notch - 0.5))
        w = st.width_mm(zc) / 2
        t = st.thick_mm(zc) / 2
        y_back = -float(p.cavity_radius(np.array(-np.pi / 2), p.level_at(zc)))
        yc = y_back - t
        jj = (y[:, 0] > yc - t - 2) & (y[:, 0] < yc + t + 2)
        ii = np.abs(x[0]) < w + 2
        if not jj.any() or not ii.any():
            continue
        ys, xs = y[jj], x[:, ii]
        q = np.abs(xs / w) ** 4 + np.abs((ys - yc) / t) ** 4
        c = cage.cortex_mm * 0.8
        q_in = np.abs(xs / max(w - c, 0.5)) ** 4 + np.abs((ys - yc) / max(t - c, 0.5)) ** 4
        inside = q <= 1
        bone = np.where(q_in <= 1, h.sternum_marrow, h.cortex).astype(np.float32)
        sub = hu[k][np.ix_(jj, ii)]
        val = f_bone * bone + f_joint * h.cartilage + (1 - f_bone - f_joint) * sub
        sub = np.where(inside, val, sub)
        hu[k][np.ix_(jj, ii)] = sub
        lab = tissue[k][np.ix_(jj, ii)]
        lab[inside & (f_bone >= 0.5)] = Tissue.STERNUM
        lab[inside & (f_bone < 0.5) & (f_all >= 0.5)] = Tissue.COSTAL_CARTILAGE
        tissue[k][np.ix_(jj, ii)] = lab


def paint_scapulae(grid: Grid, hu: np.ndarray, tissue: np.ndarray, p: Patient) -> None:
    """The scapulae: thin curved plates on the back of the rib cage, in the muscle layer, from T2 (the
    spine of the scapula, thicker) to the inferior angle at T7-T8; medial border ~5 cm from the midline
    (arms raised, as in chest CT, rotate them outwards; Gray's Anatomy)."""
    x = grid.axis_mm(2)[None, :]
    y = grid.axis_mm(1)[:, None]
    r = np.sqrt(x * x + y * y)
    psi = np.abs(np.pi / 2 - np.arctan2(y, np.abs(x)))  # angle from the posterior midline, both sides
    h = p.hu
    for k, z in enumerate(grid.axis_mm(0)):
        level = float(p.level_at(z))
        f = (level - 2.0) / (7.6 - 2.0)  # 0 at the top, 1 at the inferior angle
        if not 0.0 <= f <= 1.0:
            continue
        psi_med = 0.42 + 0.15 * f
        psi_lat = 1.15 - 0.5 * f**1.5
        theta = np.array([np.pi / 2 - 0.8])
        r_plate = float(p.cavity_radius(theta, level)[0] + p.cage_mm + 6.0)
        half = 1.2 + (2.5 if f < 0.15 else 0.0)
        plate = (np.abs(r - r_plate) <= half) & (psi >= psi_med) & (psi <= psi_lat) & (y > 0)
        if not plate.any():
            continue
        hu[k][plate] = h.cortex * 0.6
        tissue[k][plate] = Tissue.OTHER_BONE


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))
