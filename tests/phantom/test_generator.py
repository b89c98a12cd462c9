"""generate_case: anatomy HU, acquisition, label conventions, truth, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.errors import CacscoreError
from cacscore.labels import ORCASCORE_REFERENCE_CODES
from cacscore.phantom import VENDOR_PRESETS, LookAlike, Tissue, generate_case


@pytest.fixture(scope="module")
def severe():
    """A case forced into the > 400 category (many lesions)."""
    return generate_case(11, "siemens", category=4)


def test_anatomy_hu_ranges():
    """Large homogeneous tissues keep, through blur and noise, the CT numbers this patient drew, and those
    lie in the textbook ranges (fat -120..-70, soft tissue 25-60, aerated lung -900..-650)."""
    case = generate_case(11, "ge", score=False, fov_mm=340.0)  # wide field of view: spine included
    hu, tissue = case.volume.hu, case.tissues
    drawn = case.truth["patient"]["tissue_hu"]
    inner = ndimage.binary_erosion(hu > -1024, iterations=3)

    def median(t: Tissue) -> float:
        core = ndimage.binary_erosion(tissue == t, np.ones((1, 3, 3), bool), iterations=2) & inner
        assert core.sum() > 500, t.name
        return float(np.median(hu[core]))

    assert -120 <= drawn["fat"] <= -70 and median(Tissue.FAT) == pytest.approx(drawn["fat"], abs=12)
    assert 25 <= drawn["muscle"] <= 60 and median(Tissue.MUSCLE) == pytest.approx(drawn["muscle"], abs=12)
    assert 25 <= drawn["blood"] <= 60 and median(Tissue.BLOOD) == pytest.approx(drawn["blood"], abs=15)
    lung = median(Tissue.LUNG)
    assert -900 <= drawn["lung"] <= -800
    assert drawn["lung"] - 10 < lung < drawn["lung"] + drawn["lung_gradient"]  # denser where dependent
    # Bone: the vertebra's cortex is far brighter than its marrow; a 4-6 mm disc in 2.5 mm slices reads as
    # soft tissue mixed with some end plate.
    vertebra = hu[tissue == Tissue.VERTEBRA]
    assert np.percentile(vertebra, 99) > 400
    assert 40 < median(Tissue.DISC) < 200


@pytest.mark.parametrize("vendor", list(VENDOR_PRESETS))
def test_acquisition_follows_the_preset(vendor):
    preset = VENDOR_PRESETS[vendor]
    case = generate_case(3, vendor, score=False)
    vol = case.volume
    nz, ny, nx = vol.shape
    assert (ny, nx) == (512, 512)
    assert 40 <= nz <= 80
    assert vol.spacing_zyx_mm[0] == preset.slice_increment_mm
    lo, hi = preset.pixel_spacing_range_mm
    assert lo <= vol.spacing_zyx_mm[1] <= hi and 0.3 <= vol.spacing_zyx_mm[1] <= 0.7
    assert vol.info.kvp == 120 and vol.info.slice_thickness_mm == preset.slice_thickness_mm
    assert vol.hu.dtype == np.float32 and np.array_equal(vol.hu, np.round(vol.hu))
    assert vol.hu.min() >= -1024 and vol.hu.max() <= 3071
    # Noise SD in the blood pool (a disc in the LV cavity, homogeneous blood before noise).
    lv = case.geometry["heart"].lv_cavity_centre
    k, j, i = np.rint(case.geometry["grid"].to_index(lv)).astype(int)
    r = int(6 / vol.spacing_zyx_mm[1])
    sd = float(vol.hu[k, j - r : j + r, i - r : i + r].std())
    assert 12 < sd < 50


def test_label_conventions(severe):
    labels = severe.labels
    assert labels.dtype == np.uint8 and labels.shape == severe.volume.shape
    assert set(np.unique(labels).tolist()) <= ORCASCORE_REFERENCE_CODES
    assert labels.any()
    assert np.all(severe.volume.hu[labels > 0] >= THRESHOLD_HU_120KVP)
    assert not np.any(labels[~severe.heart_mask])
    assert not np.any((labels > 0) & (severe.lookalikes > 0))
    assert set(np.unique(severe.lookalikes).tolist()) <= {int(c) for c in LookAlike}
    assert np.all(severe.volume.hu[severe.lookalikes > 0] >= THRESHOLD_HU_120KVP)
    assert severe.heart_mask.dtype == bool


def test_every_reference_lesion_has_voxels_at_or_above_130(severe):
    truth = severe.truth
    assert truth["lesions"]
    for les in truth["lesions"]:
        assert les["voxels_at_or_above_threshold"] >= 1
        assert les["peak_image_hu"] >= THRESHOLD_HU_120KVP
        assert les["artery"] in ("LAD", "LCX", "RCA")
    for les in truth["dropped_lesions"]:
        assert les["voxels_at_or_above_threshold"] == 0 and "reason" in les
    # Labelled voxel count equals the sum over the truth lesions.
    total = sum(les["voxels_at_or_above_threshold"] for les in truth["lesions"])
    assert total == int(np.count_nonzero(severe.labels))


def test_truth_scores_agree_with_labels(severe):
    scores = severe.truth["scores"]
    assert scores["agatston"]["total"] > 400  # forced category >400
    assert scores["risk_category"]["label"] == ">400"
    zero = generate_case(12, "canon", category=0, n_slices=40)
    assert not zero.labels.any()
    assert zero.truth["scores"]["agatston"]["total"] == 0
    assert zero.truth["lesions"] == []


def test_deterministic_for_a_seed():
    a = generate_case(5, "ge", n_slices=40, score=False)
    b = generate_case(5, "ge", n_slices=40, score=False)
    assert np.array_equal(a.volume.hu, b.volume.hu)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.lookalikes, b.lookalikes)
    assert a.truth == b.truth
    c = generate_case(6, "ge", n_slices=40, score=False)
    assert not np.array_equal(a.volume.hu, c.volume.hu)


def test_user_errors():
    with pytest.raises(CacscoreError, match="unknown phantom vendor"):
        generate_case(1, "hitachi")
    with pytest.raises(CacscoreError, match="unknown phantom option"):
        generate_case(1, "ge", colour="red")
    with pytest.raises(CacscoreError, match="category"):
        generate_case(1, "ge", category=7)
