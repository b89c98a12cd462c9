"""Tubes of the mediastinum: aorta (root, ascending, arch, descending, abdominal), pulmonary trunk and
arteries, pulmonary veins, venae cavae, azygos vein, trachea and bronchi, oesophagus.

Course and calibre follow Gray's Anatomy (42nd ed.) and CT norms (e.g. Hager et al., Eur J Cardiothorac
Surg 2002 for aortic diameters: ascending 28-37 mm, descending 21-28 mm, larger with age): the ascending
aorta rises from the root forwards and to the right, the arch crosses back and to the left 1.5-3.5 cm above
the carina, and the descending aorta runs down the left front of the spine, reaching the midline in front
of it at the aortic hiatus (T12). The pulmonary trunk rises from the pulmonary valve to its bifurcation
under the arch, left of the ascending aorta; the right pulmonary artery passes behind the ascending aorta
and the superior vena cava. The trachea divides at the carina (T4-T5) into a short, steep right and a
longer, more horizontal left main bronchus; the oesophagus runs behind the trachea and then behind the left
atrium to the hiatus (T10) and the stomach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.phantom.grid import resample_polyline
from cacscore.phantom.heart import HeartGeometry
from cacscore.phantom.patient import Patient
from cacscore.phantom.tissues import Tissue


@dataclass
class Tube:
    """A tube: centreline (N, 3) world mm, lumen radius (N,), wall thickness, contents and fat margin."""

    name: str
    points: np.ndarray
    radii_mm: np.ndarray
    wall_mm: float
    lumen: Tissue  # BLOOD, AIR or SOFT_TISSUE (a collapsed oesophagus)
    wall: Tissue  # SOFT_TISSUE or BLOOD (vein walls are not seen)
    fat_mm: float  # mediastinal fat kept round it (the lung stays this far away)
    in_mediastinum: bool = True  # False: runs in lung or liver (pulmonary veins, lobar bronchi, IVC)


@dataclass
class Mediastinum:
    """Every tube and the landmarks other parts of the phantom need (world mm)."""

    tubes: list[Tube]
    carina: np.ndarray
    hila: dict[str, np.ndarray]  # "left", "right": where the pulmonary arteries enter the lungs
    air_in_oesophagus: bool
    sinotubular_z: float = np.inf  # top of the aortic root: the heart mask holds the great vessels below it

    def tube(self, name: str) -> Tube:
        """The tube called ``name``."""
        return next(t for t in self.tubes if t.name == name)

    def intrapericardial(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(points, radii) of the great vessels' roots counted with the heart: the aorta up to the
        sinotubular junction and the pulmonary trunk as high. (The pericardium reaches higher, up to below
        the brachiocephalic trunk; the heart mask keeps its definition: the sac with the aortic root.)"""
        out = []
        for name in ("aorta", "pulmonary trunk"):
            t = self.tube(name)
            keep = np.cumprod(t.points[:, 2] <= self.sinotubular_z).astype(bool)
            out.append((t.points[keep], t.radii_mm[keep]))
        return out


def catmull_rom(ctrl: np.ndarray, step_mm: float) -> np.ndarray:
    """A smooth curve through control points (centripetal-free uniform Catmull-Rom), resampled."""
    c = np.asarray(ctrl, float)
    c = np.vstack([2 * c[0] - c[1], c, 2 * c[-1] - c[-2]])
    out = []
    for i in range(1, len(c) - 2):
        p0, p1, p2, p3 = c[i - 1], c[i], c[i + 1], c[i + 2]
        t = np.linspace(0, 1, 12, endpoint=False)[:, None]
        out.append(
            0.5
            * (
                (2 * p1)
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
        )
    out.append(c[-2][None])
    pts, _ = resample_polyline(np.vstack(out), step_mm)
    return pts


def _tube(name, ctrl, r0, r1, wall, lumen, wall_tissue, fat, step=1.5, smooth=True, inside=True) -> Tube:
    pts = (
        catmull_rom(ctrl, step) if smooth and len(ctrl) > 2 else resample_polyline(np.asarray(ctrl), step)[0]
    )
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    radii = r0 + (r1 - r0) * s / max(s[-1], 1e-6)
    return Tube(name, pts, radii, wall, lumen, wall_tissue, fat, inside)


@dataclass
class _Frame:
    """What every tube's layout refers to: the patient, the heart, the carina, the scan's z reach."""

    p: Patient
    heart: HeartGeometry
    top: float
    bottom: float
    fat: float
    carina: np.ndarray
    r_asc: float

    def spine_front(self, level: float) -> tuple[float, float, float]:
        """Vertebral body semi-width, semi-depth and the y of its front (mm) at a level."""
        w, d = (float(v) for v in self.p.body_semi_mm(level))
        return w, d, float(self.p.spine_y_mm(level)) - d


def build_mediastinum(
    rng: np.random.Generator, p: Patient, heart: HeartGeometry, z_top_mm: float, z_bottom_mm: float
) -> Mediastinum:
    """Lay out the great vessels and airways of patient ``p`` round ``heart``, from ``z_bottom_mm`` to
    ``z_top_mm`` (the tubes run a little past both)."""
    root = heart.root_centre
    old = np.clip((p.age_years - 40) / 40, 0, 1)
    z_carina = max(float(p.z_at(rng.uniform(4.4, 5.0))), root[2] + 30.0)
    y_front = float(p.spine_y_mm(p.level_at(z_carina)) - p.body_semi_mm(p.level_at(z_carina))[1])
    carina = np.array([rng.uniform(-3, 5), y_front - rng.uniform(14, 20), z_carina])
    f = _Frame(p, heart, z_top_mm + 15.0, z_bottom_mm - 15.0, 2.0 + 6.0 * p.adiposity, carina, 0.0)
    z_arch = z_carina + rng.uniform(15, 35)
    f.r_asc = rng.uniform(13, 16) + 3 * old
    r_desc = rng.uniform(10, 12) + 2 * old
    tubes = [_aorta(f, z_arch, r_desc)]
    arteries, hila = _pulmonary_arteries(rng, f)
    tubes += arteries
    tubes += _veins(rng, f)
    tubes += _airways(rng, f)
    tubes.append(_oesophagus(rng, f, tubes))
    return Mediastinum(
        tubes=tubes,
        carina=carina,
        hila=hila,
        air_in_oesophagus=bool(rng.random() < 0.3),
        sinotubular_z=float(root[2] + rng.uniform(10, 18)),
    )


def _aorta(f: _Frame, z_arch: float, r_desc: float) -> Tube:
    """Root -> ascending aorta -> arch -> descending aorta beside the spine -> abdominal aorta."""
    p, heart = f.p, f.heart
    root, r_root = heart.root_centre, heart.root_radius_mm

    def desc_point(level: float) -> np.ndarray:
        # Against the vertebral body: in front and to the left (~55 degrees from straight in front) high in
        # the chest, straight in front of it at the hiatus (T12).
        w, d, y_front = f.spine_front(level)
        alpha = 0.95 * (1 - float(np.clip((level - 7.0) / 5.5, 0, 1)))
        y_vb = y_front + d
        normal = np.array([np.sin(alpha) / w, -np.cos(alpha) / d])
        normal /= np.linalg.norm(normal)
        x, y = np.array([w * np.sin(alpha), y_vb - d * np.cos(alpha)]) + normal * (r_desc + 1.5)
        return np.array([x, y, float(p.z_at(level))])

    arch_level = float(p.level_at(z_arch))
    d_top = desc_point(arch_level + 0.6)
    levels = np.arange(arch_level + 1.5, float(p.level_at(f.bottom)) + 0.6, 1.0)
    asc_top = np.array([root[0] - 6.0, root[1] - 6.0, z_arch - f.r_asc - 4.0])
    arch = np.array([0.5 * (root[0] + d_top[0]), 0.5 * (asc_top[1] + d_top[1]), z_arch])
    ctrl = [root, root + heart.root_axis * 20.0, asc_top, arch, d_top + np.array([0, 0, 6.0])]
    ctrl += [desc_point(lv) for lv in levels]
    aorta = _tube(
        "aorta", np.array(ctrl), r_root * 0.85, r_desc * 0.85, 1.5, Tissue.BLOOD, Tissue.SOFT_TISSUE, f.fat
    )
    s = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(aorta.points, axis=0), axis=1))])
    i_arch = int(np.argmax(aorta.points[:, 2]))
    aorta.radii_mm = np.interp(
        s,
        [0, s[i_arch] * 0.4, s[i_arch], s[i_arch] + 60, s[-1]],
        [r_root * 0.85, f.r_asc, f.r_asc * 0.92, r_desc, r_desc * 0.82],
    )
    return aorta


def _pulmonary_arteries(rng, f: _Frame) -> tuple[list[Tube], dict[str, np.ndarray]]:
    """Pulmonary trunk to its bifurcation under the arch; the right artery behind the ascending aorta."""
    heart, root = f.heart, f.heart.root_centre
    z_carina = f.carina[2]
    pb = np.array(
        [root[0] + rng.uniform(18, 28), root[1] + rng.uniform(8, 16), z_carina - rng.uniform(0, 10)]
    )
    pb[2] = max(pb[2], heart.pv_centre[2] + 15)
    r_pa = heart.pv_radius_mm
    trunk = np.stack([heart.pv_centre, (heart.pv_centre + pb) / 2 + np.array([0, -4, 3]), pb])
    tubes = [_tube("pulmonary trunk", trunk, r_pa, r_pa * 0.95, 1.0, Tissue.BLOOD, Tissue.BLOOD, f.fat * 0.6)]
    hila = {
        "right": np.array([-rng.uniform(55, 68), root[1] + rng.uniform(18, 30), pb[2] - rng.uniform(5, 15)]),
        "left": np.array([rng.uniform(55, 68), root[1] + rng.uniform(25, 38), pb[2] - rng.uniform(0, 10)]),
    }
    r_rpa, r_lpa = rng.uniform(9, 11), rng.uniform(9, 11)
    behind_aorta = np.array([root[0] - 4, root[1] + f.r_asc + r_rpa + 2, pb[2] - 4])
    for name, ctrl, r in (
        ("right pulmonary artery", np.stack([pb, behind_aorta, hila["right"]]), r_rpa),
        ("left pulmonary artery", np.stack([pb, pb + np.array([18, 22, 6]), hila["left"]]), r_lpa),
    ):
        tubes.append(_tube(name, ctrl, r, r * 0.8, 1.0, Tissue.BLOOD, Tissue.BLOOD, f.fat * 0.5))
    return tubes, hila


def _veins(rng, f: _Frame) -> list[Tube]:
    """Superior and inferior vena cava, four pulmonary veins into the left atrium, the azygos vein."""
    heart, p, root = f.heart, f.p, f.heart.root_centre
    ra = heart.chambers["RA"].outer
    la = heart.chambers["LA"].outer
    x_svc = min(root[0] - f.r_asc - rng.uniform(8, 13), ra.centre[0])
    r_svc = rng.uniform(8, 11)
    svc_end = np.array([x_svc, ra.centre[1], ra.centre[2] + ra.semi_mm[2] * 0.6])
    svc = np.stack([[x_svc, root[1] + rng.uniform(0, 8), f.top], svc_end])
    blood = (Tissue.BLOOD, Tissue.BLOOD)
    tubes = [_tube("superior vena cava", svc, r_svc, r_svc, 0.8, *blood, f.fat * 0.5, smooth=False)]
    # Inferior vena cava: from the right atrium's floor straight down through the liver.
    r_ivc = rng.uniform(10, 13)
    ivc = np.stack(
        [[ra.centre[0], ra.centre[1] + 5, ra.centre[2]], [ra.centre[0] * 0.8, ra.centre[1] + 15, f.bottom]]
    )
    tubes.append(_tube("inferior vena cava", ivc, r_ivc, r_ivc, 0.8, *blood, 0.0, smooth=False, inside=False))
    for side, name in ((-1, "right"), (1, "left")):
        for dz, tag in ((0.45, "superior"), (-0.35, "inferior")):
            start = la.centre + np.array(
                [side * la.semi_mm[0] * 0.8, la.semi_mm[1] * 0.2, dz * la.semi_mm[2]]
            )
            end = start + np.array([side * rng.uniform(25, 40), rng.uniform(5, 15), dz * 15])
            r_pv = rng.uniform(5.5, 7.5)
            tubes.append(
                _tube(
                    f"{name} {tag} pulmonary vein",
                    np.stack([start, end]),
                    r_pv,
                    r_pv * 0.85,
                    0.8,
                    *blood,
                    0.0,
                    smooth=False,
                    inside=False,
                )
            )
    az = []
    for lv in np.arange(float(p.level_at(f.bottom)), 4.6, -1.5):
        w, d, y_front = f.spine_front(lv)
        az.append(np.array([-w * 0.75, y_front + d * 0.5, float(p.z_at(lv))]))
    az.append(np.array([-(f.spine_front(4.6)[0] + 8), f.carina[1] + 5, f.carina[2] + 8]))
    az.append(np.array([x_svc, svc_end[1] + r_svc * 0.8, f.carina[2] + 10]))
    tubes.append(_tube("azygos vein", np.array(az), 3.5, 4.5, 0.5, *blood, 1.0))
    return tubes


def _airways(rng, f: _Frame) -> list[Tube]:
    """Trachea to the carina, main bronchi (the right short and steep), a few lobar bronchi."""
    carina = f.carina
    r_tr = rng.uniform(8, 11)
    trachea = np.stack([[carina[0] + rng.uniform(-3, 3), carina[1] - 5, f.top], carina])
    air = (Tissue.AIR, Tissue.SOFT_TISSUE)
    tubes = [_tube("trachea", trachea, r_tr, r_tr, 2.0, *air, f.fat * 0.5, smooth=False)]
    rmb_end = carina + np.array([-24, 8, -18])
    lmb_end = carina + np.array([38, 12, -22])
    bronchi = [
        ("right main bronchus", carina, rmb_end, rng.uniform(6, 7.5)),
        ("left main bronchus", carina, lmb_end, rng.uniform(5.5, 7)),
        ("right upper lobe bronchus", carina + np.array([-16, 5, -10]), carina + np.array([-40, 8, -4]), 4.5),
        ("bronchus intermedius", rmb_end, rmb_end + np.array([-8, 6, -25]), 5.0),
        ("left upper lobe bronchus", lmb_end, lmb_end + np.array([15, -8, 12]), 4.5),
        ("left lower lobe bronchus", lmb_end, lmb_end + np.array([8, 10, -25]), 4.5),
    ]
    for name, a, b, r in bronchi:
        main = "main" in name  # the lobar bronchi run in the lung, without mediastinal fat
        tubes.append(
            _tube(
                name,
                np.stack([a, b]),
                r,
                r * 0.85,
                1.5,
                *air,
                1.5 if main else 0.0,
                smooth=False,
                inside=main,
            )
        )
    return tubes


def _oesophagus(rng, f: _Frame, tubes: list[Tube]) -> Tube:
    """Behind the trachea, then behind the left atrium, to the hiatus (T10) and on into the stomach."""
    la = f.heart.chambers["LA"].outer
    carina = f.carina
    r_tr = next(t for t in tubes if t.name == "trachea").radii_mm[0]
    r_oe = rng.uniform(7, 10)
    z_hiatus = float(f.p.z_at(rng.uniform(10.2, 10.8)))
    _, _, y_front_h = f.spine_front(float(f.p.level_at(z_hiatus)))
    _, _, y_front_c = f.spine_front(float(f.p.level_at(carina[2])))
    ctrl = [
        [carina[0] - 2, carina[1] + r_tr + r_oe + 1, f.top],
        [carina[0] + 2, carina[1] + r_tr + r_oe, carina[2]],
        [rng.uniform(0, 10), max(la.centre[1] + la.semi_mm[1] + r_oe + 2, y_front_c - 4), la.centre[2]],
        [rng.uniform(15, 28), y_front_h - r_oe - 6, z_hiatus],
        [rng.uniform(30, 45), y_front_h - r_oe - 20, z_hiatus - 25],
    ]
    return _tube(
        "oesophagus", np.array(ctrl), r_oe, r_oe, 3.0, Tissue.SOFT_TISSUE, Tissue.SOFT_TISSUE, f.fat * 0.6
    )
