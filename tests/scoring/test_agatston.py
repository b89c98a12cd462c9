"""Agatston definition, hand-computed: bands, threshold, minimum area, connectivity, per-fragment peaks."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.labels import Artery
from cacscore.scoring import SCORING_PRESETS, ScoringSettings, agatston_weight, score_volume


@pytest.mark.parametrize(
    ("peak", "weight"),
    [(129, 0), (130, 1), (199, 1), (200, 2), (299, 2), (300, 3), (399, 3), (400, 4), (1500, 4), (199.7, 1)],
)
def test_weight_bands_closed_below_on_integer_hu(peak, weight):
    assert int(agatston_weight(peak)) == weight


@pytest.mark.parametrize(
    ("peak", "weight"), [(129, 0), (130, 1), (199, 1), (200, 2), (299, 2), (300, 3), (399, 3), (400, 4)]
)
def test_fragment_score_is_area_times_weight_of_its_peak(blank, peak, weight):
    # 2 x 3 pixels of 1 mm x 1 mm = 6 mm2; one pixel at the peak, the others at 130 HU (or the peak if lower)
    volume, labels = blank()
    hu = volume.hu
    hu[1, 4:6, 4:7] = min(130, peak)
    hu[1, 4, 4] = peak
    labels[1, 4:6, 4:7] = Artery.LAD
    result = score_volume(volume, labels)
    expected = 6.0 * weight if peak >= 130 else 0.0
    assert result.agatston["total"] == pytest.approx(expected)
    assert result.agatston["LAD"] == pytest.approx(expected)
    assert result.volume_mm3["total"] == pytest.approx(18.0 if peak >= 130 else 0.0)  # 6 voxels x 3 mm3


def test_threshold_is_130_inclusive_not_128(blank):
    # 129 HU voxels next to a counted fragment add nothing; 130 HU voxels add their area
    volume, labels = blank()
    volume.hu[1, 2, 2:6] = [130, 130, 129, 128]
    labels[1, 2, 2:6] = Artery.RCA
    result = score_volume(volume, labels)
    assert result.volume_mm3["RCA"] == pytest.approx(2 * 3.0)
    assert result.agatston["RCA"] == pytest.approx(2.0)  # 2 mm2 x weight 1


def test_background_label_is_never_scored(blank):
    volume, labels = blank()
    volume.hu[1, 3:6, 3:6] = 800  # bright, but not labelled
    result = score_volume(volume, labels)
    assert result.agatston["total"] == 0
    assert result.lesions == ()


def _n_pixel_fragment(blank, n, spacing=(3.0, 0.5, 0.5)):
    volume, labels = blank(spacing=spacing)
    rows, cols = np.unravel_index(np.arange(n), (4, 4))
    volume.hu[1, 2 + rows, 2 + cols] = 250
    labels[1, 2 + rows, 2 + cols] = Artery.LAD
    return volume, labels


@pytest.mark.parametrize(("n", "counted"), [(3, False), (4, True), (5, True)])
def test_min_area_just_under_at_and_over_1mm2(blank, n, counted):
    # pixels of 0.5 mm x 0.5 mm = 0.25 mm2: 3 px = 0.75 mm2 < 1, 4 px = 1.00 mm2, 5 px = 1.25 mm2
    volume, labels = _n_pixel_fragment(blank, n)
    result = score_volume(volume, labels, ScoringSettings(min_area_mm2=1.0))
    assert result.agatston["total"] == pytest.approx(n * 0.25 * 2 if counted else 0.0)
    # a dropped fragment counts in no score
    assert result.volume_mm3["total"] == pytest.approx(n * 0.75 if counted else 0.0)


def test_vendor_presets_minimum_sizes(blank):
    two = _n_pixel_fragment(blank, 2)  # 0.5 mm2
    three = _n_pixel_fragment(blank, 3)  # 0.75 mm2, 3 voxels
    assert score_volume(*two, SCORING_PRESETS["siemens"]).agatston["total"] == pytest.approx(1.0)
    assert score_volume(*two, SCORING_PRESETS["philips"]).agatston["total"] == pytest.approx(1.0)
    assert score_volume(*two, SCORING_PRESETS["canon"]).agatston["total"] == 0.0
    assert score_volume(*three, SCORING_PRESETS["canon"]).agatston["total"] == pytest.approx(1.5)
    assert score_volume(*three, SCORING_PRESETS["ge"]).agatston["total"] == 0.0


def test_anisotropic_pixels_use_row_times_column_spacing(blank):
    volume, labels = blank(spacing=(3.0, 0.4, 0.7))
    volume.hu[0, 2:4, 2:7] = 250  # 10 pixels of 0.28 mm2 = 2.8 mm2, weight 2
    labels[0, 2:4, 2:7] = Artery.LCX
    result = score_volume(volume, labels)
    assert result.agatston["LCX"] == pytest.approx(5.6)
    assert result.volume_mm3["LCX"] == pytest.approx(10 * 0.4 * 0.7 * 3.0)


def test_connectivity_4_splits_diagonal_pieces_8_joins_them(blank):
    volume, labels = blank()
    volume.hu[1, 2:4, 2:4] = 450  # 4 mm2, peak 450
    volume.hu[1, 4:6, 4:6] = 150  # 4 mm2, peak 150, touching the first only at a corner
    labels[1, 2:6, 2:6] = Artery.LAD
    eight = score_volume(volume, labels, ScoringSettings(connectivity=8))
    four = score_volume(volume, labels, ScoringSettings(connectivity=4))
    assert eight.agatston["total"] == pytest.approx(8 * 4)  # one fragment, weighted by its peak 450
    assert four.agatston["total"] == pytest.approx(4 * 4 + 4 * 1)
    assert len(eight.lesions) == 1 and len(four.lesions) == 2


def test_each_slice_fragment_weighted_by_its_own_peak_not_the_3d_peak(blank):
    volume, labels = blank()
    volume.hu[0, 3:5, 3:5] = 450  # 4 mm2 at weight 4
    volume.hu[1, 3:5, 3:5] = 150  # same column on the next slice: 4 mm2 at weight 1
    labels[0:2, 3:5, 3:5] = Artery.RCA
    for convention in ("clinical", "orcascore"):
        result = score_volume(volume, labels, ScoringSettings(convention=convention))
        assert result.agatston["total"] == pytest.approx(16 + 4), convention  # not 32
