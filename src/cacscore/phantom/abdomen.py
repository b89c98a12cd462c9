"""Below the heart: the diaphragm and the upper abdomen (liver, stomach, spleen, kidneys, fat).

The diaphragm is a height field z_d(x, y): two domes (the right one, over the liver, higher than the left
by 1-3 cm in most people; e.g. Felson, Chest Roentgenology) joined by the flat central tendon on which the
heart rests, falling steeply at the back and sides into the costophrenic recesses, so an axial slice
through a dome shows the organ in the middle and a crescent of lung round it, as in the real scans. Each
slice takes the fraction of its thickness below z_d (partial volume at the oblique dome surfaces); a 4 mm
muscle layer lies on top. Under the right dome and across the midline in front lies the liver; under the
left dome the stomach (air in front, fluid behind: the patient is supine), the spleen behind it against
the ribs, the kidneys' upper poles beside the spine at T12-L1, and fat elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.phantom.grid import Grid
from cacscore.phantom.patient import Patient
from cacscore.phantom.shapes import smin
from cacscore.phantom.tissues import HU_AIR, Tissue

#: Thickness (mm) of the diaphragm muscle.
DIAPHRAGM_MM: float = 4.0


@dataclass
class Abdomen:
    """Diaphragm domes and organ placement (world mm)."""

    right_dome: tuple[float, float, float]  # apex (x, y, z)
    left_dome: tuple[float, float, float]
    drop_mm: float  # how far the domes fall from apex to the cavity wall
    central_z: float  # the central tendon, under the heart
    heart_xy: tuple[float, float]
    liver_edge: tuple[float, float, float]  # liver's left edge x = a + b * (-y) - c * y^2 / 100
    stomach: tuple[np.ndarray, np.ndarray]  # centre, semi-axes
    stomach_air: float  # fraction of the stomach's depth that is air
    spleen: tuple[np.ndarray, np.ndarray]
    kidneys: list[tuple[np.ndarray, np.ndarray]]

    def diaphragm_z(self, x: np.ndarray, y: np.ndarray, p: Patient) -> np.ndarray:
        """Height (mm) of the diaphragm's upper surface at (x, y)."""
        sx = p.cavity_semi_x_mm
        sya, syp = p.cavity_semi_y_ant_mm, p.cavity_semi_y_post_mm
        out = None
        for apex in (self.right_dome, self.left_dome):
            ax, ay, az = apex
            ry = np.where(y < ay, 0.9 * sya, 0.62 * syp)
            q = ((x - ax) / (0.7 * sx)) ** 2 + ((y - ay) / ry) ** 2
            dome = az - self.drop_mm * q**1.5  # flat-topped dome, steep at the sides and back
            out = dome if out is None else -smin(-out, -dome, 15.0)
        hx, hy = self.heart_xy
        central = self.central_z - 15.0 * (((x - hx) / 50.0) ** 2 + ((y - hy) / 50.0) ** 2)
        return -smin(-out, -central, 15.0)


def build_abdomen(
    rng: np.random.Generator, p: Patient, heart_floor_z: float, heart_xy: tuple[float, float]
) -> Abdomen:
    """Domes relative to the heart's floor, and where the organs lie."""
    sx, sya, syp = p.cavity_semi_x_mm, p.cavity_semi_y_ant_mm, p.cavity_semi_y_post_mm
    z_r = heart_floor_z + rng.uniform(5, 25)
    z_l = min(z_r - rng.uniform(5, 25), heart_floor_z + 10)
    right = (-0.45 * sx, -0.15 * sya, z_r)
    left = (0.45 * sx, 0.0, z_l)
    st_c = np.array([0.42 * sx, 0.05 * syp, z_l - rng.uniform(35, 50)])
    st_s = np.array([rng.uniform(35, 50), rng.uniform(35, 50), rng.uniform(40, 60)])
    sp_c = np.array([0.68 * sx, 0.5 * syp, z_l - rng.uniform(35, 55)])
    sp_s = np.array([rng.uniform(20, 26), rng.uniform(40, 55), rng.uniform(40, 55)])
    kidneys = []
    for side in (-1, 1):
        level = rng.uniform(12.3, 12.9) + (0.0 if side > 0 else 0.4)
        y = float(p.spine_y_mm(level)) + rng.uniform(0, 10)
        c = np.array([side * rng.uniform(50, 62), y, float(p.z_at(level)) - 40])
        kidneys.append((c, np.array([rng.uniform(25, 30), rng.uniform(20, 25), rng.uniform(50, 60)])))
    return Abdomen(
        right_dome=right,
        left_dome=left,
        drop_mm=float(rng.uniform(60, 90)),
        central_z=heart_floor_z - 1.0,
        heart_xy=heart_xy,
        liver_edge=(float(rng.uniform(5, 45)), float(rng.uniform(0.3, 0.9)), float(rng.uniform(0.0, 0.4))),
        stomach=(st_c, st_s),
        stomach_air=float(rng.uniform(0.0, 0.5)),
        spleen=(sp_c, sp_s),
        kidneys=kidneys,
    )


def paint_abdomen(grid: Grid, hu: np.ndarray, tissue: np.ndarray, p: Patient, ab: Abdomen) -> None:
    """Replace the lung placeholder below the diaphragm by the abdomen (partial volume at the domes)."""
    x = grid.axis_mm(2)[None, :]
    y = grid.axis_mm(1)[:, None]
    dz = grid.spacing_zyx_mm[0]
    h = p.hu
    top = max(ab.right_dome[2], ab.left_dome[2], ab.central_z) + DIAPHRAGM_MM
    zd = ab.diaphragm_z(x, y, p).astype(np.float32)
    for k, z in enumerate(grid.axis_mm(0)):
        if z - dz / 2 > top:
            continue
        lung = tissue[k] == Tissue.LUNG
        if not lung.any():
            continue
        below = np.clip((zd - (z - dz / 2)) / dz, 0, 1)
        muscle = np.clip((zd + DIAPHRAGM_MM - (z - dz / 2)) / dz, 0, 1) - below
        organ_hu, organ_tissue = _organs(ab, x, y, float(z), h)
        sl, lab = hu[k], tissue[k]
        new = sl + muscle * (np.float32(h.muscle) - sl)
        new = new + below * (organ_hu - new)
        sl[lung] = new[lung]
        lab[lung & (below >= 0.5)] = organ_tissue[lung & (below >= 0.5)]
        lab[lung & (below < 0.5) & (muscle >= 0.5)] = Tissue.MUSCLE


def _organs(ab: Abdomen, x, y, z: float, h) -> tuple[np.ndarray, np.ndarray]:
    """HU and tissue of the abdominal organs in one slice (where the abdomen is)."""
    shape = np.broadcast_shapes(x.shape, y.shape)
    val = np.full(shape, h.fat, np.float32)
    lab = np.full(shape, Tissue.FAT, np.uint8)
    a, b, c2 = ab.liver_edge
    liver = x < a + b * (-y) - c2 * y * y / 100.0
    val[liver], lab[liver] = h.liver, Tissue.LIVER
    c, s = ab.stomach
    q = ((x - c[0]) / s[0]) ** 2 + ((y - c[1]) / s[1]) ** 2 + ((z - c[2]) / s[2]) ** 2
    wall = q <= 1
    inner = ((x - c[0]) / (s[0] - 4)) ** 2 + ((y - c[1]) / (s[1] - 4)) ** 2 + (
        (z - c[2]) / (s[2] - 4)
    ) ** 2 <= 1
    val[wall], lab[wall] = h.soft_tissue, Tissue.STOMACH
    air_level = c[1] - s[1] + 2 * s[1] * ab.stomach_air
    val[inner], lab[inner] = h.stomach, Tissue.STOMACH
    gas = inner & (y < air_level)
    val[gas], lab[gas] = HU_AIR, Tissue.AIR
    organs = [(ab.spleen, h.spleen, Tissue.SPLEEN)] + [(kid, h.kidney, Tissue.KIDNEY) for kid in ab.kidneys]
    for (c, s), value, code in organs:
        q = ((x - c[0]) / s[0]) ** 2 + ((y - c[1]) / s[1]) ** 2 + ((z - c[2]) / s[2]) ** 2
        m = q <= 1
        val[m], lab[m] = value, code
    return val, lab
