"""Candidate descriptors on small constructed volumes whose answers are computed by hand.

Grid: slices 3 mm, pixels 0.5 mm (pixel area 0.25 mm2, voxel 0.75 mm3), identity direction, so index
x, y, z point to the patient's left, posterior and superior. Soft tissue 40 HU everywhere unless stated.
"""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.detection.candidates import find_candidates
from cacscore.detection.descriptors import (
    DESCRIPTOR_NAMES,
    DescriptorSettings,
    describe_candidates,
    rib_cage_depth,
    tissue_reference,
)
from cacscore.detection.thorax import Thorax, WorkGrid
from cacscore.volume import ScanInfo, Volume

SPACING = (3.0, 0.5, 0.5)
COL = {name: k for k, name in enumerate(DESCRIPTOR_NAMES)}
EXACT = DescriptorSettings(smooth_mm=0.0)  # no smoothing: tissue classes pixel by pixel


def _volume(hu: np.ndarray) -> Volume:
    return Volume(hu.astype(np.float32), SPACING, info=ScanInfo(modality="CT", kvp=120.0))


def _thorax(shape: tuple[int, int, int], bone: np.ndarray | None = None) -> Thorax:
    """A thorax on a working grid equal to the volume's grid (factor 1), with the given bone."""
    empty = np.zeros(shape, bool)
    grid = WorkGrid((1, 1), (0, 0), SPACING, shape, np.zeros(shape, np.float32), np.zeros(shape, np.float32))
    return Thorax(grid, ~empty, np.ones(shape[1:], bool), (), empty if bone is None else bone, True)


def _describe(hu: np.ndarray, roi: np.ndarray | None = None, bone=None, settings=EXACT):
    volume = _volume(hu)
    roi = np.ones(hu.shape, bool) if roi is None else roi
    cands = find_candidates(volume, roi, threshold_hu=130.0, min_area_mm2=0.0)
    return cands, describe_candidates(volume, cands, roi, _thorax(hu.shape, bone), settings)


def test_intensity_size_and_shape_of_a_rod():
    """A straight rod along x, 20 pixels (10 mm) long, one pixel wide, on one slice, 300 HU with one
    500 HU voxel: peak 0.5, mean (19 x 300 + 500) / 20 = 310 HU, volume 20 x 0.75 = 15 mm3, area 5 mm2,
    z extent 1 slice x 3 mm. Length: variance along x (20 voxels of 0.5 mm, each a uniform box) is
    (0.5 x 20)^2 / 12, so sqrt(12 lambda) = 10 mm; elongation on its slice sqrt((100/12) / (0.25/12)) = 20."""
    hu = np.full((3, 40, 40), 40.0)
    hu[1, 20, 10:30] = 300.0
    hu[1, 20, 15] = 500.0
    cands, d = _describe(hu)
    assert len(cands) == 1
    row = d[0]
    assert row[COL["peak_hu_1000"]] == pytest.approx(0.5)
    assert row[COL["mean_hu_1000"]] == pytest.approx(0.310)
    assert row[COL["log_volume_mm3"]] == pytest.approx(np.log1p(15.0))
    assert row[COL["log_max_area_mm2"]] == pytest.approx(np.log1p(5.0))
    assert row[COL["z_extent_10mm"]] == pytest.approx(0.3)
    assert row[COL["log_length_mm"]] == pytest.approx(np.log1p(10.0), abs=1e-5)
    assert row[COL["log_elongation"]] == pytest.approx(np.log(20.0), abs=1e-5)


def test_a_single_voxel_is_as_long_as_its_slice_and_round_in_plane():
    hu = np.full((3, 20, 20), 40.0)
    hu[1, 10, 10] = 400.0
    _, d = _describe(hu)
    assert d[0, COL["log_length_mm"]] == pytest.approx(np.log1p(3.0), abs=1e-5)  # the 3 mm slice
    assert d[0, COL["log_elongation"]] == pytest.approx(0.0, abs=1e-6)


def test_bright_structure_that_leaves_the_roi():
    """A 40-voxel bar at 400 HU across the ROI's edge: 10 of its voxels inside the ROI make the candidate;
    the bar it belongs to is 40 x 0.75 = 30 mm3, 30 of its 40 voxels (0.75) outside the ROI. A plaque
    fully inside: its structure is itself, 0 outside."""
    hu = np.full((3, 60, 60), 40.0)
    hu[1, 30, 10:50] = 400.0  # the bar, columns 10-49
    hu[1, 10, 12:16] = 300.0  # a plaque, 4 voxels, inside
    roi = np.zeros(hu.shape, bool)
    roi[:, 5:40, :20] = True  # columns 0-19: bar columns 10-19 inside
    cands, d = _describe(hu, roi)
    by_area = sorted(zip(cands.candidates, d, strict=True), key=lambda cd: cd[0].n_voxels)
    (plaque, p_row), (bar, b_row) = by_area
    assert bar.n_voxels == 10 and plaque.n_voxels == 4
    assert b_row[COL["log_structure_volume_mm3"]] == pytest.approx(np.log1p(30.0))
    assert b_row[COL["structure_outside_roi"]] == pytest.approx(0.75)
    assert p_row[COL["log_structure_volume_mm3"]] == pytest.approx(np.log1p(3.0))
    assert p_row[COL["structure_outside_roi"]] == pytest.approx(0.0)


def test_bone_distance_and_share_in_bone():
    """Bone fills columns 0-9 (on the working grid, here the volume's own). A candidate whose nearest
    voxel is at column 30 lies 21 pixels x 0.5 mm = 10.5 mm (centre to centre) from the bone's last
    column, none of it in bone; one at columns 5-8 lies inside bone (distance 0, share 1)."""
    hu = np.full((3, 40, 40), 40.0)
    hu[1, 20, 30:33] = 300.0
    hu[1, 5, 5:9] = 300.0
    bone = np.zeros(hu.shape, bool)
    bone[:, :, :10] = True
    cands, d = _describe(hu, bone=bone)
    rows = {c.bbox_zyx[2]: r for c, r in zip(cands.candidates, d, strict=True)}
    assert rows[30][COL["bone_distance_40mm"]] == pytest.approx(10.5 / 40.0)
    assert rows[30][COL["in_bone"]] == 0.0
    assert rows[5][COL["bone_distance_40mm"]] == 0.0
    assert rows[5][COL["in_bone"]] == 1.0


def test_depth_behind_the_front_of_the_rib_cage():
    """Bone at the four corners of a 40 x 40 square (rows/columns 10 and 49, 0.5 mm pixels) on slice 1 of a
    body of 60 rows: the front half's bone (rows < 29.5) is the pair in row 10, whose hull's front (the
    anterior edge: rows grow towards the back) is row 10 in columns 10-49. A voxel at (30, 30) lies 20 rows
    = 10 mm behind it, one at (5, 30) 2.5 mm in front of it (-2.5), one in column 5 (outside the hull's
    columns) reads the cap. Stored with the rows growing towards the front, the front half's bone is row 49,
    the front: (30, 30) lies 19 rows = 9.5 mm behind it. A candidate at (30, 30) gets that voxel's depth
    as its descriptor."""
    shape = (3, 60, 60)
    bone = np.zeros(shape, bool)
    for r in (10, 49):
        for c in (10, 49):
            bone[1, r, c] = True
    depth = rib_cage_depth(_thorax(shape, bone), cap_mm=40.0)
    assert depth[1, 30, 30] == pytest.approx(10.0)
    assert depth[1, 5, 30] == pytest.approx(-2.5)
    assert depth[1, 30, 5] == 40.0 and depth[0, 30, 30] == 40.0  # outside the hull; no bone on slice 0
    flipped = rib_cage_depth(_thorax(shape, bone), cap_mm=40.0, posterior_sign=-1.0)
    assert flipped[1, 30, 30] == pytest.approx(9.5)
    hu = np.full(shape, 40.0)
    hu[1, 30, 30] = 400.0
    _, d = _describe(hu, bone=bone)
    assert d[0, COL["rib_cage_depth_40mm"]] == pytest.approx(10.0 / 40.0)


def test_the_cage_front_is_the_anterior_bone_not_the_spine():
    """A gated field of view: the sternum (rows 5-8, columns 25-35), the spine (rows 50-58, columns 25-35)
    and a rib cut off by the field of view behind the middle (row 40, column 55), 0.5 mm pixels, body all
    60 rows (middle 29.5). The hull of all that bone would run from the sternum's corner (5, 35) to the rib,
    through (22.5, 45), and give a voxel at (30, 45) a depth of 7.5 rows = 3.75 mm: a heart wall next to the
    sternum would read as the chest wall. The front half holds only the sternum, so column 45 is outside
    the cage's front (cap), and the sternum's columns are measured from its front: (30, 30) lies 25 rows =
    12.5 mm behind row 5."""
    shape = (1, 60, 60)
    bone = np.zeros(shape, bool)
    bone[0, 5:9, 25:36] = True
    bone[0, 50:59, 25:36] = True
    bone[0, 40, 55] = True
    depth = rib_cage_depth(_thorax(shape, bone), cap_mm=40.0)
    assert depth[0, 30, 45] == 40.0
    assert depth[0, 30, 30] == pytest.approx(12.5)


def test_surrounding_shells_count_fat_air_and_bright():
    """A one-pixel candidate at (20, 20) of slice 1. Fat (-100 HU) at every pixel within 2 mm (4 pixels)
    of it, soft tissue from 2 to 5 mm, air (-900 HU) beyond 5 mm, and one more bright pixel 3 mm away
    (6 pixels up): shell 0-2 mm is all fat; shell 2-5 mm is soft tissue but that one pixel, which is
    bright; shell 5-10 mm is all air."""
    hu = np.full((3, 41, 41), 40.0)
    rows, cols = np.ogrid[:41, :41]
    d_mm = np.hypot(rows - 20, cols - 20) * 0.5
    hu[1][(d_mm > 5.0)] = -900.0
    hu[1][(d_mm > 0) & (d_mm <= 2.0)] = -100.0
    hu[1, 20, 20] = 400.0
    hu[1, 14, 20] = 400.0  # 6 pixels = 3 mm away: a second candidate
    cands, d = _describe(hu)
    row = next(r for c, r in zip(cands.candidates, d, strict=True) if c.bbox_zyx[1] == 20)
    n_shell2 = int(np.count_nonzero((d_mm > 2.0) & (d_mm <= 5.0)))
    assert row[COL["fat_0_2mm"]] == pytest.approx(1.0)
    assert row[COL["air_0_2mm"]] == 0.0 and row[COL["bright_0_2mm"]] == 0.0
    assert row[COL["bright_2_5mm"]] == pytest.approx(1.0 / n_shell2)
    assert row[COL["fat_2_5mm"]] == 0.0 and row[COL["air_2_5mm"]] == 0.0
    assert row[COL["air_5_10mm"]] == pytest.approx(1.0)


def test_offset_from_the_roi_centroid_in_patient_axes():
    """ROI = the whole 5 x 41 x 41 volume, centroid at index (2, 20, 20). A candidate at index (3, 10, 30):
    10 columns (5 mm) to the left, 10 rows (5 mm) anterior (-5 mm posterior), 1 slice (3 mm) superior."""
    hu = np.full((5, 41, 41), 40.0)
    hu[3, 10, 30] = 300.0
    _, d = _describe(hu)
    assert d[0, COL["offset_left_100mm"]] == pytest.approx(0.05)
    assert d[0, COL["offset_posterior_100mm"]] == pytest.approx(-0.05)
    assert d[0, COL["offset_superior_100mm"]] == pytest.approx(0.03)


def test_noise_over_soft_tissue():
    """White Gaussian noise of SD 20 HU on 40 HU soft tissue: the reference reads soft 40 and noise 20
    (within the sampling error of ~13,000 pixel pairs); a 150 HU peak lies 5.5 noise SDs above it (5.5 / 8
    of the cap), a 440 HU one 20 SDs, capped at 8 (1.0): beyond 8 SDs the noise says nothing more."""
    rng = np.random.default_rng(0)
    hu = 40.0 + rng.normal(0.0, 20.0, (12, 64, 64))
    hu[6, 20, 20] = 150.0
    hu[6, 40, 40] = 440.0
    volume = _volume(hu)
    roi = np.ones(hu.shape, bool)
    ref = tissue_reference(volume, roi)
    assert ref.soft_hu == pytest.approx(40.0, abs=1.0)
    assert ref.noise_sd_hu == pytest.approx(20.0, rel=0.05)
    cands = find_candidates(volume, roi, threshold_hu=145.0, min_area_mm2=0.0)
    d = describe_candidates(volume, cands, roi, _thorax(hu.shape), EXACT, reference=ref)
    by_peak = {round(c.peak_hu): row for c, row in zip(cands.candidates, d, strict=True)}
    assert sorted(by_peak) == [150, 440]
    column = COL["peak_over_noise_8sd"]
    assert by_peak[150][column] == pytest.approx((150.0 - ref.soft_hu) / ref.noise_sd_hu / 8)
    assert by_peak[150][column] == pytest.approx(5.5 / 8, abs=0.04)
    assert by_peak[440][column] == 1.0


def test_no_candidates_give_an_empty_table():
    hu = np.full((3, 20, 20), 40.0)
    cands, d = _describe(hu)
    assert len(cands) == 0 and d.shape == (0, len(DESCRIPTOR_NAMES))
