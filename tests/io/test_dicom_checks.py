"""DICOM series whose headers are damaged or absurd on every slice or on one: each is one CacscoreError
naming the file and field, never absurd HU, a shorter series or a traceback (issue 13, sections 1, 4, 5).
Where the image stays usable (a kVp that is no number), a warning is recorded instead."""

from __future__ import annotations

import os

import numpy as np
import pydicom
import pytest

from cacscore.io import read_volume, write_dicom_series
from cacscore.volume import Volume
from helpers import assert_read_error, dicom_files_in_slice_order, edit_dicom


def _smooth_volume(n: int = 7) -> Volume:
    """HU that vary smoothly from slice to slice (as anatomy does): air, a body disc, a bright rod, and the
    -2048 padding of the QRM scan in one corner (stored as -1024 with the writer's intercept of -1024)."""
    y, x = np.mgrid[0:24, 0:20]
    body = ((y - 12) / 10.0) ** 2 + ((x - 10) / 8.0) ** 2 <= 1
    hu = np.where(body, 40.0, -1000.0) + 20.0 * np.sin(0.7 * y) * np.cos(0.5 * x)
    hu[10:13, 9:12] = 500.0
    hu[:2, :2] = -2048.0
    stack = np.stack([hu + 5.0 * k for k in range(n)]).astype(np.float32)
    return Volume(np.round(stack), (3.0, 0.7, 0.7), (-10.0, -12.0, 40.0))


@pytest.fixture
def series(tmp_path) -> list:
    """The smooth volume as a DICOM series, files in slice order."""
    write_dicom_series(_smooth_volume(), tmp_path / "s")
    return dicom_files_in_slice_order(tmp_path / "s")


@pytest.mark.parametrize(("slope", "pattern"), [
    ("nan", r"RescaleSlope nan .* needs a finite slope > 0"),
    ("0", r"RescaleSlope 0 .* needs a finite slope > 0"),  # once silently taken as 1
    ("-1", r"RescaleSlope -1 .* needs a finite slope > 0"),
    ("1e30", r"holds values from .* beyond any CT scan's -33792\.\.32767 HU"),
    ("1000", r"holds values from .* beyond any CT scan's"),
])
@pytest.mark.parametrize("where", ["all", "one"])
def test_damaged_rescale_slope(tmp_path, series, slope, pattern, where):
    edit_dicom(series if where == "all" else [series[3]], RescaleSlope=slope)
    error = assert_read_error(tmp_path, tmp_path / "s", pattern)
    if where == "one":
        assert series[3].name in str(error)  # the damaged slice is named


@pytest.mark.parametrize(("intercept", "pattern"), [
    ("nan", r"RescaleIntercept nan"),
    ("1e30", r"beyond any CT scan's"),
    ("-1e30", r"beyond any CT scan's"),
])
def test_damaged_rescale_intercept(tmp_path, series, intercept, pattern):
    edit_dicom(series, RescaleIntercept=intercept)
    assert_read_error(tmp_path, tmp_path / "s", pattern)


def test_intercept_shifted_on_one_middle_slice(tmp_path, series):
    """Intercept -24 instead of -1024 on slice 3: its HU (base + 15 + 1000) lie 1005 and 995 HU from its
    neighbours' (base + 10, base + 20), which differ from each other by 10 HU: refused, naming the slice."""
    edit_dicom([series[3]], RescaleIntercept="-24")
    assert_read_error(tmp_path, tmp_path / "s", rf"{series[3].name} has a rescale .* jump by 995 HU")


def test_rescale_that_differs_per_slice_with_continuous_hu_is_read(tmp_path):
    """A scanner that rescales slice by slice stores values so that HU continue: read exactly."""
    volume = _smooth_volume()
    files = dicom_files_in_slice_order(write_dicom_series(volume, tmp_path / "s")[0].parent)
    for k, f in enumerate(files):
        slope, intercept = 1.0 + (k % 2), -1024.0 - 3 * k
        ds = pydicom.dcmread(f)
        stored = np.round((volume.hu[k] - intercept) / slope).astype(np.int16)
        ds.PixelData, ds.RescaleSlope, ds.RescaleIntercept = stored.tobytes(), f"{slope:g}", f"{intercept:g}"
        ds.save_as(f)
    read = read_volume(tmp_path / "s")
    # slope 2 rounds odd HU to the nearest even value after the intercept: within 1 HU
    np.testing.assert_allclose(read.hu, volume.hu, atol=1.0)


def test_pixel_representation_changed_on_one_slice(tmp_path, series):
    edit_dicom([series[2]], PixelRepresentation=0)
    assert_read_error(tmp_path, tmp_path / "s", r"the slices disagree on PixelRepresentation")


def test_pixel_representation_changed_on_every_slice(tmp_path, series):
    """The padding stored as -1024 (int16) reads as 64512 unsigned: 63488 HU, beyond any CT (the air,
    -1000 - 20 at its darkest, stays)."""
    edit_dicom(series, PixelRepresentation=0)
    assert_read_error(tmp_path, tmp_path / "s", r"holds values from -1020 to 63488")


def test_one_slice_of_another_modality(tmp_path, series):
    """Only the first file's Modality used to be checked."""
    edit_dicom([series[4]], Modality="MR")
    assert_read_error(tmp_path, tmp_path / "s", rf"{series[4].name} of series .* has modality MR, not CT")


@pytest.mark.parametrize("keep", [0, 60, 131, 400])
def test_truncated_last_slice_is_an_error_not_a_skipped_file(tmp_path, series, keep):
    """Cut to 0-400 bytes, the last slice was skipped as "not a DICOM image" and the scan scored on the
    others; named .dcm (or starting like DICOM), it is a damaged file."""
    series[-1].write_bytes(series[-1].read_bytes()[:keep])
    assert_read_error(tmp_path, tmp_path / "s", rf"{series[-1].name} is a damaged or truncated DICOM file")


def test_truncated_slice_without_a_dicom_name(tmp_path, series):
    """Without a .dcm ending, a file cut inside the 128 zero bytes of the preamble still says DICOM."""
    renamed = series[-1].with_name("IM0007")
    series[-1].rename(renamed)
    renamed.write_bytes(renamed.read_bytes()[:100])
    assert_read_error(tmp_path, tmp_path / "s", r"IM0007 is a damaged or truncated DICOM file")


@pytest.mark.parametrize(("spacing", "pattern"), [
    (["1e6", "1e6"], r"voxel spacing of \(3, 1e\+06, 1e\+06\) mm"),  # once Agatston 2.9e15
    (["0", "0"], r"PixelSpacing \[0, 0\]: a spacing is a positive number of mm"),
    (["-0.7", "0.7"], r"PixelSpacing \[-0\.7, 0\.7\]"),
    (["inf", "0.7"], r"PixelSpacing \[inf, 0\.7\]"),
    (["nan", "nan"], r"PixelSpacing \[nan, nan\]: a spacing is a positive"),  # not "mixes pixel spacings"
])
def test_pixel_spacing_outside_ct(tmp_path, series, spacing, pattern):
    edit_dicom(series, PixelSpacing=spacing)
    assert_read_error(tmp_path, tmp_path / "s", pattern)


@pytest.mark.parametrize("iop", [["0"] * 6, ["1", "0", "0", "1", "0", "0"], ["2", "0", "0", "0", "2", "0"]])
def test_orientation_zero_parallel_or_not_unit(tmp_path, series, iop):
    edit_dicom(series, ImageOrientationPatient=iop)
    pattern = r"ImageOrientationPatient .* not two perpendicular unit vectors"
    assert_read_error(tmp_path, tmp_path / "s", pattern)


def test_position_nan_on_one_slice(tmp_path, series):
    edit_dicom([series[5]], ImagePositionPatient=["-10", "nan", "55"])
    assert_read_error(tmp_path, tmp_path / "s", rf"{series[5].name} has ImagePositionPatient")


@pytest.mark.parametrize("kvp", ["nan", "inf", "-120", "1e9"])
def test_kvp_that_is_no_tube_voltage_is_ignored_with_a_warning(tmp_path, series, kvp):
    """round(kvp) used to raise on NaN; a kVp outside 40-200 kV is no tube voltage."""
    edit_dicom(series, KVP=kvp)
    volume = read_volume(tmp_path / "s")
    assert volume.info.kvp is None
    expected = f"KVP '{kvp}' is not a tube voltage in kV (40-200); ignored"
    assert any(expected in w for w in volume.info.warnings)


@pytest.mark.parametrize("where", ["one", "all"])
def test_rows_and_columns_65535_before_any_allocation(tmp_path, series, where):
    """65535 x 65535 pixels declared on 24 x 20 pixels' data: refused before anything is allocated (the
    7 slices would take 7 x 65535^2 x 8 bytes = 224 GiB in use)."""
    edit_dicom(series if where == "all" else [series[1]], Rows=65535, Columns=65535)
    pattern = r"declares 7 x 65535 x 65535 voxels, 224\.0 GiB" if where == "all" else r"mixes slice sizes"
    assert_read_error(tmp_path, tmp_path / "s", pattern)


@pytest.mark.parametrize("tag", [b"\x02\x00\x02\x00UI", b"\x02\x00\x10\x00UI"])
def test_damaged_meta_header(tmp_path, series, tag):
    """An unknown VR in the file meta header raised NotImplementedError from pydicom."""
    data = series[2].read_bytes()
    series[2].write_bytes(data.replace(tag, tag[:4] + b"ZZ", 1))
    assert_read_error(tmp_path, tmp_path / "s", rf"{series[2].name} is a damaged .*NotImplementedError")


def test_folder_of_symlink_loops_says_so(tmp_path):
    folder = tmp_path / "loops"
    folder.mkdir()
    os.symlink(folder / "a", folder / "b")
    os.symlink(folder / "b", folder / "a")
    assert_read_error(tmp_path, folder, r"holds no file, only 2 link\(s\) that lead nowhere")


def test_series_of_several_studies_are_not_chosen_among(tmp_path):
    write_dicom_series(_smooth_volume(), tmp_path / "tree" / "patient_a", study_uid="1.2.3.1")
    write_dicom_series(_smooth_volume(4), tmp_path / "tree" / "patient_b", study_uid="1.2.3.2",
                       series_uid="1.2.3.2.1")
    assert_read_error(tmp_path, tmp_path / "tree", r"2 series of 2 studies .* run `cacscore batch`")
    assert read_volume(tmp_path / "tree", series_uid="1.2.3.2.1").shape == (4, 24, 20)


def test_one_slice_of_another_study_is_read_with_a_warning(tmp_path, series):
    edit_dicom([series[2]], StudyInstanceUID="1.2.826.0.1.999")
    volume = read_volume(tmp_path / "s")
    assert volume.shape == (7, 24, 20)
    assert any(f"1 slice(s) of the series name another StudyInstanceUID (e.g. {series[2].name})" in w
               for w in volume.info.warnings)


def test_slices_without_rescale_fields_are_read_as_stored_with_a_warning(tmp_path, series):
    for f in series:
        ds = pydicom.dcmread(f)
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.save_as(f)
    volume = read_volume(tmp_path / "s")
    assert volume.hu.max() == 500.0 + 30.0 + 1024.0  # the rod of the last slice, stored = HU + 1024
    assert any("no RescaleSlope/RescaleIntercept" in w for w in volume.info.warnings)


def test_transfer_syntax_with_two_values_and_undecodable_pixels(tmp_path, series):
    """A damaged meta header whose TransferSyntaxUID holds two values ("1.2.840.10008.1\\2.1", the same
    length as Explicit VR Little Endian's): pydicom cannot decode the pixels, and the codec fallback asked
    the value for ``is_transfer_syntax`` (AttributeError on a MultiValue, found by the reader fuzz)."""
    data = series[3].read_bytes()
    series[3].write_bytes(data.replace(b"1.2.840.10008.1.2.1", b"1.2.840.10008.1\\2.1", 1))
    assert_read_error(tmp_path, tmp_path / "s", rf"{series[3].name}")
