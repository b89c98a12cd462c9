"""A 20-case cohort through `batch`: 2 local workers and a Dask LocalCluster give the same results as predict
case by case; a failing case is recorded without stopping the others; an interrupted run resumes without
redoing finished cases."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cacscore.batch import run_batch
from cacscore.case_folder import predict_to_folder
from cacscore.detection.pipeline import load_predictor
from cacscore.io import read_mask
from helpers import assert_killed_batch_resumes, predict_options, result_mtimes


@pytest.fixture(scope="module")
def reference(tmp_path_factory, random_model_dir, cohort20) -> Path:
    """predict, case by case, in this process: what every batch run must reproduce."""
    images, masks = cohort20
    out = tmp_path_factory.mktemp("reference")
    options = predict_options(random_model_dir, masks)
    predictor = load_predictor(options)
    for image in sorted(images.iterdir()):
        assert predict_to_folder(image, out, options, predictor=predictor).status == "ok"
    return out


def _assert_same_as_reference(helpers, out: Path, reference: Path) -> None:
    ids = sorted(p.name for p in reference.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(ids) == 20
    n_labelled = 0
    for case_id in ids:
        assert helpers.comparable(out / case_id / "result.json") == helpers.comparable(
            reference / case_id / "result.json"), case_id
        a = read_mask(out / case_id / "calcium.nii.gz")
        np.testing.assert_array_equal(a, read_mask(reference / case_id / "calcium.nii.gz"))
        n_labelled += int(a.any())
    assert n_labelled > 0  # the random model does label some candidates: the comparison is not of empties


def _summary_rows(out: Path) -> dict[str, dict]:
    with open(out / "summary.csv", newline="") as fh:
        return {row["case_id"]: row for row in csv.DictReader(fh)}


def test_two_local_workers_match_predict_case_by_case(
    tmp_path, random_model_dir, cohort20, reference, helpers
):
    images, masks = cohort20
    done = []
    report = run_batch(images, tmp_path / "out", predict_options(random_model_dir, masks), workers=2,
                       on_case_done=done.append)
    assert len(done) == 20 and not report.failed and not report.skipped
    _assert_same_as_reference(helpers, tmp_path / "out", reference)
    rows = _summary_rows(tmp_path / "out")
    assert sorted(rows) == [f"case_{i:02d}" for i in range(20)]
    assert {r["status"] for r in rows.values()} == {"ok"}
    assert all(float(r["seconds"]) > 0 for r in rows.values())
    index = (tmp_path / "out" / "index.html").read_text()
    assert all(f'href="case_{i:02d}/report.html"' in index for i in range(20))
    assert (tmp_path / "out" / "risk_categories.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_dask_local_cluster_matches_predict_case_by_case(
    tmp_path, random_model_dir, cohort20, reference, helpers
):
    from distributed import LocalCluster

    images, masks = cohort20
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = run_batch(images, tmp_path / "out", predict_options(random_model_dir, masks),
                           scheduler=cluster.scheduler_address)
        # the predictor was loaded once per worker process, not per case
        from cacscore.batch import runner

        with cluster.get_client() as client:
            loaded = client.run(lambda: len(runner._DASK_CACHE))
    assert len(report.outcomes) == 20 and not report.failed
    assert sorted(loaded.values()) == [1, 1]
    _assert_same_as_reference(helpers, tmp_path / "out", reference)


def test_a_failing_case_is_recorded_and_the_others_finish(tmp_path, random_model_dir, cohort20):
    images, masks = cohort20
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    for name in ("case_00.nii.gz", "case_01.nii.gz"):
        shutil.copy(images / name, cohort / name)
    (cohort / "case_broken.nii.gz").write_bytes(b"not a nifti file at all")
    report = run_batch(cohort, tmp_path / "out", predict_options(random_model_dir, masks), workers=1)
    assert [o.case_id for o in report.failed] == ["case_broken"]
    rows = _summary_rows(tmp_path / "out")
    assert rows["case_broken"]["status"] == "error" and rows["case_broken"]["error"]
    assert rows["case_00"]["status"] == rows["case_01"]["status"] == "ok"
    assert json.loads((tmp_path / "out" / "case_broken" / "error.json").read_text())["error"]
    # the next run retries the failed case only
    again = run_batch(cohort, tmp_path / "out", predict_options(random_model_dir, masks), workers=1)
    assert sorted(again.skipped) == ["case_00", "case_01"]
    assert [o.case_id for o in again.outcomes] == ["case_broken"]


def test_parts_then_whole_run_skips_finished_cases(tmp_path, random_model_dir, helpers):
    images, masks = helpers.write_cohort(tmp_path / "cohort", 7, seed=100)
    options = predict_options(random_model_dir, masks)
    first = run_batch(images, tmp_path / "out", options, num_parts=3, part_id=1)
    assert [o.case_id for o in first.outcomes] == ["case_01", "case_04"]
    assert first.summary.counts == {"ok": 2, "pending": 5}
    before = result_mtimes(tmp_path / "out")
    second = run_batch(images, tmp_path / "out", options)
    assert sorted(second.skipped) == sorted(before) == ["case_01", "case_04"]
    assert len(second.outcomes) == 5
    after = result_mtimes(tmp_path / "out")
    assert len(after) == 7 and all(after[k] == v for k, v in before.items())
    # --overwrite redoes finished cases
    third = run_batch(images, tmp_path / "out", dataclasses.replace(options, overwrite=True), num_parts=3,
                      part_id=1)
    assert len(third.outcomes) == 2 and not third.skipped
    assert all(result_mtimes(tmp_path / "out")[k] != v for k, v in before.items())


@pytest.mark.slow
def test_killed_batch_resumes_without_redoing_finished_cases(tmp_path, random_model_dir, cohort20):
    """The 20-case cohort killed after 2 cases (tests/batch/test_resume.py has a 4-case one by default)."""
    images, masks = cohort20
    assert_killed_batch_resumes(images, masks, random_model_dir, tmp_path / "out", kill_after=2)


def test_manifest_case_ids_name_the_output_folders(tmp_path, random_model_dir, helpers):
    """Two manifest rows whose images are both called scan.nii.gz go to out/<case_id>/, as listed."""
    images, masks = helpers.write_cohort(tmp_path / "cohort", 2, seed=101)
    rows = []
    for i, image in enumerate(sorted(images.iterdir())):
        target = tmp_path / f"site{i}" / "scan.nii.gz"
        target.parent.mkdir()
        shutil.copyfile(image, target)
        rows.append(f"patient-{i},{target},{masks / image.name}")
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("case_id,image,heart_mask\n" + "\n".join(rows) + "\n")
    report = run_batch(manifest, tmp_path / "out", predict_options(random_model_dir, None))
    assert [(o.case_id, o.status) for o in report.outcomes] == [("patient-0", "ok"), ("patient-1", "ok")]
    for case_id in ("patient-0", "patient-1"):
        result = json.loads((tmp_path / "out" / case_id / "result.json").read_text())
        assert result["case_id"] == case_id


def test_export_trees_and_manifest_folders_run_every_case_once(tmp_path, random_model_dir, helpers):
    """A DICOM export tree holding two patients' studies (6 and 4 slices) and a folder holding manifest.csv:
    each study, each listed case runs once, with its own scan's result."""
    from cacscore.io import write_dicom_series

    tree = tmp_path / "tree"
    for n_slices, study in ((6, "1.2.826.0.9.1"), (4, "1.2.826.0.9.2")):
        volume, _ = helpers.synthetic_scan(n_slices, shape=(n_slices, 64, 64))
        write_dicom_series(volume, tree / "export" / study, study_uid=study, series_uid=f"{study}.1")
    report = run_batch(tree, tmp_path / "out_tree", predict_options(random_model_dir, None))
    shapes = sorted(o.result["scan"]["shape_zyx"][0] for o in report.outcomes)
    assert len(report.outcomes) == 2 and not report.failed and shapes == [4, 6]
    cohort = tmp_path / "cohort"
    helpers.write_cohort(cohort, 2, seed=120)  # images/case_00.nii.gz, images/case_01.nii.gz
    rows = "first,images/case_00.nii.gz\nsecond,images/case_01.nii.gz\n"
    (cohort / "manifest.csv").write_text("case_id,image\n" + rows)
    report = run_batch(cohort, tmp_path / "out_manifest", predict_options(random_model_dir, None))
    assert [(o.case_id, o.status) for o in report.outcomes] == [("first", "ok"), ("second", "ok")]


def test_a_second_patient_in_an_export_tree_is_kept_out_of_messages(tmp_path, random_model_dir, helpers):
    """A damaged file in the second patient's folder (named after its PatientID) fails both studies of the
    tree (the reader refuses a tree holding a damaged DICOM file: it cannot tell whose slice it was); the
    tree's first image is the other patient's, yet both messages must keep the second patient's ID out."""
    from cacscore.io import write_dicom_series

    tree = tmp_path / "tree" / "export"
    volume, _ = helpers.synthetic_scan(5)
    write_dicom_series(volume, tree / "A-first", study_uid="1.2.826.0.8.1", patient_id="OTHER-4711")
    files = write_dicom_series(volume, tree / helpers.PATIENT_ID, study_uid="1.2.826.0.8.2",
                               patient_id=helpers.PATIENT_ID, patient_name=helpers.PATIENT_NAME)
    files[7].write_bytes(files[7].read_bytes()[:1000])
    report = run_batch(tmp_path / "tree", tmp_path / "out", predict_options(random_model_dir, None))
    failed = [o.error for o in report.failed]
    assert len(failed) == 2 and all("[redacted]/CT00008.dcm is a damaged or truncated" in e for e in failed)
    assert not [e for e in failed if helpers.PATIENT_ID in e]
    assert helpers.PATIENT_ID not in (tmp_path / "out" / "summary.csv").read_text()
