"""What a killed or interrupted run leaves, and what the next run makes of it (issue 13, section 5; issue 14,
item 12): stale staging folders are cleaned, a result parked by a kill mid-overwrite comes back, an
overwrite always shows the old or the new result, Ctrl-C stops the workers, a killed batch resumes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cacscore.case_folder import predict_to_folder
from cacscore.detection.pipeline import load_predictor
from cacscore.io import atomic
from helpers import assert_killed_batch_resumes, batch_command, predict_options, result_mtimes


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, helpers) -> tuple[Path, Path]:
    """(images, heart masks) of 4 small synthetic scans."""
    return helpers.write_cohort(tmp_path_factory.mktemp("resume"), 4, seed=300)


@pytest.fixture(scope="module")
def predictor(random_model_dir):
    return load_predictor(predict_options(random_model_dir, None))


def test_stale_staging_of_a_dead_process_is_cleaned_on_the_next_run(tmp_path, cohort, random_model_dir,
                                                                    predictor):
    images, masks = cohort
    out = tmp_path / "out"
    image = sorted(images.iterdir())[0]
    assert predict_to_folder(image, out, predict_options(random_model_dir, masks), predictor).status == "ok"
    dead = _dead_pid()
    for kind in ("partial", "old"):  # what a run killed while it wrote or replaced this case left
        stale = out / f".case_00.{kind}-{dead}"
        stale.mkdir()
        (stale / "result.json").write_text("{}")
    running = out / f".case_00.partial-{os.getppid()}"  # a live process's staging is left alone
    running.mkdir()
    outcome = predict_to_folder(image, out, predict_options(random_model_dir, masks), predictor)
    assert outcome.status == "skipped"
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [running.name]


def test_a_result_parked_by_a_kill_between_the_two_renames_comes_back(tmp_path, cohort, random_model_dir,
                                                                      predictor):
    """Where the system cannot swap folders, --overwrite parks the old result as .<id>.old-<pid>; a kill
    right then left the previous result only there, hidden. The next run puts it back (and skips it)."""
    images, masks = cohort
    out = tmp_path / "out"
    image = sorted(images.iterdir())[0]
    assert predict_to_folder(image, out, predict_options(random_model_dir, masks), predictor).status == "ok"
    before = (out / "case_00" / "result.json").read_text()
    (out / "case_00").rename(out / f".case_00.old-{_dead_pid()}")  # the state the kill left
    outcome = predict_to_folder(image, out, predict_options(random_model_dir, masks), predictor)
    assert outcome.status == "skipped"
    assert (out / "case_00" / "result.json").read_text() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("swap", [True, False])
def test_overwrite_always_shows_the_old_or_the_new_result(tmp_path, monkeypatch, swap):
    """replace_folder with the one-step swap (Linux), and without it: at every rename the target holds a
    complete result; a crash between the fallback's two renames is undone by recover_folder."""
    target, new = tmp_path / "case", tmp_path / ".case.partial-1"
    target.mkdir()
    (target / "result.json").write_text("old")
    new.mkdir()
    (new / "result.json").write_text("new")
    seen: list[str] = []
    real_replace = os.replace

    def watching_replace(src, dst):
        seen.append((target / "result.json").read_text() if target.exists() else "none")
        real_replace(src, dst)

    if not swap:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    monkeypatch.setattr(atomic.os, "replace", watching_replace)
    atomic.replace_folder(new, target)
    assert (target / "result.json").read_text() == "new"
    assert not new.exists() and not list(tmp_path.glob(".case.old-*"))
    if swap:
        assert seen == []  # no rename at all: renameat2 swapped the two folders
    else:
        assert seen == ["old", "none"]  # between the two renames only the parked .old holds a result ...
        (target / "result.json").write_text("kept")
        parked = tmp_path / f".case.old-{_dead_pid()}"
        real_replace(target, parked)  # ... a kill right there, then the next run:
        atomic.recover_folder(target)
        assert (target / "result.json").read_text() == "kept" and not parked.exists()


def test_killed_batch_resumes_without_redoing_finished_cases(tmp_path, cohort, random_model_dir):
    """The fast kill-and-resume (issue 14, item 12): 4 cases, SIGKILL to the whole group after the first."""
    images, masks = cohort
    assert_killed_batch_resumes(images, masks, random_model_dir, tmp_path / "out", kill_after=1)


#: Loaded at start-up by every Python process of the test's batch (the spawned workers too): each case then
#: marks that it started and takes 60 s, so a worker left running after Ctrl-C cannot go unnoticed.
_SLOW_CASES = """
import os, pathlib, time
from cacscore.detection import pipeline

def _slow(self, volume, heart_mask=None):
    pathlib.Path(os.environ["CACSCORE_TEST_STARTED"], str(os.getpid())).touch()
    time.sleep(60)

pipeline.Predictor.predict_volume = _slow
"""


def test_ctrl_c_stops_the_workers_of_batch(tmp_path, cohort, random_model_dir):
    """Ctrl-C on `batch --workers 2` printed "interrupted" while the workers ran on: with both workers in
    the middle of a (60 s) case, every process of the batch must be gone within 5 s of the Ctrl-C."""
    images, masks = cohort
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(_SLOW_CASES)
    started = tmp_path / "started"
    started.mkdir()
    path = os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, CACSCORE_TEST_STARTED=str(started))
    out = tmp_path / "out"
    process = subprocess.Popen(batch_command(images, out, random_model_dir, masks, "--workers", "2"),
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while len(list(started.iterdir())) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(started.iterdir())) == 2 and process.poll() is None, "both workers must be busy"
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole group
        _, err = process.communicate(timeout=30)
        interrupted = time.monotonic()
        while time.monotonic() - interrupted < 5:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break  # no process of the group is left
            time.sleep(0.05)
        else:
            pytest.fail("worker processes still run 5 s after the batch was interrupted")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "cacscore batch: interrupted", err
    assert not result_mtimes(out)


def test_batch_exits_2_when_a_case_fails_on_its_input(tmp_path, cohort, random_model_dir, helpers):
    images, masks = cohort
    folder = tmp_path / "cohort"
    shutil.copytree(images, folder)
    (folder / "case_99.nii.gz").write_bytes(b"not an image")
    code, _, err = helpers.run_cli(["-q", "batch", str(folder), "-o", str(tmp_path / "out"),
                                    "--model", str(random_model_dir), "--heart-mask", str(masks)])
    assert code == 2
    message = (f"cannot read {folder / 'case_99.nii.gz'}: the file is damaged or not an image (compressed "
               "data truncated or corrupt: BadGzipFile); copy or export it again")
    assert helpers.error_lines(err) == [f"cacscore batch: error: {message}"]
    record = json.loads((tmp_path / "out" / "case_99" / "error.json").read_text())
    assert record == {"case_id": "case_99", "error": message, "seconds": record["seconds"], "internal": False}
