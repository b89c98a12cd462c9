"""Round trips through NIfTI, MetaImage (.raw and .zraw), .mha and NRRD keep array and geometry exactly."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from cacscore.errors import CacscoreError
from cacscore.io import read_mask, read_volume, write_mask, write_volume
from cacscore.volume import Volume

SUFFIXES = [".nii", ".nii.gz", ".mhd", ".mha", ".nrrd"]


def assert_same_geometry(a: Volume, b: Volume, atol: float = 1e-4) -> None:
    assert a.shape == b.shape
    np.testing.assert_allclose(a.spacing_zyx_mm, b.spacing_zyx_mm, atol=atol)
    np.testing.assert_allclose(a.origin_xyz_mm, b.origin_xyz_mm, atol=atol)
    np.testing.assert_allclose(a.direction, b.direction, atol=1e-5)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_volume_round_trip(tmp_path, oblique_volume, suffix):
    path = write_volume(oblique_volume, tmp_path / f"ct{suffix}")
    back = read_volume(path)
    assert_same_geometry(back, oblique_volume)
    np.testing.assert_array_equal(back.hu, oblique_volume.hu)
    assert back.hu.dtype == np.float32
    # integral HU are stored as int16 (MET_SHORT, as orCaScore images)
    assert sitk.ReadImage(str(path)).GetPixelID() == sitk.sitkInt16
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_mhd_compressed_zraw(tmp_path, oblique_volume):
    path = write_volume(oblique_volume, tmp_path / "ct.mhd", compress=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct.mhd", "ct.zraw"]
    header = path.read_text()
    assert "ElementDataFile = ct.zraw" in header
    assert "CompressedData = True" in header
    assert "ElementType = MET_SHORT" in header
    np.testing.assert_array_equal(read_volume(path).hu, oblique_volume.hu)


def test_mhd_header_names_final_raw(tmp_path, oblique_volume):
    write_volume(oblique_volume, tmp_path / "TRV1P1CTI.mhd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["TRV1P1CTI.mhd", "TRV1P1CTI.raw"]
    assert "ElementDataFile = TRV1P1CTI.raw" in (tmp_path / "TRV1P1CTI.mhd").read_text()


def test_non_integral_hu_stored_as_float(tmp_path, oblique_volume):
    vol = oblique_volume.with_hu(oblique_volume.hu + np.float32(0.25))
    path = write_volume(vol, tmp_path / "ct.nrrd")
    assert sitk.ReadImage(str(path)).GetPixelID() == sitk.sitkFloat32
    np.testing.assert_array_equal(read_volume(path).hu, vol.hu)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_mask_round_trip_with_grid_check(tmp_path, oblique_volume, suffix):
    labels = (np.arange(oblique_volume.hu.size) % 4).reshape(oblique_volume.shape).astype(np.uint8)
    path = write_mask(labels, oblique_volume, tmp_path / f"mask{suffix}")
    back = read_mask(path, like=oblique_volume)
    assert back.dtype.kind in "iu"
    np.testing.assert_array_equal(back, labels)
    image = sitk.ReadImage(str(path))
    assert image.GetPixelID() == sitk.sitkUInt8
    np.testing.assert_allclose(image.GetSpacing(), oblique_volume.spacing_zyx_mm[::-1], atol=1e-5)


def test_mask_int16_for_orcascore_submission(tmp_path, oblique_volume):
    labels = np.zeros(oblique_volume.shape, dtype=np.int16)
    labels[2, 3, 4] = 3
    path = write_mask(labels, oblique_volume, tmp_path / "sub.mhd", dtype=np.int16)
    assert "ElementType = MET_SHORT" in path.read_text()
    np.testing.assert_array_equal(read_mask(path), labels)


def test_read_mask_rejects_other_grid(tmp_path, oblique_volume):
    labels = np.zeros(oblique_volume.shape, dtype=np.uint8)
    path = write_mask(labels, oblique_volume, tmp_path / "mask.nii.gz")
    shifted = Volume(oblique_volume.hu, oblique_volume.spacing_zyx_mm,
                     (oblique_volume.origin_xyz_mm[0] + 1.0, *oblique_volume.origin_xyz_mm[1:]),
                     oblique_volume.direction)
    with pytest.raises(CacscoreError, match=r"not on the image's grid \(origin"):
        read_mask(path, like=shifted)
    spaced = Volume(oblique_volume.hu, (3.0, 0.7, 0.9), oblique_volume.origin_xyz_mm,
                    oblique_volume.direction)
    with pytest.raises(CacscoreError, match="spacing"):
        read_mask(path, like=spaced)
    turned = Volume(oblique_volume.hu, oblique_volume.spacing_zyx_mm, oblique_volume.origin_xyz_mm, np.eye(3))
    with pytest.raises(CacscoreError, match="direction differs"):
        read_mask(path, like=turned)
    smaller = Volume(oblique_volume.hu[1:], oblique_volume.spacing_zyx_mm, oblique_volume.origin_xyz_mm,
                     oblique_volume.direction)
    with pytest.raises(CacscoreError, match="shape"):
        read_mask(path, like=smaller)


def test_write_mask_bad_inputs_write_nothing(tmp_path, oblique_volume):
    with pytest.raises(CacscoreError, match="differs from the volume's"):
        write_mask(np.zeros((2, 2, 2), np.uint8), oblique_volume, tmp_path / "m.nii.gz")
    big = np.full(oblique_volume.shape, 300, dtype=np.int32)
    with pytest.raises(CacscoreError, match="do not fit uint8"):
        write_mask(big, oblique_volume, tmp_path / "m.mhd")
    with pytest.raises(CacscoreError, match="non-integer"):
        write_mask(np.full(oblique_volume.shape, 0.5), oblique_volume, tmp_path / "m.nrrd")
    with pytest.raises(CacscoreError, match=r"cannot write m\.png"):
        write_mask(np.zeros(oblique_volume.shape, np.uint8), oblique_volume, tmp_path / "m.png")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_previous_file_and_no_temporaries(tmp_path, oblique_volume, monkeypatch):
    target = tmp_path / "ct.mhd"
    write_volume(oblique_volume, target)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sitk, "WriteImage", boom)
    with pytest.raises(RuntimeError):
        write_volume(oblique_volume.with_hu(oblique_volume.hu + 1), target)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
