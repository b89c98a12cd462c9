"""Image-file errors (missing .raw, truncated data, not an image, 2-D), orientation codes, the FOV clamp."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from cacscore.io import clamp_outside_fov, orientation_code, read_volume, write_dicom_series, write_volume
from cacscore.volume import Volume
from helpers import assert_read_error


def test_mhd_without_its_raw(tmp_path, oblique_volume):
    write_volume(oblique_volume, tmp_path / "ct.mhd")
    (tmp_path / "ct.raw").unlink()
    assert_read_error(tmp_path, tmp_path / "ct.mhd", r"the data file ct\.raw named by ct\.mhd is missing")


def test_mhd_with_truncated_raw(tmp_path, oblique_volume):
    write_volume(oblique_volume, tmp_path / "ct.mhd")
    raw = tmp_path / "ct.raw"
    raw.write_bytes(raw.read_bytes()[:100])
    assert_read_error(tmp_path, tmp_path / "ct.mhd", r"ct\.raw holds 100 bytes where ct\.mhd needs 1386")


def test_mhd_with_damaged_dimsize(tmp_path, oblique_volume):
    """A NUL byte inside the header's DimSize (found by the fuzz test) is a damaged header, one error."""
    write_volume(oblique_volume, tmp_path / "ct.mhd")
    header = tmp_path / "ct.mhd"
    text = header.read_text()
    line = next(t for t in text.splitlines() if t.startswith("DimSize"))  # "DimSize = nx ny nz"
    key, _, value = line.partition("= ")
    header.write_text(text.replace(line, key + "= " + value.replace(" ", "\x00", 1)))
    assert_read_error(tmp_path, header, r"ct\.mhd is a damaged MetaImage header \(DimSize")


def test_damaged_nifti(tmp_path):
    (tmp_path / "ct.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    pattern = r"cannot read .*ct\.nii\.gz: the file is damaged or not an image"
    assert_read_error(tmp_path, tmp_path / "ct.nii.gz", pattern)


def test_two_dimensional_image(tmp_path):
    sitk.WriteImage(sitk.Image(4, 5, sitk.sitkInt16), str(tmp_path / "slice.nrrd"))
    assert_read_error(tmp_path, tmp_path / "slice.nrrd", r"is a 2-D image; cacscore needs a 3-D volume")


def test_series_uid_with_an_image_file(tmp_path, oblique_volume):
    write_volume(oblique_volume, tmp_path / "ct.mha")
    assert_read_error(tmp_path, tmp_path / "ct.mha", r"a series UID applies to DICOM only", series_uid="1.2")


def test_single_dicom_file_path(tmp_path, oblique_volume):
    files = write_dicom_series(oblique_volume, tmp_path / "s")
    vol = read_volume(files[3])
    assert vol.shape == (1, 9, 11)
    np.testing.assert_array_equal(vol.hu[0], oblique_volume.hu[3])
    assert vol.spacing_zyx_mm[0] == 3.0  # SliceThickness stands in for a single slice's depth
    assert any("single slice" in w for w in vol.info.warnings)


@pytest.mark.parametrize(
    ("direction", "code"),
    [
        (np.eye(3), "LPS"),
        (np.diag([-1.0, 1.0, -1.0]), "RPI"),
        (np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]), "LSA"),  # coronal: y axis toward S, z toward A
    ],
)
def test_orientation_code(direction, code):
    assert orientation_code(direction) == code
    # SimpleITK's DICOM orientation filter names the same axes the same way (an independent reference)
    assert sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(tuple(direction.flatten())) == code


def test_clamp_outside_fov():
    hu = np.array([[[-2048.0, -1024.0, -1000.0, 130.0]]], dtype=np.float32)
    vol = Volume(hu, (3.0, 0.5, 0.5))
    clamped = clamp_outside_fov(vol)
    np.testing.assert_array_equal(clamped.hu, [[[-1024.0, -1024.0, -1000.0, 130.0]]])
    assert vol.hu[0, 0, 0] == -2048.0  # input untouched


def test_jpeg_lossless_series_decoded_without_pylibjpeg(tmp_path):
    """JPEG Lossless slices (written by GDCM) read to the HU that were written, via the GDCM fallback."""
    hu = np.arange(3 * 8 * 8, dtype=np.int16).reshape(3, 8, 8) * 7 - 1000
    folder = tmp_path / "jpeg"
    folder.mkdir()
    for k in range(3):
        image = sitk.GetImageFromArray(hu[k : k + 1])
        image.SetOrigin((5.0, 6.0, 20.0 + 2.5 * k))
        image.SetSpacing((0.6, 0.6, 2.5))
        for tag, value in {"0008|0060": "CT", "0028|1052": "-1024", "0028|1053": "1",
                           "0020|000e": "1.2.826.0.1.99.1", "0008|0016": "1.2.840.10008.5.1.4.1.1.2"}.items():
            image.SetMetaData(tag, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        writer.SetUseCompression(True)
        writer.SetCompressor("JPEG")  # GDCM: JPEG Lossless, Process 14 SV1
        writer.SetFileName(str(folder / f"im{k}.dcm"))
        writer.Execute(image)
    import pydicom

    ds = pydicom.dcmread(folder / "im0.dcm")
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.70"
    vol = read_volume(folder)
    np.testing.assert_array_equal(vol.hu, hu.astype(np.float32))
    np.testing.assert_allclose(vol.spacing_zyx_mm, (2.5, 0.6, 0.6), atol=1e-4)
