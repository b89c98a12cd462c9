"""Calcified coronary lesions as unions of small ellipsoids in the vessel wall.

Lesion burden is drawn per patient from a target risk category so that a cohort spans all five Agatston
categories (0, 1-10, 11-100, 101-400, >400) with ~35 % zero scores, close to the share of CAC = 0 among
symptomatic and screening cohorts referred for calcium scoring (e.g. MESA: ~50 % of all participants,
~30-40 % of older referral populations; Budoff et al., Eur Heart J 2018). Lesions sit in the vessel wall
(eccentric), are denser at the core, and are placed preferentially proximally and on the LAD and RCA, as
reported in autopsy and CT series (e.g. Wang et al., Am J Cardiol 2002).
"""

from __future__ import annotations

import numpy as np

from cacscore.phantom.coronaries import Branch
from cacscore.phantom.grid import frame_from
from cacscore.phantom.heart import HeartGeometry
from cacscore.phantom.imaging import Ellipsoid
from cacscore.phantom.lookalikes import CalcObject

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


def plan_lesions(
    rng: np.random.Generator, heart: HeartGeometry, category: int, background_hu: float
) -> list[CalcObject]:
    """Coronary lesions for a patient whose target risk category is ``category`` (0 = none), in a vessel wall
    of ``background_hu``."""
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
        lesion = _lesion(rng, br, start, length, float(rng.uniform(*thick_r)), float(rng.uniform(*dens_r)))
        lesion.background_hu = background_hu
        lesions.append(lesion)
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
