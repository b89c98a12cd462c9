"""Candidates on constructed volumes: threshold, connectivity, minimum area, ROI, training labels."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.detection.candidates import find_candidates, reference_classes
from cacscore.errors import CacscoreError
from cacscore.volume import Volume

SPACING = (3.0, 0.5, 0.5)  # pixel area 0.25 mm2, voxel volume 0.75 mm3


def _volume(shape=(6, 40, 40), background=-50.0) -> np.ndarray:
    return np.full(shape, background, np.float32)


def test_threshold_is_inclusive_and_measures_are_hand_computed():
    hu = _volume()
    hu[2:4, 10:13, 10:13] = 130.0  # 2 slices x 9 px, exactly at threshold
    hu[3, 11, 11] = 450.0
    hu[1, 30:33, 30:33] = 129.0  # just under: never a candidate
    cs = find_candidates(Volume(hu, SPACING), None)
    assert len(cs) == 1
    c = cs.candidates[0]
    assert c.n_voxels == 18
    assert c.volume_mm3 == pytest.approx(18 * 0.75)
    assert c.peak_hu == 450.0
    assert c.peak_zyx == (3, 11, 11)
    assert c.mean_hu == pytest.approx((17 * 130 + 450) / 18)
    assert c.max_area_mm2 == pytest.approx(9 * 0.25)
    assert c.n_slices == 2
    assert c.centroid_zyx == pytest.approx((2.5, 11.0, 11.0))
    assert c.bbox_zyx == (2, 10, 10, 4, 13, 13)
    assert (cs.label_map == 1).sum() == 18
    assert cs.label_map[1, 31, 31] == 0


def test_minimum_area_is_per_slice_and_inclusive():
    hu = _volume()
    hu[1, 5:7, 5:7] = 300.0  # 4 px = 1.00 mm2 on one slice: kept at min 1.0
    hu[1, 20, 20:23] = 300.0  # 3 px = 0.75 mm2: dropped at 1.0
    hu[0:4, 30, 30] = 300.0  # 1 px per slice on 4 slices: 4 voxels but 0.25 mm2 per slice: dropped
    cs = find_candidates(Volume(hu, SPACING), None, min_area_mm2=1.0)
    assert [c.n_voxels for c in cs.candidates] == [4]
    cs0 = find_candidates(Volume(hu, SPACING), None, min_area_mm2=0.0)
    assert sorted(c.n_voxels for c in cs0.candidates) == [3, 4, 4]


def test_connectivity_corner_touching_voxels():
    hu = _volume()
    hu[2, 10:12, 10:12] = 300.0
    hu[3, 12:14, 12:14] = 300.0  # touches the first block only at a corner (z+1, y+1, x+1)
    v = Volume(hu, SPACING)
    assert len(find_candidates(v, None, connectivity=26, min_area_mm2=0)) == 1
    assert len(find_candidates(v, None, connectivity=18, min_area_mm2=0)) == 2
    assert len(find_candidates(v, None, connectivity=6, min_area_mm2=0)) == 2
    with pytest.raises(CacscoreError):
        find_candidates(v, None, connectivity=8)


def test_roi_restricts_and_must_match_grid():
    hu = _volume()
    hu[2, 5:8, 5:8] = 300.0
    hu[2, 30:33, 30:33] = 300.0
    roi = np.zeros(hu.shape, bool)
    roi[:, 20:, 20:] = True
    cs = find_candidates(Volume(hu, SPACING), roi)
    assert len(cs) == 1 and cs.candidates[0].bbox_zyx[1] == 30
    with pytest.raises(CacscoreError, match="heart mask"):
        find_candidates(Volume(hu, SPACING), roi[:, :10])


def test_empty_volume_has_no_candidates():
    cs = find_candidates(Volume(_volume(), SPACING), None)
    assert len(cs) == 0 and not cs.label_map.any()
    assert cs.paint(np.zeros(0, int)).shape == (6, 40, 40)


def test_kvp_threshold_parameter():
    hu = _volume()
    hu[2, 5:8, 5:8] = 140.0  # calcium at 130 HU (120 kVp), not at 147 HU (100 kVp)
    v = Volume(hu, SPACING)
    assert len(find_candidates(v, None, threshold_hu=130)) == 1
    assert len(find_candidates(v, None, threshold_hu=147)) == 0


def test_reference_classes_majority_and_paint():
    hu = _volume()
    hu[2, 5:8, 5:8] = 300.0  # 9 voxels: 5 labelled 2, 3 labelled 1 -> 2
    hu[2, 20:23, 20:23] = 300.0  # no reference overlap -> 0
    hu[4, 30:33, 30:33] = 300.0  # 2 voxels labelled 3, the rest background -> 3
    ref = np.zeros(hu.shape, np.uint8)
    ref[2, 5, 5:8] = 1
    ref[2, 6, 5:8] = 2
    ref[2, 7, 5:7] = 2
    ref[4, 31, 31:33] = 3
    cs = find_candidates(Volume(hu, SPACING), None)
    classes = reference_classes(cs, ref)
    assert classes.tolist() == [2, 0, 3]
    painted = cs.paint(classes)
    assert painted.dtype == np.uint8
    assert (painted == 2).sum() == 9 and (painted == 3).sum() == 9 and (painted == 1).sum() == 0
