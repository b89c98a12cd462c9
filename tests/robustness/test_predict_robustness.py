"""predict and batch on odd inputs: read-only input folders, nothing written next to inputs, very large and
very small volumes, damaged files through the CLI (one-line error, exit 2, nothing written)."""

from __future__ import annotations

import contextlib
import io
import stat
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cacscore.cli.main import main
from cacscore.io import write_dicom_series, write_mask, write_volume
from cacscore.volume import ScanInfo, Volume


def _listing(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``folder`` with size, mtime and mode: any write, rename or chmod shows."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
    }


def _cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


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
    before = _listing(inputs)
    with _read_only(inputs):
        during = _listing(inputs)
        code, err = _cli(["predict", str(inputs / "dicom_case"), str(inputs / "mhd_case.mhd"),
                          str(inputs / "nii_case.nii.gz"), "-o", str(tmp_path / "out"),
                          "--model", str(random_model_dir), "--heart-mask", str(masks)])
        assert code == 0, err
        code, err = _cli(["batch", str(inputs), "-o", str(tmp_path / "out_batch"),
                          "--model", str(random_model_dir), "--heart-mask", str(masks)])
        assert code == 0, err
        assert _listing(inputs) == during
    assert _listing(inputs) == before
    for out in ("out", "out_batch"):
        assert sorted(p.name for p in (tmp_path / out).iterdir() if p.is_dir()) == [
            "dicom_case", "mhd_case", "nii_case"]


def test_output_inside_the_input_folder_is_refused(tmp_path, helpers, random_model_dir):
    volume, _ = helpers.synthetic_scan(8)
    write_volume(volume, tmp_path / "cohort" / "a.nii.gz")
    write_dicom_series(volume, tmp_path / "cohort" / "b")
    before = _listing(tmp_path / "cohort")
    code, err = _cli(["batch", str(tmp_path / "cohort"), "-o", str(tmp_path / "cohort" / "b" / "out"),
                      "--model", str(random_model_dir)])
    assert code == 2 and "inside" in err and len(err.strip().splitlines()) == 1
    assert _listing(tmp_path / "cohort") == before


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 2, 2), (8, 1024, 1024)])
def test_very_small_and_very_large_volumes_through_predict(tmp_path, random_model_dir, shape):
    hu = np.full(shape, 40.0, np.float32)
    centre = tuple(s // 2 for s in shape)
    hu[centre] = 600.0  # one bright voxel (a lesion when the pixels are large enough to pass 1 mm2)
    if shape[1] > 100:
        hu[3:5, 500:510, 500:512] = 450.0
    spacing = (3.0, 0.2, 0.2) if shape[1] > 100 else (3.0, 1.2, 1.2)
    volume = Volume(hu, spacing, info=ScanInfo(modality="CT", kvp=120.0))
    image = write_volume(volume, tmp_path / "in" / "scan.nii.gz")
    mask = write_mask(np.ones(shape, np.uint8), volume, tmp_path / "heart.nii.gz")
    before = _listing(tmp_path / "in")
    code, err = _cli(["predict", str(image), "-o", str(tmp_path / "out"), "--model", str(random_model_dir),
                      "--heart-mask", str(mask)])
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:  # a clear refusal is acceptable for a degenerate scan; nothing half-written then
        assert len([line for line in err.splitlines() if "error" in line]) == 1
        assert not (tmp_path / "out" / "scan").exists()
    else:
        from cacscore.io import read_mask

        labels = read_mask(tmp_path / "out" / "scan" / "calcium.nii.gz", like=volume)
        assert labels.shape == shape
    assert _listing(tmp_path / "in") == before


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
def test_cli_on_damaged_files_gives_one_line_and_writes_nothing(valid_files, random_model_dir, suffix, cut,
                                                                 junk, as_batch):
    with tempfile.TemporaryDirectory() as tmp:
        cohort, out = Path(tmp) / "cohort", Path(tmp) / "out"
        cohort.mkdir()
        for f in valid_files[suffix]:
            data = f.read_bytes()
            damaged = data[: int(cut * len(data))] + junk if f == valid_files[suffix][-1] else data
            (cohort / f.name).write_bytes(damaged)
        before = _listing(cohort)
        target = str(cohort) if as_batch else str(cohort / valid_files[suffix][0].name)
        code, err = _cli(["batch" if as_batch else "predict", target, "-o", str(out),
                          "--model", str(random_model_dir), "--heart-mask", str(valid_files["masks"][0])])
        assert "Traceback" not in err
        assert _listing(cohort) == before
        if as_batch:
            assert code in (0, 1)  # 1: the case failed and is listed in summary.csv
            assert (out / "summary.csv").is_file()
        else:
            assert code in (0, 2)
            if code == 2 or not (out / "scan" / "result.json").exists():
                assert not (out / "scan").exists()
