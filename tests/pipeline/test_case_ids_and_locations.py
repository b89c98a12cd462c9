"""Case ids come from file names only; outputs never land inside or over an input."""

from __future__ import annotations

import os

import pytest

from cacscore.case_folder import check_output_folder, check_output_location, heart_mask_path_for
from cacscore.case_ids import MAX_CASE_ID_BYTES, case_id_for, case_ids_for, check_case_id
from cacscore.detection.pipeline import PredictOptions
from cacscore.errors import CacscoreError
from helpers import PATIENT_ID, PATIENT_NAME


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


# ----- one case-id policy (issue 13, sections 2 and 4) ----------------------------------------------------


def test_colliding_stems_get_distinct_ids_from_their_folders(tmp_path):
    """a/scan.nii.gz and b/scan.nii.gz were both case "scan": the second was skipped as done."""
    paths = [tmp_path / d / "scan.nii.gz" for d in ("a", "b")] + [tmp_path / "c" / "other.nii.gz"]
    for p in paths:
        p.parent.mkdir()
        p.write_bytes(b"")
    assert case_ids_for(paths) == ["a_scan", "b_scan", "other"]
    deeper = [tmp_path / "x" / "same" / "scan.nii.gz", tmp_path / "y" / "same" / "scan.nii.gz"]
    for p in deeper:
        p.parent.mkdir(parents=True)
        p.write_bytes(b"")
    assert case_ids_for(deeper) == ["x_same_scan", "y_same_scan"]


def test_the_same_input_twice_and_names_no_folder_tells_apart_are_errors(tmp_path):
    (tmp_path / "scan.nii.gz").write_bytes(b"")
    (tmp_path / "scan.mha").write_bytes(b"")
    with pytest.raises(CacscoreError, match="is given twice"):
        case_ids_for([tmp_path / "scan.nii.gz", tmp_path / "." / "scan.nii.gz"])
    with pytest.raises(CacscoreError, match=r"cannot be given distinct case ids \(scan"):
        case_ids_for([tmp_path / "scan.nii.gz", tmp_path / "scan.mha"])


@pytest.mark.parametrize("case_id", ["summary.csv", "INDEX.HTML", "risk_categories.png"])
def test_reserved_names_are_refused(case_id):
    with pytest.raises(CacscoreError, match="is the name of a file the output folder holds"):
        check_case_id(case_id)


@pytest.mark.parametrize("case_id", ["", ".", "..", ".hidden", "a/b", "a\\b", "tab\there"])
def test_ids_that_cannot_name_a_folder_are_refused(case_id):
    with pytest.raises(CacscoreError, match="cannot name an output folder"):
        check_case_id(case_id)


def test_over_long_ids_refused_when_chosen_and_shortened_when_derived(tmp_path):
    with pytest.raises(CacscoreError, match=r"is 300 bytes long, more than the 200"):
        check_case_id("p" * 300)
    long_file = tmp_path / ("s" * 243 + ".nii.gz")  # 250 characters: a folder name plus staging overflows
    long_file.write_bytes(b"")
    shortened = case_id_for(long_file)
    assert len(shortened.encode()) == MAX_CASE_ID_BYTES
    assert shortened.startswith("s" * 191 + "-") and shortened != case_id_for(tmp_path / ("s" * 244 + ".nii"))
    check_case_id(shortened)


def test_undecodable_bytes_and_control_characters_become_underscores(tmp_path):
    odd = tmp_path / os.fsdecode(b"scan\xff\x01.nii.gz")
    odd.write_bytes(b"")
    assert case_id_for(odd) == "scan__"


# ----- one output rule -------------------------------------------------------------------------------------


def test_output_folder_rule(tmp_path):
    scan = tmp_path / "scan.nii.gz"
    scan.write_bytes(b"x")
    dicom = tmp_path / "dicom"
    dicom.mkdir()
    with pytest.raises(CacscoreError, match="is the folder of the input"):  # -o . next to the input
        check_output_folder(tmp_path, [scan])
    with pytest.raises(CacscoreError, match="is a file, not a folder"):  # -o the input file itself
        check_output_folder(scan, [scan])
    with pytest.raises(CacscoreError, match="lies inside the input"):
        check_output_folder(dicom / "out", [dicom])
    check_output_folder(tmp_path / "out", [scan, dicom])  # a new folder beside them is fine


def test_identifying_values_are_removed_from_messages_but_not_from_uids():
    """The QRM scan's AccessionNumber is "458": it must go where it stands alone, and a generated UID that
    happens to hold the digits 458 must stay whole (a corrupted UID in result.json names no study)."""
    from cacscore.case_folder import _redacted

    uid = "1.2.826.0.1.3680043.8.498.23271670678973566623739597180516945895"
    surname = PATIENT_NAME.split("^")[0]
    values = {"458", surname, PATIENT_ID}
    text = f"/data/{PATIENT_ID}/{surname}2020/458/x.dcm: accession 458; study {uid}"
    expected = f"/data/[redacted]/[redacted]2020/[redacted]/x.dcm: accession [redacted]; study {uid}"
    assert _redacted(text, values) == expected
