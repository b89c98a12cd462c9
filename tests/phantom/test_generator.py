"""generate_case: anatomy HU, acquisition, label conventions, truth, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.errors import CacscoreError
from cacscore.labels import ORCASCORE_REFERENCE_CODES
from cacscore.phantom import VENDOR_PRESETS, LookAlike, generate_case


@pytest.fixture(scope="module")
def severe():
    """A case forced into the > 400 category (many lesions)."""
    return generate_case(11, "siemens", category=4)


def _world_to_index(grid, xyz):
    return np.rint(grid.to_index(np.asarray(xyz, float))).astype(int)


def _roi_median(case, xyz, radius_mm=3.0, slices=1):
    grid = case.geometry["grid"]
    k, j, i = _world_to_index(grid, xyz)
    r = int(radius_mm / grid.spacing_zyx_mm[1])
    sub = case.volume.hu[max(k - slices, 0) : k + slices + 1, j - r : j + r + 1, i - r : i + r + 1]
    return float(np.median(sub))


def test_anatomy_hu_ranges():
    severe = generate_case(11, "ge", score=False, fov_mm=340.0)  # wide field of view: spine included
    body = severe.geometry["body"]
    heart = severe.geometry["heart"]
    grid = severe.geometry["grid"]
    zc = float(heart.centre[2])
    hu = severe.volume.hu
    z = grid.axis_mm(0)[:, None, None]
    y = grid.axis_mm(1)[None, :, None]
    x = grid.axis_mm(2)[None, None, :]
    inner = (x / body.semi_x_mm) ** 2 + (y / body.semi_y_mm) ** 2 < 0.8
    in_fov = hu != VENDOR_PRESETS["ge"].outside_fov_hu
    # Lungs: the aerated voxels inside the body read like parenchyma (~-850), not air.
    lung = inner & in_fov & (hu < -500) & (z < zc + 20)
    assert lung.sum() > 10_000
    assert -900 < float(np.median(hu[lung])) < -780
    # Fat and soft tissue are the two big peaks of the body's histogram.
    body_vox = hu[inner & in_fov & (hu > -500)]
    assert np.mean((body_vox > -130) & (body_vox < -60)) > 0.03
    assert np.mean((body_vox > 20) & (body_vox < 70)) > 0.2
    # Heart interior (myocardium / unenhanced blood): soft tissue.
    assert 20 < _roi_median(severe, heart.centre, radius_mm=5) < 60
    # Vertebral body: cancellous bone between discs; its cortical rim much brighter.
    vb = [0.0, body.spine_y_mm, zc]
    _, j, i = _world_to_index(grid, vb)
    column = severe.volume.hu[:, j - 3 : j + 4, i - 3 : i + 4].reshape(grid.shape[0], -1)
    medians = np.median(column, axis=1)
    assert 120 < np.percentile(medians, 75) < 320
    assert 60 < medians.min() < 130  # an intervertebral disc
    r_px = body.vertebra_radius_mm / grid.spacing_zyx_mm[1]
    ring_row = severe.volume.hu[:, j, int(i - r_px - 4) : int(i - r_px + 5)]
    assert ring_row.max() > 500


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
    # Noise SD in the blood pool (a sphere in the LV cavity, homogeneous 38 HU before noise).
    heart = case.geometry["heart"]
    a, b, c = heart.sac_semi_mm
    lv = heart.centre + np.array([0.1 * a, -0.05 * b, 0.22 * c]) @ heart.frame
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
