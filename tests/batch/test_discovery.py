"""Batch input discovery, sharding for job arrays, and the done marker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cacscore.batch import BatchCase, discover_cases, is_done, select_part
from cacscore.errors import CacscoreError
from cacscore.io import write_dicom_series, write_volume
from cacscore.volume import ScanInfo, Volume


def _volume() -> Volume:
    return Volume(np.zeros((2, 4, 4), np.float32), (3.0, 0.7, 0.7), info=ScanInfo(modality="CT"))


def test_folder_of_cases(tmp_path):
    root = tmp_path / "cohort"
    write_dicom_series(_volume(), root / "patient_b")
    write_volume(_volume(), root / "a.nii.gz")
    write_volume(_volume(), root / "c.mhd")  # + c.raw, not a case of its own
    write_volume(_volume(), root / "d.nrrd")
    (root / ".hidden").mkdir()
    (root / "notes.txt").write_text("not a scan")
    cases = discover_cases(root)
    assert [c.case_id for c in cases] == ["a", "c", "d", "patient_b"]
    assert cases[1].input_path.name == "c.mhd" and cases[3].input_path.is_dir()


def test_manifest_cases_with_heart_masks(tmp_path):
    write_volume(_volume(), tmp_path / "img" / "scan1.nii.gz")
    write_volume(_volume(), tmp_path / "img" / "scan2.mha")
    write_volume(_volume(), tmp_path / "masks" / "h1.nii.gz")
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("case_id,image,heart_mask\nscan2,img/scan2.mha,\nscan1,img/scan1.nii.gz,masks/h1.nii.gz\n")
    cases = discover_cases(manifest)
    assert [c.case_id for c in cases] == ["scan1", "scan2"]
    assert cases[0].heart_mask_path == tmp_path / "masks" / "h1.nii.gz"
    assert cases[1].heart_mask_path is None


def test_manifest_case_ids_name_the_outputs(tmp_path):
    """A manifest's case_id is the case id, even when images share a name (the phantom's manifest layout
    has cases/<id>/dicom folders); an id that is not a plain folder name is refused."""
    write_volume(_volume(), tmp_path / "a" / "scan.nii.gz")
    write_volume(_volume(), tmp_path / "b" / "scan.nii.gz")
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("case_id,image\nP2,b/scan.nii.gz\nP1,a/scan.nii.gz\n")
    cases = discover_cases(manifest)
    assert [(c.case_id, c.input_path.parent.name) for c in cases] == [("P1", "a"), ("P2", "b")]
    manifest.write_text("case_id,image\n../up,a/scan.nii.gz\n")
    with pytest.raises(CacscoreError, match="case id"):
        discover_cases(manifest)


def test_discovery_errors(tmp_path):
    with pytest.raises(CacscoreError, match="does not exist"):
        discover_cases(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CacscoreError, match="no case"):
        discover_cases(tmp_path / "empty")
    write_volume(_volume(), tmp_path / "dup" / "x.nii.gz")
    write_volume(_volume(), tmp_path / "dup" / "x.mha")
    with pytest.raises(CacscoreError, match="same case id"):
        discover_cases(tmp_path / "dup")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CacscoreError):
        discover_cases(tmp_path / "file.txt")


@settings(max_examples=50, deadline=None)
@given(ids=st.sets(st.text("abcdefghij0123456789_", min_size=1, max_size=8), max_size=40),
       num_parts=st.integers(1, 7))
def test_parts_are_disjoint_cover_everything_and_follow_i_mod_k(ids, num_parts):
    cases = [BatchCase(i, None) for i in ids]
    parts = [select_part(list(reversed(cases)), num_parts, p) for p in range(num_parts)]
    seen = [c.case_id for part in parts for c in part]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    ordered = sorted(ids)
    for p, part in enumerate(parts):
        assert [c.case_id for c in part] == [x for i, x in enumerate(ordered) if i % num_parts == p]


def test_part_arguments_are_checked():
    with pytest.raises(CacscoreError):
        select_part([], 0, 0)
    with pytest.raises(CacscoreError):
        select_part([], 3, 3)


def test_done_marker(tmp_path):
    case = BatchCase("c1", tmp_path / "in")
    assert not is_done(case, tmp_path / "out")
    (tmp_path / "out" / "c1").mkdir(parents=True)
    (tmp_path / "out" / "c1" / "report.html").write_text("")
    assert not is_done(case, tmp_path / "out")
    (tmp_path / "out" / "c1" / "result.json").write_text("{}")
    assert is_done(case, tmp_path / "out")


# ----- every case once, none merged (issue 13, section 2) ---------------------------------------------


def test_a_folder_holding_manifest_csv_uses_it(tmp_path):
    """What `cacscore phantom --layout manifest` writes: cases/<id>/dicom and manifest.csv. The folder was
    taken as one DICOM case (cases/) holding eight patients' series."""
    root = tmp_path / "cohort"
    for case_id in ("p1", "p2", "p3"):
        write_dicom_series(_volume(), root / "cases" / case_id / "dicom")
    rows = "".join(f"{c},cases/{c}/dicom\n" for c in ("p3", "p1", "p2"))
    (root / "manifest.csv").write_text("case_id,image\n" + rows)
    cases = discover_cases(root)
    assert [(c.case_id, c.input_path.parent.name) for c in cases] == [(c, c) for c in ("p1", "p2", "p3")]


def test_a_dicom_export_tree_of_several_studies_is_one_case_per_study(tmp_path):
    """patient_a/ holds two patients' studies (a merged export), single/ one study: three cases; each study
    is read through its own series, never chosen among."""
    from cacscore.privacy import hashed_id

    root = tmp_path / "cohort"
    write_dicom_series(_volume(), root / "export" / "PAT1" / "SER1", study_uid="1.2.826.0.7.1",
                       series_uid="1.2.826.0.7.1.1")
    write_dicom_series(_volume(), root / "export" / "PAT2" / "SER1", study_uid="1.2.826.0.7.2",
                       series_uid="1.2.826.0.7.2.1")
    write_dicom_series(_volume(), root / "single", study_uid="1.2.826.0.7.3")
    cases = discover_cases(root)
    expected = sorted([(f"export-{hashed_id('1.2.826.0.7.1', 8)}", "1.2.826.0.7.1.1"),
                       (f"export-{hashed_id('1.2.826.0.7.2', 8)}", "1.2.826.0.7.2.1"), ("single", None)])
    assert [(c.case_id, c.series_uid) for c in cases] == expected


@pytest.mark.parametrize(("case_id", "pattern"), [
    ("summary.csv", "is the name of a file the output folder holds"),
    ("index.html", "is the name of a file the output folder holds"),
    ("x" * 300, "is 300 bytes long"),
])
def test_manifest_ids_that_cannot_name_a_case_folder(tmp_path, case_id, pattern):
    write_volume(_volume(), tmp_path / "a.nii.gz")
    (tmp_path / "cohort.csv").write_text(f"case_id,image\n{case_id},a.nii.gz\n")
    with pytest.raises(CacscoreError, match=rf"cohort\.csv: case id .*{pattern}"):
        discover_cases(tmp_path / "cohort.csv")
