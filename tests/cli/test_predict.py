"""``cacscore predict`` from the command line: outputs, summary, bad inputs (exit 2, nothing written)."""

from __future__ import annotations

import csv
import json

import pytest

from cacscore.cli.main import main
from cacscore.io import write_dicom_series, write_mask, write_volume
from cacscore.phantom import generate_case


def _scan(tmp_path, seed=9501, category=2):
    case = generate_case(seed, "canon", category=category)
    image = tmp_path / "in" / f"p{seed}.nii.gz"
    image.parent.mkdir(parents=True, exist_ok=True)
    write_volume(case.volume, image)
    heart = tmp_path / "in" / f"p{seed}_heart.nii.gz"
    write_mask(case.heart_mask, case.volume, heart)
    return image, heart, case


def test_predict_writes_case_folder_and_summary(tmp_path, capsys):
    image, heart, _ = _scan(tmp_path)
    out = tmp_path / "out"
    code = main(["-q", "predict", str(image), "-o", str(out), "--heart-mask", str(heart)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "LAD" in printed and "risk category" in printed and "report.html" in printed
    for name in ("calcium.nii.gz", "result.json", "report.html"):
        assert (out / "p9501" / name).is_file()
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["case_id"] for r in rows] == ["p9501"] and rows[0]["status"] == "ok"
    # again without --overwrite: skipped, still exit 0
    assert main(["-q", "predict", str(image), "-o", str(out), "--heart-mask", str(heart)]) == 0
    assert "skipped" in capsys.readouterr().out


def test_missing_input_exit_2_nothing_written(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", str(tmp_path / "nope.nii.gz"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "not found" in err and "Traceback" not in err
    assert not out.exists()


def test_damaged_input_exit_2_only_its_summary_row_written(tmp_path, capsys):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    out = tmp_path / "out"
    code = main(["predict", str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("cacscore predict: error: ") and "broken" in err
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]  # no case folder, no staging left
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["case_id"], r["status"]) for r in rows] == [("broken", "error")] and rows[0]["error"]
    assert bad.read_bytes() == b"\x1f\x8b not really gzip"


def test_one_bad_input_among_good_ones(tmp_path, capsys):
    image, heart, _ = _scan(tmp_path, seed=9502, category=0)
    bad = tmp_path / "in" / "bad.mhd"
    bad.write_text("not a header")
    out = tmp_path / "out"
    masks = tmp_path / "masks"
    masks.mkdir()
    heart.rename(masks / "p9502.nii.gz")
    code = main(["-q", "predict", str(image), str(bad), "-o", str(out), "--heart-mask", str(masks)])
    assert code == 2
    rows = {r["case_id"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows["p9502"]["status"] == "ok" and rows["bad"]["status"] == "error" and rows["bad"]["error"]
    assert not (out / "bad").exists()


def test_one_heart_mask_file_for_several_inputs_is_refused(tmp_path, capsys):
    image, heart, _ = _scan(tmp_path, seed=9503, category=0)
    code = main(["predict", str(image), str(image), "-o", str(tmp_path / "o"), "--heart-mask", str(heart)])
    assert code == 2 and "heart-mask" in capsys.readouterr().err


# ----- every input once, one error path (issue 13, sections 2, 4 and 5) ---------------------------------


def _synthetic(helpers, path, seed, n_slices):
    volume, _ = helpers.synthetic_scan(seed, shape=(n_slices, 64, 64))
    return write_volume(volume, path)


def test_colliding_stems_run_every_input_once(tmp_path, helpers, random_model_dir):
    """a/scan.nii.gz and b/scan.nii.gz: both used to be case "scan", the second skipped, summary.csv listing
    the first scan's scores twice. Each must run, under its own id, with its own scan's result."""
    a = _synthetic(helpers, tmp_path / "a" / "scan.nii.gz", 1, 12)
    b = _synthetic(helpers, tmp_path / "b" / "scan.nii.gz", 2, 16)
    code, _, err = helpers.run_cli(["-q", "predict", str(a), str(b), "-o", str(tmp_path / "out"),
                                    "--model", str(random_model_dir)])
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "out" / "summary.csv").open()))
    assert [(r["case_id"], r["status"]) for r in rows] == [("a_scan", "ok"), ("b_scan", "ok")]
    for case_id, n_slices in (("a_scan", 12), ("b_scan", 16)):
        result = json.loads((tmp_path / "out" / case_id / "result.json").read_text())
        assert result["scan"]["shape_zyx"] == [n_slices, 64, 64]


def test_an_internal_error_in_one_input_does_not_stop_the_others(tmp_path, helpers, random_model_dir,
                                                                 monkeypatch):
    """The first input hits a bug (here: a predictor that raises on 12-slice scans): the second still runs,
    summary.csv lists both, and the exit status says "internal error" (1)."""
    from cacscore.detection.pipeline import Predictor

    original = Predictor.predict_volume

    def flaky(self, volume, heart_mask=None):
        if volume.shape[0] == 12:
            raise ZeroDivisionError("a bug")
        return original(self, volume, heart_mask)

    monkeypatch.setattr(Predictor, "predict_volume", flaky)
    first = _synthetic(helpers, tmp_path / "in" / "first.nii.gz", 1, 12)
    second = _synthetic(helpers, tmp_path / "in" / "second.nii.gz", 2, 16)
    code, _, err = helpers.run_cli(["-q", "predict", str(first), str(second), "-o", str(tmp_path / "out"),
                                    "--model", str(random_model_dir)])
    assert code == 1
    assert helpers.error_lines(err) == [f"cacscore predict: error: {first}: internal error "
                                        "(ZeroDivisionError: a bug)"]
    rows = {r["case_id"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert rows["first"]["status"] == "error" and "ZeroDivisionError" in rows["first"]["error"]
    assert rows["second"]["status"] == "ok" and (tmp_path / "out" / "second" / "result.json").is_file()
    assert not (tmp_path / "out" / "first").exists()


@pytest.mark.parametrize("where", ["the input file", "an existing file", "the input's folder"])
def test_output_that_is_a_file_or_next_to_the_input_is_refused_before_any_work(tmp_path, helpers, where):
    """-o naming the input file failed after the whole inference; -o . wrote next to the input."""
    scan = _synthetic(helpers, tmp_path / "scan.nii.gz", 1, 12)
    (tmp_path / "notes.txt").write_text("x")
    out = {"the input file": scan, "an existing file": tmp_path / "notes.txt", "the input's folder": tmp_path}
    before = helpers.checksums(tmp_path)
    code, _, err = helpers.run_cli(["predict", str(scan), "-o", str(out[where]), "--model", "/nonexistent"])
    assert code == 2 and len(helpers.error_lines(err)) == 1, err
    assert "model folder" not in err  # refused before the model is even looked for
    assert helpers.checksums(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt", "scan.nii.gz"]


def test_patient_id_in_a_folder_name_is_not_printed(tmp_path, helpers, random_model_dir):
    """error.json and summary.csv redacted it; the stderr line showed it (the folder named after it)."""
    volume, _ = helpers.synthetic_scan(3)
    folder = tmp_path / helpers.PATIENT_ID
    files = write_dicom_series(volume, folder, patient_name=helpers.PATIENT_NAME,
                               patient_id=helpers.PATIENT_ID)
    files[5].unlink()  # a missing slice: the case fails, naming the folder
    code, _, err = helpers.run_cli(["predict", str(folder), "-o", str(tmp_path / "out"),
                                    "--model", str(random_model_dir)])
    assert code == 2 and len(helpers.error_lines(err)) == 1 and "missing slices" in err
    assert helpers.PATIENT_ID not in err and "[redacted]" in err
    assert helpers.PATIENT_ID not in (tmp_path / "out" / "summary.csv").read_text().split("\n", 2)[1].split(
        ",", 1)[1]  # the error column (the case id column is the folder's name, as the user named it)


@pytest.mark.parametrize("delay_s", [0.4, 1.0])
def test_ctrl_c_in_the_first_second_is_one_line(tmp_path, helpers, delay_s):
    """SIGINT while predict imports and loads its model: exit 130, one line, nothing written."""
    import signal
    import subprocess
    import sys
    import time

    scan = _synthetic(helpers, tmp_path / "in" / "scan.nii.gz", 1, 12)
    command = [sys.executable, "-c", "import sys; from cacscore.cli.main import main; sys.exit(main())",
               "predict", str(scan), "-o", str(tmp_path / "out")]  # what the console script runs
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay_s)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == ["cacscore predict: interrupted"], err
    assert not (tmp_path / "out" / "scan").exists()
