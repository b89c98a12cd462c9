"""DICOM series: the real QRM scan pinned, round trips through write_dicom_series, and every bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from cacscore.errors import CacscoreError
from cacscore.io import orientation_code, read_volume, write_dicom_series
from cacscore.volume import Volume
from helpers import assert_read_error, edit_dicom, listing


def disc_mean(hu: np.ndarray, slices: range, centre_row_col: tuple[int, int], radius_px: int) -> float:
    rows, cols = np.mgrid[: hu.shape[1], : hu.shape[2]]
    disc = (rows - centre_row_col[0]) ** 2 + (cols - centre_row_col[1]) ** 2 <= radius_px**2
    return float(hu[slices.start : slices.stop][:, disc].mean())


def test_qrm_phantom_pin(qrm_dicom_dir, qrm_reference):
    vol = read_volume(qrm_dicom_dir)
    assert vol.shape == (47, 512, 512)
    np.testing.assert_allclose(vol.spacing_zyx_mm, (3.0, 0.488, 0.488), atol=1e-3)
    z = vol.index_to_physical(np.array([[k, 0, 0] for k in range(47)]))[:, 2]
    assert np.all(np.diff(z) > 0), "slices must be in ascending z"
    assert orientation_code(vol.direction) == "LPS"
    info = vol.info
    assert (info.modality, info.kvp, info.slice_thickness_mm, info.kernel) == ("CT", 120.0, 3.0, "FC12")
    assert info.slice_increment_mm == pytest.approx(3.0, abs=1e-3)
    assert info.manufacturer == "TOSHIBA"
    # Outside-FOV pixels are kept as stored (-2048), see docs/formats.md.
    assert vol.hu.min() == -2048.0
    # Water rod: a dark disc in the CCI insert, centred near row 176, column 234 on slices 31-33 (0-based,
    # ascending z), found by viewing the slices; radius 8 px stays inside the rod.
    water = disc_mean(vol.hu, range(31, 34), (176, 234), 8)
    assert water == pytest.approx(qrm_reference["water_rod_mean_hu"], abs=5)
    # Insert background: discs of radius 12 px between the inserts on the insert slices 21-23.
    centres = [(240, 250), (190, 240), (200, 320)]
    background = np.mean([disc_mean(vol.hu, range(21, 24), rc, 12) for rc in centres])
    assert background == pytest.approx(qrm_reference["insert_background_hu"]["mean"], abs=6)


def test_qrm_hu_equal_pydicom_modality_lut(qrm_dicom_dir):
    vol = read_volume(qrm_dicom_dir)
    for f in sorted(qrm_dicom_dir.iterdir())[:5]:
        ds = pydicom.dcmread(f)
        z = float(ds.ImagePositionPatient[2])
        k = round((z - vol.origin_xyz_mm[2]) / vol.spacing_zyx_mm[0])
        np.testing.assert_array_equal(vol.hu[k], apply_modality_lut(ds.pixel_array, ds).astype(np.float32))


def test_dicom_round_trip_oblique(tmp_path, oblique_volume):
    files = write_dicom_series(oblique_volume, tmp_path / "series")
    assert len(files) == 7
    back = read_volume(tmp_path / "series")
    np.testing.assert_array_equal(back.hu, oblique_volume.hu)
    np.testing.assert_allclose(back.spacing_zyx_mm, oblique_volume.spacing_zyx_mm, atol=1e-4)
    np.testing.assert_allclose(back.origin_xyz_mm, oblique_volume.origin_xyz_mm, atol=1e-4)
    np.testing.assert_allclose(back.direction, oblique_volume.direction, atol=1e-6)
    assert back.info.kvp == 120.0 and back.info.kernel == "Qr36d" and back.info.manufacturer == "Siemens"
    assert back.info.slice_thickness_mm == 3.0
    assert back.info.slice_increment_mm == pytest.approx(2.5, abs=1e-4)
    assert back.info.warnings == ()


def test_dicom_stored_values_and_hu_match_pydicom(tmp_path, oblique_volume):
    files = write_dicom_series(oblique_volume, tmp_path / "s")
    ds = pydicom.dcmread(files[0])
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    assert (float(ds.RescaleIntercept), float(ds.RescaleSlope)) == (-1024.0, 1.0)
    assert ds.pixel_array.dtype == np.int16
    np.testing.assert_array_equal(ds.pixel_array, oblique_volume.hu[0].astype(np.int16) + 1024)
    np.testing.assert_array_equal(apply_modality_lut(ds.pixel_array, ds), oblique_volume.hu[0])


def test_sorted_by_position_not_name_or_instance_number(tmp_path, oblique_volume):
    files = write_dicom_series(oblique_volume, tmp_path / "s")
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    order = [3, 0, 6, 1, 5, 2, 4]
    for new_index, k in enumerate(order):
        ds = pydicom.dcmread(files[k])
        ds.InstanceNumber = 7 - new_index
        ds.save_as(shuffled / f"a{new_index}.dcm")
    back = read_volume(shuffled)
    np.testing.assert_array_equal(back.hu, oblique_volume.hu)
    back_list = read_volume([shuffled / f"a{i}.dcm" for i in range(7)])
    np.testing.assert_array_equal(back_list.hu, oblique_volume.hu)


def test_z_descending_series_is_read_ascending(tmp_path):
    """A series written with z running toward the feet reads back ascending along the normal."""
    hu = np.arange(4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)
    flipped = np.diag([1.0, 1.0, -1.0])
    vol = Volume(hu, (2.0, 1.0, 1.0), (0.0, 0.0, 100.0), flipped)
    write_dicom_series(vol, tmp_path / "s")
    back = read_volume(tmp_path / "s")
    np.testing.assert_array_equal(back.hu, hu[::-1])
    np.testing.assert_allclose(back.direction, np.eye(3))
    np.testing.assert_allclose(back.origin_xyz_mm, (0.0, 0.0, 94.0))


def test_several_series_picks_ct_with_most_slices(tmp_path, oblique_volume):
    small = Volume(oblique_volume.hu[:3], oblique_volume.spacing_zyx_mm, oblique_volume.origin_xyz_mm,
                   oblique_volume.direction)
    write_dicom_series(oblique_volume, tmp_path / "study" / "a", series_uid="1.2.3.4", study_uid="1.2.3")
    write_dicom_series(small, tmp_path / "study" / "b", series_uid="1.2.3.5", study_uid="1.2.3")
    vol = read_volume(tmp_path / "study")
    assert vol.shape[0] == 7 and vol.info.series_uid == "1.2.3.4"
    assert "2 series found; read series 1.2.3.4 (7 slices" in vol.info.series_note
    assert vol.info.series_note in vol.info.warnings
    named = read_volume(tmp_path / "study", series_uid="1.2.3.5")
    assert named.shape[0] == 3
    pattern = r"series 9\.9 is not there; the series found are: 1\.2\.3\.4, 1\.2\.3\.5"
    with pytest.raises(CacscoreError, match=pattern):
        read_volume(tmp_path / "study", series_uid="9.9")


def test_non_dicom_files_in_folder_are_skipped_with_warning(tmp_path, oblique_volume):
    write_dicom_series(oblique_volume, tmp_path / "s")
    (tmp_path / "s" / "README.txt").write_text("exported by a viewer")
    vol = read_volume(tmp_path / "s")
    assert vol.shape == oblique_volume.shape
    expected = "skipped 1 file(s) that are not DICOM images (e.g. README.txt)"
    assert any(expected in w for w in vol.info.warnings)


# ---- bad inputs: one clear error each, nothing written -------------------------------------------------


def _series(tmp_path, volume, name="s"):
    return write_dicom_series(volume, tmp_path / name)


def _edit(files, k, **changes):
    edit_dicom([files[k]], **changes)


def test_missing_slice(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    files[3].unlink()
    pattern = r"missing slices: a gap of 5\.00 mm .* 2\.50 mm apart \(1 gap"
    assert_read_error(tmp_path, tmp_path / "s", pattern)


def test_duplicated_position(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    shutil.copy(files[2], tmp_path / "s" / "copy.dcm")
    _edit([tmp_path / "s" / "copy.dcm"], 0, SOPInstanceUID=pydicom.uid.generate_uid())
    assert_read_error(tmp_path, tmp_path / "s", r"1 duplicated slice position\(s\)")


def test_mixed_sizes(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    ds = pydicom.dcmread(files[1])
    ds.Rows = 8
    ds.PixelData = ds.PixelData[: 8 * 11 * 2]
    ds.save_as(files[1])
    assert_read_error(tmp_path, tmp_path / "s", r"mixes slice sizes: .* is 9x11, .* is 8x11")


def test_mixed_pixel_spacing(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    _edit(files, 4, PixelSpacing=["0.8", "0.9"])
    assert_read_error(tmp_path, tmp_path / "s", r"mixes pixel spacings")


def test_gantry_tilt(tmp_path):
    hu = np.zeros((5, 4, 4), np.float32)
    vol = Volume(hu, (2.0, 1.0, 1.0))
    files = _series(tmp_path, vol)
    # shift each slice along y by 2 mm x k: the positions progress at atan(2/2) = 45 degrees to the normal
    for k, f in enumerate(files):
        _edit([f], 0, ImagePositionPatient=[0.0, 2.0 * k, 2.0 * k])
    assert_read_error(tmp_path, tmp_path / "s", r"progress at 45\.0 degrees to their normal \(gantry tilt")


def test_non_ct_modality(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    for f in files:
        _edit([f], 0, Modality="MR")
    assert_read_error(tmp_path, tmp_path / "s", r"has modality MR, not CT")


def test_truncated_file(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    data = files[2].read_bytes()
    files[2].write_bytes(data[: len(data) - 50])
    assert_read_error(tmp_path, tmp_path / "s", rf"{files[2].name}.*truncated")


@pytest.mark.parametrize(
    ("good", "damaged", "pattern"),
    [
        # pydicom cannot decode the pixels and the UID is no transfer syntax at all (the codec fallback
        # must not raise on it)
        (b"1.2.840.10008.1.2.1", b"1.2\x00840.10008.1.2.1", r"cannot read the pixel data of .*CT"),
        # a control byte inside RescaleIntercept, a DS number pydicom hands on as text
        (b"-1024", b"-10\x014", r"a DICOM header value is damaged"),
    ],
)
def test_damaged_header_value(tmp_path, oblique_volume, good, damaged, pattern):
    """Header values damaged the way the reader fuzz test found them: one clear error each."""
    files = _series(tmp_path, oblique_volume)
    data = files[2].read_bytes()
    assert good in data
    files[2].write_bytes(data.replace(good, damaged, 1))
    assert_read_error(tmp_path, tmp_path / "s", pattern)


def test_header_truncated_file(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    data = files[2].read_bytes()
    files[2].write_bytes(data[:300])
    assert_read_error(tmp_path, tmp_path / "s", rf"{files[2].name} is a damaged or truncated DICOM file")


def test_wrong_path_and_empty_folder_and_no_dicom(tmp_path):
    assert_read_error(tmp_path, tmp_path / "nope", r"nope does not exist")
    (tmp_path / "empty").mkdir()
    assert_read_error(tmp_path, tmp_path / "empty", r"the folder .*empty is empty")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.txt").write_text("hello")
    assert_read_error(tmp_path, tmp_path / "text", r"no DICOM image found in .*text \(1 file")
    text_file = tmp_path / "text" / "notes.txt"
    assert_read_error(tmp_path, text_file, r"notes\.txt is neither a DICOM file nor an image")
    assert_read_error(tmp_path, [tmp_path / "text" / "notes.txt"], r"notes\.txt is not a DICOM file")


def test_write_dicom_series_refuses_non_empty_folder(tmp_path, oblique_volume):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("x")
    with pytest.raises(CacscoreError, match="already exists and is not an empty folder"):
        write_dicom_series(oblique_volume, tmp_path / "s")
    assert sorted(listing(tmp_path)) == ["s", "s/keep.txt"]


def test_ct_series_preferred_over_a_larger_non_ct_series(tmp_path, oblique_volume):
    write_dicom_series(oblique_volume, tmp_path / "study" / "mr", series_uid="1.2.3.9", study_uid="1.2.3")
    for f in (tmp_path / "study" / "mr").iterdir():
        _edit([f], 0, Modality="MR")
    small = Volume(oblique_volume.hu[:4], oblique_volume.spacing_zyx_mm, oblique_volume.origin_xyz_mm,
                   oblique_volume.direction)
    write_dicom_series(small, tmp_path / "study" / "ct", series_uid="1.2.3.1", study_uid="1.2.3")
    vol = read_volume(tmp_path / "study")
    assert vol.info.series_uid == "1.2.3.1" and vol.shape[0] == 4
    assert "1.2.3.9 (7 MR slices)" in vol.info.series_note


def test_mixed_orientation(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    _edit(files, 2, ImageOrientationPatient=["1", "0", "0", "0", "1", "0"])
    assert_read_error(tmp_path, tmp_path / "s", r"mixes slice orientations")


def test_slightly_irregular_increments_warn(tmp_path):
    vol = Volume(np.zeros((4, 3, 3), np.float32), (2.0, 1.0, 1.0))
    files = _series(tmp_path, vol)
    # positions 0, 2, 4.2, 6.2: steps 2.0, 2.2, 2.0 -> median 2.0, spread 10 %
    _edit(files, 2, ImagePositionPatient=["0", "0", "4.2"])
    _edit(files, 3, ImagePositionPatient=["0", "0", "6.2"])
    back = read_volume(tmp_path / "s")
    assert back.spacing_zyx_mm[0] == pytest.approx(2.0)
    assert any("slice increments vary from 2.000 to 2.200 mm" in w for w in back.info.warnings)


def test_non_unit_rescale_matches_pydicom_modality_lut(tmp_path, oblique_volume):
    files = _series(tmp_path, oblique_volume)
    for k, f in enumerate(files):  # a different slope/intercept per slice, as some scanners write
        _edit([f], 0, RescaleSlope=f"{0.5 + 0.25 * k}", RescaleIntercept=f"{-100.5 - k}")
    vol = read_volume(tmp_path / "s")
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f)
        np.testing.assert_allclose(vol.hu[k], apply_modality_lut(ds.pixel_array, ds), rtol=0, atol=1e-3)
    # and by hand for one voxel: stored x slope + intercept
    stored = int(pydicom.dcmread(files[2]).pixel_array[4, 5])
    assert vol.hu[2, 4, 5] == pytest.approx(stored * 1.0 - 102.5)


def test_position_rounding_is_not_tilt(tmp_path):
    """Two slices 0.5 mm apart whose x differs by 0.01 mm (1.1 degrees, but far below half a pixel)."""
    vol = Volume(np.zeros((2, 3, 3), np.float32), (0.5, 0.8, 0.8))
    files = _series(tmp_path, vol)
    _edit(files, 1, ImagePositionPatient=["0.01", "0", "0.5"])
    assert read_volume(tmp_path / "s").shape == (2, 3, 3)
