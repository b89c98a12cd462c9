"""The phantom's anatomy where the classifier looks: chest wall, bones, heart, fat, coronaries, abdomen.

Expected values come from anatomy (textbook relations and ranges), not from the generator's output.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.phantom import LookAlike, Tissue, generate_case
from cacscore.phantom.anatomy import build_thorax
from cacscore.phantom.coronaries import WALL_MM
from cacscore.phantom.heart import RETROCARDIAC_MM
from cacscore.phantom.patient import draw_patient


@pytest.fixture(scope="module")
def chest():
    """A non-gated chest CT, 5 mm slices, whole thorax into the upper abdomen."""
    return generate_case(21, "random", protocol="chest", slice_thickness_mm=5.0, category=2, score=False)


@pytest.fixture(scope="module")
def gated():
    """An ECG-gated calcium-scoring scan with coronary calcium."""
    return generate_case(22, "siemens", category=3, score=False)


def _world(case):
    """Broadcastable world coordinates (z, y, x) mm of the case's grid."""
    g = case.geometry["grid"]
    return g.axis_mm(0)[:, None, None], g.axis_mm(1)[None, :, None], g.axis_mm(2)[None, None, :]


def _cavity_radius_at(case, mask):
    """Thoracic cavity radius (mm) at the voxels of ``mask``, and their distance from the cavity centre."""
    p = case.geometry["thorax"].patient
    z, y, x = _world(case)
    k, j, i = np.nonzero(mask)
    zz, yy, xx = z[k, 0, 0], y[0, j, 0], x[0, 0, i]
    return p.cavity_radius(np.arctan2(yy, xx), p.level_at(zz)), np.hypot(xx, yy)


def test_tissue_hu_per_patient_lie_in_the_physiological_ranges():
    hus = [draw_patient(np.random.default_rng(s)).hu for s in range(40)]
    for h in hus:
        assert -120 <= h.fat <= -70 and -120 <= h.epicardial_fat <= -70
        for v in (h.muscle, h.blood, h.myocardium):
            assert 25 <= v <= 60
        assert 0 < h.myocardium - h.blood <= 12  # unenhanced: myocardium 5-10 HU above blood
        assert 40 <= h.liver <= 70 and -900 <= h.lung <= -800 and 70 <= h.cartilage <= 130
    # Every patient draws its own values: they spread over the ranges.
    assert np.std([h.fat for h in hus]) > 5 and np.std([h.blood for h in hus]) > 4
    marrow = [h.cancellous for h in hus]
    assert min(marrow) < 120 and max(marrow) > 280  # osteoporotic to dense vertebrae


def test_costal_cartilage_lies_in_the_chest_wall_in_front_of_the_heart(chest):
    cart = chest.tissues == Tissue.COSTAL_CARTILAGE
    assert cart.sum() > 2000
    r_cav, r = _cavity_radius_at(chest, cart)
    p = chest.geometry["thorax"].patient
    # In the cage layer: outside the lung cavity, within the ribs' layer.
    assert np.mean((r >= r_cav - 2) & (r <= r_cav + p.cage_mm + 3)) > 0.95
    # On the heart's slices, cartilage lies in front of the heart and within its width.
    _, y, x = _world(chest)
    in_front = 0
    for k in np.nonzero(chest.heart_mask.any(axis=(1, 2)))[0]:
        hm = chest.heart_mask[k]
        jj, ii = np.nonzero(hm)
        c_jj, c_ii = np.nonzero(cart[k])
        ahead = (y[0, c_jj, 0] < y[0, jj, 0].min()) & (x[0, 0, c_ii] > x[0, 0, ii].min())
        ahead &= x[0, 0, c_ii] < x[0, 0, ii].max()
        in_front += bool(ahead.any())
    assert in_front >= 3


@pytest.mark.xfail(
    strict=True,
    reason="known phantom limitation (docs/phantom.md, 'Bones are simplified'): in this patient (seed 21 "
    "since the cardiac veins shifted the anatomy stream) a rib touches the sternum in the 5 mm slices",
)
def test_costal_cartilages_join_the_ribs_to_the_sternum(chest):
    t = chest.tissues
    sternum = t == Tissue.STERNUM
    assert sternum.any()
    _, _, x = _world(chest)
    xs = np.broadcast_to(x, t.shape)
    # With the cartilages, the sternum's component reaches ribs on both sides ...
    lab, _ = ndimage.label(
        np.isin(t, [Tissue.RIB, Tissue.COSTAL_CARTILAGE, Tissue.STERNUM]), np.ones((3, 3, 3), bool)
    )
    ids = np.unique(lab[sternum])
    joined = np.isin(lab, ids[ids > 0]) & (t == Tissue.RIB)
    assert (xs[joined] < -20).any() and (xs[joined] > 20).any()
    # ... without them no rib touches it: bone does not run from rib to sternum.
    lab, _ = ndimage.label(np.isin(t, [Tissue.RIB, Tissue.STERNUM]), np.ones((3, 3, 3), bool))
    ids = np.unique(lab[sternum])
    assert not (np.isin(lab, ids[ids > 0]) & (t == Tissue.RIB)).any()


def test_ribs_are_separate_rods_on_each_side(chest):
    lab, n = ndimage.label(chest.tissues == Tissue.RIB)
    _, _, x = _world(chest)
    xs = np.broadcast_to(x, lab.shape)
    sizes = np.bincount(lab.ravel())
    big = [c for c in range(1, n + 1) if sizes[c] >= 200]
    # Twelve pairs of ribs: most of them inside a whole-chest scan, each a rod of its own.
    assert 16 <= len(big) <= 24
    for c in big:
        side = np.sign(xs[lab == c])
        assert abs(side.mean()) == 1.0  # never crosses the midline
    # A rib is a curved rod: in a slice it is a few short arcs, not the ring of the old phantom.
    mid = lab.shape[0] // 2
    per_slice = ndimage.label(chest.tissues[mid] == Tissue.RIB)[1]
    assert per_slice >= 6


def test_every_bright_voxel_is_coronary_or_named(gated, chest):
    for case in (gated, chest):
        bright = case.volume.hu >= THRESHOLD_HU_120KVP
        coronary = case.labels > 0
        named = case.lookalikes > 0
        assert np.array_equal(bright, coronary | named)
        assert not (coronary & named).any()
    # The names are anatomical: the vertebrae lie behind the heart near the midline, the sternum and the
    # costal cartilages in front of it.
    heart = chest.geometry["heart"]
    _, y, x = _world(chest)
    yy = np.broadcast_to(y, chest.lookalikes.shape)
    xx = np.broadcast_to(x, chest.lookalikes.shape)
    look = chest.lookalikes
    assert (yy[look == LookAlike.VERTEBRA] > heart.centre[1]).all()
    assert (np.abs(xx[look == LookAlike.VERTEBRA]) < 75).all()
    assert (yy[look == LookAlike.STERNUM] < heart.centre[1]).all()
    assert (np.abs(xx[look == LookAlike.STERNUM]) < 40).all()
    # Costal cartilage beside the heart lies in front of it (the floating ribs' tips, lower down, do not).
    zz = np.broadcast_to(_world(chest)[0], look.shape)
    hz = zz[chest.heart_mask]
    beside = (look == LookAlike.COSTAL_CARTILAGE) & (zz >= hz.min()) & (zz <= hz.max())
    assert beside.sum() > 20 and (yy[beside] < heart.centre[1]).all()
    # Ribs lie outside the lung cavity, apart from their heads and necks, which run from the vertebral
    # bodies back to the transverse processes (within ~45 mm of the midline).
    shaft = (look == LookAlike.RIB) & (np.abs(xx) > 45)
    r_cav, r = _cavity_radius_at(chest, shaft)
    assert (r >= r_cav - 3).mean() > 0.97


def test_chest_protocol_covers_the_thorax_into_the_upper_abdomen(chest):
    acq = chest.truth["acquisition"]
    assert acq["protocol"] == "chest" and not acq["gated"] and acq["motion_mm"] > 0
    assert acq["fov_mm"] >= 300
    t = chest.tissues
    heart_slices = np.nonzero(chest.heart_mask.any(axis=(1, 2)))[0]
    liver_slices = np.nonzero((t == Tissue.LIVER).any(axis=(1, 2)))[0]
    dz = chest.volume.spacing_zyx_mm[0]
    # The liver lies under the heart and reaches well below it; the lung apices are in the top slice.
    assert liver_slices.min() < heart_slices.min() - 20 / dz
    assert liver_slices.max() < heart_slices.max()
    assert (t[-1] == Tissue.LUNG).sum() > 500
    assert chest.volume.shape[0] * dz >= 200


def test_heart_rests_on_the_diaphragm(gated):
    hm = gated.heart_mask
    t = gated.tissues
    lowest = np.where(hm.any(axis=0), np.argmax(hm, axis=0), -1)
    floor = lowest.min(where=lowest >= 0, initial=hm.shape[0])
    assert floor > 0
    jj, ii = np.nonzero(lowest == floor)
    below = t[floor - 1, jj, ii]
    # Under the heart's flat diaphragmatic surface: diaphragm, liver, stomach or fat, not lung.
    assert np.mean(below != Tissue.LUNG) > 0.8


@pytest.mark.parametrize("seed", range(6))
def test_heart_fits_between_the_chest_wall_and_the_spine(seed):
    thorax = build_thorax(np.random.default_rng(seed))
    p, heart = thorax.patient, thorax.heart
    cloud = heart.surface_cloud()
    level = p.level_at(cloud[:, 2])
    w, d = p.body_semi_mm(level)
    near = np.abs(cloud[:, 0]) < w + 30
    spine_front = p.spine_y_mm(level) - d
    assert np.min(spine_front[near] - cloud[near, 1]) >= RETROCARDIAC_MM - 1e-6
    assert 0 <= thorax.retrosternal_fat_mm <= 15
    # Cardiothoracic ratio (heart width / inner thoracic width) of 0.35-0.6 (normal < 0.5).
    width = cloud[:, 0].max() - cloud[:, 0].min()
    assert 0.35 <= width / (2 * p.cavity_semi_x_mm) <= 0.6


def test_coronaries_run_in_epicardial_fat(gated):
    """0.5 mm outside every coronary's wall (beyond its first 6 mm, which leave the aortic root) lies the
    fat of the grooves: the arteries run in epicardial fat between the chambers, never through an atrium's
    blood or a wall (Gray's Anatomy). Before the trees were snapped out of the atria and the chambers made
    to give way (heart_tissue.GROOVE_FAT_MM), a fifth of the points 1 mm outside seed 22's arteries lay
    in blood or myocardium (the LCX's ring was 27 % fat)."""
    heart = gated.geometry["heart"]
    grid = gated.geometry["grid"]
    t = gated.tissues
    found = []
    for br in heart.branches:
        keep = br.arc_mm[::4] > 6.0
        pts = br.points[::4][keep]
        tang = np.gradient(br.points, axis=0)[::4][keep]
        for p, d, r in zip(pts, tang, br.radii_mm[::4][keep], strict=True):
            d = d / np.linalg.norm(d)
            a = np.cross(d, [0.0, 0.0, 1.0] if abs(d[2]) < 0.9 else [1.0, 0.0, 0.0])
            a /= np.linalg.norm(a)
            b = np.cross(d, a)
            for ang in np.linspace(0, 2 * np.pi, 8, endpoint=False):
                q = p + (np.cos(ang) * a + np.sin(ang) * b) * (r + WALL_MM + 0.5)
                k, j, i = np.rint(grid.to_index(q)).astype(int)
                if 0 <= k < t.shape[0] and 0 <= j < t.shape[1] and 0 <= i < t.shape[2]:
                    found.append(t[k, j, i])
    found = np.array(found)
    assert found.size > 500
    assert (found == Tissue.EPICARDIAL_FAT).mean() > 0.75
    assert np.isin(found, [Tissue.BLOOD, Tissue.MYOCARDIUM]).mean() < 0.05


def test_cardiac_veins_run_beside_the_arteries_in_the_groove_fat(gated):
    """The cardiac veins (Gray's Anatomy): the coronary sinus, the widest (~6-10 mm near the crux), runs in
    the posterior AV groove on the atrial side of the LCX; every vein lies outside the myocardium in the
    fat, at least its radius out, reads as blood and belongs to the heart; none touches an artery. The CS,
    AIV and MCV are always there; the small cardiac vein is inconstant."""
    heart, grid, t = gated.geometry["heart"], gated.geometry["grid"], gated.tissues
    veins = {v.name: v for v in heart.veins}
    assert {"AIV", "CS", "MCV"} <= set(veins)
    cs = veins["CS"]
    assert 6.0 <= 2 * cs.radii_mm.max() <= 10.0
    assert cs.radii_mm.max() == max(v.radii_mm.max() for v in heart.veins)
    lcx = next(br for br in heart.branches if br.name == "LCX")
    nearest = lcx.points[np.argmin(np.linalg.norm(cs.points[:, None] - lcx.points[None], axis=2), axis=1)]
    assert np.mean((cs.points - nearest) @ heart.frame[0]) < 0  # e_long runs base to apex: atria above
    arteries = np.vstack([br.points for br in heart.branches])
    outer = np.concatenate([br.radii_mm for br in heart.branches]) + WALL_MM
    for v in heart.veins:
        myo = heart.myocardium_sdf(v.points[:, 0], v.points[:, 1], v.points[:, 2])
        assert np.mean(myo >= v.radii_mm - 0.1) > 0.95
        gap = np.linalg.norm(v.points[:, None] - arteries[None], axis=2) - outer[None] - v.radii_mm[:, None]
        assert gap.min() >= 0.0
        k, j, i = np.rint(grid.to_index(v.points)).astype(int).T
        ok = (k >= 0) & (k < t.shape[0])
        assert gated.heart_mask[k[ok], j[ok], i[ok]].all()
        # Where the vein is at least as wide as the 3 mm slice, its centre voxel is blood (thinner ones are
        # partial volume with the fat round them).
        wide = ok & (v.radii_mm >= 1.5)
        if wide.sum() > 10:
            assert np.mean(t[k[wide], j[wide], i[wide]] == Tissue.BLOOD) > 0.9


def test_epicardial_fat_varies_from_thin_to_thick():
    sleeves, fats, on_muscle = [], [], 0
    for seed in range(12):
        heart = build_thorax(np.random.default_rng(100 + seed)).heart
        fats.append(heart.epicardial_fat_mm)
        for art, (gap, sleeve) in heart.coronary_fat.items():
            sleeves.append(sleeve)
            on_muscle += art == "LAD" and gap < 0.2
    assert min(sleeves) <= 3 and max(sleeves) >= 10  # groove fat 1-3 mm in some, 10-20 mm in others
    assert min(fats) < 1.5 and max(fats) > 4
    assert on_muscle >= 1  # the LAD right on the myocardium in some patients


def test_aortic_root_is_a_blood_filled_tube_ringed_by_fat(gated):
    """Above the valve's hinge the unenhanced aortic root reads as a round tube of blood with a collar of
    fat between it and the atria and outflow tract (lung1 of ../shared, slices 12-15), broken where the
    atria press on the non-coronary sinus (and, in some patients, the outflow tract on its front-left)."""
    heart = gated.geometry["heart"]
    grid = gated.geometry["grid"]
    t = gated.tissues
    axis = heart.root_axis
    side = np.cross(axis, [1.0, 0.0, 0.0])
    side /= np.linalg.norm(side)
    other = np.cross(axis, side)
    assert heart.root_fat_gaps, "this case's collar should be broken somewhere"

    def tissue_at(q):
        k, j, i = np.rint(grid.to_index(q)).astype(int)
        return t[k, j, i]

    ring, gap, lumen = [], [], []
    for height in (0.2, 0.4, 0.6):  # root radii above the hinge
        centre = heart.valve_hinge + axis * height * heart.root_radius_mm
        lumen.append(tissue_at(centre))
        for ang in np.linspace(0, 2 * np.pi, 32, endpoint=False):
            d = np.cos(ang) * side + np.sin(ang) * other
            # walk out to the root's surface, then half-way into where its fat collar is or would be
            s = np.linspace(0.0, 2.0 * heart.root_radius_mm, 400)
            sdf = np.array([heart.root_sdf(*(centre + d * v)) for v in s])
            edge = s[np.argmax(sdf > 0)]
            code = tissue_at(centre + d * (edge + 0.5 * heart.root_fat_mm))
            bearings = [np.arccos(np.clip(d @ g, -1, 1)) - half for g, half in heart.root_fat_gaps]
            if min(bearings) > 0.2:  # clear of every gap and of its ramp
                ring.append(code)
            elif min(bearings) < -0.1:  # well inside a gap
                gap.append(code)
    assert all(code == Tissue.BLOOD for code in lumen)
    assert np.mean(np.array(ring) == Tissue.EPICARDIAL_FAT) >= 0.8
    assert gap and np.mean(np.array(gap) == Tissue.EPICARDIAL_FAT) <= 0.5
