"""Helpers shared by the tests of several folders (``import helpers``; tests/conftest.py puts this folder on
the path, and the ``helpers`` fixture hands the module to tests that take it as a fixture).

- A randomly initialised candidate model folder built through the models registry and checkpoint writer,
  a copy of the shipped model that calls every candidate coronary (for tests that need calcium labels
  on scans the shipped model scores 0), and small synthetic scans (soft tissue, a heart mask, a few
  calcified blobs) so that cohorts run in seconds.
- The planted patient identity of the privacy tests.
- What every robustness test checks: a listing of a folder (any write, rename or chmod shows), checksums
  of inputs, the CLI run in-process with its output, and a reader's one-line error.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from cacscore.errors import CacscoreError
from cacscore.volume import ScanInfo, Volume

#: A patient name and ID planted in DICOM inputs; no output but the DICOM SEG may contain them.
PATIENT_NAME = "Zyxwertz^Quilliam"
PATIENT_ID = "PID-83417265"


def random_candidate_model(folder: Path, seed: int = 0) -> Path:
    """A model folder with the candidate network's random (seeded) weights, as `cacscore train` writes."""
    import torch

    from cacscore.detection.classifier import CandidateInputSpec
    from cacscore.models import MODELS, build_model
    from cacscore.models.candidate_net import CLASS_CODES, CLASS_NAMES
    from cacscore.models.checkpoint import save_model_folder

    name = next(n for n, s in MODELS.items() if s.target.endswith("candidate_net:CandidateNet"))
    spec = CandidateInputSpec()
    torch.manual_seed(seed)
    model = build_model(name, n_features=spec.n_features).eval()
    return save_model_folder(
        folder, model, architecture=name, architecture_kwargs={"n_features": spec.n_features},
        config={"input_spec": spec.to_dict(), "inputs": spec.input_shapes(),
                "class_codes": list(CLASS_CODES), "class_names": list(CLASS_NAMES)},
    )


def model_calling_every_candidate(folder: Path, keep_vetoes: bool = False) -> Path:
    """A copy of the shipped model folder whose decision rule calls every candidate coronary (threshold
    0, and no anatomical veto unless ``keep_vetoes``): for tests of reading, validation and outputs that
    need calcium labels on scans the shipped model rightly scores 0 (the QRM phantom's inserts), and,
    with the vetoes kept, for tests of what anatomy rules out whatever the network calls."""
    import shutil

    from cacscore.detection.pipeline import shipped_model_dir

    shutil.copytree(shipped_model_dir(), folder)
    config = json.loads((folder / "config.json").read_text())
    config["decision"]["min_coronary_probability"] = 0.0
    if not keep_vetoes:
        config["decision"].update(require_fat=False, require_inside_cage=False, require_outside_bone=False)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


#: (seed, vendor, risk category) of the tiny phantom cases of the training tasks' tests (patients p0-p2).
TINY_PHANTOM = ((71, "siemens", 3), (72, "philips", 2), (73, "ge", 4))


def tiny_phantom_cohort(root: Path) -> list:
    """The :data:`TINY_PHANTOM` cases (30 slices) as NIfTI image, reference and heart mask in ``root``."""
    from cacscore.datasets import Case
    from cacscore.io import write_mask, write_volume
    from cacscore.phantom import generate_case

    out = []
    for i, (seed, vendor, category) in enumerate(TINY_PHANTOM):
        c = generate_case(seed, vendor, category=category, n_slices=30)
        image, labels, heart = root / f"c{i}.nii.gz", root / f"c{i}_R.nii.gz", root / f"c{i}_H.nii.gz"
        write_volume(c.volume, image)
        write_mask(c.labels, c.volume, labels)
        write_mask(c.heart_mask, c.volume, heart)
        out.append(Case(case_id=f"c{i}", image_path=image, label_path=labels, heart_mask_path=heart,
                        patient_id=f"p{i}", vendor=vendor))
    return out


def synthetic_scan(seed: int, shape=(16, 64, 64), spacing=(3.0, 0.7, 0.7)) -> tuple[Volume, np.ndarray]:
    """A small CT-like volume and its heart mask: body 40 HU, air around, 2-4 calcified blobs in the heart."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx]
    body = ((y - ny / 2) / (0.48 * ny)) ** 2 + ((x - nx / 2) / (0.48 * nx)) ** 2 <= 1
    hu = np.where(body, rng.normal(40, 12, shape), -1000.0 + rng.normal(0, 5, shape))
    heart = (((z - nz / 2) / (0.45 * nz)) ** 2 + ((y - ny / 2) / (0.3 * ny)) ** 2
             + ((x - nx / 2) / (0.3 * nx)) ** 2) <= 1
    inside = np.argwhere(heart)
    for _ in range(int(rng.integers(2, 5))):
        cz, cy, cx = inside[rng.integers(len(inside))]
        hu[max(cz - 1, 0):cz + 1, max(cy - 2, 0):cy + 2, max(cx - 2, 0):cx + 2] = rng.uniform(250, 700)
    volume = Volume(hu.astype(np.float32), spacing, (-20.0, -25.0, 100.0), np.eye(3),
                    ScanInfo(modality="CT", kvp=120.0))
    return volume, heart


def write_cohort(root: Path, n_cases: int, seed: int = 0) -> tuple[Path, Path]:
    """``n_cases`` scans ``root/images/case_NN.nii.gz`` with heart masks ``root/masks/case_NN.nii.gz``."""
    from cacscore.io import write_mask, write_volume

    images, masks = root / "images", root / "masks"
    for i in range(n_cases):
        volume, heart = synthetic_scan(seed + i)
        write_volume(volume, images / f"case_{i:02d}.nii.gz")
        write_mask(heart.astype(np.uint8), volume, masks / f"case_{i:02d}.nii.gz")
    return images, masks


def result_mtimes(out: Path) -> dict[str, int]:
    """Case id -> mtime (ns) of its result.json in an output folder: which cases are done, and when.

    Hidden folders are a running case's staging (``.<case>.partial-<pid>``, renamed into place when the case
    is done): they are not finished cases, and they may vanish between listing and stat."""
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/result.json")
            if not p.parent.name.startswith(".")}


def predict_options(model_dir: Path, heart_masks: Path | None, **kw):
    """PredictOptions on the CPU with a model folder and (optionally) a heart-mask folder."""
    from cacscore.detection.pipeline import PredictOptions

    return PredictOptions(model_dir=model_dir, heart_mask=heart_masks, device="cpu", **kw)


def comparable(result_json: Path) -> dict:
    """A result.json without the fields that legitimately differ between runs (timings)."""
    result = json.loads(result_json.read_text())
    result.pop("timings_s", None)
    return result



def listing(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``folder`` with size, mtime and mode: any write, rename or chmod shows."""
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns, p.lstat().st_mode)
        for p in sorted(folder.rglob("*"))
    }


def checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (the inputs' content, byte for byte)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``cacscore ARGV`` in this process: (exit status, stdout, stderr)."""
    from cacscore.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def error_lines(err: str) -> list[str]:
    """The lines of stderr that are not log lines (warnings, progress)."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith(("WARNING:", "INFO:"))]


def assert_read_error(root: Path, source, pattern: str, **kw) -> CacscoreError:
    """``read_volume(source)`` raises one line matching ``pattern`` and writes nothing under ``root``."""
    from cacscore.io import read_volume

    before = listing(root)
    with pytest.raises(CacscoreError, match=pattern) as info:
        read_volume(source, **kw)
    assert "\n" not in str(info.value)
    assert listing(root) == before
    return info.value


def dicom_files_in_slice_order(folder: Path) -> list[Path]:
    """The .dcm files of a folder sorted by slice position (ImagePositionPatient z; names may be hashes)."""
    import pydicom

    def z(f: Path) -> float:
        return float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2])

    return sorted((f for f in folder.iterdir() if f.suffix.lower() == ".dcm"), key=z)


def edit_dicom(files, **values) -> None:
    """Set header fields of DICOM files in place (a value of None deletes the field)."""
    import pydicom

    for f in files:
        ds = pydicom.dcmread(f)
        for key, value in values.items():
            if value is None:
                delattr(ds, key)
            else:
                setattr(ds, key, value)
        ds.save_as(f)


def batch_command(images: Path, out: Path, model_dir: Path, masks: Path, *extra: str) -> list[str]:
    """``cacscore batch`` as the console script runs it, for a subprocess (on the CPU, with heart masks)."""
    import sys

    return [sys.executable, "-c", "import sys; from cacscore.cli.main import main; sys.exit(main())",
            "batch", str(images), "-o", str(out), "--model", str(model_dir), "--heart-mask", str(masks),
            "--device", "cpu", *extra]


def wait_for_results(out: Path, process, n: int, timeout_s: float = 120) -> None:
    """Wait until ``n`` cases of ``out`` are done, the process ended, or ``timeout_s`` passed."""
    import time

    deadline = time.monotonic() + timeout_s
    while len(result_mtimes(out)) < n and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)


def assert_killed_batch_resumes(images: Path, masks: Path, model_dir: Path, out: Path,
                                kill_after: int) -> None:
    """SIGKILL a batch (its whole process group) once ``kill_after`` cases are done; then every case folder
    is complete or absent, and a new run does exactly the cases left, leaving no hidden staging."""
    import os
    import signal
    import subprocess

    from cacscore.batch import run_batch

    n_cases = len([p for p in images.iterdir() if p.name.endswith(".nii.gz")])
    process = subprocess.Popen(batch_command(images, out, model_dir, masks), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_results(out, process, kill_after)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    finished = result_mtimes(out)
    assert 0 < len(finished) < n_cases, "the run must be killed part-way for this test to mean anything"
    for folder in (p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        assert {"result.json", "report.html", "calcium.nii.gz"} <= {f.name for f in folder.iterdir()}, folder
    report = run_batch(images, out, predict_options(model_dir, masks))
    assert sorted(report.skipped) == sorted(finished)
    assert len(report.outcomes) == n_cases - len(finished) and not report.failed
    after = result_mtimes(out)
    assert len(after) == n_cases and all(after[k] == v for k, v in finished.items())
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # stale staging cleaned
