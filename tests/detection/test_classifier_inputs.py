"""Classifier inputs and the decision rule on constructed volumes (values computed by hand)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cacscore.detection.candidates import find_candidates
from cacscore.detection.classifier import (
    INPUT_KIND,
    CandidateInputSpec,
    DecisionRule,
    InputAugmentation,
    sample_candidate_inputs,
)
from cacscore.detection.descriptors import DESCRIPTOR_NAMES, TissueReference
from cacscore.errors import CacscoreError
from cacscore.volume import Volume

#: soft tissue 40 HU, fat -100 HU: normalised HU = (HU - 40) / 140, clipped to [-2, 6], divided by 6.
REFERENCE = TissueReference(soft_hu=40.0, fat_hu=-100.0, noise_sd_hu=20.0)
SPACING = (3.0, 0.6, 0.6)  # pixels of the patch's own size: patch pixel (i, j) samples voxel exactly


def _scene() -> tuple[Volume, np.ndarray]:
    """Soft tissue with a fat band (columns 0-9) and two candidates: a 4 x 4 block of 600 HU on slices
    3-4 (rows/cols 30-33), and a 3 x 3 block of 250 HU on slice 4 (rows 10-12, cols 50-52)."""
    hu = np.full((8, 64, 64), 40.0, np.float32)
    hu[:, :, :10] = -100.0
    hu[3:5, 30:34, 30:34] = 600.0
    hu[4, 10:13, 50:53] = 250.0
    return Volume(hu, SPACING), np.zeros((2, len(DESCRIPTOR_NAMES)), np.float32)


def test_patch_values_mask_and_features():
    volume, descriptors = _scene()
    cands = find_candidates(volume, None, min_area_mm2=0.0)
    descriptors[:, 0] = [1.5, 2.5]
    x = sample_candidate_inputs(volume, cands, descriptors, REFERENCE)
    assert x["patches"].shape == (2, 2, 32, 32) and x["patches"].dtype == np.float32
    np.testing.assert_array_equal(x["features"], descriptors)  # features are the descriptors as given
    block = x["patches"][0]
    # the 600 HU block's centre (31.5, 31.5) sits at patch pixel 15.5: pixels 14-17 are the block
    assert block[0, 14:18, 14:18] == pytest.approx((600.0 - 40.0) / 140.0 / 6.0)
    assert block[0, 0, 0] == pytest.approx(0.0)  # soft tissue
    assert block[1, 14:18, 14:18].min() == 1.0 and block[1].sum() == 16.0  # its own voxels only
    small = x["patches"][1]  # cols 50-52: the patch's columns 0..31 cover voxel columns 35.5-66.5
    assert small[0, 15, 15] == pytest.approx((250.0 - 40.0) / 140.0 / 6.0)


def test_contrast_is_clipped_and_fat_is_minus_one_sixth():
    """Metal (3000 HU) normalises to (3000 - 40) / 140 = 21, clipped to 6: 1.0. A candidate at columns
    12-14 has the fat band (columns 0-9) in its patch: (-100 - 40) / 140 / 6 = -1/6 there."""
    volume, _ = _scene()
    hu = volume.hu.copy()
    hu[3:5, 30:34, 30:34] = 3000.0
    hu[6, 40:43, 12:15] = 300.0
    volume = volume.with_hu(hu)
    cands = find_candidates(volume, None, min_area_mm2=0.0)
    x = sample_candidate_inputs(volume, cands, np.zeros((3, len(DESCRIPTOR_NAMES)), np.float32), REFERENCE)
    metal = next(i for i, c in enumerate(cands.candidates) if c.peak_hu == 3000.0)
    near_fat = next(i for i, c in enumerate(cands.candidates) if c.bbox_zyx[2] == 12)
    assert x["patches"][metal, 0].max() == pytest.approx(1.0)
    # patch column j samples voxel column 13 + (j - 15.5): columns 0-9 are patch columns 2-12
    assert x["patches"][near_fat, 0, :, 3:12] == pytest.approx(-1.0 / 6.0)


def test_inputs_are_oriented_in_patient_space():
    """A scan stored with its columns flipped (x axis pointing to the patient's right) gives the same
    patches. Pixels of 0.7 mm, so that no patch sample falls exactly half-way between two voxels (where
    nearest-neighbour sampling of the mask would break the tie differently once flipped)."""
    scene, descriptors = _scene()
    volume = Volume(scene.hu, (3.0, 0.7, 0.7))
    nx = volume.shape[2]
    flipped = Volume(volume.hu[:, :, ::-1].copy(), (3.0, 0.7, 0.7), origin_xyz_mm=((nx - 1) * 0.7, 0.0, 0.0),
                     direction=np.diag([-1.0, 1.0, 1.0]))
    a = sample_candidate_inputs(volume, find_candidates(volume, None, min_area_mm2=0.0), descriptors,
                                REFERENCE)
    cands_f = find_candidates(flipped, None, min_area_mm2=0.0)
    b = sample_candidate_inputs(flipped, cands_f, descriptors, REFERENCE)
    order = [0, 1] if cands_f.candidates[0].bbox_zyx[1] == 30 else [1, 0]
    np.testing.assert_allclose(b["patches"][order], a["patches"], atol=1e-6)


def test_augmentation_is_seeded_and_bounded():
    volume, descriptors = _scene()
    cands = find_candidates(volume, None, min_area_mm2=0.0)
    aug = InputAugmentation()
    r1 = sample_candidate_inputs(volume, cands, descriptors, REFERENCE, rng=np.random.default_rng(1),
                                 augmentation=aug)
    r2 = sample_candidate_inputs(volume, cands, descriptors, REFERENCE, rng=np.random.default_rng(1),
                                 augmentation=aug)
    plain = sample_candidate_inputs(volume, cands, descriptors, REFERENCE)
    np.testing.assert_array_equal(r1["patches"], r2["patches"])
    assert not np.array_equal(r1["patches"], plain["patches"])
    position = [DESCRIPTOR_NAMES.index(n) for n in
                ("offset_left_100mm", "offset_posterior_100mm", "offset_superior_100mm")]
    shift = r1["features"][:, position] - plain["features"][:, position]
    assert np.abs(shift).max() <= aug.position_mm / 100.0 + 1e-6 and np.abs(shift).max() > 0
    others = [i for i in range(len(DESCRIPTOR_NAMES)) if i not in position]
    np.testing.assert_array_equal(r1["features"][:, others], plain["features"][:, others])


def test_spec_round_trips_and_refuses_older_inputs():
    spec = CandidateInputSpec(size_px=24, local_mm_per_px=0.5)
    assert CandidateInputSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.input_shapes() == {"patches": ["N", 2, 24, 24], "features": ["N", len(DESCRIPTOR_NAMES)]}
    with pytest.raises(CacscoreError, match="retrain"):
        CandidateInputSpec.from_dict({"size_px": 32, "context_mm_per_px": 4.0})  # a v2 model folder
    with pytest.raises(CacscoreError, match="other candidate descriptors"):
        CandidateInputSpec.from_dict({"kind": INPUT_KIND, "descriptor_names": ["peak_hu_1000"]})


def test_decision_rule():
    """p(not coronary) 0.7 -> coronary probability 0.3: not coronary at the 0.5 threshold, LCX (the most
    probable artery) at 0.25; p(not) 0.2 -> RCA; an artery tie goes to the first (LAD)."""
    p = np.array([[0.7, 0.05, 0.2, 0.05], [0.2, 0.1, 0.1, 0.6], [0.4, 0.3, 0.3, 0.0]])
    assert DecisionRule().classes(p).tolist() == [0, 3, 1]
    assert DecisionRule(min_coronary_probability=0.25).classes(p).tolist() == [2, 3, 1]
    assert DecisionRule().classes(np.zeros((0, 4))).shape == (0,)


def test_decision_rule_needs_fat_near_a_coronary_candidate():
    """Two candidates the network calls RCA with p 0.9: the one with fat in its 5-10 mm shell stays RCA,
    the one with no fat voxel in any shell (a calibration insert in plastic, valve calcium in blood) is not
    coronary; without ``require_fat`` both are RCA."""
    p = np.array([[0.1, 0.0, 0.0, 0.9], [0.1, 0.0, 0.0, 0.9]])
    d = np.zeros((2, len(DESCRIPTOR_NAMES)), np.float32)
    d[:, DESCRIPTOR_NAMES.index("bright_0_2mm")] = 0.3  # bright and air shares do not count as fat
    d[:, DESCRIPTOR_NAMES.index("air_5_10mm")] = 0.2
    d[0, DESCRIPTOR_NAMES.index("fat_5_10mm")] = 0.05
    d[:, DESCRIPTOR_NAMES.index("rib_cage_depth_40mm")] = 1.0  # 40 mm behind the cage's front
    assert DecisionRule().classes(p, d).tolist() == [3, 0]
    assert DecisionRule(require_fat=False).classes(p, d).tolist() == [3, 3]
    assert DecisionRule().vetoes(d).tolist() == ["", "no fat within 10 mm"]


def test_decision_rule_vetoes_calcium_in_bone():
    """Three candidates called RCA with p 0.9, fat around each, behind the cage: none, a third and 0.97
    of their voxels in bone (the last: lung1's lower sternum). Half or more in bone is bone: only the last
    is vetoed, and only with ``require_outside_bone``."""
    p = np.tile([0.1, 0.0, 0.0, 0.9], (3, 1))
    d = np.zeros((3, len(DESCRIPTOR_NAMES)), np.float32)
    d[:, DESCRIPTOR_NAMES.index("fat_2_5mm")] = 0.5
    d[:, DESCRIPTOR_NAMES.index("rib_cage_depth_40mm")] = 0.5
    d[:, DESCRIPTOR_NAMES.index("in_bone")] = [0.0, 1 / 3, 0.97]
    codes, overruled = DecisionRule().decide(p, d)
    assert codes.tolist() == [3, 3, 0]
    assert overruled.tolist() == ["", "", "in bone"]
    assert DecisionRule(require_outside_bone=False).classes(p, d).tolist() == [3, 3, 3]


def test_decision_rule_vetoes_calcium_in_the_chest_wall():
    """Four candidates the network calls LAD with p 0.8, all with fat around: 15 mm behind the cage's
    front (coronary), 4 mm in front of it and 3.8 mm behind it (costal cartilage in the chest wall, as
    beside lung2's sternum), and exactly 8 mm behind it (the margin: kept). The two in the wall are
    vetoed, and only with ``require_inside_cage``; with a margin of 0 only the one in front is."""
    p = np.tile([0.2, 0.8, 0.0, 0.0], (4, 1))
    d = np.zeros((4, len(DESCRIPTOR_NAMES)), np.float32)
    d[:, DESCRIPTOR_NAMES.index("fat_2_5mm")] = 0.5
    d[:, DESCRIPTOR_NAMES.index("rib_cage_depth_40mm")] = [15 / 40, -4 / 40, 3.8 / 40, 8 / 40]
    wall = "in the chest wall (less than 8 mm behind the rib cage's front)"
    assert DecisionRule().classes(p, d).tolist() == [1, 0, 0, 1]
    assert DecisionRule().vetoes(d).tolist() == ["", wall, wall, ""]
    assert DecisionRule(require_inside_cage=False).classes(p, d).tolist() == [1, 1, 1, 1]
    assert DecisionRule(min_cage_depth_mm=0.0).classes(p, d).tolist() == [1, 0, 1, 1]
    codes, overruled = DecisionRule().decide(p, d)
    assert codes.tolist() == [1, 0, 0, 1]
    assert overruled.tolist() == ["", wall, wall, ""]


def test_decision_rule_from_a_model_folders_config():
    """What config.json says is used; what it lacks (an older folder: no margin recorded) is the class's
    default; the block's other entries (the rule's text, the temperature) are not settings."""
    rule = DecisionRule.from_config({"rule": "text", "temperature": 1.4, "min_coronary_probability": 0.3,
                                     "require_fat": False}, (0, 1, 2, 3))
    assert rule == DecisionRule(min_coronary_probability=0.3, require_fat=False)
    assert rule.min_cage_depth_mm == 8.0 and rule.require_outside_bone
    assert DecisionRule.from_config(rule.settings(), (0, 1, 2, 3)) == rule
    assert set(rule.settings()) == {"min_coronary_probability", "require_fat", "require_inside_cage",
                                    "require_outside_bone", "min_cage_depth_mm"}
