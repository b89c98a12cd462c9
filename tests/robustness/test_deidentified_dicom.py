"""Real de-identified DICOM (issue 13, section 3): the QRM scan's own Canon headers with what de-identifying
exports do to them (no StudyInstanceUID, UIDs that break the rules). predict used to score them, then
crash in the DICOM SEG writer after the first case with no output for any case, printing pydicom's "Invalid
value for VR UI" by the dozen. Every output must be written, the SEG included or explained, with at most
one warning line per case; the third-party warnings are counted in result.json."""

from __future__ import annotations

import json
import shutil

import pydicom

from helpers import checksums, dicom_files_in_slice_order, model_calling_every_candidate, run_cli

N_SCANS = 5


def _deidentify(folder, scan: int) -> None:
    for k, f in enumerate(dicom_files_in_slice_order(folder)):
        ds = pydicom.dcmread(f)
        del ds.StudyInstanceUID
        ds.SeriesInstanceUID = f"1.2.03.{scan}.abc"  # a leading zero and letters: not a valid UID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.03.{scan}.0{k}"
        ds.save_as(f)


def test_predict_on_deidentified_series_writes_every_output(tmp_path, qrm_small_series):
    # every candidate coronary, so that each case has calcium and a SEG to write: what is tested is the
    # SEG of a de-identified source (the shipped model rightly calls nothing of the QRM's inserts)
    model = model_calling_every_candidate(tmp_path / "model")
    scans = []
    for scan in range(1, N_SCANS + 1):
        folder = tmp_path / "in" / f"scan{scan}"
        shutil.copytree(qrm_small_series[0].parent, folder)
        _deidentify(folder, scan)
        scans.append(folder)
    before = checksums(tmp_path / "in")
    code, _, err = run_cli(["predict", *map(str, scans), "-o", str(tmp_path / "out"), "--model", str(model)])
    assert code == 0, err
    lines = err.splitlines()
    warning_lines = [line for line in lines if line.startswith("WARNING: scan")]
    assert len(warning_lines) <= N_SCANS, err  # at most one per case ...
    assert all(line.startswith("INFO: ") for line in lines if line not in warning_lines), err  # ... no other
    assert "UserWarning" not in err
    for folder in scans:
        case = tmp_path / "out" / folder.name
        assert {"calcium.nii.gz", "result.json", "report.html", "calcium_seg.dcm"} <= {f.name for f in
                                                                                       case.iterdir()}
        result = json.loads((case / "result.json").read_text())
        seg = pydicom.dcmread(case / "calcium_seg.dcm")
        generated = [w for w in result["warnings"] if "no StudyInstanceUID" in w]
        assert generated == [f"the source series has no StudyInstanceUID: the DICOM SEG names a generated "
                             f"study {seg.StudyInstanceUID}"]
        assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == f"1.2.03.{folder.name[-1]}.abc"
        counted = {r["source"]: r for r in result["third_party_warnings"] if "VR UI" in r["message"]}
        assert counted["pydicom"]["count"] >= 8  # one per slice's SOP Instance UID at least
        assert generated[0] in (case / "report.html").read_text()
    assert checksums(tmp_path / "in") == before
