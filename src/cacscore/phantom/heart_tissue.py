"""Painting the heart on the scan grid: pericardium, epicardial fat (with the coronaries' fat sleeves),
myocardium, unenhanced blood in the chambers and the aortic root, the cardiac veins and the coronary vessels.

The signed distances of :class:`cacscore.phantom.heart.HeartGeometry` are evaluated on a <= 1.5 mm grid
(:class:`cacscore.phantom.shapes.CoarseBox`), upsampled, and turned into partial-volume fractions
(clip(0.5 - d / pixel, 0, 1)), so boundaries are sharp but not jagged. The coronaries are tubes of wall
+ lumen (soft tissue) painted with their exact fraction per voxel
(:func:`cacscore.phantom.grid.tube_occupancy`).
The aortic root keeps a collar of fat between it and the atria and outflow tract from the valve's hinge
upwards, painted over the chambers that press on it (but not over the lumen of the ascending aorta and the
pulmonary trunk that leave it), so that the root reads as a round blood-filled tube ringed by fat, as on
unenhanced scans (lung1 of ../shared, slices 12-15); the collar is broken where the atria lie against the
root (:meth:`~cacscore.phantom.heart.HeartGeometry.root_fat_at`). Below the hinge the root opens into the
left ventricle's outflow.
Round every coronary the chambers give way to at least :data:`GROOVE_FAT_MM` of fat (the grooves), so
that no coronary runs through an atrium's blood where the atria's ellipsoids bulge over the AV groove.
The heart mask is the pericardial sac with the pericardium, the coronaries and the aortic root.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cacscore.phantom.coronaries import WALL_MM
from cacscore.phantom.grid import Grid, tube_occupancy
from cacscore.phantom.heart import FLOOR_FAT_MM, FLOOR_WALL_MM, MYO_BLEND_MM, SAC_BLEND_MM, HeartGeometry
from cacscore.phantom.shapes import CoarseBox, balls_sdf, smin
from cacscore.phantom.tissues import Tissue, TissueHU

#: Fat sleeve of the diagonal and marginal branches relative to their artery's (they cross the free walls).
SIDE_BRANCH_SLEEVE: float = 0.4
#: How far round the sac its distance is kept (mm): the mediastinal fat envelope needs it.
SAC_REACH_MM: float = 16.0
#: Fat (mm beyond the vessel wall, at most the artery's sleeve) kept round every coronary where a chamber's
#: wall or blood would cover it: the arteries run in the fat of the grooves between the chambers, never in an
#: atrium's blood (Gray's Anatomy). Before it and coronaries.SNAP_STEPS, 12 of 158 lesions of 12 phantom
#: patients (category >400) lay in blood or myocardium with under 8 % fat within 5 mm, where an atrium's
#: ellipsoid bulged over the AV groove, which taught the classifier that coronary calcium may sit in blood
#: as valve calcium does. 1 mm, not more: with 2.5 mm the phantom's coronaries sat in purer fat than
#: lung2's (docs/phantom.md).
GROOVE_FAT_MM: float = 1.0
#: Fat (mm) kept round each cardiac vein (coronaries._cardiac_veins) in the pericardial sac: the veins lie in
#: the grooves' fat beside the arteries, not on the sac's surface.
VEIN_FAT_MM: float = 1.0


@dataclass
class HeartFields:
    """Signed distances (mm) of the heart on its box of the scan grid."""

    box: tuple[slice, slice, slice]
    sac: np.ndarray  # pericardial sac's inner surface (with the coronary sleeves)
    myocardium: np.ndarray
    blood: np.ndarray
    root: np.ndarray  # aortic root
    great_vessels: np.ndarray  # lumen of the intrapericardial ascending aorta and pulmonary trunk
    collar: np.ndarray  # the root's fat collar from the valve's hinge plane up (broken where chambers press)


def heart_fields(
    grid: Grid, heart: HeartGeometry, great_vessels: list[tuple[np.ndarray, np.ndarray]]
) -> HeartFields | None:
    """Evaluate the heart's distances on its box (None when the heart misses the grid).

    ``great_vessels``: (centreline points, lumen radii) of the intrapericardial great vessels (ascending
    aorta up to the pericardial reflection, pulmonary trunk): their blood and the sac round them belong to
    the heart (the pericardium encloses the roots of the great arteries; Gray's Anatomy).
    """
    cloud = np.vstack([heart.surface_cloud()] + [pts for pts, _ in great_vessels])
    reach = SAC_REACH_MM + max(heart.coronary_fat.get(a, (0, 0))[1] for a in ("LAD", "LCX", "RCA")) + 4
    box = grid.box(cloud.min(axis=0) - reach, cloud.max(axis=0) + reach)
    if box is None:
        return None
    cb = CoarseBox.of(grid, box, target_mm=1.5)
    z, y, x = cb.coords()
    myo = None
    root = heart.root_sdf(x, y, z)
    hinge, axis = heart.valve_hinge.astype(np.float32), heart.root_axis.astype(np.float32)
    level = (x - hinge[0]) * axis[0] + (y - hinge[1]) * axis[1] + (z - hinge[2]) * axis[2]
    collar = np.maximum(root - heart.root_fat_at(x, y, z), -level)
    blood = root
    lv_outer = None
    for name, ch in heart.chambers.items():
        d = ch.outer.sdf(x, y, z)
        if name == "LV":
            lv_outer = d
        myo = d if myo is None else smin(myo, d, MYO_BLEND_MM)
        cav = d + np.float32(ch.wall_mm)
        if name in ("RV", "RVOT") and lv_outer is not None:
            cav = np.maximum(cav, -lv_outer)
        blood = np.minimum(blood, cav)
    myo = heart.floor_cut(myo, z, FLOOR_FAT_MM)
    sac = _closed_sdf(myo, cb, heart.cleft_fat_mm) - heart.fat_mm(x, y, z)
    sac = smin(sac, root - 1.0, SAC_BLEND_MM)
    pv = heart.pv_centre
    d_pv = np.sqrt((x - pv[0]) ** 2 + (y - pv[1]) ** 2 + (z - pv[2]) ** 2) - np.float32(heart.pv_radius_mm)
    sac = smin(sac, d_pv, SAC_BLEND_MM)
    sleeves, groove = cb.full(), cb.full()
    for br in heart.branches:
        _, sleeve = heart.coronary_fat[_artery(br)]
        if br.name.startswith(("D", "OM")):
            sleeve *= SIDE_BRANCH_SLEEVE  # diagonals and marginals run over the free wall, not in a groove
        outer = br.radii_mm[::2] + WALL_MM
        balls_sdf(cb.x, cb.y, cb.z, br.points[::2], outer + sleeve, SAC_REACH_MM, sleeves)
        balls_sdf(cb.x, cb.y, cb.z, br.points[::2], outer + min(sleeve, GROOVE_FAT_MM), GROOVE_FAT_MM + 4.0,
                  groove)
    for v in heart.veins:  # the veins run in the groove's fat too (a rim of VEIN_FAT_MM round them)
        balls_sdf(cb.x, cb.y, cb.z, v.points[::2], v.radii_mm[::2] + VEIN_FAT_MM, SAC_REACH_MM, sleeves)
    vessels = cb.full()
    for pts, radii in great_vessels:
        balls_sdf(cb.x, cb.y, cb.z, pts, radii, SAC_REACH_MM, vessels)
    sac = heart.floor_cut(smin(smin(sac, sleeves, SAC_BLEND_MM), vessels - 2.0, SAC_BLEND_MM), z)
    myo = np.maximum(myo, -groove)  # the chambers give way to the groove's fat (the sac is not moved)
    blood = np.minimum(np.maximum(blood, -groove), vessels)
    blood = heart.floor_cut(blood, z, FLOOR_FAT_MM + FLOOR_WALL_MM)
    return HeartFields(
        box=box,
        sac=cb.upsample(sac),
        myocardium=cb.upsample(myo),
        blood=cb.upsample(blood),
        root=cb.upsample(root),
        great_vessels=cb.upsample(vessels),
        collar=cb.upsample(collar),
    )


def _closed_sdf(d: np.ndarray, cb: CoarseBox, radius_mm: float) -> np.ndarray:
    """Signed distance of the shape {d <= 0} after a morphological closing with a ball of ``radius_mm``
    (Euclidean distance transforms on the coarse grid): the pericardial sac spans the clefts between the
    chambers, which fill with fat, as in the AV and interventricular grooves."""
    sampling = (
        float(cb.z[1] - cb.z[0]) if cb.z.size > 1 else 1.0,
        float(cb.y[1] - cb.y[0]),
        float(cb.x[1] - cb.x[0]),
    )
    inside = d <= 0
    d_out = ndimage.distance_transform_edt(~inside, sampling=sampling).astype(np.float32)
    dilated = d_out <= radius_mm
    d_in = ndimage.distance_transform_edt(dilated, sampling=sampling).astype(np.float32)
    return np.where(dilated, np.float32(radius_mm) - d_in, np.maximum(d_out, d)).astype(np.float32)


def paint_heart(
    grid: Grid, hu: np.ndarray, tissue: np.ndarray, heart: HeartGeometry, fields: HeartFields, h: TissueHU
) -> np.ndarray:
    """Paint the heart into ``hu`` / ``tissue``; returns the heart mask (bool, grid shape)."""
    px = np.float32(grid.spacing_zyx_mm[1])
    box = fields.box
    sub = hu[box]
    lab = tissue[box]

    def frac(d: np.ndarray) -> np.ndarray:
        return np.clip(np.float32(0.5) - d / px, 0, 1)

    peri = fields.sac - np.float32(heart.pericardium_mm)
    # the collar from the hinge up, over the chambers' blood and walls; then the blood of the root and of the
    # great vessels leaving it on top (the ascending aorta's lumen runs on from the root's, unbroken)
    lumen = np.minimum(fields.root, fields.great_vessels)
    for d, value, code in (
        (peri, h.pericardium, Tissue.PERICARDIUM),
        (fields.sac, h.epicardial_fat, Tissue.EPICARDIAL_FAT),
        (fields.myocardium, h.myocardium, Tissue.MYOCARDIUM),
        (fields.blood, h.blood, Tissue.BLOOD),
        (fields.collar, h.epicardial_fat, Tissue.EPICARDIAL_FAT),
        (lumen, h.blood, Tissue.BLOOD),
    ):
        f = frac(d)
        sub += f * (np.float32(value) - sub)
        lab[f >= 0.5] = code
    vein = np.zeros(sub.shape, np.float32)
    for v in heart.veins:
        tube_occupancy(grid, v.points, v.radii_mm, box, out=vein)
    sub += vein * (np.float32(h.blood) - sub)
    lab[vein >= 0.5] = Tissue.BLOOD
    vessel = np.zeros(sub.shape, np.float32)
    for br in heart.branches:
        tube_occupancy(grid, br.points, br.radii_mm + WALL_MM, box, out=vessel)
    coronary_hu = np.float32(h.blood + 0.5 * (h.soft_tissue - h.blood))
    sub += vessel * (coronary_hu - sub)
    lab[vessel >= 0.5] = Tissue.CORONARY
    mask = np.zeros(grid.shape, bool)
    mask[box] = (peri <= 0) | (vessel > 0) | (vein > 0)
    return mask


def _artery(br) -> str:
    return br.artery.name if br.artery.name in ("LCX", "RCA") else "LAD"
