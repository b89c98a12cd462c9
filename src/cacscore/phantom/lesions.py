"""Calcified coronary lesions and the non-coronary look-alikes, as unions of small ellipsoids.

Lesion burden is drawn per patient from a target risk category so that a cohort spans all five Agatston
categories (0, 1-10, 11-100, 101-400, >400) with ~35 % zero scores, close to the share of CAC = 0 among
symptomatic and screening cohorts referred for calcium scoring (e.g. MESA: ~50 % of all participants,
~30-40 % of older referral populations; Budoff et al., Eur Heart J 2018). Lesions sit in the vessel wall
(eccentric), are denser at the core, and are placed preferentially proximally and on the LAD and RCA, as
reported in autopsy and CT series (e.g. Wang et al., Am J Cardiol 2002).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from cacscore.labels import Artery
from cacscore.phantom.grid import frame_from
from cacscore.phantom.heart import Branch, HeartGeometry
from cacscore.phantom.imaging import Ellipsoid


class LookAlike(IntEnum):
    """Codes of the look-alike label volume: bright structures that are not coronary calcium."""

    NONE = 0
    AORTIC_WALL = 1
    AORTIC_VALVE = 2
    MITRAL_ANNULUS = 3
    LYMPH_NODE = 4
    BONE_EDGE = 5
    NOISE_SPIKE = 6
    METAL = 7


#: Target risk-category probabilities for categories 0, 1-10, 11-100, 101-400, >400.
CATEGORY_PROBABILITIES: tuple[float, ...] = (0.38, 0.15, 0.19, 0.15, 0.13)

# Per target category: (lesion count range, length mm, thickness mm, intrinsic peak density HU).
_BURDEN = {
    1: ((1, 2), (1.8, 3.5), (1.5, 2.2), (330, 560)),
    2: ((2, 4), (2.5, 6.0), (1.7, 2.4), (380, 800)),
    3: ((4, 8), (3.0, 10.0), (1.6, 2.6), (380, 1000)),
    4: ((7, 16), (4.0, 20.0), (1.8, 3.0), (450, 1500)),
}

_BRANCH_WEIGHTS = {"LM": 0.05, "LAD": 0.34, "D": 0.07, "LCX": 0.15, "OM": 0.06, "RCA": 0.26, "PDA": 0.07}


@dataclass
class CalcObject:
    """A lesion or look-alike: its ellipsoids, background HU, and what it is."""

    kind: str  # "lesion" or a LookAlike name
    ellipsoids: list[Ellipsoid]
    background_hu: float
    artery: Artery | None = None
    info: dict = field(default_factory=dict)


def _branch_weight(name: str) -> float:
    for prefix in ("LM", "LAD", "LCX", "RCA", "PDA", "OM", "D"):
        if name.startswith(prefix):
            return _BRANCH_WEIGHTS[prefix]
    return 0.05


def _tangent(points: np.ndarray, i: int) -> np.ndarray:
    a = points[max(i - 1, 0)]
    b = points[min(i + 1, len(points) - 1)]
    d = b - a
    return d / max(np.linalg.norm(d), 1e-9)


def draw_category(rng: np.random.Generator) -> int:
    """Target risk category index 0..4 drawn from :data:`CATEGORY_PROBABILITIES`."""
    return int(rng.choice(len(CATEGORY_PROBABILITIES), p=CATEGORY_PROBABILITIES))


def plan_lesions(rng: np.random.Generator, heart: HeartGeometry, category: int) -> list[CalcObject]:
    """Coronary lesions for a patient whose target risk category is ``category`` (0 = none)."""
    if category <= 0:
        return []
    (n_lo, n_hi), length_r, thick_r, dens_r = _BURDEN[category]
    branches = heart.branches
    weights = np.array([_branch_weight(b.name) for b in branches])
    weights /= weights.sum()
    lesions: list[CalcObject] = []
    for _ in range(int(rng.integers(n_lo, n_hi + 1))):
        br: Branch = branches[int(rng.choice(len(branches), p=weights))]
        length = float(rng.uniform(*length_r))
        length = min(length, br.length_mm * 0.8)
        start = float(rng.beta(1.3, 2.4) * max(br.length_mm - length - 1.0, 0.5)) + 0.5
        lesions.append(
            _lesion(rng, br, start, length, float(rng.uniform(*thick_r)), float(rng.uniform(*dens_r)))
        )
    return lesions


def _lesion(
    rng: np.random.Generator,
    br: Branch,
    start_mm: float,
    length_mm: float,
    thickness_mm: float,
    density_hu: float,
) -> CalcObject:
    k = max(1, int(np.ceil(length_mm / 1.2)))
    theta0 = rng.uniform(0, 2 * np.pi)
    arc_half = rng.uniform(0.4, 2.2)  # eccentric (small arc) to near-circumferential plaques
    ells: list[Ellipsoid] = []
    for i in range(k):
        s = start_mm + length_mm * (i + 0.5) / k + rng.uniform(-0.2, 0.2)
        idx = int(np.clip(np.searchsorted(br.arc_mm, s), 0, len(br.arc_mm) - 1))
        frame = frame_from(_tangent(br.points, idx))
        r = br.radii_mm[idx]
        for _ in range(1 if arc_half < 1.0 else 2):
            th = theta0 + rng.uniform(-arc_half, arc_half) * 0.6
            radial = np.cos(th) * frame[1] + np.sin(th) * frame[2]
            circum = np.cross(frame[0], radial)
            small = length_mm < 1.2
            semi = np.array(
                [
                    max(length_mm / k * 0.75, 0.3) if not small else length_mm / 2,
                    max(thickness_mm / 2 * rng.uniform(0.7, 1.1), 0.3),
                    rng.uniform(0.35, 0.6) if small else rng.uniform(0.6, 1.6),
                ]
            )
            centre = br.points[idx] + radial * (r * rng.uniform(0.55, 0.95))
            ells.append(
                Ellipsoid(
                    centre, np.stack([frame[0], radial, circum]), semi, density_hu * rng.uniform(0.8, 1.0)
                )
            )
    centre = np.mean([e.centre for e in ells], axis=0)
    return CalcObject(
        kind="lesion",
        ellipsoids=ells,
        background_hu=40.0,
        artery=br.artery,
        info={
            "branch": br.name,
            "artery": br.artery.name,
            "centre_xyz_mm": [round(float(c), 2) for c in centre],
            "length_mm": round(length_mm, 2),
            "thickness_mm": round(thickness_mm, 2),
            "peak_density_hu": round(density_hu, 1),
            "distance_from_ostium_mm": round(start_mm, 1),
        },
    )


def _chain(
    points: np.ndarray,
    semi_along: float,
    semi_r: float,
    semi_c: float,
    density: float,
    rng: np.random.Generator,
    radial_dirs: np.ndarray,
) -> list[Ellipsoid]:
    out = []
    for i, p in enumerate(points):
        f = frame_from(_tangent(points, i)) if len(points) > 1 else frame_from(np.array([0.0, 0.0, 1.0]))
        radial = radial_dirs[i] - (radial_dirs[i] @ f[0]) * f[0]
        radial /= max(np.linalg.norm(radial), 1e-9)
        axes = np.stack([f[0], radial, np.cross(f[0], radial)])
        out.append(
            Ellipsoid(p, axes, np.array([semi_along, semi_r, semi_c]), density * rng.uniform(0.8, 1.0))
        )
    return out


def plan_lookalikes(
    rng: np.random.Generator,
    heart: HeartGeometry,
    landmarks: dict,
    desc_aorta_xy: tuple[float, float],
    desc_aorta_radius: float,
    sternum_xy: tuple[float, float],
    category: int,
    z_range: tuple[float, float],
    metal: bool | None,
) -> list[CalcObject]:
    """Aortic wall/valve, mitral annulus, lymph node calcifications and (optional) metal."""
    objs: list[CalcObject] = []
    age_factor = 0.5 + 0.25 * category  # more calcium elsewhere when there is coronary calcium
    z0, z1 = z_range
    # Aortic wall plaques on the descending aorta (vertical cylinder) and the ascending aorta.
    for _ in range(int(rng.poisson(1.2 * age_factor))):
        dax, day = desc_aorta_xy
        th = rng.uniform(0, 2 * np.pi)
        zc = rng.uniform(z0 + 5, z1 - 5)
        length = rng.uniform(2, 14)
        n = max(int(length / 1.5), 1)
        zz = np.linspace(zc - length / 2, zc + length / 2, n)
        pts = np.stack(
            [
                dax + desc_aorta_radius * np.cos(th) * np.ones(n),
                day + desc_aorta_radius * np.sin(th) * np.ones(n),
                zz,
            ],
            axis=1,
        )
        dirs = np.tile([np.cos(th), np.sin(th), 0.0], (n, 1))
        ells = _chain(
            pts, 1.0, rng.uniform(0.5, 1.2), rng.uniform(1.5, 4.0), rng.uniform(300, 1100), rng, dirs
        )
        objs.append(CalcObject(LookAlike.AORTIC_WALL.name, ells, 38.0, info={"where": "descending aorta"}))
    n_valve = int(rng.random() < 0.25 * age_factor) * int(rng.integers(1, 4))
    if n_valve:
        normal = heart.frame[0] * -1 + np.array([0.0, 0.0, 1.0])
        f = frame_from(normal)
        base = rng.uniform(0, 2 * np.pi)
        for j in range(n_valve):
            th = base + j * 2 * np.pi / 3 + rng.uniform(-0.3, 0.3)
            d = np.cos(th) * f[1] + np.sin(th) * f[2]
            p = heart.root_centre + d * heart.root_radius_mm * rng.uniform(0.45, 0.8)
            ells = _chain(
                p[None],
                rng.uniform(1.0, 2.5),
                rng.uniform(0.8, 2.0),
                rng.uniform(1.0, 2.5),
                rng.uniform(300, 1200),
                rng,
                d[None],
            )
            objs.append(CalcObject(LookAlike.AORTIC_VALVE.name, ells, 38.0, info={"where": "aortic valve"}))
    if rng.random() < 0.15 * age_factor:
        # Mitral annulus: a posterior arc of the ring at the left AV junction, inside the heart.
        post = heart.angle_of(np.array([0.3, 1.0, -0.5]))
        a = heart.sac_semi_mm[0]
        centre = (
            heart.centre + heart.frame[0] * (heart.t_av * a * 0.95) + heart.point(0, post, 0.3) - heart.centre
        )
        ring_r = rng.uniform(12, 16)
        f = heart.frame
        span = rng.uniform(0.8, 2.6)
        th = np.linspace(post - span / 2, post + span / 2, max(int(span * ring_r / 2.0), 2))
        dirs = np.cos(th)[:, None] * f[1] + np.sin(th)[:, None] * f[2]
        pts = centre + dirs * ring_r
        ells = _chain(
            pts, 1.3, rng.uniform(1.0, 2.2), rng.uniform(1.0, 2.0), rng.uniform(300, 1000), rng, dirs
        )
        objs.append(CalcObject(LookAlike.MITRAL_ANNULUS.name, ells, 45.0, info={"where": "mitral annulus"}))
    for _ in range(int(rng.random() < 0.3) * int(rng.integers(1, 3))):
        anchor = landmarks.get("pulmonary_bifurcation", heart.root_centre)
        p = anchor + rng.uniform([-30, 10, -25], [30, 35, 5])
        ells = _chain(
            p[None],
            rng.uniform(1.2, 3.5),
            rng.uniform(1.2, 3.0),
            rng.uniform(1.2, 3.0),
            rng.uniform(250, 900),
            rng,
            np.array([[1.0, 0, 0]]),
        )
        objs.append(
            CalcObject(LookAlike.LYMPH_NODE.name, ells, -90.0, info={"where": "mediastinal lymph node"})
        )
    if metal is None:
        metal = rng.random() < 0.08
    if metal:
        sx, sy = sternum_xy
        if rng.random() < 0.6:
            for zc in np.linspace(z0 + 15, z1 - 15, int(rng.integers(3, 6))):
                th = np.linspace(0, 2 * np.pi, 24, endpoint=False)
                pts = np.stack([sx + 15 * np.cos(th), sy + 6 * np.sin(th), np.full(th.size, zc)], axis=1)
                dirs = np.stack([np.cos(th), np.sin(th), np.zeros_like(th)], axis=1)
                ells = _chain(pts, 2.5, 0.5, 0.5, 2800.0, rng, dirs)
                objs.append(CalcObject(LookAlike.METAL.name, ells, -100.0, info={"where": "sternal wire"}))
        else:
            top = np.array(
                [heart.root_centre[0] - heart.root_radius_mm - 12, heart.root_centre[1] + 7, z1 + 5]
            )
            apex = heart.point(0.75, heart.phi["inferior"] * 0.3, 0.75)
            mid = heart.point(-0.6, heart.phi["right"], 0.55)
            pts = np.vstack([np.linspace(top, mid, 40), np.linspace(mid, apex, 40)])
            dirs = np.tile([1.0, 0.0, 0.0], (len(pts), 1))
            ells = _chain(pts, 1.2, 0.8, 0.8, 2800.0, rng, dirs)
            objs.append(CalcObject(LookAlike.METAL.name, ells, 38.0, info={"where": "pacemaker lead"}))
    return objs
