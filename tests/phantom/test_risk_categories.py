"""A phantom cohort spans every Agatston risk category with a realistic share of zero scores."""

from __future__ import annotations

import collections

import pytest

from cacscore.phantom import generate_case
from cacscore.phantom.cohort import case_plan
from cacscore.phantom.generator import target_category
from cacscore.phantom.lesions import CATEGORY_PROBABILITIES


def test_category_probabilities_are_a_distribution_with_a_third_zero():
    assert sum(CATEGORY_PROBABILITIES) == pytest.approx(1.0)
    assert 0.3 <= CATEGORY_PROBABILITIES[0] <= 0.4


def test_fifty_case_plan_targets_every_category():
    # Fast path: the category each case aims at, drawn exactly as generate_case draws it.
    targets = collections.Counter(target_category(item["seed"]) for item in case_plan(50, seed=0))
    assert set(targets) == {0, 1, 2, 3, 4}
    assert 10 <= targets[0] <= 25


def test_target_category_is_what_generate_case_uses():
    seed = case_plan(1, seed=0)[0]["seed"]
    case = generate_case(seed, "siemens", n_slices=40, score=False)
    assert case.truth["patient"]["target_category"] == target_category(seed)


@pytest.mark.slow
def test_fifty_case_cohort_spans_all_five_risk_categories():
    # Truth scores (cacscore.scoring.score_volume on the generated image and reference labels).
    labels = collections.Counter()
    for item in case_plan(50, seed=0):
        case = generate_case(item["seed"], item["vendor"])
        labels[case.truth["scores"]["risk_category"]["label"]] += 1
    assert set(labels) == {"0", "1-10", "11-100", "101-400", ">400"}
    assert 0.25 <= labels["0"] / 50 <= 0.5
