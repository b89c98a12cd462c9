"""The automatic heart ROI on the two real chest CTs (../shared/data/real-chest-ct), checked against the
anatomy read off the scans (voxel indices z, row, column; the pictures are in docs/reproduction.md):

- lung2 (61 slices of 5 mm from the upper abdomen to the thoracic inlet): slices 0-14 hold only the liver,
  stomach, spleen and kidneys; the heart's inferior wall rests on the liver at slices 16-17, its widest
  part is at slices 20-26 (centre of slice 24 at row 200, column 240), the aortic root and the top of the
  left atrium at 33-35, the great vessels above; the vertebral body's centre lies at row 318, column 255
  on slice 18 and row 318, column 225 on slice 24 (the spine is rotated).
- lung1 (48 slices of 5 mm): the heart from the liver dome at slice 0 to the aortic root at 12-14 (centre
  of slice 6 at row 300, column 280); the vertebral body's centre on slice 6 at row 440, column 256.
"""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.detection.heart_roi import heart_roi
from cacscore.scanner_changes import mirror_x


def _disc(volume, z: int, row: int, col: int, radius_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the pixels of slice ``z`` within ``radius_mm`` of (row, col)."""
    sy, sx = volume.spacing_zyx_mm[1:]
    rows, cols = np.ogrid[: volume.shape[1], : volume.shape[2]]
    inside = ((rows - row) * sy) ** 2 + ((cols - col) * sx) ** 2 <= radius_mm**2
    return np.nonzero(inside)


@pytest.fixture(scope="module")
def lung2(real_chest_ct):
    volume = real_chest_ct("lung2")
    return volume, heart_roi(volume)


@pytest.fixture(scope="module")
def lung1(real_chest_ct):
    volume = real_chest_ct("lung1")
    return volume, heart_roi(volume)


def test_lung2_heart_not_liver(lung2):
    _, roi = lung2
    slices = np.flatnonzero(roi.any(axis=(1, 2)))
    assert not roi[:15].any(), "the ROI reaches the abdomen-only slices 0-14"
    assert slices[0] >= 15 and slices[-1] <= 38
    assert all(roi[z].any() for z in range(18, 33)), "the heart's slices 18-32 must all hold ROI"


def test_lung2_roi_holds_the_heart_centre_and_not_the_spine(lung2):
    volume, roi = lung2
    rows, cols = _disc(volume, 24, 200, 240, 25.0)
    assert roi[24][rows, cols].all()
    for z, row, col in ((18, 318, 255), (24, 318, 225)):
        rows, cols = _disc(volume, z, row, col, 10.0)
        assert not roi[z][rows, cols].any(), f"the vertebral body is inside the ROI on slice {z}"


def test_lung1_roi_holds_the_heart_and_not_the_spine(lung1):
    volume, roi = lung1
    rows, cols = _disc(volume, 6, 300, 280, 25.0)
    assert roi[6][rows, cols].all()
    assert np.flatnonzero(roi.any(axis=(1, 2)))[-1] <= 20, "the ROI climbs into the great vessels"
    rows, cols = _disc(volume, 6, 440, 256, 10.0)
    assert not roi[6][rows, cols].any(), "the vertebral body is inside the ROI"


def test_the_same_patient_stored_mirrored_gets_the_mirrored_roi(lung2):
    """lung2 stored with its columns reversed (the x axis of the header reversed with them, so the patient
    is unchanged) must get the same ROI, mirrored: nothing of a patient's heart depends on how the array is
    stored. (With the working grid's crop at one end, mirroring moved every block by a pixel and the ROI's
    top by 6 slices; 512 columns in blocks of 3 leave 2, one cropped at each side, so it is exact.)"""
    volume, roi = lung2
    assert np.array_equal(heart_roi(mirror_x(volume))[:, :, ::-1], roi)
