"""ICC(2,1) against Shrout & Fleiss 1979, Bland-Altman by hand, kappa against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from cacscore.evaluation import bland_altman, category_agreement, icc_2_1

# Shrout & Fleiss, Psychol Bull 1979;86:420-428, Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_icc_2_1_shrout_fleiss_worked_example():
    result = icc_2_1(SHROUT_FLEISS)
    assert round(result.icc, 2) == 0.29  # Shrout & Fleiss 1979, Table 4: ICC(2,1) = .29
    # their ANOVA (Table 3): BMS 11.24, JMS 32.49, EMS 1.02
    assert (result.ms_rows, result.ms_columns, result.ms_error) == pytest.approx(
        (11.24, 32.49, 1.02), abs=0.01
    )
    # 95 % interval as the R package psych reports for this table (ICC2: 0.019 .. 0.76)
    assert result.ci_low == pytest.approx(0.019, abs=0.001)
    assert result.ci_high == pytest.approx(0.76, abs=0.005)


def test_icc_perfect_and_degenerate():
    perfect = icc_2_1(np.column_stack([[1.0, 5.0, 9.0], [1.0, 5.0, 9.0]]))
    assert perfect.icc == 1.0
    assert icc_2_1([[3.0, 3.0]]).icc is None  # one subject
    assert icc_2_1([[2.0, 2.0], [2.0, 2.0]]).icc is None  # no variance at all


def test_bland_altman_by_hand():
    ba = bland_altman([12.0, 20.0, 33.0], [10.0, 20.0, 30.0])  # differences 2, 0, 3
    sd = np.sqrt(((2 - 5 / 3) ** 2 + (0 - 5 / 3) ** 2 + (3 - 5 / 3) ** 2) / 2)
    assert ba.bias == pytest.approx(5 / 3) and ba.sd == pytest.approx(sd)
    assert (ba.lower, ba.upper) == pytest.approx((5 / 3 - 1.96 * sd, 5 / 3 + 1.96 * sd))


def test_category_agreement_matches_sklearn():
    ref = [0, 1, 2, 3, 4, 2, 1, 0]
    pred = [0, 1, 3, 3, 4, 1, 1, 1]
    agreement = category_agreement(pred, ref, ["0", "1-10", "11-100", "101-400", ">400"])
    assert agreement.kappa_linear == pytest.approx(cohen_kappa_score(ref, pred, weights="linear"))
    assert agreement.share_same == pytest.approx(5 / 8)
    assert agreement.confusion[2] == [0, 1, 0, 1, 0]  # reference "11-100": one called 1-10, one 101-400
    assert sum(map(sum, agreement.confusion)) == 8
    assert category_agreement([0, 0], [0, 0], ["0", "1"]).kappa_linear is None
