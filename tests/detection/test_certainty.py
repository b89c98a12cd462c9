"""Whether the risk category rests on unsure calls: lesion lists with scores worked out by hand."""

from __future__ import annotations

from cacscore.detection.certainty import UNSURE_BELOW, category_certainty


def _lesion(lesion_id: int, agatston: float, p: float | None, artery: str = "LAD",
            slices: tuple[int, ...] = (12, 13, 14)) -> dict:
    les = {"id": lesion_id, "artery": artery, "agatston": agatston, "slices": list(slices)}
    if p is not None:
        les["probability_coronary"] = p
    return les


def test_a_category_lifted_by_an_unsure_call_is_flagged():
    """350 sure + 100 unsure = 450 (>400); without the unsure call 350 (101-400)."""
    check = category_certainty([_lesion(1, 350.0, 0.99), _lesion(2, 100.0, 0.6, "RCA"),
                                _lesion(3, 2.0, 0.7, slices=(9,))], 452.0)
    assert check.category == ">400" and check.category_without_unsure == "101-400"
    assert check.rests_on_unsure
    assert [u["id"] for u in check.unsure] == [2, 3]  # largest first
    line = check.warning()
    assert line is not None and "lesion 2 (RCA, slices 12-14, 100 Agatston, 60 % sure)" in line
    assert "lesion 3 (LAD, slice 9, 2 Agatston, 70 % sure)" in line and "(102 Agatston)" in line
    assert "without them it would be 101-400" in line and "\n" not in line
    assert check.to_dict()["unsure_lesions"][0]["agatston"] == 100.0


def test_unsure_calls_that_leave_the_category_as_it_is_give_no_warning():
    """500 sure + 20 unsure: 520 and 500 are both >400."""
    check = category_certainty([_lesion(1, 500.0, 0.95), _lesion(2, 20.0, 0.55)], 520.0)
    assert not check.rests_on_unsure and check.warning() is None
    assert len(check.unsure) == 1  # still listed in result.json


def test_only_unsure_calls_leave_a_zero_score():
    """Every call unsure: without them the score is 0 (category 0), even after the lesions' rounding."""
    check = category_certainty([_lesion(1, 5.004, 0.5), _lesion(2, 3.0, 0.7)], 8.0049)
    assert check.category == "1-10" and check.category_without_unsure == "0"


def test_the_threshold_itself_is_sure_and_a_missing_probability_is_sure():
    lesions = [_lesion(1, 50.0, UNSURE_BELOW), _lesion(2, 60.0, None)]
    check = category_certainty(lesions, 110.0)
    assert check.unsure == () and not check.rests_on_unsure


def test_the_scheme_is_the_scans():
    """110 with a 20-point unsure call is 101-400 under both schemes; the 90 left without it is 11-100
    under agatston5 and 1-100 under agatston4 (bounds 100, 400)."""
    lesions = [_lesion(1, 90.0, 0.99), _lesion(2, 20.0, 0.3)]
    five = category_certainty(lesions, 110.0, "agatston5")
    four = category_certainty(lesions, 110.0, "agatston4")
    assert (five.category, five.category_without_unsure) == ("101-400", "11-100")
    assert (four.category, four.category_without_unsure) == ("101-400", "1-100")
