"""Odd but real inputs at the I/O level: very large and very small volumes, a missing slice, mixed series."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from cacscore.errors import CacscoreError
from cacscore.io import read_mask, read_volume, write_dicom_series, write_mask, write_volume
from cacscore.io.seg import write_dicom_seg
from cacscore.labels import Artery
from cacscore.volume import ScanInfo, Volume


def _volume(shape, spacing=(3.0, 0.5, 0.5)) -> Volume:
    hu = np.full(shape, -50.0, np.float32)
    return Volume(hu, spacing, (-100.0, -120.0, 10.0), np.eye(3), ScanInfo(modality="CT", kvp=120.0))


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 2, 2), (1, 3, 2)])
def test_tiny_volumes_round_trip_every_format(tmp_path, shape):
    volume = _volume(shape)
    volume.hu.flat[0] = 400.0
    for suffix in (".nii.gz", ".mha", ".mhd", ".nrrd"):
        path = write_volume(volume, tmp_path / f"v{suffix}")
        back = read_volume(path)
        assert back.shape == shape and back.hu.flat[0] == 400.0
        labels = np.zeros(shape, np.uint8)
        labels.flat[0] = Artery.RCA
        mask = write_mask(labels, volume, tmp_path / f"m{suffix}")
        np.testing.assert_array_equal(read_mask(mask, like=back), labels)


def test_tiny_dicom_series_and_seg(tmp_path):
    volume = _volume((2, 2, 2))
    write_dicom_series(volume, tmp_path / "dicom")
    back = read_volume(tmp_path / "dicom")
    assert back.shape == (2, 2, 2)
    labels = np.zeros((2, 2, 2), np.uint8)
    labels[1, 1, 0] = Artery.LAD
    seg = pydicom.dcmread(write_dicom_seg(labels, back, tmp_path / "seg.dcm"))
    assert int(seg.NumberOfFrames) == 1  # empty frames are left out
    np.testing.assert_array_equal(seg.pixel_array.reshape(2, 2), labels[1] > 0)


def test_large_matrix_dicom_series_and_seg(tmp_path):
    """1024 x 1024 slices (high-resolution reconstructions) go through read and SEG unchanged."""
    volume = _volume((8, 1024, 1024), spacing=(3.0, 0.2, 0.2))
    volume.hu[3, 500:505, 600:610] = 650.0
    write_dicom_series(volume, tmp_path / "dicom")
    back = read_volume(tmp_path / "dicom")
    assert back.shape == (8, 1024, 1024)
    np.testing.assert_allclose(back.spacing_zyx_mm, (3.0, 0.2, 0.2), atol=1e-6)
    labels = np.where(back.hu >= 130, Artery.LCX, 0).astype(np.uint8)
    out = write_dicom_seg(labels, back, tmp_path / "seg.dcm")
    seg = pydicom.dcmread(out)
    assert (int(seg.Rows), int(seg.Columns), int(seg.NumberOfFrames)) == (1024, 1024, 1)
    assert int(seg.pixel_array.sum()) == 50


def test_missing_slice_is_a_clear_error(tmp_path):
    volume = _volume((6, 8, 8))
    files = sorted(write_dicom_series(volume, tmp_path / "dicom"))
    middle = min(files, key=lambda f: abs(float(pydicom.dcmread(f).ImagePositionPatient[2]) - (10.0 + 9.0)))
    middle.unlink()  # slice at z = 19 mm of 10, 13, ..., 25
    with pytest.raises(CacscoreError, match=r"(?i)missing|gap"):
        read_volume(tmp_path / "dicom")


def test_folder_with_mixed_series_reads_one_and_says_so(tmp_path):
    ct = _volume((5, 8, 8))
    other = _volume((3, 8, 8))
    write_dicom_series(ct, tmp_path / "mixed" / "a", series_description="calcium 3mm", study_uid="1.2.3")
    write_dicom_series(other, tmp_path / "mixed" / "b", series_description="scout", study_uid="1.2.3")
    volume = read_volume(tmp_path / "mixed")
    assert volume.shape == (5, 8, 8)  # the CT series with most slices
    assert volume.info.series_note and "2 series" in volume.info.series_note
    uid = pydicom.dcmread(next((tmp_path / "mixed" / "b").iterdir())).SeriesInstanceUID
    assert read_volume(tmp_path / "mixed", series_uid=uid).shape == (3, 8, 8)
