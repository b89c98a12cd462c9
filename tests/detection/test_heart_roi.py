"""Automatic heart ROI: on the phantom (Dice and no lost calcium), the real QRM scan, user masks, speed."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.detection.heart_roi import RoiSettings, heart_roi, load_heart_mask, whole_body_roi
from cacscore.errors import CacscoreError
from cacscore.io import write_mask
from cacscore.volume import Volume

VENDORS = ("siemens", "philips", "ge", "canon")


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_one_phantom_case_dice_and_calcium():
    from cacscore.phantom import generate_case

    case = generate_case(11, "ge", category=3)
    roi = heart_roi(case.volume)
    assert roi.shape == case.volume.shape and roi.dtype == bool
    assert _dice(roi, case.heart_mask) >= 0.90
    assert not np.any((case.labels > 0) & ~roi)


def test_small_field_of_view_that_cuts_off_the_right_lung():
    """A 192 mm field of view centred on a heart 20 mm left of the midline leaves the right lung only as
    air between the mediastinum and the edge of the reconstruction circle, outside the body's convex hull.
    That air is still lung (the body leaves the field of view on both sides of it), so the ROI must reach
    the right heart border: no reference calcium outside the ROI, and most of the heart inside it (the
    single left lung's hull alone runs through the middle of the heart)."""
    from cacscore.phantom import generate_case

    case = generate_case(798321446, "siemens")  # the eval-cohort-c TRV1P2 configuration
    fov_mm = case.volume.shape[2] * case.volume.spacing_zyx_mm[2]
    assert fov_mm < 200.0
    roi = heart_roi(case.volume)
    assert not np.any((case.labels > 0) & ~roi)
    assert np.count_nonzero(case.heart_mask & ~roi) < 0.15 * np.count_nonzero(case.heart_mask)


def test_heart_under_the_anterior_chest_wall_keeps_its_calcium():
    """train-cohort2 TRV1P9: the lungs do not wrap around the heart's anterior top, whose LAD lesions lie
    31-33 mm in front of the lungs' hull, under the chest wall. The ROI must still hold them (it lost 92
    voxels when the heart could reach only 20 mm beyond the hull) and stay a heart ROI (Dice >= 0.90)."""
    from cacscore.phantom import generate_case

    case = generate_case(685127619, "siemens")  # the train-cohort2 TRV1P9 configuration
    roi = heart_roi(case.volume)
    assert not np.any((case.labels > 0) & ~roi)
    assert _dice(roi, case.heart_mask) >= 0.90


def _twenty_cases():
    from cacscore.phantom import generate_case

    for i in range(20):
        case = generate_case(500 + i, VENDORS[i % 4], category=i % 5)
        yield i, case, heart_roi(case.volume)


@pytest.mark.slow
def test_twenty_phantom_cases_no_lost_lesion():
    """The issue's bar: every reference calcium voxel inside the ROI on 20 cases (4 vendors, all risk
    categories)."""
    for i, case, roi in _twenty_cases():
        lost = int(np.count_nonzero((case.labels > 0) & ~roi))
        assert lost == 0, f"case {i}: {lost} calcium voxels outside the ROI"


@pytest.mark.slow
def test_twenty_phantom_cases_dice():
    """The issue's bar: Dice >= 0.90 against the phantom's heart masks on each of the 20 cases."""
    dices = [_dice(roi, case.heart_mask) for _, case, roi in _twenty_cases()]
    assert min(dices) >= 0.90, dices


def test_real_qrm_scan_gives_the_insert_region(qrm_dicom_dir, qrm_reference):
    """The QRM thorax has lung-equivalent foam around a 'heart' cylinder holding the calcium inserts: the
    ROI is that cylinder (all inserts inside), a small part of the scan, and leaves the spine out."""
    from scipy import ndimage as ndi

    from cacscore.io import read_volume

    volume = read_volume(qrm_dicom_dir)
    roi = heart_roi(volume)
    assert 0.02 < roi.mean() < 0.15
    for name, insert in qrm_reference["inserts"].items():
        if not isinstance(insert, dict) or insert.get("center_row_col") is None:
            continue
        r, c = insert["center_row_col"]
        assert roi[21:24, r, c].all(), name
    # The spine replica: the largest connected region above 300 HU on slice 22 that is not an insert.
    lab, _ = ndi.label(volume.hu[22] > 300)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    spine = lab == int(np.argmax(sizes))
    assert spine.sum() > 500 and not np.any(spine & roi[22])


def test_scan_without_lungs_is_a_clear_error():
    hu = np.full((6, 128, 128), -1000.0, np.float32)
    yy, xx = np.mgrid[:128, :128]
    hu[:, (yy - 64) ** 2 + (xx - 64) ** 2 < 50**2] = 40.0  # a water cylinder: body without lungs
    volume = Volume(hu, (3.0, 1.0, 1.0))
    with pytest.raises(CacscoreError, match="no lungs"):
        heart_roi(volume)
    body = whole_body_roi(volume)
    assert body.sum() == 6 * np.count_nonzero((yy - 64) ** 2 + (xx - 64) ** 2 < 50**2)


def test_user_heart_mask(tmp_path):
    volume = Volume(np.zeros((3, 20, 20), np.float32), (3.0, 0.5, 0.5))
    mask = np.zeros(volume.shape, np.uint8)
    mask[1, 5:10, 5:10] = 7
    path = write_mask(mask, volume, tmp_path / "heart.nii.gz")
    got = load_heart_mask(path, volume)
    assert got.dtype == bool and got.sum() == 25
    write_mask(np.zeros_like(mask), volume, tmp_path / "empty.nii.gz")
    with pytest.raises(CacscoreError, match="empty"):
        load_heart_mask(tmp_path / "empty.nii.gz", volume)
    other = Volume(np.zeros((3, 21, 20), np.float32), (3.0, 0.5, 0.5))
    with pytest.raises(CacscoreError):
        load_heart_mask(path, other)


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        RoiSettings().margin_mm = 1.0  # type: ignore[misc]
