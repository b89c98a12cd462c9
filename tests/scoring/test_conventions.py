"""Lesion conventions (clinical vs orCaScore), artery assignment, LM / unknown labels, lesion records."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.errors import CacscoreError
from cacscore.labels import Artery
from cacscore.scoring import ScoringSettings, score_volume


def _u_shaped_lesion(blank):
    """One 3-D (6-connected) lesion whose slice 2 holds two separate pieces joined through slice 1."""
    volume, labels = blank(shape=(4, 12, 12))
    volume.hu[1, 3:5, 3:9] = 150  # bridge: 12 mm2, peak 150
    volume.hu[2, 3:5, 3:5] = 450  # piece A: 4 mm2, peak 450
    volume.hu[2, 3:5, 7:9] = 150  # piece B: 4 mm2, peak 150
    labels[1:3, 3:5, 3:9] = Artery.LAD
    return volume, labels


def test_two_fragments_of_one_3d_lesion_on_one_slice_each_weighted_by_own_peak(blank):
    volume, labels = _u_shaped_lesion(blank)
    orc = score_volume(volume, labels, ScoringSettings(convention="orcascore"))
    # 12 x 1 (bridge) + 4 x 4 (A) + 4 x 1 (B); weighting B by the lesion's peak would give 44
    assert orc.agatston["total"] == pytest.approx(32.0)
    assert len(orc.lesions) == 1
    lesion = orc.lesions[0]
    assert lesion.slices == (1, 2)
    assert lesion.peak_hu == 450
    assert lesion.volume_mm3 == pytest.approx(20 * 3.0)
    clin = score_volume(volume, labels, ScoringSettings(convention="clinical"))
    assert clin.agatston["total"] == pytest.approx(32.0)
    assert len(clin.lesions) == 3  # clinical: every slice region is a lesion
    assert [les.slices for les in clin.lesions] == [(1,), (2,), (2,)]


def test_lesion_touching_two_artery_labels_takes_the_majority(blank):
    volume, labels = blank()
    volume.hu[1, 4, 2:8] = 250  # one 6 mm2 region, weight 2
    labels[1, 4, 2:6] = Artery.LAD  # 4 voxels
    labels[1, 4, 6:8] = Artery.LCX  # 2 voxels
    for convention in ("clinical", "orcascore"):
        result = score_volume(volume, labels, ScoringSettings(convention=convention))
        assert result.agatston["LAD"] == pytest.approx(12.0), convention
        assert result.agatston["LCX"] == 0.0
        assert result.agatston["total"] == pytest.approx(12.0)
        assert [les.artery for les in result.lesions] == [Artery.LAD]


def test_majority_tie_goes_to_the_lowest_code(blank):
    volume, labels = blank()
    volume.hu[1, 4, 2:8] = 250
    labels[1, 4, 2:5] = Artery.RCA
    labels[1, 4, 5:8] = Artery.LCX
    result = score_volume(volume, labels)
    assert result.agatston["LCX"] == pytest.approx(12.0) and result.agatston["RCA"] == 0.0


def test_orcascore_convention_joins_slices_through_6_connectivity_only(blank):
    volume, labels = blank()
    volume.hu[0, 2:4, 2:4] = 250
    volume.hu[1, 4:6, 4:6] = 250  # touches slice 0's piece only diagonally: another 6-connected lesion
    labels[0:2] = Artery.LAD
    result = score_volume(volume, labels, ScoringSettings(convention="orcascore"))
    assert len(result.lesions) == 2
    assert result.agatston["total"] == pytest.approx(16.0)


def test_per_artery_keys_lm_and_unknown(blank):
    volume, labels = blank(shape=(2, 12, 12))
    for artery, col in ((Artery.LM, 0), (Artery.LAD, 3), (Artery.LCX, 6), (Artery.UNKNOWN, 9)):
        volume.hu[0, 0:2, col : col + 2] = 250  # 4 mm2 x 2 = 8 each
        labels[0, 0:2, col : col + 2] = artery
    kept = score_volume(volume, labels)
    assert list(kept.agatston) == ["total", "LM", "LAD", "LCX", "RCA", "UNKNOWN"]
    assert kept.agatston["LM"] == pytest.approx(8.0)
    assert kept.agatston["UNKNOWN"] == pytest.approx(8.0)
    assert kept.agatston["total"] == pytest.approx(32.0)  # unknown-artery calcium counts in the total
    assert kept.cac_drs == "CAC-DRS A1/N3"  # LM, LAD, LCX; unknown is no vessel
    folded = score_volume(volume, labels, ScoringSettings(keep_lm=False))
    assert "LM" not in folded.agatston
    assert folded.agatston["LAD"] == pytest.approx(16.0)
    assert folded.cac_drs == "CAC-DRS A1/N2"
    d = kept.to_dict()
    for key in ("agatston", "volume_mm3", "mass_mg"):
        assert set(d[key]) == {"total", "LM", "LAD", "LCX", "RCA", "UNKNOWN"}


def test_no_lm_or_unknown_keys_when_absent(blank):
    volume, labels = blank()
    assert list(score_volume(volume, labels).agatston) == ["total", "LAD", "LCX", "RCA"]


def test_lesion_record_centroid_in_patient_mm_and_slices(blank):
    volume, labels = blank(shape=(4, 8, 8), spacing=(3.0, 0.5, 0.5), origin=(10.0, 20.0, 30.0))
    volume.hu[2, 3:5, 4:6] = 320  # 4 px of 0.25 mm2 = 1 mm2, weight 3
    labels[2, 3:5, 4:6] = Artery.RCA
    d = score_volume(volume, labels, ScoringSettings(calibration_factor=1.0)).to_dict()
    (lesion,) = d["lesions"]
    assert lesion["id"] == 1 and lesion["artery"] == "RCA" and lesion["slices"] == [2]
    assert lesion["agatston"] == pytest.approx(3.0)
    assert lesion["peak_hu"] == 320
    # centre index (z 2, row 3.5, col 4.5) -> x = 10 + 4.5 x 0.5, y = 20 + 3.5 x 0.5, z = 30 + 2 x 3
    assert lesion["centroid_mm"] == pytest.approx([12.25, 21.75, 36.0])
    assert lesion["volume_mm3"] == pytest.approx(4 * 0.75)
    assert lesion["mass_mg"] == pytest.approx(320 * 0.003)  # mean HU x ml x c


def test_totals_are_sums_of_arteries_and_of_lesions(blank):
    rng = np.random.default_rng(3)
    volume, labels = blank(shape=(6, 20, 20))
    volume.hu[:] = rng.integers(0, 600, size=volume.shape)
    labels[:] = rng.integers(0, 4, size=volume.shape)
    for convention in ("clinical", "orcascore"):
        result = score_volume(volume, labels, ScoringSettings(convention=convention, calibration_factor=0.8))
        for key in ("agatston", "volume_mm3", "mass_mg"):
            scores = getattr(result, key)
            assert scores["total"] == pytest.approx(sum(v for k, v in scores.items() if k != "total"))
            assert scores["total"] == pytest.approx(sum(getattr(les, key) for les in result.lesions))


def test_bad_labels_are_user_errors(blank):
    volume, labels = blank()
    with pytest.raises(CacscoreError, match="shape"):
        score_volume(volume, labels[:2])
    labels[0, 0, 0] = 7
    with pytest.raises(CacscoreError, match="artery codes"):
        score_volume(volume, labels)
    with pytest.raises(CacscoreError, match="boolean"):
        score_volume(volume, np.zeros(volume.shape, dtype=bool))
    with pytest.raises(CacscoreError, match="connectivity"):
        ScoringSettings(connectivity=6)
