"""A DICOM run leaves the patient's name and ID (and birth date, accession number) in no output but the SEG.

The source series carries distinctive values; after `cacscore predict` and `cacscore batch` every non-DICOM
output file and the log are searched for them (and for the parts of the name).
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from cacscore.cli.main import main
from cacscore.io import write_dicom_series, write_mask
from cacscore.privacy import find_phi, phi_values

NAME, PATIENT_ID = "Zyxwertz^Quilliam", "PID-83417265"


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
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-v", *argv])  # debug logging: the most the log ever says
    return code, out.getvalue() + err.getvalue()


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


def test_include_phi_is_documented_on_every_command_that_reads_dicom():
    for command in ("predict", "batch"):
        text = _help(command)
        assert "--include-phi" in text and "identifying" in text.replace("\n", " ")


def _help(command: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([command, "--help"])
    return out.getvalue()


def test_case_ids_come_from_file_names_never_from_dicom(dicom_cohort, tmp_path):
    from cacscore.case_folder import case_id_for

    root, _, _ = dicom_cohort
    renamed = tmp_path / "anon_case_7"
    shutil.copytree(root / "cohort" / "ct1", renamed)
    assert case_id_for(renamed) == "anon_case_7"
