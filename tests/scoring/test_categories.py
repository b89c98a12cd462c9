"""Risk categories, CAC-DRS, kVp thresholds, mass and calibration, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.errors import CacscoreError
from cacscore.labels import Artery
from cacscore.scoring import ScoringSettings, cac_drs, calibration_factor, risk_category, score_volume


@pytest.mark.parametrize(
    ("score", "index", "label"),
    [
        (0, 0, "0"),
        (0.01, 1, "1-10"),
        (1, 1, "1-10"),
        (10, 1, "1-10"),
        (10.5, 2, "11-100"),
        (100, 2, "11-100"),
        (101, 3, "101-400"),
        (400, 3, "101-400"),
        (400.2, 4, ">400"),
    ],
)
def test_five_category_scheme(score, index, label):
    category = risk_category(score)
    assert (category.index, category.label) == (index, label)


def test_four_category_scheme_and_unknown_scheme():
    assert risk_category(50, "agatston4").label == "1-100"
    assert risk_category(101, "agatston4").label == "101-400"
    with pytest.raises(CacscoreError, match="scheme"):
        risk_category(5, "nope")


@pytest.mark.parametrize(("score", "a"), [(0.5, 1), (99, 1), (100, 2), (299, 2), (300, 3)])
def test_cac_drs_a_groups(score, a):
    assert cac_drs(score, {"LAD": score}) == f"CAC-DRS A{a}/N1"


def test_cac_drs_n_counts_vessels_with_calcium():
    assert cac_drs(150, {Artery.LM: 10, Artery.LAD: 0, Artery.LCX: 40, Artery.RCA: 100}) == "CAC-DRS A2/N3"
    assert cac_drs(0, {"LAD": 0}) == "CAC-DRS 0"


def _bright(blank, kvp, hu=140):
    volume, labels = blank(kvp=kvp)
    volume.hu[1, 2:4, 2:4] = hu
    labels[1, 2:4, 2:4] = Artery.LAD
    return volume, labels


def test_kvp_table_threshold_and_warnings(blank):
    at120 = score_volume(*_bright(blank, 120.0))
    assert at120.threshold_hu == 130 and at120.warnings == ()
    at100 = score_volume(*_bright(blank, 100.0))  # 140 HU < 147 HU: not calcium at 100 kVp
    assert at100.threshold_hu == 147 and at100.agatston["total"] == 0.0
    assert any("100 kVp" in w for w in at100.warnings)
    chosen = score_volume(*_bright(blank, 100.0), ScoringSettings(kvp=100))
    assert chosen.threshold_hu == 147 and chosen.warnings == ()  # the user chose the kVp
    odd = score_volume(*_bright(blank, 90.0))
    assert odd.threshold_hu == 130 and any("no calcium threshold" in w for w in odd.warnings)
    unknown = score_volume(*_bright(blank, None))
    assert unknown.threshold_hu == 130 and any("unknown" in w for w in unknown.warnings)
    explicit = score_volume(*_bright(blank, 100.0), ScoringSettings(threshold_hu=135))
    assert explicit.threshold_hu == 135 and explicit.agatston["total"] == pytest.approx(4.0)


def test_mass_is_mean_hu_times_ml_times_c(blank):
    volume, labels = blank()
    volume.hu[1, 2, 2:6] = [200, 200, 300, 300]  # 4 voxels of 3 mm3 = 0.012 ml, mean 250 HU
    labels[1, 2, 2:6] = Artery.LAD
    result = score_volume(volume, labels, ScoringSettings(calibration_factor=0.8))
    assert result.mass_mg["LAD"] == pytest.approx(250 * 0.012 * 0.8)
    assert result.mass_mg["total"] == pytest.approx(2.4)
    assert score_volume(volume, labels).mass_mg["LAD"] is None


def test_calibration_factor_from_an_insert_roi(blank):
    volume, _ = blank()
    volume.hu[:] = 30.0
    volume.hu[1, 4:8, 4:8] = 250.0
    roi = np.zeros(volume.shape, dtype=bool)
    roi[1, 5:7, 5:7] = True
    assert calibration_factor(volume, roi, 200.0) == pytest.approx(200 / 250)  # McCollough: rho / (HU - 0)
    assert calibration_factor(volume, roi, 200.0, water_hu=50.0) == pytest.approx(1.0)
    with pytest.raises(CacscoreError, match="empty"):
        calibration_factor(volume, np.zeros(volume.shape, dtype=bool), 200.0)
    background = np.zeros(volume.shape, dtype=bool)
    background[0, 0, 0] = True
    with pytest.raises(CacscoreError, match="not above water"):
        calibration_factor(volume, background, 200.0, water_hu=40.0)
