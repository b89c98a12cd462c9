"""Fuzz: truncated, corrupted and nonsense files, and wrong extensions, fed to every reader and the CLI.

Each reader must either read a valid Volume or raise CacscoreError (never another exception), and must
never write anything (the input folder is listed before and after). Hypothesis, bounded (max_examples ~50).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cacscore.errors import CacscoreError
from cacscore.io import read_mask, read_volume, write_dicom_series, write_volume
from cacscore.volume import ScanInfo, Volume
from helpers import listing, run_cli

FORMATS = (".mha", ".nii", ".nii.gz", ".nrrd", ".mhd", ".dcm")
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _volume() -> Volume:
    hu = np.random.default_rng(3).integers(-1000, 1500, (4, 8, 10)).astype(np.float32)
    return Volume(hu, (3.0, 0.7, 0.6), (-10.0, 5.0, 20.0), np.eye(3), ScanInfo(modality="CT", kvp=120.0))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, list[Path]]:
    """Valid files of every format: suffix -> the files making up one image (.mhd: header + data)."""
    root = tmp_path_factory.mktemp("seeds")
    volume = _volume()
    out: dict[str, list[Path]] = {}
    for suffix in FORMATS[:-1]:
        path = write_volume(volume, root / f"img{suffix}")
        out[suffix] = [path] + ([path.with_suffix(".raw")] if suffix == ".mhd" else [])
    dicom = write_dicom_series(volume, root / "dicom", patient_name="Fuzz^Case", patient_id="F1")
    out[".dcm"] = [sorted(dicom)[0]]
    out["dicom_folder"] = sorted(dicom)
    for files in out.values():
        assert all(f.is_file() for f in files), files
    return out


def _mutate(data: bytes, kind: str, position: float, payload: bytes) -> bytes:
    """truncate at a relative position / overwrite bytes there / replace by nonsense / empty."""
    at = int(position * len(data))
    if kind == "truncate":
        return data[:at]
    if kind == "overwrite":
        return data[:at] + payload + data[at + len(payload):]
    if kind == "nonsense":
        return payload
    return b""


def _check_read(target: Path, folder: Path) -> None:
    before = listing(folder)
    try:
        volume = read_volume(target)
    except CacscoreError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
    else:
        assert isinstance(volume, Volume)
        assert volume.hu.ndim == 3 and volume.hu.dtype == np.float32
    assert listing(folder) == before, "a reader wrote next to its input"


mutation = st.sampled_from(["truncate", "overwrite", "nonsense", "empty"])
positions = st.floats(0.0, 1.0)
payloads = st.binary(min_size=1, max_size=64)


@FUZZ
@given(fmt=st.sampled_from(FORMATS), which=st.integers(0, 1), kind=mutation, position=positions,
       payload=payloads)
def test_read_volume_on_damaged_files(seeds, fmt, which, kind, position, payload):
    files = seeds[fmt]
    damaged = files[which % len(files)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for f in files:
            data = f.read_bytes()
            (folder / f.name).write_bytes(_mutate(data, kind, position, payload) if f == damaged else data)
        _check_read(folder / files[0].name, folder)


@FUZZ
@given(content=st.sampled_from(FORMATS), name_as=st.sampled_from(FORMATS))
def test_read_volume_with_wrong_extension(seeds, content, name_as):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        target = folder / f"scan{name_as}"
        target.write_bytes(seeds[content][0].read_bytes())
        if name_as == ".mhd" and content != ".mhd":
            (folder / "scan.raw").write_bytes(b"\0" * 64)
        _check_read(target, folder)


@FUZZ
@given(index=st.integers(0, 3), kind=mutation, position=positions, payload=payloads,
       extra=st.binary(max_size=300))
def test_read_dicom_folder_with_a_damaged_slice_and_junk(seeds, index, kind, position, payload, extra):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "series"
        folder.mkdir()
        for i, f in enumerate(seeds["dicom_folder"]):
            data = f.read_bytes()
            (folder / f.name).write_bytes(_mutate(data, kind, position, payload) if i == index else data)
        (folder / "junk.bin").write_bytes(extra)
        _check_read(folder, folder)


@FUZZ
@given(fmt=st.sampled_from(FORMATS[:-1]), kind=mutation, position=positions, payload=payloads)
def test_read_mask_on_damaged_files(seeds, fmt, kind, position, payload):
    like = _volume()
    files = seeds[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for f in files:
            data = f.read_bytes()
            (folder / f.name).write_bytes(_mutate(data, kind, position, payload) if f == files[-1] else data)
        before = listing(folder)
        try:
            mask = read_mask(folder / files[0].name, like=like)
        except CacscoreError:
            pass
        else:
            assert mask.shape == like.shape
        assert listing(folder) == before


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(FORMATS), kind=mutation, position=positions, payload=payloads)
def test_cli_info_on_damaged_files(seeds, fmt, kind, position, payload):
    files = seeds[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for f in files:
            data = f.read_bytes()
            (folder / f.name).write_bytes(_mutate(data, kind, position, payload) if f == files[0] else data)
        before = listing(folder)
        code, _, err = run_cli(["info", str(folder / files[0].name)])
        assert code in (0, 2)
        assert "Traceback" not in err
        if code == 2:
            lines = [line for line in err.splitlines() if not line.startswith("WARNING")]
            assert len(lines) == 1 and lines[0].startswith("cacscore info: error:"), err
        assert listing(folder) == before


def test_seed_files_are_valid(seeds):
    """The fuzz starts from files that do read (else it would only test error paths): every image file as
    the whole 4 x 8 x 10 volume, a single DICOM file as its one slice, the DICOM folder as the volume."""
    expected = _volume()
    for fmt in FORMATS[:-1]:
        read = read_volume(seeds[fmt][0])
        assert read.shape == (4, 8, 10), fmt
        np.testing.assert_array_equal(read.hu, expected.hu)
    one_slice = read_volume(seeds[".dcm"][0])
    assert one_slice.shape == (1, 8, 10)
    np.testing.assert_array_equal(one_slice.hu[0], expected.hu[0])  # CT00001.dcm is slice 0
    folder = read_volume(seeds["dicom_folder"][0].parent)
    assert folder.shape == (4, 8, 10)
    np.testing.assert_array_equal(folder.hu, expected.hu)


@FUZZ
@given(fmt=st.sampled_from([".nii", ".nii.gz", ".mha", ".nrrd", ".mhd"]), position=st.floats(0.0, 0.999))
def test_truncated_image_files_are_refused_not_read_silently(seeds, fmt, position):
    """ITK's NIfTI reader fills a truncated file's missing voxels without a word: cacscore must refuse it."""
    files = seeds[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for f in files:
            data = f.read_bytes()
            (folder / f.name).write_bytes(data[: int(position * len(data))] if f == files[-1] else data)
        with pytest.raises(CacscoreError):
            read_volume(folder / files[0].name)
