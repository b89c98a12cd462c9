"""Automatic heart ROI: on the phantom (calcium kept, the heart covered, not too large), the real QRM scan,
user masks."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.detection.heart_roi import RoiSettings, heart_roi, load_heart_mask, whole_body_roi
from cacscore.errors import CacscoreError
from cacscore.io import write_mask
from cacscore.volume import Volume

VENDORS = ("siemens", "philips", "ge", "canon")


def _coverage_and_size(roi: np.ndarray, heart: np.ndarray) -> tuple[float, float]:
    """(share of the phantom's heart mask inside the ROI, ROI volume / heart mask volume)."""
    return float(np.count_nonzero(roi & heart) / heart.sum()), float(roi.sum() / heart.sum())


def _assert_heart_roi(case, roi, label: str = "") -> None:
    """The ROI's bar on a phantom case: every reference calcium voxel inside it, at least 93 % of the heart
    mask (pericardial sac, coronaries, aortic root) inside it, and at most 1.6 times the heart's volume.
    The ROI is meant to be generous: it reaches the chest wall and the fat around the heart (the 20 slow
    cases: 95-100 % of the heart, 1.0-1.4 times its volume)."""
    lost = int(np.count_nonzero((case.labels > 0) & ~roi))
    coverage, size = _coverage_and_size(roi, case.heart_mask)
    assert lost == 0, f"{label}: {lost} calcium voxels outside the ROI"
    assert coverage >= 0.93, f"{label}: {coverage:.3f} of the heart inside the ROI"
    assert size <= 1.6, f"{label}: the ROI is {size:.2f} times the heart"


def test_one_phantom_case():
    from cacscore.phantom import generate_case

    case = generate_case(11, "ge", category=3)
    roi = heart_roi(case.volume)
    assert roi.shape == case.volume.shape and roi.dtype == bool
    _assert_heart_roi(case, roi, "seed 11")


@pytest.mark.xfail(
    strict=True,
    reason="open (docs/phantom.md, 'Heart ROI on the new phantom'): since the thin sleeves and veins (the "
    "anatomy stream moved) this case's LCX speck on slice 29 lies 0.4 mm outside the ROI's left edge "
    "(5 voxels); the ROI still finds the small field of view's heart",
)
def test_small_field_of_view_that_cuts_off_the_right_lung():
    """A field of view under 200 mm centred on the heart leaves the right lung only as air between the
    mediastinum and the edge of the reconstruction circle, outside the body's convex hull. That air is
    still lung (the body leaves the field of view on both sides of it)."""
    from cacscore.phantom import generate_case

    case = generate_case(798321446, "siemens")
    fov_mm = case.volume.shape[2] * case.volume.spacing_zyx_mm[2]
    assert fov_mm < 200.0
    _assert_heart_roi(case, heart_roi(case.volume), "small field of view")


def test_narrow_field_of_view_where_the_heart_rests_on_the_liver():
    """A siemens-preset case (seed 512) whose heart fills the field of view and rests on the liver: the
    liver is a soft-tissue part of its own, larger than the heart, with lung bases beside it. The largest
    part took the liver (ROI on slices 0-13, 48 calcium voxels lost); the heart-like part is the heart."""
    from cacscore.phantom import generate_case

    case = generate_case(512, "siemens", category=2)
    _assert_heart_roi(case, heart_roi(case.volume), "seed 512")


def test_chest_ct_with_a_fat_framed_heart_above_the_liver():
    """A 5 mm chest-protocol case (seed 7017) whose heart is framed by 20-30 mm of fat: neither the heart
    nor the liver below it has lung within 20 mm on both sides, and the ROI took the liver (all 60
    calcium voxels lost); the heart lies at the body's middle and the liver 13 mm right of it."""
    from cacscore.phantom import generate_case

    case = generate_case(7017, "random", category=2, protocol="chest")
    _assert_heart_roi(case, heart_roi(case.volume), "seed 7017")


_ROOT_REGRESSION = pytest.mark.xfail(
    strict=True,
    reason="since the phantom's aortic root is ringed by fat (commit of the visible root), the ROI's core "
    "stops at the root: seed 7042 keeps 0.919 of its heart mask (0.893 before the collar was broken where "
    "the atria press on the root; the ROI ends 9 mm above the highest coronary point, the sac's top 15 mm "
    "higher is lost; no calcium voxel), case 5 of the twenty 0.927. Reaching it with a longer cap (24 mm "
    "up) takes lung1's and lung2's ROI into the great vessels (slices 21 and 39, bounds 20 and 38): the "
    "phantom's chambers end at its root (lung1's reach 10-20 mm above it) while its sac and fat go on "
    "higher (issue 12 notes)",
)


@_ROOT_REGRESSION
def test_thick_epicardial_fat_is_inside_the_roi():
    """A siemens case (seed 7042) with epicardial fat 15-20 mm thick: a lesion in it lay beyond the margin
    of the soft-tissue core until the ROI followed the fat around the heart."""
    from cacscore.phantom import generate_case

    case = generate_case(7042, "siemens", category=3)
    _assert_heart_roi(case, heart_roi(case.volume), "seed 7042")


def _twenty_cases():
    from cacscore.phantom import generate_case

    for i in range(20):
        case = generate_case(500 + i, VENDORS[i % 4], category=i % 5)
        yield i, case, heart_roi(case.volume)


@pytest.mark.slow
@_ROOT_REGRESSION
def test_twenty_phantom_cases():
    """20 cases (4 vendor presets, all risk categories): every one meets the ROI's bar."""
    for i, case, roi in _twenty_cases():
        _assert_heart_roi(case, roi, f"case {i}")


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
