"""A DICOM run leaves the patient's name and ID (and birth date, accession number) in no output but the SEG.

The source series carries distinctive values; after `cacscore predict` and `cacscore batch` every non-DICOM
output file and the log are searched for them (and for the parts of the name).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

import helpers
from cacscore.io import write_dicom_series, write_mask
from cacscore.privacy import REDACTED, find_phi, phi_values

NAME, PATIENT_ID = helpers.PATIENT_NAME, helpers.PATIENT_ID


def _dicom_case(helpers, folder: Path, masks: Path, seed: int) -> set[str]:
    """A synthetic scan as a DICOM series full of identifying fields; returns those values."""
    volume, heart = helpers.synthetic_scan(seed)
    files = write_dicom_series(volume, folder, patient_name=NAME, patient_id=PATIENT_ID)
    for f in files:
        ds = pydicom.dcmread(f)
        ds.PatientBirthDate = "19430817"
        ds.AccessionNumber = "ACC99172634"
        ds.OtherPatientIDs = "OTHER-55120987"
        ds.InstitutionName = "Hospital of Nowhere"
        ds.ReferringPhysicianName = "Referrer^Ophelia"
        ds.StudyDescription = "Calcium score of Zyxwertz"
        ds.save_as(f)
    # a reader sorting along the normal gives slice order; the mask is written on the volume's own grid
    write_mask(heart.astype(np.uint8), volume, masks / f"{folder.name}.nii.gz")
    return phi_values(pydicom.dcmread(files[0], stop_before_pixels=True))


def _run(argv: list[str]) -> tuple[int, str]:
    """``cacscore -v ARGV`` (debug logging: the most the log ever says): exit status, stdout + stderr."""
    code, out, err = helpers.run_cli(["-v", *argv])
    return code, out + err


def _non_dicom(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() != ".dcm"]


@pytest.fixture(scope="module")
def dicom_cohort(tmp_path_factory, helpers):
    root = tmp_path_factory.mktemp("phi")
    masks = root / "masks"
    values = set()
    for i in range(2):
        values |= _dicom_case(helpers, root / "cohort" / f"ct{i}", masks, seed=40 + i)
    # a third case that fails (a missing slice): its error message must not leak either
    _dicom_case(helpers, root / "cohort" / "ct_broken", masks, seed=42)
    victim = sorted((root / "cohort" / "ct_broken").iterdir())[5]
    victim.unlink()
    assert {NAME, PATIENT_ID, "Zyxwertz", "Quilliam", "19430817", "ACC99172634"} <= values
    return root, masks, values


def test_predict_and_batch_outputs_and_logs_hold_no_phi(dicom_cohort, random_model_dir):
    root, masks, values = dicom_cohort
    code, log_predict = _run(["predict", str(root / "cohort" / "ct0"), "-o", str(root / "out_predict"),
                              "--model", str(random_model_dir), "--heart-mask", str(masks)])
    assert code == 0, log_predict
    code, log_batch = _run(["batch", str(root / "cohort"), "-o", str(root / "out_batch"), "--workers", "1",
                            "--model", str(random_model_dir), "--heart-mask", str(masks)])
    assert code == 2, log_batch  # one case failed on its input (exit 2, as every user error)
    assert "ct_broken" in log_batch and "ct_broken" in (root / "out_batch" / "summary.csv").read_text()

    outputs = _non_dicom(root / "out_predict") + _non_dicom(root / "out_batch")
    names = {p.name for p in outputs}
    assert {"result.json", "report.html", "calcium.nii.gz", "summary.csv", "index.html",
            "risk_categories.png", "error.json"} <= names
    assert find_phi(outputs, values) == []
    logs = root / "logs.txt"
    logs.write_text(log_predict + log_batch)
    assert find_phi([logs], values) == []

    # the SEG is the one output that must carry the patient (so that PACS files it with the study):
    # the search does find the values where they are
    segs = sorted((root / "out_batch").rglob("*.dcm"))
    assert segs, "a DICOM input gives a DICOM SEG"
    hits = {value for _, value in find_phi(segs, {NAME, PATIENT_ID})}
    assert hits == {NAME.lower(), PATIENT_ID.lower()}
    seg = pydicom.dcmread(segs[0])
    assert "InstitutionName" not in seg and "StudyDescription" not in seg and "OtherPatientIDs" not in seg


@pytest.fixture(scope="module")
def named_slices_case(tmp_path_factory, helpers):
    """A DICOM case whose slice files are named after the patient (as some exports name them) and that fails:
    its missing-slice error message names two slice files, so it holds the patient's family name."""
    root = tmp_path_factory.mktemp("named")
    folder = root / "cohort" / "ct_named"
    volume, _ = helpers.synthetic_scan(43)
    files = write_dicom_series(volume, folder, patient_name=NAME, patient_id=PATIENT_ID)
    for i, f in enumerate(sorted(files)):
        f.rename(f.with_name(f"Zyxwertz_{i:04d}.dcm"))
    (folder / "Zyxwertz_0005.dcm").unlink()
    return root


def _batch_error(root: Path, out: str, model: Path, *flags: str) -> tuple[str, str, str]:
    """(error.json's message, summary.csv's error column, stderr: the error line batch prints) of a batch
    run over the failing case."""
    import csv
    import json

    code, stdout, stderr = helpers.run_cli(
        ["batch", str(root / "cohort"), "-o", str(root / out), "--model", str(model), *flags])
    assert code == 2, stdout + stderr  # a case failed on its input
    record = json.loads((root / out / "ct_named" / "error.json").read_text())
    with open(root / out / "summary.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    return record["error"], row["error"], stderr


def test_include_phi_keeps_identifying_values_in_batch_error_messages(named_slices_case, random_model_dir):
    """What ``--include-phi`` changes (README, "Use"): a failed case's error message (error.json,
    summary.csv, the line batch prints) has the source's identifying DICOM values replaced by [redacted];
    with the flag it keeps them."""
    gap = "a gap of 6.00 mm between {0}_0004.dcm and {0}_0006.dcm"
    redacted = _batch_error(named_slices_case, "out", random_model_dir)
    for text in redacted:
        assert gap.format(REDACTED) in text and "zyxwertz" not in text.lower(), text
    kept = _batch_error(named_slices_case, "out_phi", random_model_dir, "--include-phi")
    for text in kept:
        assert gap.format("Zyxwertz") in text and REDACTED not in text, text


@pytest.mark.parametrize("command", ["predict", "batch"])
def test_a_failing_case_logs_no_identifying_value_without_include_phi(
    command, named_slices_case, random_model_dir
):
    source = named_slices_case / "cohort" / ("ct_named" if command == "predict" else "")
    _, log = _run([command, str(source), "-o", str(named_slices_case / f"log_{command}"),
                   "--model", str(random_model_dir)])
    assert "ct_named" in log and "zyxwertz" not in log.lower(), log


def test_case_ids_come_from_file_names_never_from_dicom(dicom_cohort, tmp_path):
    from cacscore.case_folder import case_id_for

    root, _, _ = dicom_cohort
    renamed = tmp_path / "anon_case_7"
    shutil.copytree(root / "cohort" / "ct1", renamed)
    assert case_id_for(renamed) == "anon_case_7"
