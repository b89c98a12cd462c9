"""Heart geometry of the phantom: an oriented ellipsoidal pericardial sac and the coronary tree on it.

The heart is modelled in its own frame: ``e_long`` from base to apex (pointing anterior, left and inferior,
as in a real chest), ``e_a`` the anterior surface normal and ``e_b = e_long x e_a``. A point on a scaled
copy of the sac is given by (t, phi): t in [-1, 1] from base to apex, phi the angle around the long axis
(0 = anterior). The atrioventricular (AV) groove is the ring at t = ``t_av`` near the base; the
interventricular grooves run base to apex at the angles of the anterior (LAD) and inferior (PDA) surface.
Coronaries run at ``coronary_scale`` of the sac, i.e. in the epicardial fat between myocardium and
pericardium, so that they are always inside the heart mask.

Anatomy follows standard descriptions (e.g. Gray's Anatomy, 42nd ed., coronary arteries): left main from
the left coronary sinus, dividing into LAD (anterior interventricular groove, diagonals) and LCX (left AV
groove, obtuse marginals); RCA from the right sinus along the right AV groove to the crux, giving the
posterior descending artery (right dominance, ~85 % of people). Proximal diameters follow Dodge et al.,
Circulation 1992 (LM ~4.5 mm, proximal LAD ~3.6 mm, LCX ~3.4 mm, RCA ~3.9 mm).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cacscore.labels import Artery
from cacscore.phantom.grid import resample_polyline

_STEP_MM = 0.5


@dataclass
class Branch:
    """One coronary segment: centreline points (x, y, z mm) every 0.5 mm, lumen radius per point (mm)."""

    name: str
    artery: Artery
    points: np.ndarray
    radii_mm: np.ndarray
    arc_mm: np.ndarray

    @property
    def length_mm(self) -> float:
        return float(self.arc_mm[-1])


@dataclass
class HeartGeometry:
    """Pose and size of the heart and where its landmarks are (world mm)."""

    centre: np.ndarray
    frame: np.ndarray  # rows e_long, e_a, e_b
    sac_semi_mm: np.ndarray  # (A, B, C) along e_long, e_a, e_b
    muscle_scale: float
    coronary_scale: float
    t_av: float
    root_centre: np.ndarray
    root_radius_mm: float
    phi: dict[str, float] = field(default_factory=dict)
    branches: list[Branch] = field(default_factory=list)

    def point(self, t: np.ndarray, phi: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
        """World points (..., 3) at (t, phi) on the sac scaled by ``scale``."""
        t = np.asarray(t, dtype=float)
        phi = np.asarray(phi, dtype=float)
        s = np.sqrt(np.clip(1.0 - t * t, 0.0, 1.0))
        a, b, c = self.sac_semi_mm
        local = np.stack([t * a, b * s * np.cos(phi), c * s * np.sin(phi)], axis=-1)
        local = local * np.asarray(scale, dtype=float)[..., None]
        return self.centre + local @ self.frame

    def angle_of(self, direction: np.ndarray) -> float:
        """The angle phi of a world direction projected onto the heart's short-axis plane."""
        d = np.asarray(direction, dtype=float)
        return float(np.arctan2(d @ self.frame[2], d @ self.frame[1]))


def _wrap(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)


def _sweep(start: float, via: float, end_fraction: float, end: float) -> np.ndarray:
    """Angles from ``start`` through ``via`` towards ``end`` (same turning sense), stopping at a fraction."""
    d1 = _wrap(via - start)
    d2 = _wrap(end - via)
    if np.sign(d2) != np.sign(d1):
        d2 += np.sign(d1) * 2 * np.pi
    total = d1 + d2 * end_fraction
    return start + np.linspace(0.0, total, 200)


def build_heart(rng: np.random.Generator, centre: np.ndarray, size_scale: float) -> HeartGeometry:
    """Draw a heart pose, size and coronary tree (right dominant in ~85 %)."""
    azimuth = np.deg2rad(rng.uniform(35, 60))  # long axis from anterior towards the patient's left
    elevation = np.deg2rad(rng.uniform(15, 35))  # long axis below the axial plane
    e_long = np.array(
        [np.cos(elevation) * np.sin(azimuth), -np.cos(elevation) * np.cos(azimuth), -np.sin(elevation)]
    )
    ant = np.array([0.0, -1.0, 0.0])
    e_a = ant - (ant @ e_long) * e_long
    e_a /= np.linalg.norm(e_a)
    e_b = np.cross(e_long, e_a)
    frame = np.stack([e_long, e_a, e_b])
    semi = np.array([rng.uniform(60, 68), rng.uniform(42, 48), rng.uniform(34, 40)]) * size_scale
    heart = HeartGeometry(
        centre=np.asarray(centre, dtype=float),
        frame=frame,
        sac_semi_mm=semi,
        muscle_scale=float(rng.uniform(0.87, 0.91)),
        coronary_scale=0.0,
        t_av=float(rng.uniform(-0.68, -0.58)),
        root_centre=np.zeros(3),
        root_radius_mm=float(rng.uniform(13.5, 16.5) * np.sqrt(size_scale)),
    )
    heart.coronary_scale = heart.muscle_scale + 0.035
    heart.phi = {
        "anterior": 0.0,
        "left": heart.angle_of(np.array([1.0, 0.0, 0.0])),
        "right": heart.angle_of(np.array([-1.0, 0.0, 0.0])),
        "inferior": heart.angle_of(np.array([0.0, 0.0, -1.0])),
        "posterior": heart.angle_of(np.array([0.0, 1.0, 0.0])),
    }
    ph = heart.phi
    phi_root = ph["anterior"] + 0.35 * _wrap(ph["right"] - ph["anterior"])
    heart.root_centre = heart.point(-0.86, phi_root, 0.3)
    heart.branches = _coronary_tree(rng, heart)
    return heart


def _branch(name: str, artery: Artery, pts: np.ndarray, r0: float, r1: float) -> Branch:
    p, arc = resample_polyline(pts, _STEP_MM)
    radii = r0 + (r1 - r0) * arc / max(arc[-1], 1e-6)
    return Branch(name, artery, p, radii, arc)


def _wiggle(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """A smooth random perturbation of n samples (two random sinusoids)."""
    u = np.linspace(0, 1, n)
    out = np.zeros(n)
    for _ in range(2):
        out += amplitude * rng.uniform(-1, 1) * np.sin(2 * np.pi * (rng.uniform(0.5, 2.5) * u + rng.random()))
    return out


def _coronary_tree(rng: np.random.Generator, h: HeartGeometry) -> list[Branch]:
    ph = h.phi
    sc = h.coronary_scale
    t_av = h.t_av
    n = 200
    branches: list[Branch] = []

    # Left main: from the left sinus of the aortic root to the bifurcation in the upper AV groove.
    phi_bif = ph["anterior"] + rng.uniform(0.35, 0.55) * _wrap(ph["left"] - ph["anterior"])
    bif = h.point(t_av, phi_bif, sc)
    d = bif - h.root_centre
    d /= np.linalg.norm(d)
    lm_start = h.root_centre + d * h.root_radius_mm * 0.95
    lm = np.linspace(lm_start, bif, 20)
    r_lm = rng.uniform(2.0, 2.3)
    branches.append(_branch("LM", Artery.LAD, lm, r_lm, r_lm * 0.95))

    # LAD: anterior interventricular groove to the apex.
    phi_lad = ph["anterior"] + rng.uniform(0.05, 0.3) * _wrap(ph["left"] - ph["anterior"])
    t = np.linspace(t_av, 0.97, n)
    blend = np.clip((t - t_av) / 0.25, 0, 1)
    phi = phi_bif + (phi_lad - phi_bif) * blend + _wiggle(rng, n, 0.06)
    lad = h.point(t, phi, sc)
    lad = np.vstack([bif, lad])
    branches.append(_branch("LAD", Artery.LAD, lad, rng.uniform(1.7, 1.9), rng.uniform(0.7, 0.85)))

    # Diagonals from the LAD over the anterolateral wall.
    for k in range(rng.integers(1, 4)):
        t0 = rng.uniform(-0.45, 0.25)
        tt = np.linspace(t0, min(t0 + rng.uniform(0.35, 0.6), 0.9), n // 2)
        p0 = phi_lad + (phi_bif - phi_lad) * np.clip((t0 - t_av) / 0.25, 0, 1)
        p1 = p0 + rng.uniform(0.35, 0.7) * _wrap(ph["left"] - phi_lad)
        pp = np.linspace(p0, p1, tt.size) + _wiggle(rng, tt.size, 0.04)
        branches.append(_branch(f"D{k + 1}", Artery.LAD, h.point(tt, pp, sc), 1.1, 0.6))

    # LCX: left AV groove, past the left border towards the crux (left dominance in ~10 %).
    left_dominant = rng.random() < 0.1
    frac = rng.uniform(0.85, 1.0) if left_dominant else rng.uniform(0.15, 0.6)
    phis = _sweep(phi_bif, ph["left"], frac, ph["inferior"])
    lcx = h.point(np.full(phis.size, t_av) + _wiggle(rng, phis.size, 0.02), phis, sc)
    lcx = np.vstack([bif, lcx])
    branches.append(_branch("LCX", Artery.LCX, lcx, rng.uniform(1.5, 1.7), rng.uniform(0.75, 0.9)))

    # Obtuse marginals from the LCX down the lateral wall.
    for k in range(rng.integers(1, 3)):
        i0 = int(rng.uniform(0.25, 0.8) * phis.size)
        tt = np.linspace(t_av, t_av + rng.uniform(0.5, 0.9), n // 2)
        pp = phis[i0] + np.linspace(0, rng.uniform(-0.2, 0.2), tt.size) + _wiggle(rng, tt.size, 0.04)
        branches.append(_branch(f"OM{k + 1}", Artery.LCX, h.point(tt, pp, sc), 1.1, 0.6))

    # RCA: from the right sinus into the right AV groove, round the right border to the crux.
    phi_ra = ph["anterior"] + rng.uniform(0.45, 0.7) * _wrap(ph["right"] - ph["anterior"])
    rca0 = h.point(t_av, phi_ra, sc)
    d = rca0 - h.root_centre
    d /= np.linalg.norm(d)
    rca_start = h.root_centre + d * h.root_radius_mm * 0.95
    rfrac = rng.uniform(0.5, 0.8) if left_dominant else rng.uniform(0.95, 1.1)
    phis_r = _sweep(phi_ra, ph["right"], rfrac, ph["inferior"])
    rca = h.point(np.full(phis_r.size, t_av) + _wiggle(rng, phis_r.size, 0.02), phis_r, sc)
    rca = np.vstack([np.linspace(rca_start, rca0, 10), rca])
    branches.append(_branch("RCA", Artery.RCA, rca, rng.uniform(1.8, 2.0), rng.uniform(0.9, 1.1)))

    # Posterior descending artery along the inferior interventricular groove.
    crux_phi = phis[-1] if left_dominant else phis_r[-1]
    tt = np.linspace(t_av, rng.uniform(0.4, 0.75), n // 2)
    pp = crux_phi + np.linspace(0, _wrap(ph["inferior"] - crux_phi) * 0.5, tt.size)
    pda_artery = Artery.LCX if left_dominant else Artery.RCA
    branches.append(_branch("PDA", pda_artery, h.point(tt, pp, sc), 1.1, 0.65))
    return branches
