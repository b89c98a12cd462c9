"""Case ids come from file names only; outputs never land inside or over an input."""

from __future__ import annotations

import pytest

from cacscore.case_folder import case_id_for, check_output_location, heart_mask_path_for
from cacscore.detection.pipeline import PredictOptions
from cacscore.errors import CacscoreError


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("TRV1P1CTI.mhd", "TRV1P1CTI"),
        ("scan.nii.gz", "scan"),
        ("scan.NII.GZ", "scan"),
        ("scan.nii", "scan"),
        ("a.b.mha", "a.b"),
        ("vol.nrrd", "vol"),
    ],
)
def test_case_id_of_files(tmp_path, name, expected):
    path = tmp_path / name
    path.write_bytes(b"")
    assert case_id_for(path) == expected


def test_case_id_of_folder_is_its_name(tmp_path):
    folder = tmp_path / "patient-folder.nii.gz"  # a folder keeps its whole name
    folder.mkdir()
    assert case_id_for(folder) == "patient-folder.nii.gz"
    assert case_id_for(tmp_path / "series01") == "series01"


def test_output_inside_input_folder_is_refused(tmp_path):
    dicom = tmp_path / "dicom"
    dicom.mkdir()
    with pytest.raises(CacscoreError, match="inside the input"):
        check_output_location(dicom, dicom / "out" / "dicom")
    check_output_location(dicom, tmp_path / "out" / "dicom")


def test_case_folder_holding_the_input_is_refused(tmp_path):
    scan = tmp_path / "out" / "scan" / "scan.nii.gz"
    scan.parent.mkdir(parents=True)
    scan.write_bytes(b"x")
    with pytest.raises(CacscoreError, match="hold or replace the input"):
        check_output_location(scan, tmp_path / "out" / "scan")


def test_heart_mask_lookup(tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "case1.nii.gz").write_bytes(b"")
    options = PredictOptions(heart_mask=masks)
    assert heart_mask_path_for(options, "case1") == masks / "case1.nii.gz"
    with pytest.raises(CacscoreError, match="no heart mask for case case2"):
        heart_mask_path_for(options, "case2")
    assert heart_mask_path_for(PredictOptions(), "case1") is None
    with pytest.raises(CacscoreError, match="does not exist"):
        heart_mask_path_for(PredictOptions(heart_mask=tmp_path / "nope.nii.gz"), "c")


def test_options_are_validated():
    with pytest.raises(CacscoreError, match="mask format"):
        PredictOptions(mask_format="png")
    with pytest.raises(CacscoreError, match="engine"):
        PredictOptions(engine="tf")
