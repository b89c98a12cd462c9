"""predict and batch on odd inputs: read-only input folders, nothing written next to inputs, very large and
very small volumes (each with the outcome it must have), damaged files through the CLI (one-line error,
exit 2, nothing written)."""

from __future__ import annotations

import contextlib
import csv
import json
import stat
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cacscore.io import read_mask, write_dicom_series, write_mask, write_volume
from cacscore.volume import ScanInfo, Volume
from helpers import error_lines, listing, run_cli


@contextlib.contextmanager
def _read_only(folder: Path):
    """chmod a-w on the folder tree (as root, as in CI, this does not stop writes: hence the listings)."""
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
    for p in modes:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield
    finally:
        for p, mode in sorted(modes.items(), key=lambda kv: -len(kv[0].parts)):
            p.chmod(mode)


def test_read_only_inputs_are_read_and_left_untouched(tmp_path, helpers, random_model_dir):
    inputs = tmp_path / "inputs"
    volume, heart = helpers.synthetic_scan(7)
    write_dicom_series(volume, inputs / "dicom_case")
    write_volume(volume, inputs / "mhd_case.mhd")  # header + .raw next to it
    write_volume(volume, inputs / "nii_case.nii.gz")
    masks = tmp_path / "masks"
    for case_id in ("dicom_case", "mhd_case", "nii_case"):
        write_mask(heart.astype(np.uint8), volume, masks / f"{case_id}.nii.gz")
    before = listing(inputs)
    with _read_only(inputs):
        during = listing(inputs)
        code, _, err = run_cli(["predict", str(inputs / "dicom_case"), str(inputs / "mhd_case.mhd"),
                                str(inputs / "nii_case.nii.gz"), "-o", str(tmp_path / "out"),
                                "--model", str(random_model_dir), "--heart-mask", str(masks)])
        assert code == 0, err
        code, _, err = run_cli(["batch", str(inputs), "-o", str(tmp_path / "out_batch"),
                                "--model", str(random_model_dir), "--heart-mask", str(masks)])
        assert code == 0, err
        assert listing(inputs) == during
    assert listing(inputs) == before
    for out in ("out", "out_batch"):
        assert sorted(p.name for p in (tmp_path / out).iterdir() if p.is_dir()) == [
            "dicom_case", "mhd_case", "nii_case"]


def test_output_inside_the_input_folder_is_refused(tmp_path, helpers, random_model_dir):
    volume, _ = helpers.synthetic_scan(8)
    write_volume(volume, tmp_path / "cohort" / "a.nii.gz")
    write_dicom_series(volume, tmp_path / "cohort" / "b")
    before = listing(tmp_path / "cohort")
    for out in (tmp_path / "cohort" / "b" / "out", tmp_path / "cohort" / "out"):
        code, _, err = run_cli(["batch", str(tmp_path / "cohort"), "-o", str(out),
                                "--model", str(random_model_dir)])
        assert code == 2 and "inside the input" in err and len(err.strip().splitlines()) == 1, err
    assert listing(tmp_path / "cohort") == before


def _scan(shape: tuple[int, int, int], body: bool) -> Volume:
    """40 HU soft tissue (inside a body ellipse surrounded by noisy air when ``body``), one 600 HU voxel."""
    nz, ny, nx = shape
    hu = np.full(shape, 40.0, np.float32)
    if body:
        y, x = np.mgrid[0:ny, 0:nx]
        outside = ((y - ny / 2) / (0.45 * ny)) ** 2 + ((x - nx / 2) / (0.45 * nx)) ** 2 > 1
        noise = np.random.default_rng(0).normal(0.0, 10.0, shape).astype(np.float32)
        hu = np.where(outside, -1000.0 + noise, hu).astype(np.float32)
    hu[nz // 2, ny // 2, nx // 2] = 600.0
    spacing = (3.0, 0.2, 0.2) if ny > 100 else (3.0, 1.2, 1.2)
    return Volume(hu, spacing, info=ScanInfo(modality="CT", kvp=120.0))


@pytest.mark.parametrize(
    ("shape", "body", "code", "message"),
    [
        ((1, 1, 1), True, 2, "too small to hold a heart"),
        ((2, 2, 2), True, 2, "too small to hold a heart"),
        ((42, 1, 512), True, 2, "slices of 1 x 512 pixels"),  # an axis order mixed up
        ((8, 64, 64), False, 0, "holds no air"),  # soft tissue only: scored with a warning (NIfTI: no unit)
        ((8, 1024, 1024), True, 0, None),  # a high-resolution reconstruction goes through
    ],
)
def test_very_small_and_very_large_volumes_through_predict(tmp_path, random_model_dir, shape, body, code,
                                                          message):
    volume = _scan(shape, body)
    image = write_volume(volume, tmp_path / "in" / "scan.nii.gz")
    mask = write_mask(np.ones(shape, np.uint8), volume, tmp_path / "heart.nii.gz")
    before = listing(tmp_path / "in")
    got, _, err = run_cli(["predict", str(image), "-o", str(tmp_path / "out"), "--model",
                           str(random_model_dir), "--heart-mask", str(mask)])
    assert got == code, err
    assert "Traceback" not in err
    if code == 2:
        assert error_lines(err) == [line for line in err.splitlines() if line]  # no warning lines either
        assert len(error_lines(err)) == 1 and message in err, err
        assert not (tmp_path / "out" / "scan").exists()
    else:
        labels = read_mask(tmp_path / "out" / "scan" / "calcium.nii.gz", like=volume)
        assert labels.shape == shape
        result = json.loads((tmp_path / "out" / "scan" / "result.json").read_text())
        warned = [w for w in result.get("warnings", []) if message and message in w]
        assert len(warned) == (1 if message else 0), result.get("warnings")
    assert listing(tmp_path / "in") == before


SUFFIXES = (".nii.gz", ".mha", ".nrrd", ".mhd")


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory, helpers) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("valid")
    volume, heart = helpers.synthetic_scan(9, shape=(4, 16, 16))
    files = {"masks": [write_mask(heart.astype(np.uint8), volume, root / "masks" / "scan.nii.gz").parent]}
    for suffix in SUFFIXES:
        path = write_volume(volume, root / f"scan{suffix}")
        files[suffix] = [path] + ([path.with_suffix(".raw")] if suffix == ".mhd" else [])
    return files


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from(SUFFIXES), cut=st.floats(0.0, 0.95), junk=st.binary(min_size=0, max_size=40),
       as_batch=st.booleans())
def test_cli_on_truncated_files_gives_one_line_and_writes_nothing(valid_files, random_model_dir, suffix, cut,
                                                                  junk, as_batch):
    """A file cut to 95 % or less of its bytes (plus up to 40 bytes of junk) has lost data: every format
    must refuse it, predict and batch alike (exit 2), and leave no case folder."""
    with tempfile.TemporaryDirectory() as tmp:
        cohort, out = Path(tmp) / "cohort", Path(tmp) / "out"
        cohort.mkdir()
        for f in valid_files[suffix]:
            data = f.read_bytes()
            damaged = data[: int(cut * len(data))] + junk if f == valid_files[suffix][-1] else data
            (cohort / f.name).write_bytes(damaged)
        before = listing(cohort)
        target = str(cohort) if as_batch else str(cohort / valid_files[suffix][0].name)
        masks = str(valid_files["masks"][0])
        code, _, err = run_cli(["batch" if as_batch else "predict", target, "-o", str(out),
                                "--model", str(random_model_dir), "--heart-mask", masks])
        assert code == 2, err
        assert "Traceback" not in err
        assert len(error_lines(err)) == 1 and error_lines(err)[0].startswith("cacscore "), err
        assert listing(cohort) == before
        rows = list(csv.DictReader((out / "summary.csv").open()))
        assert [(r["case_id"], r["status"]) for r in rows] == [("scan", "error")]
        assert not (out / "scan" / "result.json").exists()
        assert not [p for p in out.iterdir() if p.name.startswith(".")]
