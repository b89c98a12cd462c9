"""The accumulating Evaluator on four constructed cases with known answers."""

from __future__ import annotations

import pytest
from sklearn.metrics import cohen_kappa_score

from cacscore.evaluation import Evaluator, icc_2_1
from cacscore.scoring import risk_category


@pytest.fixture
def evaluated(constructed_case):
    evaluator = Evaluator()
    for kind in ("perfect", "missed", "fp", "swapped"):
        volume, pred, ref = constructed_case(kind)
        evaluator.add(kind, pred, ref, volume)
    return evaluator


def test_pooled_lesion_counts(evaluated):
    summary = evaluated.summary()
    assert summary["n_cases"] == 4
    overall = summary["lesion"]["overall"]
    assert (overall["tp"], overall["fn"], overall["fp"]) == (11, 1, 1)
    assert overall["sensitivity"] == pytest.approx(11 / 12) and overall["ppv"] == pytest.approx(11 / 12)
    assert overall["fp_per_scan"] == pytest.approx(0.25)
    lad, lcx, rca = (summary["lesion"][a] for a in ("LAD", "LCX", "RCA"))
    assert (lad["tp"], lad["fn"], lad["fp"]) == (3, 1, 0)
    assert (lcx["tp"], lcx["fn"], lcx["fp"]) == (3, 1, 1)
    assert (rca["tp"], rca["fn"], rca["fp"]) == (4, 0, 1)
    # volume: LAD lesion 8 voxels, LCX 4, RCA 2, voxel 3 mm3; "missed" loses 4 LCX voxels, "fp" adds 4
    assert overall["tp_mm3"] == pytest.approx((14 * 4 - 4) * 3.0)
    assert overall["fn_mm3"] == pytest.approx(12.0) and overall["fp_mm3"] == pytest.approx(12.0)


def test_rows_and_patient_agreement(evaluated):
    rows = {r["case_id"]: r for r in evaluated.rows}
    # reference Agatston (3 mm slices, 1 mm2 pixels, 300 HU -> weight 3): (8 + 4 + 2) x 3 = 42
    assert all(r["agatston_ref"] == pytest.approx(42.0) for r in rows.values())
    assert rows["missed"]["agatston_pred"] == pytest.approx(30.0)
    assert rows["fp"]["agatston_pred"] == pytest.approx(42.0 + 16.0)  # 4 mm2 at 500 HU
    assert rows["swapped"]["agatston_pred"] == pytest.approx(42.0)
    summary = evaluated.summary()
    pred = [rows[k]["agatston_pred"] for k in ("perfect", "missed", "fp", "swapped")]
    ref = [42.0] * 4
    expected_icc = icc_2_1([[r, p] for r, p in zip(ref, pred, strict=True)]).icc
    assert summary["patient"]["agatston"]["icc_2_1"]["icc"] == pytest.approx(expected_icc)
    ba = summary["patient"]["agatston"]["bland_altman"]
    assert ba["bias"] == pytest.approx((0 - 12 + 16 + 0) / 4)
    categories = summary["patient"]["risk_category"]
    pred_cat = [risk_category(p).index for p in pred]
    ref_cat = [risk_category(r).index for r in ref]
    assert categories["confusion"][2][2] == 4  # every score is 11-100 on both sides
    assert categories["share_same"] == 1.0
    assert pred_cat == ref_cat == [2, 2, 2, 2]


def test_kappa_equals_sklearn_when_categories_differ(constructed_case):
    evaluator = Evaluator()
    volume, pred, ref = constructed_case("perfect")
    evaluator.add("a", pred, ref, volume)
    evaluator.add("b", pred * 0, ref, volume)  # predicted nothing: category 0 vs 11-100
    volume, pred, ref = constructed_case("fp")
    evaluator.add("c", pred, ref * 0, volume)  # reference empty, prediction 16: category 0 vs 11-100
    summary = evaluator.summary()
    pred_cat = [r["category_index_pred"] for r in evaluator.rows]
    ref_cat = [r["category_index_ref"] for r in evaluator.rows]
    assert (pred_cat, ref_cat) == ([2, 0, 2], [2, 2, 0])
    expected = cohen_kappa_score(ref_cat, pred_cat, labels=[0, 1, 2, 3, 4], weights="linear")
    assert summary["patient"]["risk_category"]["kappa_linear"] == pytest.approx(expected)
    assert summary["patient"]["risk_category"]["share_same"] == pytest.approx(1 / 3)


def test_same_case_twice_is_an_error(constructed_case):
    from cacscore.errors import CacscoreError

    evaluator = Evaluator()
    volume, pred, ref = constructed_case("perfect")
    evaluator.add("a", pred, ref, volume)
    with pytest.raises(CacscoreError, match="twice"):
        evaluator.add("a", pred, ref, volume)
