"""A phantom patient: build, age, vertebral levels, the thoracic cavity's outline and the chest-wall layers.

World coordinates are patient LPS mm (x to the patient's left, y posterior, z superior); z = 0 is the
centre of the heart, x = 0 the midline, (x, y) = (0, 0) the centre of the thoracic cavity at every level.

Levels: a continuous vertebral level coordinate ``L`` runs down the spine, ``L = k + phase`` inside level k
(1..12 = T1..T12, 13, 14 = L1, L2), phase 0 at the top of vertebral body k and 1 at the bottom of the disc
below it. Level heights (body + disc, mm) follow Panjabi et al., Spine 1991 ("Thoracic human vertebrae:
quantitative three-dimensional anatomy": body heights 16-24 mm T1-T12, end-plate widths 27-44 mm, depths
16-32 mm) and disc heights of 4-7 mm (thoracic) and ~10 mm (lumbar). The heart's centre lies at T7-T8.

The cavity (inner surface of the rib cage, lined by pleura) is a superellipse in polar coordinates around
(0, 0) whose semi-axes change with the level: narrow at the thoracic inlet, widest at T9-T11. Outwards from
it come the cage layer (ribs and intercostal muscle), the muscle layer (pectorals anteriorly, erector spinae
beside the spine, thin latissimus/serratus laterally), subcutaneous fat (with breasts in women) and skin.
Sizes follow CT anthropometry of adults (thoracic width 230-300 mm and depth 150-200 mm inside the ribs at
the heart; e.g. Bellemare et al., J Appl Physiol 2001); the two real chest CTs measure 257 x 179 mm and
217 x ~160 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.phantom.tissues import TissueHU, draw_tissue_hu

#: Vertebral levels, top to bottom.
LEVEL_NAMES: tuple[str, ...] = (*(f"T{k}" for k in range(1, 13)), "L1", "L2")
#: Body + disc height of each level (mm) for an average adult (Panjabi et al. 1991).
LEVEL_HEIGHT_MM: tuple[float, ...] = (19, 19.5, 20, 20.5, 21, 21.5, 22, 23, 24, 25, 26, 27, 31, 33)
#: Disc height (mm) below each vertebral body.
DISC_HEIGHT_MM: tuple[float, ...] = (4, 4, 4, 4.5, 4.5, 5, 5, 5, 5.5, 6, 6, 6.5, 9, 10)
#: Vertebral body semi-width and semi-depth (mm) at T1 and at L2 (linear in between; Panjabi et al. 1991).
BODY_SEMI_MM_T1: tuple[float, float] = (13.5, 8.0)
BODY_SEMI_MM_L2: tuple[float, float] = (23.0, 16.0)

# Cavity semi-axes relative to the heart's level, at these level coordinates.
_PROFILE_LEVELS = np.array([0.0, 1.0, 2.0, 3.5, 5.5, 8.0, 10.5, 12.5, 15.0])
_PROFILE_X = np.array([0.45, 0.62, 0.75, 0.86, 0.95, 1.0, 1.03, 1.01, 0.97])
_PROFILE_Y_ANT = np.array([0.38, 0.52, 0.68, 0.84, 0.95, 1.0, 1.02, 1.0, 0.98])
_PROFILE_Y_POST = np.array([0.55, 0.68, 0.79, 0.89, 0.97, 1.0, 1.0, 0.98, 0.95])


@dataclass
class Patient:
    """Everything drawn once per patient that is not the heart (world mm, HU)."""

    age_years: float
    female: bool
    adiposity: float  # 0 (lean) .. 1 (obese)
    hu: TissueHU
    level_top_z_mm: np.ndarray  # z of the top of each level (len 15: the last is the bottom of L2)
    heart_level: float
    cavity_semi_x_mm: float
    cavity_semi_y_ant_mm: float
    cavity_semi_y_post_mm: float
    exponent: float
    profile_jitter: np.ndarray  # (3, len(_PROFILE_LEVELS)) relative jitter of the three semi-axes
    sternal_dip_mm: float
    cage_mm: float  # ribs + intercostal layer
    muscle_base_mm: float
    pectoral_mm: float
    erector_mm: float
    scapular_mm: float  # subscapularis, infraspinatus round the scapula
    fat_mm: float  # subcutaneous fat at the side of the chest
    breast_mm: float  # breast protrusion (0 for men)
    skin_mm: float
    spine_gap_mm: float  # vertebral body centre to the posterior cavity, beyond the body's semi-depth

    # --- levels -----------------------------------------------------------------------------------------
    def z_at(self, level: np.ndarray | float) -> np.ndarray:
        """World z (mm) of a level coordinate (see module docstring); extrapolated linearly beyond."""
        lv = np.asarray(level, dtype=float)
        k = np.arange(1, len(self.level_top_z_mm) + 1, dtype=float)
        return _interp_lin(lv, k, self.level_top_z_mm)

    def level_at(self, z: np.ndarray | float) -> np.ndarray:
        """Level coordinate of world z (inverse of :meth:`z_at`)."""
        zz = np.asarray(z, dtype=float)
        k = np.arange(1, len(self.level_top_z_mm) + 1, dtype=float)
        return _interp_lin(-zz, -self.level_top_z_mm, k)

    def disc_mm(self, k: int) -> float:
        """Disc height below vertebral body ``k`` (1-based), scaled with the patient's level heights."""
        h = self.level_top_z_mm[k - 1] - self.level_top_z_mm[k]
        return DISC_HEIGHT_MM[k - 1] * h / LEVEL_HEIGHT_MM[k - 1]

    def body_semi_mm(self, level: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Vertebral body semi-width and semi-depth (mm) at a level coordinate."""
        f = np.clip((np.asarray(level, dtype=float) - 1.0) / 13.0, 0.0, 1.0)
        w = BODY_SEMI_MM_T1[0] + f * (BODY_SEMI_MM_L2[0] - BODY_SEMI_MM_T1[0])
        d = BODY_SEMI_MM_T1[1] + f * (BODY_SEMI_MM_L2[1] - BODY_SEMI_MM_T1[1])
        return w, d

    # --- outlines ---------------------------------------------------------------------------------------
    def cavity_radius(self, theta: np.ndarray, level: np.ndarray | float) -> np.ndarray:
        """Radius (mm) of the thoracic cavity at polar angle ``theta`` (atan2(y, x)) and level."""
        lv = np.asarray(level, dtype=float)
        sx = self.cavity_semi_x_mm * np.interp(lv, _PROFILE_LEVELS, _PROFILE_X * self.profile_jitter[0])
        sya = self.cavity_semi_y_ant_mm * np.interp(
            lv, _PROFILE_LEVELS, _PROFILE_Y_ANT * self.profile_jitter[1]
        )
        syp = self.cavity_semi_y_post_mm * np.interp(
            lv, _PROFILE_LEVELS, _PROFILE_Y_POST * self.profile_jitter[2]
        )
        c, s = np.cos(theta), np.sin(theta)
        sy = np.where(s < 0, sya, syp)
        n = self.exponent
        r = (np.abs(c / sx) ** n + np.abs(s / sy) ** n) ** (-1.0 / n)
        # A shallow dip of the anterior wall behind the sternum.
        return r - self.sternal_dip_mm * np.exp(-((_wrap(theta + np.pi / 2) / 0.3) ** 2))

    def muscle_mm(self, theta: np.ndarray, level: float) -> np.ndarray:
        """Muscle layer outside the cage: pectorals (upper anterior chest), erector spinae (beside the spine),
        the muscles round the scapula (upper back), a thin latissimus/serratus layer elsewhere."""
        da = np.abs(_wrap(theta + np.pi / 2))  # angle from the anterior midline
        dp = np.abs(_wrap(theta - np.pi / 2))  # from the posterior midline
        pect = self.pectoral_mm * np.exp(-(((da - 0.75) / 0.45) ** 2)) * _bump(level, 1.0, 6.5, 1.5)
        erector = self.erector_mm * np.cos(np.clip(dp / 0.75, 0, 1) * np.pi / 2)
        lateral = 3.0 * np.exp(-(((dp - 1.0) / 0.4) ** 2))
        scapular = self.scapular_mm * np.exp(-(((dp - 0.8) / 0.3) ** 2)) * _bump(level, 1.5, 8.0, 1.5)
        return self.muscle_base_mm + pect + erector + lateral + scapular

    def fat_mm_at(self, theta: np.ndarray, level: float, abdomen: bool) -> np.ndarray:
        """Subcutaneous fat: thicker at the sides and back, more over the abdomen, breasts in women."""
        da = np.abs(_wrap(theta + np.pi / 2))
        side = 0.75 + 0.45 * np.sin(da) ** 2 + 0.15 * (1 - np.cos(da)) / 2
        fat = self.fat_mm * side * (1.35 if abdomen else 1.0)
        if self.breast_mm > 0:
            fat = fat + self.breast_profile(theta, level)
        return fat

    def breast_profile(self, theta: np.ndarray, level: float) -> np.ndarray:
        """Breast protrusion (mm) over the anterior chest, centred lateral to the sternum at T4-T7."""
        da = np.abs(_wrap(theta + np.pi / 2))
        return self.breast_mm * np.exp(-(((da - 0.75) / 0.5) ** 2)) * _bump(level, 3.0, 8.0, 1.6)

    def spine_notch_mm(self, theta: np.ndarray, level: float) -> np.ndarray:
        """How far the lung's posterior boundary comes forward round the spine (mm): the lungs reach back
        beside the vertebral body to the rib necks, but not behind the body (paravertebral gutters)."""
        w, d = self.body_semi_mm(level)
        r_post = self.cavity_radius(np.array(np.pi / 2), level)
        sigma = (w + 8.0) / r_post
        return (d + self.spine_gap_mm + 4.0) * np.exp(-0.5 * (_wrap(theta - np.pi / 2) / sigma) ** 4)

    def spine_y_mm(self, level: np.ndarray | float) -> np.ndarray:
        """y of the vertebral body centre: in front of the posterior cavity wall by its semi-depth + a gap."""
        _, depth = self.body_semi_mm(level)
        return self.cavity_radius(np.full(np.shape(level), np.pi / 2), level) - depth - self.spine_gap_mm


def draw_patient(rng: np.random.Generator) -> Patient:
    """Draw a patient: age 40-85, half women, lean to obese, thorax size, level heights."""
    age = float(rng.uniform(40, 85))
    female = bool(rng.random() < 0.5)
    adiposity = float(rng.beta(2.0, 2.5))
    size = rng.uniform(0.92, 1.08) * (0.95 if female else 1.0)
    heights = np.array(LEVEL_HEIGHT_MM) * size * rng.uniform(0.95, 1.05, len(LEVEL_HEIGHT_MM))
    heart_level = float(rng.uniform(7.4, 8.6))
    # z of level tops: cumulative heights, shifted so that z(heart_level) = 0.
    tops = np.concatenate([[0.0], -np.cumsum(heights)])
    k = np.arange(1, len(tops) + 1, dtype=float)
    tops = tops - _interp_lin(np.array(heart_level), k, tops)
    return Patient(
        age_years=age,
        female=female,
        adiposity=adiposity,
        hu=draw_tissue_hu(rng, age),
        level_top_z_mm=tops,
        heart_level=heart_level,
        cavity_semi_x_mm=float(rng.uniform(118, 148) * size),
        cavity_semi_y_ant_mm=float(rng.uniform(72, 95) * size),
        cavity_semi_y_post_mm=float(rng.uniform(78, 100) * size),
        exponent=float(rng.uniform(2.1, 2.7)),
        profile_jitter=rng.uniform(0.96, 1.04, (3, len(_PROFILE_LEVELS))),
        sternal_dip_mm=float(rng.choice([0.0, rng.uniform(0, 8), rng.uniform(8, 18)], p=[0.4, 0.5, 0.1])),
        cage_mm=float(rng.uniform(9, 13)),
        muscle_base_mm=float(rng.uniform(2, 5)),
        pectoral_mm=float(rng.uniform(6, 14) if female else rng.uniform(10, 24)),
        erector_mm=float(rng.uniform(18, 34)),
        scapular_mm=float(rng.uniform(8, 16)),
        fat_mm=float(3 + 37 * adiposity),
        breast_mm=float(rng.uniform(10, 25) + 45 * adiposity) if female else 0.0,
        skin_mm=float(rng.uniform(1.5, 2.5)),
        spine_gap_mm=float(rng.uniform(18, 26)),
    )


def _interp_lin(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp with linear extrapolation beyond both ends (xp increasing)."""
    y = np.interp(x, xp, fp)
    lo = (fp[1] - fp[0]) / (xp[1] - xp[0])
    hi = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    y = np.where(x < xp[0], fp[0] + (x - xp[0]) * lo, y)
    return np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * hi, y)


def _wrap(a: np.ndarray) -> np.ndarray:
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def _bump(x: float | np.ndarray, lo: float, hi: float, soft: float) -> np.ndarray:
    """1 inside [lo, hi], falling off smoothly (logistic, width ``soft``) outside."""
    x = np.asarray(x, dtype=float)
    return 1.0 / (1 + np.exp(-(x - lo) / (soft / 4))) / (1 + np.exp((x - hi) / (soft / 4)))
