"""The coronary tree, laid into the grooves of the heart's surface (:mod:`cacscore.phantom.heart`).

Anatomy (Gray's Anatomy, 42nd ed.; Dodge et al., Circulation 1992 for the diameters): the left main (LM,
4-4.6 mm) leaves the left sinus of Valsalva, passes between the pulmonary trunk and the left atrial
appendage and divides into the LAD, which runs down the anterior interventricular groove to the apex and
gives 1-3 diagonals over the anterolateral wall, and the LCX, which runs round the left AV groove and
gives 1-2 obtuse marginals; the RCA leaves the right sinus, runs round the right AV groove to the crux and
(right dominance, ~85-90 %) gives the posterior descending artery (PDA) in the inferior interventricular
groove; in left dominance the LCX gives the PDA. Diameters taper from ~4 mm to ~1.5 mm.

Where a groove is: the AV groove is the ring where the ventricles' outer surface meets the base plane
(between ventricles and atria); the interventricular grooves are where the surface of the right ventricle
gives way to that of the left. Each centreline is then pushed along the surface normal until it lies its
radius + a small gap (0-2 mm) outside the myocardium, i.e. in the epicardial fat, and a fat sleeve round
it (1-20 mm, per patient and artery; 0.5-2 mm for :data:`THIN_SLEEVE_SHARE` of the arteries) becomes part of
the pericardial sac. In ~15 % of patients the LAD lies right on the myocardium with little fat round it.

The cardiac veins run beside the arteries in the same fat (Gray's Anatomy): the anterior interventricular
vein beside the LAD, the great cardiac vein beside the LCX on the atrial side of the left AV groove,
widening into the coronary sinus, which runs on round the posterior AV groove to the crux (whatever the
LCX's length); the middle cardiac vein beside the PDA; an inconstant small cardiac vein beside the RCA.
Their unenhanced blood (~40 HU) is part of what lies within a few millimetres of a real coronary plaque,
so the fat round a phantom artery is not a clean sleeve. Diameters: coronary sinus ~6-10 mm near the
crux, great cardiac vein ~4-6 mm, the interventricular veins ~2-4 mm (multidetector CT series, e.g.
Jongbloed et al., J Am Coll Cardiol 2005;45:749-53; ranges approximate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cacscore.labels import Artery
from cacscore.phantom.grid import resample_polyline
from cacscore.phantom.heart import HeartGeometry

_STEP_MM = 0.5
#: Thickness (mm) of the coronary wall round the lumen.
WALL_MM: float = 0.5
#: Newton steps (each at most 3 mm) that push a centreline out of the chambers onto the epicardium. The
#: trees are laid on the ventricles, and the atria cover the AV groove by up to 30 mm: with 6 steps 13 % of
#: the RCA's, LCX's and LAD's points (beyond their first 10 mm) stayed over 3 mm inside a chamber, in an
#: atrium's blood (16 patients); with 20, 4.7 % (40 do no better). heart_tissue.GROOVE_FAT_MM keeps fat
#: round those.
SNAP_STEPS: int = 20
#: Fat (mm) kept between a cardiac vein and every artery's wall; where a vein crosses an artery (a diagonal,
#: the RCA's end at the crux) its tube is left out.
VEIN_CLEARANCE_MM: float = 0.5


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


class _Surface:
    """Rays from the heart's long axis to its ventricular surface, in (u, phi) heart coordinates."""

    def __init__(self, heart: HeartGeometry):
        self.h = heart
        self.e_long, self.e_a, self.e_b = heart.frame
        self.rho = np.arange(0.0, 112.0, 2.0)

    def angle_of(self, v: np.ndarray) -> float:
        return float(np.arctan2(v @ self.e_b, v @ self.e_a))

    def point(self, u: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Ventricular surface points (N, 3) at fractions ``u`` of the base-apex length and angles ``phi``."""
        u = np.atleast_1d(np.asarray(u, float))
        phi = np.atleast_1d(np.asarray(phi, float))
        u, phi = np.broadcast_arrays(u, phi)
        origin = self.h.base + np.outer(u * self.h.length_mm, self.e_long)
        d = np.outer(np.cos(phi), self.e_a) + np.outer(np.sin(phi), self.e_b)
        pts = origin[:, None, :] + d[:, None, :] * self.rho[None, :, None]
        sdf = self.h.ventricles_sdf(pts[..., 0], pts[..., 1], pts[..., 2])
        inside = sdf < 0
        last = np.where(inside.any(axis=1), inside.shape[1] - 1 - np.argmax(inside[:, ::-1], axis=1), 0)
        # The surface lies between the last inside sample and the next: interpolate the zero crossing.
        nxt = np.minimum(last + 1, self.rho.size - 1)
        rows = np.arange(len(last))
        a, b = sdf[rows, last], sdf[rows, nxt]
        frac = np.where(b > a, np.clip(-a / np.maximum(b - a, 1e-6), 0, 1), 0.0)
        rho = self.rho[last] + frac * (self.rho[nxt] - self.rho[last])
        return origin + d * rho[:, None]

    def interventricular(self, u: np.ndarray, phi_near: float) -> np.ndarray:
        """Angle of the groove between the right and left ventricle's surfaces nearest ``phi_near``, per u
        (where the right ventricle no longer reaches, the last angle found is kept)."""
        phis = np.linspace(-np.pi, np.pi, 121)[:-1]
        uu, pp = np.meshgrid(np.asarray(u, float), phis, indexing="ij")
        p = self.point(uu.ravel(), pp.ravel())
        lv, rv = self.h.chambers["LV"].outer, self.h.chambers["RV"].outer
        s = (lv.sdf(p[:, 0], p[:, 1], p[:, 2]) - rv.sdf(p[:, 0], p[:, 1], p[:, 2])).reshape(uu.shape)
        out = np.empty(len(u))
        last = phi_near
        for i in range(len(u)):
            change = np.nonzero(np.sign(s[i]) != np.sign(np.roll(s[i], -1)))[0]
            if change.size:
                # Linear interpolation of the sign change between neighbouring angles.
                a, b = s[i, change], s[i, (change + 1) % phis.size]
                cand = phis[change] + (phis[1] - phis[0]) * a / np.where(a == b, 1.0, a - b)
                last = float(cand[np.argmin(np.abs(_wrap(cand - last)))])
            out[i] = last
        return out


@dataclass
class _Grooves:
    """Where the grooves are on this heart: the AV ring at ``u_av`` and the two interventricular lines."""

    surface: _Surface
    u_iv: np.ndarray
    phi_lad: np.ndarray
    phi_pda: np.ndarray
    u_av: float
    phi_left: float
    phi_right: float

    def ring(self, phis: np.ndarray) -> np.ndarray:
        """Points of the AV groove at angles ``phis``."""
        return self.surface.point(np.full(len(phis), self.u_av), phis)


def build_coronaries(rng: np.random.Generator, heart: HeartGeometry) -> list[Branch]:
    """Draw the coronary tree on ``heart`` (right dominant in ~90 %), set each artery's gap and fat sleeve
    (``heart.coronary_fat``) and store the branches in ``heart.branches``."""
    s = _Surface(heart)
    left = np.array([1.0, 0, 0])
    u_iv = np.linspace(0.04, 0.97, 48)
    g = _Grooves(
        surface=s,
        u_iv=u_iv,
        phi_lad=s.interventricular(u_iv, s.angle_of(heart.frame[1] + 0.35 * left)),
        phi_pda=s.interventricular(u_iv, s.angle_of(np.array([0, 0, -1.0]))),
        u_av=float(rng.uniform(-0.04, 0.02)),
        phi_left=s.angle_of(left),
        phi_right=s.angle_of(-left),
    )
    _groove_fat(rng, heart)
    left_dominant = rng.random() < 0.1
    branches, lcx_end = _left_coronary(rng, heart, g, left_dominant)
    rca, rca_end = _right_coronary(rng, heart, g, left_dominant)
    branches.append(rca)
    n_pda = int(rng.uniform(0.4, 0.75) * u_iv.size)
    pda = s.point(u_iv[:n_pda], g.phi_pda[:n_pda])
    start = lcx_end if left_dominant else rca_end
    branches.append(
        _branch("PDA", Artery.LCX if left_dominant else Artery.RCA, np.vstack([start, pda]), 1.1, 0.65)
    )
    for br in branches:
        if br.name != "LM":
            gap, _ = heart.coronary_fat[_artery_name(br)]
            _snap(heart, br, gap)
    heart.branches = branches
    heart.veins = _cardiac_veins(rng, heart, g, {br.name: br for br in branches})
    return branches


def _cardiac_veins(rng, heart: HeartGeometry, g: _Grooves, by_name: dict[str, Branch]) -> list[Branch]:
    """The cardiac veins beside the arteries (module docstring); each is a :class:`Branch` named for the
    vein and labelled with its companion artery, at least that artery's gap outside the myocardium."""
    lad, lcx, pda, rca = by_name["LAD"], by_name["LCX"], by_name["PDA"], by_name["RCA"]
    e_long = heart.frame[0]
    # Anterior interventricular vein: the LAD's upper 50-80 % beyond its first 10 mm (where the vein turns
    # over the left main into the AV groove), on either side, widening towards the base.
    first = int(np.searchsorted(lad.arc_mm, 10.0))
    n = max(int(rng.uniform(0.5, 0.8) * len(lad.points)), first + 8)
    plan = [("AIV", lad, slice(first, n), rng.choice([-1.0, 1.0]), (1.6, 1.0))]
    # Great cardiac vein and coronary sinus: the whole left and posterior AV groove, bifurcation to crux,
    # on its atrial side (away from e_long, which runs base to apex).
    ring = g.ring(_sweep(g.surface.angle_of(lcx.points[0] - heart.base), g.phi_left, 1.0, g.phi_pda[0]))
    av = _branch("CS", Artery.LCX, ring, lcx.radii_mm[0], lcx.radii_mm[0])
    _snap(heart, av, heart.coronary_fat["LCX"][0])  # out of the atria, onto the groove, as the LCX
    plan.append(("CS", av, slice(None), e_long, (rng.uniform(2.0, 2.8), rng.uniform(3.0, 5.0))))
    # Middle cardiac vein beside the PDA, from the crux; an inconstant small cardiac vein beside the RCA
    # once it lies in the AV groove.
    plan.append(("MCV", pda, slice(None), rng.choice([-1.0, 1.0]), (2.0, 1.0)))
    if rng.random() < 0.5:
        plan.append(("SCV", rca, slice(int(np.searchsorted(rca.arc_mm, 30.0)), None), e_long, (1.0, 0.8)))
    arteries = np.vstack([br.points for br in heart.branches])
    outer = np.concatenate([br.radii_mm for br in heart.branches]) + WALL_MM
    veins = []
    for name, artery, part, side, radii in plan:
        gap, _ = heart.coronary_fat[_artery_name(artery)]
        v = _beside(rng, heart, name, artery, part, side, radii, gap)
        # Where a vein crosses an artery it passes over or under it, and where the myocardium bulges it
        # passes beneath the surface: the tube is left out there, so that at least VEIN_CLEARANCE_MM of
        # fat lies between a vein and every artery's wall and a vein never runs in a chamber's wall.
        d = np.linalg.norm(v.points[:, None, :] - arteries[None], axis=2) - outer[None]
        myo = heart.myocardium_sdf(v.points[:, 0], v.points[:, 1], v.points[:, 2])
        keep = ((d - v.radii_mm[:, None]).min(axis=1) >= VEIN_CLEARANCE_MM) & (myo >= v.radii_mm)
        v.points, v.radii_mm, v.arc_mm = v.points[keep], v.radii_mm[keep], v.arc_mm[keep]
        veins.append(v)
    return veins


def _gradient(sdf, p: np.ndarray, h: float = 0.3) -> np.ndarray:
    """Central-difference gradient (N, 3) of ``sdf(x, y, z)`` at points ``p`` (N, 3) mm."""
    return np.stack(
        [sdf(*(p + h * e).T) - sdf(*(p - h * e).T) for e in np.eye(3)],
        axis=1,
    ) / (2 * h)


def _beside(
    rng,
    heart: HeartGeometry,
    name: str,
    artery: Branch,
    part: slice,
    side: float | np.ndarray,
    radii: tuple[float, float],
    gap: float,
) -> Branch:
    """A vein of ``radii`` (mm, start to end) beside ``artery.points[part]`` with 1-3 mm of fat between
    their walls: on the surface's ``side`` (+-1 along tangent x normal), or, given a direction, on the side
    away from it. Where the myocardium (an atrium bulging over the AV groove) lies there, the vein turns
    up out of the surface (towards the normal, smoothly along the vein) until it is its radius + ``gap``
    outside."""
    p = artery.points[part]
    normal = _gradient(heart.myocardium_sdf, p)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    lateral = np.cross(np.gradient(p, axis=0), normal)
    lateral /= np.maximum(np.linalg.norm(lateral, axis=1, keepdims=True), 1e-9)
    if not np.isscalar(side):
        side = -1.0 if float(np.mean(lateral @ np.asarray(side))) > 0 else 1.0
    r_vein = np.linspace(radii[0], radii[1], len(p))
    offset = (artery.radii_mm[part] + WALL_MM + rng.uniform(1.0, 3.0) + r_vein)[:, None]
    angles = np.linspace(0.0, np.pi / 2, 7)
    clear = np.stack(
        [
            heart.myocardium_sdf(*(p + offset * (side * np.cos(a) * lateral + np.sin(a) * normal)).T)
            >= r_vein + gap
            for a in angles
        ],
        axis=1,
    )
    turn = angles[np.where(clear.any(axis=1), np.argmax(clear, axis=1), len(angles) - 1)]
    turn = ndimage.uniform_filter1d(ndimage.maximum_filter1d(turn, 9), 9)  # no kinks along the vein
    pts = p + offset * (side * np.cos(turn)[:, None] * lateral + np.sin(turn)[:, None] * normal)
    return _branch(name, artery.artery, pts, *radii)


#: Share of arteries (each drawn on its own) that lie deep in their groove with a thin rim of fat
#: (0.5-2 mm), against the atrium's and the ventricle's walls. Without it the sleeve was >= 4.7 mm round 90 %
#: of the LCX and RCA, and the 2-5 mm shell round a phantom plaque was 66-70 % fat (median) against 34-50 %
#: round lung2's coronary calls; with it and the veins 67 % (LCX 56 %; docs/phantom.md, "Fat is too tidy").
THIN_SLEEVE_SHARE: float = 0.4


def _groove_fat(rng, heart: HeartGeometry) -> None:
    """Per artery: the gap (mm) between its wall and the myocardium and the fat sleeve round it; the LAD
    lies right on the myocardium with little fat in ~15 % of patients; any artery lies deep in its groove
    with a thin rim of fat in :data:`THIN_SLEEVE_SHARE` of the rest."""
    for art in ("LAD", "LCX", "RCA"):
        on_muscle = art == "LAD" and rng.random() < 0.15
        gap = 0.1 if on_muscle else float(rng.uniform(0.3, 2.0))
        if on_muscle:
            sleeve = float(rng.uniform(0.5, 1.0))
        elif rng.random() < THIN_SLEEVE_SHARE:
            sleeve = float(rng.uniform(0.5, 2.0))
        else:
            sleeve = float(
                np.clip(heart.epicardial_fat_mm * rng.uniform(1.0, 2.5) + rng.uniform(1, 4), 1.0, 20.0)
            )
        heart.coronary_fat[art] = (gap, sleeve)


def _left_coronary(
    rng, heart: HeartGeometry, g: _Grooves, left_dominant: bool
) -> tuple[list[Branch], np.ndarray]:
    """Left main, LAD with diagonals, LCX with obtuse marginals; and the LCX's last point."""
    s, u_iv, phi_lad = g.surface, g.u_iv, g.phi_lad
    # Left main: from the left sinus towards the AV groove left of the pulmonary root.
    phi_bif = phi_lad[0] + rng.uniform(0.3, 0.45) * _wrap(g.phi_left - phi_lad[0])
    ost_l = _ostium(heart, "left")
    target = g.ring(np.array([phi_bif]))[0]
    lm_len = float(rng.uniform(6, 14))
    bif = ost_l + _unit(target - ost_l) * min(lm_len, np.linalg.norm(target - ost_l) * 0.8)
    r_lm = rng.uniform(2.0, 2.3)
    branches = [_branch("LM", Artery.LAD, np.stack([ost_l, bif]), r_lm, r_lm * 0.95)]
    lad_pts = s.point(u_iv, phi_lad + _wiggle(rng, u_iv.size, 0.05))
    branches.append(
        _branch("LAD", Artery.LAD, np.vstack([bif, lad_pts]), rng.uniform(1.7, 1.9), rng.uniform(0.7, 0.85))
    )
    for k in range(int(rng.integers(1, 4))):
        i0 = int(rng.integers(4, 26))
        tt = np.linspace(u_iv[i0], min(u_iv[i0] + rng.uniform(0.3, 0.5), 0.9), 30)
        pp = phi_lad[i0] + np.linspace(0, rng.uniform(0.45, 0.9), 30) * _wrap(g.phi_left - phi_lad[i0])
        branches.append(_branch(f"D{k + 1}", Artery.LAD, np.vstack([lad_pts[i0], s.point(tt, pp)]), 1.1, 0.6))
    frac = rng.uniform(0.85, 1.0) if left_dominant else rng.uniform(0.15, 0.6)
    lcx_phi = _sweep(phi_bif, g.phi_left, frac, g.phi_pda[0])
    lcx_pts = g.ring(lcx_phi + _wiggle(rng, lcx_phi.size, 0.02))
    branches.append(
        _branch("LCX", Artery.LCX, np.vstack([bif, lcx_pts]), rng.uniform(1.5, 1.7), rng.uniform(0.75, 0.9))
    )
    for k in range(int(rng.integers(1, 3))):
        i0 = int(rng.uniform(0.3, 0.85) * len(lcx_phi))
        tt = np.linspace(g.u_av + 0.05, rng.uniform(0.5, 0.85), 30)
        pp = lcx_phi[i0] + np.linspace(0, rng.uniform(-0.25, 0.25), 30)
        branches.append(
            _branch(f"OM{k + 1}", Artery.LCX, np.vstack([lcx_pts[i0], s.point(tt, pp)]), 1.1, 0.6)
        )
    return branches, lcx_pts[-1]


def _right_coronary(rng, heart: HeartGeometry, g: _Grooves, left_dominant: bool) -> tuple[Branch, np.ndarray]:
    """The RCA from the right sinus round the right AV groove to the crux (short when left dominant)."""
    s = g.surface
    phi_ant = s.angle_of(heart.frame[1])
    phi_ra = phi_ant + rng.uniform(0.4, 0.6) * _wrap(g.phi_right - phi_ant)
    rfrac = rng.uniform(0.5, 0.8) if left_dominant else rng.uniform(0.98, 1.08)
    rca_phi = _sweep(phi_ra, g.phi_right, rfrac, g.phi_pda[0])
    rca_pts = g.ring(rca_phi + _wiggle(rng, rca_phi.size, 0.02))
    pts = np.vstack([_ostium(heart, "right"), rca_pts])
    return _branch("RCA", Artery.RCA, pts, rng.uniform(1.8, 2.0), rng.uniform(0.9, 1.1)), rca_pts[-1]


def _artery_name(br: Branch) -> str:
    return "RCA" if br.artery == Artery.RCA else ("LCX" if br.artery == Artery.LCX else "LAD")


def _ostium(heart: HeartGeometry, sinus: str) -> np.ndarray:
    c = heart.sinuses[sinus]
    return c + _unit(c - heart.root_centre) * 0.6 * heart.root_radius_mm


def _snap(heart: HeartGeometry, br: Branch, gap: float) -> None:
    """Push each centreline point along the myocardium's normal to (outer radius + gap) outside it (at most
    :data:`SNAP_STEPS` steps); the first 6 mm of a branch that leaves the aortic root are left where they
    are (they run in fat between the roots), blending in."""
    p = br.points.copy()
    target = br.radii_mm + WALL_MM + gap
    for _ in range(SNAP_STEPS):
        d = heart.myocardium_sdf(p[:, 0], p[:, 1], p[:, 2]) - target
        g = _gradient(heart.myocardium_sdf, p)
        step = d[:, None] * g / np.maximum((g * g).sum(axis=1), 1e-6)[:, None]
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        p -= step * np.minimum(1.0, 3.0 / np.maximum(norm, 1e-9))
    w = np.clip(br.arc_mm / 6.0, 0, 1)[:, None] if br.name in ("RCA", "LAD", "LCX") else 1.0
    pts = br.points + (p - br.points) * w
    # Re-sample: snapping stretches the spacing unevenly.
    new, arc = resample_polyline(pts, _STEP_MM)
    br.radii_mm = np.interp(arc / max(arc[-1], 1e-6), br.arc_mm / max(br.arc_mm[-1], 1e-6), br.radii_mm)
    br.points, br.arc_mm = new, arc


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


def _sweep(start: float, via: float, end_fraction: float, end: float) -> np.ndarray:
    """Angles from ``start`` through ``via`` towards ``end`` (same turning sense), stopping at a fraction."""
    d1 = _wrap(via - start)
    d2 = _wrap(end - via)
    if np.sign(d2) != np.sign(d1):
        d2 += np.sign(d1) * 2 * np.pi
    total = d1 + d2 * end_fraction
    return start + np.linspace(0.0, total, max(int(abs(total) * 60), 8))


def _wrap(a):
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)
