"""orCaScore lesion rules on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.evaluation import lesion_counts
from cacscore.labels import Artery

VOXEL_MM3 = 2.0


def _case():
    """Three reference lesions: LAD (8 voxels), LCX (4 voxels), RCA (2 voxels), all 300 HU."""
    hu = np.zeros((4, 16, 16), dtype=np.float32)
    ref = np.zeros(hu.shape, dtype=np.uint8)
    for (z, r, c, h, w), artery in (
        ((1, 1, 1, 2, 4), Artery.LAD),
        ((2, 8, 8, 2, 2), Artery.LCX),
        ((1, 12, 2, 1, 2), Artery.RCA),
    ):
        hu[z, r : r + h, c : c + w] = 300
        ref[z, r : r + h, c : c + w] = artery
    return hu, ref


def _counts(pred, ref, hu, **kw):
    return lesion_counts(pred, ref, hu, 130, VOXEL_MM3, **kw)


def test_perfect_prediction():
    hu, ref = _case()
    counts = _counts(ref.copy(), ref, hu)
    assert vars(counts["overall"]) == {
        "tp": 3,
        "fn": 0,
        "fp": 0,
        "tp_mm3": 28.0,
        "fn_mm3": 0.0,
        "fp_mm3": 0.0,
    }
    for artery, n in (("LAD", 8), ("LCX", 4), ("RCA", 2)):
        assert (counts[artery].tp, counts[artery].fn, counts[artery].fp) == (1, 0, 0)
        assert counts[artery].tp_mm3 == n * VOXEL_MM3
    m = counts["overall"].metrics(n_scans=1)
    assert m["sensitivity"] == m["ppv"] == m["f1"] == m["volume_f1"] == 1.0 and m["fp_per_scan"] == 0


def test_one_missed_lesion():
    hu, ref = _case()
    pred = ref.copy()
    pred[pred == Artery.LCX] = 0
    counts = _counts(pred, ref, hu)
    assert (counts["overall"].tp, counts["overall"].fn, counts["overall"].fp) == (2, 1, 0)
    assert counts["overall"].fn_mm3 == 4 * VOXEL_MM3
    assert (counts["LCX"].tp, counts["LCX"].fn, counts["LCX"].fp) == (0, 1, 0)
    m = counts["overall"].metrics()
    assert m["sensitivity"] == pytest.approx(2 / 3) and m["ppv"] == 1.0 and m["f1"] == pytest.approx(0.8)
    assert m["volume_sensitivity"] == pytest.approx(20 / 28)


def test_one_false_positive():
    hu, ref = _case()
    pred = ref.copy()
    hu[3, 14, 14:16] = 500  # bright, not in the reference
    pred[3, 14, 14:16] = Artery.RCA
    counts = _counts(pred, ref, hu)
    assert (counts["overall"].tp, counts["overall"].fn, counts["overall"].fp) == (3, 0, 1)
    assert counts["overall"].fp_mm3 == 2 * VOXEL_MM3
    assert (counts["RCA"].tp, counts["RCA"].fn, counts["RCA"].fp) == (1, 0, 1)
    assert counts["overall"].metrics(n_scans=2)["fp_per_scan"] == 0.5


def test_swapped_artery_is_fn_for_the_true_and_fp_for_the_given_artery():
    hu, ref = _case()
    pred = ref.copy()
    pred[ref == Artery.LAD] = Artery.LCX
    counts = _counts(pred, ref, hu)
    assert (counts["overall"].tp, counts["overall"].fn, counts["overall"].fp) == (3, 0, 0)
    assert (counts["LAD"].tp, counts["LAD"].fn, counts["LAD"].fp) == (0, 1, 0)
    assert (counts["LCX"].tp, counts["LCX"].fn, counts["LCX"].fp) == (1, 0, 1)
    assert counts["LAD"].fn_mm3 == 8 * VOXEL_MM3 and counts["LCX"].fp_mm3 == 8 * VOXEL_MM3


def test_labels_below_threshold_and_mixed_reference_labels():
    hu, ref = _case()
    ref[1, 1, 1] = Artery.RCA  # 1 of 8 LAD-lesion voxels labelled RCA: the lesion stays LAD (majority)
    ref[0, 0, 0] = Artery.RCA  # a labelled voxel below 130 HU is no calcium, no lesion
    pred = np.zeros_like(ref)
    pred[1, 1, 2] = Artery.LAD  # one voxel of the LAD lesion suffices to detect it
    pred[0, 5, 5] = Artery.LAD  # predicted label on 0 HU: ignored, not a false positive
    counts = _counts(pred, ref, hu)
    assert (counts["LAD"].tp, counts["LAD"].fn, counts["LAD"].fp) == (1, 0, 0)
    assert (counts["RCA"].tp, counts["RCA"].fn, counts["RCA"].fp) == (0, 1, 0)
    assert (counts["overall"].tp, counts["overall"].fn, counts["overall"].fp) == (1, 2, 0)
    assert counts["overall"].tp_mm3 == VOXEL_MM3


def test_left_main_folded_into_lad_unless_kept():
    hu, ref = _case()
    pred = ref.copy()
    pred[ref == Artery.LAD] = Artery.LM
    assert _counts(pred, ref, hu)["LAD"].tp == 1
    kept = _counts(pred, ref, hu, keep_lm=True)
    assert (kept["LAD"].fn, kept["LM"].fp) == (1, 1)


def test_unknown_artery_prediction_counts_overall_not_for_an_artery():
    hu, ref = _case()
    pred = np.where(ref > 0, int(Artery.UNKNOWN), 0).astype(np.uint8)
    counts = _counts(pred, ref, hu)
    assert counts["overall"].tp == 3 and counts["overall"].fp == 0
    assert counts["UNKNOWN"].fp == 3 and counts["LAD"].fn == 1
