"""Slice increment from positions, 3 mm normalisation, volume depth, empty masks, JSON document."""

from __future__ import annotations

import json

import pytest

from cacscore.labels import Artery
from cacscore.scoring import ScoringSettings, score_volume


def test_overlapping_1_5mm_increment_normalised_by_increment_not_thickness(blank):
    # 3 mm thick slices every 1.5 mm: the lesion shows on 2 slices, 10 mm2 each, peak 150
    volume, labels = blank(shape=(4, 12, 12), spacing=(1.5, 1.0, 1.0), thickness=3.0)
    volume.hu[1:3, 2:4, 2:7] = 150
    labels[1:3, 2:4, 2:7] = Artery.LAD
    result = score_volume(volume, labels)
    assert result.agatston_raw["total"] == pytest.approx(20.0)
    assert result.agatston["total"] == pytest.approx(10.0)  # 20 x 1.5 / 3 (dividing by thickness: 20)
    assert result.volume_mm3["total"] == pytest.approx(20 * 1.5)  # depth = increment, not thickness
    d = result.to_dict()
    assert d["scan"]["increment_mm"] == 1.5 and d["scan"]["slice_thickness_mm"] == 3.0
    assert d["scan"]["agatston_normalisation_factor"] == pytest.approx(0.5)
    assert d["agatston_raw"]["total"] == pytest.approx(20.0)
    raw = score_volume(volume, labels, ScoringSettings(normalise_to_3mm=False))
    assert raw.agatston["total"] == pytest.approx(20.0)


def test_empty_mask_scores_zero_category_zero(blank):
    volume, labels = blank(hu=500.0)  # bright everywhere, nothing labelled
    result = score_volume(volume, labels, ScoringSettings(calibration_factor=0.7))
    assert result.agatston == {"total": 0.0, "LAD": 0.0, "LCX": 0.0, "RCA": 0.0}
    assert result.volume_mm3["total"] == 0.0 and result.mass_mg["total"] == 0.0
    assert result.risk_category.index == 0 and result.risk_category.label == "0"
    assert result.cac_drs == "CAC-DRS 0"
    assert result.lesions == ()


def test_score_between_0_and_1_is_not_zero(blank):
    volume, labels = blank(spacing=(3.0, 0.5, 0.5))
    volume.hu[1, 5, 5] = 180  # one pixel of 0.25 mm2, weight 1
    labels[1, 5, 5] = Artery.LAD
    result = score_volume(volume, labels, ScoringSettings(min_area_mm2=0.0))
    assert result.agatston["total"] == pytest.approx(0.25)
    assert result.risk_category.label == "1-10"
    assert result.cac_drs == "CAC-DRS A1/N1"


def test_json_document_has_the_issue_schema(blank):
    volume, labels = blank()
    volume.hu[1, 2:4, 2:4] = 250
    labels[1, 2:4, 2:4] = Artery.LCX
    d = score_volume(volume, labels).to_dict()
    json.dumps(d)  # JSON-able
    for key in (
        "agatston",
        "volume_mm3",
        "mass_mg",
        "risk_category",
        "cac_drs",
        "lesions",
        "scan",
        "settings",
        "software",
    ):
        assert key in d
    assert d["mass_mg"] == {"total": None, "LAD": None, "LCX": None, "RCA": None}  # no calibration: null
    assert d["lesions"][0]["mass_mg"] is None
    assert set(d["lesions"][0]) == {
        "id",
        "artery",
        "agatston",
        "volume_mm3",
        "mass_mg",
        "peak_hu",
        "centroid_mm",
        "slices",
    }
    assert d["settings"]["threshold_hu"] == 130 and d["settings"]["min_area_mm2"] == 1.0
    assert d["settings"]["convention"] == "clinical"
    assert d["software"]["name"] == "cacscore"
