"""Fuzz ``cacscore predict`` with malformed inputs of every class issue 13 found, made from the real QRM scan
(its own Canon headers) and from the phantom, seeded.

Every damage states what must happen: REFUSED (exit 2 and one error line that says what is wrong), SAME
(exit 0 and the clean input's scores: a repair or a harmless oddity), SCORED (exit 0: the input changed
legitimately) or EITHER (random damage: exit 0 or 2). For every run, whatever it is: no traceback and no
internal error (exit 1); a refused case has no case folder and one summary row; a scored case has a
complete case folder and at most one warning line; the inputs are unchanged byte for byte; no hidden
staging is left. The default run tries each damage once; ``-m slow`` tries each many times with random
parameters (``N_VARIANTS`` each, a few hundred cases).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest

from cacscore.io import write_volume
from helpers import (
    checksums,
    dicom_files_in_slice_order,
    edit_dicom,
    error_lines,
    listing,
    model_calling_every_candidate,
    run_cli,
)

REFUSED, SAME, SCORED, EITHER = "refused", "same", "scored", "either"

#: Random variants of each damage in the slow run.
N_VARIANTS = 8

#: Seed of the fuzz (each variant draws from its own generator seeded by it, the damage and the variant).
SEED = 13


@dataclass(frozen=True)
class Damage:
    """One class of damage: which clean input it starts from, what it does, what must happen."""

    name: str
    seed: str  # "dicom" or an image ending: ".nii.gz", ".mha", ".mhd", ".zraw" (compressed .mhd), ".nrrd"
    apply: Callable[[Path, np.random.Generator], Path]  # damages the copy in place; returns the input
    expect: str
    message: str = ""  # regex the error line must match when REFUSED


# ----- DICOM damage (the small QRM series: real Canon headers, 8 slices) --------------------------------


def _edit(folder: Path, which: str, rng: np.random.Generator, **values) -> Path:
    """Set header values on every slice ("all") or on one inner slice ("one")."""
    files = dicom_files_in_slice_order(folder)
    edit_dicom(files if which == "all" else [files[int(rng.integers(1, len(files) - 1))]], **values)
    return folder


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _rescale(field: str, values):
    def apply(folder: Path, rng: np.random.Generator) -> Path:
        return _edit(folder, _pick(rng, ["all", "one"]), rng, **{field: _pick(rng, values)})
    return apply


def _intercept_shift_all(folder: Path, rng: np.random.Generator) -> Path:
    return _edit(folder, "all", rng, RescaleIntercept=str(int(_pick(rng, [1000, 1500, 2000]))))


def _intercept_shift_one(folder: Path, rng: np.random.Generator) -> Path:
    return _edit(folder, "one", rng, RescaleIntercept=str(int(_pick(rng, [700, 1000, -1500]))))


def _pixel_representation(folder: Path, rng: np.random.Generator) -> Path:
    return _edit(folder, _pick(rng, ["all", "one"]), rng, PixelRepresentation=0)


def _one_mr_slice(folder: Path, rng: np.random.Generator) -> Path:
    return _edit(folder, "one", rng, Modality=_pick(rng, ["MR", "PT", "OT"]))


def _truncated_slice(folder: Path, rng: np.random.Generator) -> Path:
    files = dicom_files_in_slice_order(folder)
    victim = files[-1] if rng.random() < 0.5 else _pick(rng, files)
    data = victim.read_bytes()
    victim.write_bytes(data[: int(rng.uniform(0.0, 0.99) * len(data))])
    return folder


def _pixel_spacing(folder: Path, rng: np.random.Generator) -> Path:
    value = _pick(rng, ["1e6", "0", "-1", "inf", "nan", "1e-9"])
    return _edit(folder, _pick(rng, ["all", "one"]), rng, PixelSpacing=[value, value])


def _orientation(folder: Path, rng: np.random.Generator) -> Path:
    iop = _pick(rng, [["0"] * 6, ["1", "0", "0", "1", "0", "0"], ["1", "0", "0", "0", "1", "nan"],
                      ["2", "0", "0", "0", "2", "0"]])
    return _edit(folder, "all", rng, ImageOrientationPatient=iop)


def _position_nan(folder: Path, rng: np.random.Generator) -> Path:
    return _edit(folder, "one", rng, ImagePositionPatient=_pick(rng, [["nan", "0", "0"], ["0", "inf", "10"]]))


def _kvp(folder: Path, rng: np.random.Generator) -> Path:
    return _edit(folder, "all", rng, KVP=_pick(rng, ["nan", "inf", "-120", "1e9"]))


def _huge_matrix(folder: Path, rng: np.random.Generator) -> Path:
    return _edit(folder, _pick(rng, ["all", "one"]), rng, Rows=65535, Columns=_pick(rng, [65535, 128]))


def _meta_header(folder: Path, rng: np.random.Generator) -> Path:
    victim = _pick(rng, dicom_files_in_slice_order(folder))
    data = victim.read_bytes()
    tag = _pick(rng, [b"\x02\x00\x02\x00UI", b"\x02\x00\x10\x00UI", b"\x02\x00\x12\x00UI"])
    victim.write_bytes(data.replace(tag, tag[:4] + b"ZZ", 1))
    return folder


def _deidentified(folder: Path, rng: np.random.Generator) -> Path:
    """What real de-identified exports look like: no StudyInstanceUID, UIDs that break the rules."""
    series = "1.2.03.4." + "".join(str(d) for d in rng.integers(0, 10, 6)) + ".abc"
    for k, f in enumerate(dicom_files_in_slice_order(folder)):
        ds = pydicom.dcmread(f)
        del ds.StudyInstanceUID
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.03.4.0{k}"
        ds.FrameOfReferenceUID = "01.x"
        ds.save_as(f)
    return folder


def _charset(folder: Path, rng: np.random.Generator) -> Path:
    return _edit(folder, "all", rng, SpecificCharacterSet=_pick(rng, ["ISO_IR 999", "NOT A CHARSET"]))


def _junk_files(folder: Path, rng: np.random.Generator) -> Path:
    (folder / "README.txt").write_text("exported by a viewer")
    junk = rng.integers(1, 256, int(rng.integers(200, 2000)), dtype=np.uint8)
    (folder / "index.db").write_bytes(junk.tobytes())
    return folder


def _other_study(folder: Path, rng: np.random.Generator) -> Path:
    """A second patient's series (another study) in a subfolder: never merged, never chosen among."""
    other = folder / "other_patient"
    other.mkdir()
    for k, f in enumerate(dicom_files_in_slice_order(folder)[:4]):
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.77", "1.2.826.0.1.99"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.99.{k}"
        ds.save_as(other / f.name)
    return folder


def _header_bytes(folder: Path, rng: np.random.Generator) -> Path:
    victim = _pick(rng, dicom_files_in_slice_order(folder))
    data = bytearray(victim.read_bytes())
    end = data.find(b"\xe0\x7f\x10\x00")  # the Pixel Data tag: damage the header before it only
    for _ in range(int(rng.integers(1, 6))):
        at = int(rng.integers(132, max(133, end)))
        data[at] = int(rng.integers(0, 256))
    victim.write_bytes(bytes(data))
    return folder


def _single_slice(folder: Path, rng: np.random.Generator) -> Path:
    keep = _pick(rng, dicom_files_in_slice_order(folder)[2:6])
    for f in dicom_files_in_slice_order(folder):
        if f != keep:
            f.unlink()
    return folder


def _non_utf8_path(path: Path, rng: np.random.Generator) -> Path:
    target = path.parent / os.fsdecode(b"scan\xff" + bytes(rng.integers(0x80, 0x100, 2, dtype=np.uint8))
                                       + os.fsencode(path.name))
    path.rename(target)
    return target


def _long_stem(path: Path, rng: np.random.Generator) -> Path:
    """A file name of 201-243 characters before its ending (the case id is shortened with a hash)."""
    target = path.with_name("s" * int(rng.integers(201, 244)) + "".join(path.suffixes))
    path.rename(target)
    return target


# ----- image-file damage (the small phantom volume) -------------------------------------------------------


def _header_lines(path: Path) -> tuple[list[str], bytes]:
    """A MetaImage header's lines and (for .mha) the data after them."""
    data = path.read_bytes()
    end = data.find(b"ElementDataFile")
    end = data.index(b"\n", end) + 1
    return data[:end].decode("latin-1").splitlines(), data[end:]


def _set_field(path: Path, key: str, value: str) -> None:
    """Set one field of a MetaImage header (ElementDataFile stays the last line, as the format wants)."""
    lines, rest = _header_lines(path)
    out = [ln for ln in lines if not ln.startswith(f"{key} ")]
    at = len(out) if key == "ElementDataFile" else len(out) - 1
    out.insert(at, f"{key} = {value}")
    path.write_bytes(("\n".join(out) + "\n").encode("latin-1") + rest)


def _non_finite_voxel(path: Path, rng: np.random.Generator) -> Path:
    from cacscore.io import read_volume

    volume = read_volume(path)
    hu = volume.hu.copy()
    index = tuple(int(rng.integers(n)) for n in hu.shape)
    hu[index] = _pick(rng, [np.nan, np.inf, -np.inf])
    for f in list(path.parent.iterdir()):
        f.unlink()
    write_volume(volume.with_hu(hu), path)
    return path


def _compressed_flag_on_raw(path: Path, rng: np.random.Generator) -> Path:
    _set_field(path, "CompressedData", "True")
    return path


def _compressed_size(path: Path, rng: np.random.Generator) -> Path:
    lines, _ = _header_lines(path)
    size = int(next(ln for ln in lines if ln.startswith("CompressedDataSize")).split("=")[1])
    _set_field(path, "CompressedDataSize", str(_pick(rng, [size * 10, size // 3, 0, size + 1])))
    return path


def _list_data(path: Path, rng: np.random.Generator) -> Path:
    _set_field(path, "ElementDataFile", _pick(rng, ["LIST", "LIST 2D", "slice%03d.raw 0 11 1"]))
    return path


def _truncated_data(path: Path, rng: np.random.Generator) -> Path:
    data_file = path if path.suffix in (".mha", ".nrrd") or path.name.endswith(".nii.gz") else (
        path.with_suffix(".zraw") if path.with_suffix(".zraw").exists() else path.with_suffix(".raw"))
    data = data_file.read_bytes()
    data_file.write_bytes(data[: int(rng.uniform(0.05, 0.97) * len(data))])
    return path


def _dim_size(path: Path, rng: np.random.Generator) -> Path:
    _set_field(path, "DimSize", _pick(rng, ["128 128 0", "4096 4096 256", "0 0 0", "65535 65535 65535"]))
    return path


def _dev_zero(path: Path, rng: np.random.Generator) -> Path:
    _set_field(path, "ElementDataFile", "/dev/zero")
    return path


def _element_spacing(path: Path, rng: np.random.Generator) -> Path:
    _set_field(path, "ElementSpacing", _pick(rng, ["1e6 1e6 3", "0 0 3", "nan nan nan", "1e-9 1e-9 1e-9"]))
    return path


def _nifti_pixdim(path: Path, rng: np.random.Generator) -> Path:
    import gzip

    data = bytearray(gzip.decompress(path.read_bytes()))
    axis = int(rng.integers(1, 4))
    data[76 + 4 * axis : 80 + 4 * axis] = struct.pack("<f", _pick(rng, [0.0, float("nan"), 1e-9, 1e6]))
    path.write_bytes(gzip.compress(bytes(data)))
    return path


def _nifti_dim(path: Path, rng: np.random.Generator) -> Path:
    import gzip

    data = bytearray(gzip.decompress(path.read_bytes()))
    axis = int(rng.integers(1, 4))
    data[40 + 2 * axis : 42 + 2 * axis] = struct.pack("<h", _pick(rng, [0, -5, 32000]))
    path.write_bytes(gzip.compress(bytes(data)))
    return path


def _degenerate_shape(path: Path, rng: np.random.Generator) -> Path:
    """The volume's axes mixed up into a slab of one row (42 x 1 x 512 in the issue)."""
    from cacscore.io import read_volume

    volume = read_volume(path)
    hu = volume.hu.reshape(volume.shape[0] * volume.shape[1], 1, volume.shape[2])
    for f in list(path.parent.iterdir()):
        f.unlink()
    write_volume(type(volume)(hu, volume.spacing_zyx_mm), path)
    return path


def _nrrd_sizes(path: Path, rng: np.random.Generator) -> Path:
    data = path.read_bytes()
    line = re.search(rb"sizes: [^\n]*", data).group(0)
    path.write_bytes(data.replace(line, _pick(rng, [b"sizes: 128 128 0", b"sizes: 9999 9999 9999"]), 1))
    return path


DAMAGES: tuple[Damage, ...] = (
    # a confident wrong score (issue 13 section 1)
    Damage("slope NaN / 1e30 / 1000 / 0 / -1", "dicom",
           _rescale("RescaleSlope", ["nan", "1e30", "1000", "0", "-1"]), REFUSED,
           r"RescaleSlope|beyond any CT|jump"),
    Damage("intercept NaN / 1e30", "dicom", _rescale("RescaleIntercept", ["nan", "1e30", "-1e30"]), REFUSED,
           r"RescaleIntercept|beyond any CT"),
    Damage("intercept shifted on every slice", "dicom", _intercept_shift_all, REFUSED, r"holds no air"),
    Damage("intercept shifted on one slice", "dicom", _intercept_shift_one, REFUSED, r"jump by"),
    Damage("PixelRepresentation changed", "dicom", _pixel_representation, REFUSED,
           r"disagree on PixelRepresentation|beyond any CT"),
    Damage("one slice of another modality", "dicom", _one_mr_slice, REFUSED,
           r"has modality (MR|PT|OT), not CT"),
    Damage("truncated slice", "dicom", _truncated_slice, REFUSED, r"damaged|truncated|cannot read"),
    Damage("PixelSpacing 1e6 / 0 / -1 / inf / NaN", "dicom", _pixel_spacing, REFUSED,
           r"PixelSpacing|voxel spacing|mixes pixel spacings"),
    Damage("NaN voxel (.mha)", ".mha", _non_finite_voxel, REFUSED, r"NaN or infinite"),
    Damage("NaN voxel (.mhd)", ".mhd", _non_finite_voxel, REFUSED, r"NaN or infinite"),
    Damage("NaN voxel (.nrrd)", ".nrrd", _non_finite_voxel, REFUSED, r"NaN or infinite"),
    Damage("NaN voxel (.nii.gz)", ".nii.gz", _non_finite_voxel, REFUSED, r"NaN or infinite"),
    Damage("CompressedData = True on raw data", ".mhd", _compressed_flag_on_raw, REFUSED,
           r"cannot be decompressed"),
    Damage("wrong CompressedDataSize", ".zraw", _compressed_size, REFUSED,
           r"CompressedDataSize|compressed data"),
    Damage("ElementDataFile LIST", ".mhd", _list_data, REFUSED, r"several files"),
    Damage("compressed data truncated", ".zraw", _truncated_data, REFUSED, r"truncated|decompress"),
    Damage("compressed .mha truncated", ".mha", _truncated_data, REFUSED, r"truncated|decompress"),
    Damage("NIfTI pixdim 0 / NaN / 1e-9", ".nii.gz", _nifti_pixdim, REFUSED, r"pixdim"),
    Damage("NIfTI dim 0", ".nii.gz", _nifti_dim, REFUSED, r"size|truncated|damaged"),
    Damage("degenerate 1-row slab", ".nii.gz", _degenerate_shape, REFUSED, r"too small to hold a heart"),
    # tracebacks (section 4)
    Damage("damaged meta header", "dicom", _meta_header, REFUSED, r"damaged"),
    Damage("Rows/Columns 65535", "dicom", _huge_matrix, REFUSED, r"declares|mixes slice sizes"),
    Damage("MHD DimSize 0 or huge", ".mhd", _dim_size, REFUSED, r"declares|holds \d+ bytes"),
    Damage("NRRD sizes 0 or huge", ".nrrd", _nrrd_sizes, REFUSED, r"declares"),
    Damage("ImageOrientationPatient zero or parallel", "dicom", _orientation, REFUSED,
           r"ImageOrientationPatient"),
    Damage("ImagePositionPatient NaN on one slice", "dicom", _position_nan, REFUSED, r"ImagePositionPatient"),
    Damage("ElementSpacing 1e6 / 0 / NaN / 1e-9", ".mha", _element_spacing, REFUSED,
           r"ElementSpacing"),
    Damage("ElementDataFile /dev/zero", ".mhd", _dev_zero, REFUSED, r"not a regular file"),
    Damage("path not UTF-8", ".nii.gz", _non_utf8_path, REFUSED, r"not UTF-8"),
    # repaired or harmless: the clean scores, with a warning where something was repaired
    Damage("kVp NaN", "dicom", _kvp, SAME),
    Damage("de-identified: no StudyInstanceUID, invalid UIDs", "dicom", _deidentified, SAME),
    Damage("unknown SpecificCharacterSet", "dicom", _charset, SAME),
    Damage("junk files beside the slices", "dicom", _junk_files, SAME),
    Damage("243-character file name", ".nii.gz", _long_stem, SAME),
    # a case must never be mixed up with another
    Damage("another patient's study in the folder", "dicom", _other_study, REFUSED, r"studies"),
    # legitimately different or random
    Damage("single slice", "dicom", _single_slice, EITHER),
    Damage("random header bytes", "dicom", _header_bytes, EITHER),
    Damage("random truncation (.nrrd)", ".nrrd", _truncated_data, REFUSED, r"cannot read|truncated|damaged"),
)


@pytest.fixture(scope="module")
def clean_inputs(tmp_path_factory, qrm_small_series, phantom_small_volume) -> dict[str, Path]:
    """The clean input of every seed kind (a DICOM folder, or an image file alone in its folder)."""
    root = tmp_path_factory.mktemp("clean")
    inputs = {"dicom": root / "dicom" / "scan"}
    shutil.copytree(qrm_small_series[0].parent, inputs["dicom"])
    volume, _ = phantom_small_volume
    for kind in (".nii.gz", ".mha", ".mhd", ".nrrd", ".zraw"):
        ending = ".mhd" if kind == ".zraw" else kind
        inputs[kind] = write_volume(volume, root / kind.strip(".") / f"scan{ending}",
                                    compress=kind in (".zraw", ".mha", ".nrrd"))
    return inputs


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """The model every predict here runs: one that calls every candidate coronary, so that the clean
    scans have calcium scores for a SAME damage to reproduce (the shipped model rightly scores the QRM's
    inserts 0; what is tested here is reading and validation, not the classifier)."""
    return model_calling_every_candidate(tmp_path_factory.mktemp("model") / "every-candidate")


@pytest.fixture(scope="module")
def clean_results(clean_inputs, model, tmp_path_factory) -> dict[str, dict]:
    """The clean inputs' result.json, what a SAME damage must reproduce."""
    out = tmp_path_factory.mktemp("clean-out")
    results = {}
    for kind, path in clean_inputs.items():
        code, _, err = run_cli(["-q", "predict", str(path), "-o", str(out / kind.strip(".")),
                                "--model", str(model)])
        assert code == 0, err
        results[kind] = json.loads((out / kind.strip(".") / "scan" / "result.json").read_text())
    assert results["dicom"]["agatston"]["total"] > 0, "the QRM inserts must score: SAME is no empty check"
    return results


def _copy(clean: Path, root: Path) -> Path:
    """A private copy of a clean input (its whole folder: a .mhd keeps its data file)."""
    target = root / "inputs" / clean.parent.name
    shutil.copytree(clean.parent, target)
    return target / clean.name


def _scores(result: dict) -> tuple:
    return (result["agatston"], result["volume_mm3"], len(result.get("lesions") or []))


def run_damage(damage: Damage, variant: int, root: Path, clean_inputs: dict, clean_results: dict,
               model: Path) -> str:
    """Damage a copy of the clean input, predict it, check every invariant; returns what happened."""
    rng = np.random.default_rng([SEED, DAMAGES.index(damage), variant])
    path = damage.apply(_copy(clean_inputs[damage.seed], root), rng)
    inputs = root / "inputs"
    before, listed = checksums(inputs), listing(inputs)
    out = root / "out"
    code, _, err = run_cli(["predict", str(path), "-o", str(out), "--model", str(model)])
    where = f"{damage.name} (variant {variant})"
    assert "Traceback" not in err, where
    assert code in (0, 2), f"{where}: exit {code} (1 is an internal error): {err}"
    assert checksums(inputs) == before and listing(inputs) == listed, f"{where}: an input changed"
    assert not [p.name for p in out.rglob(".*")], f"{where}: hidden staging left"
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert len(rows) == 1, f"{where}: {rows}"
    case = out / rows[0]["case_id"]
    if code == 2:
        lines = error_lines(err)
        assert len(lines) == 1 and lines[0].startswith("cacscore predict: error: "), f"{where}: {err}"
        assert err.count("\n") == 1, f"{where}: more than the one error line: {err}"
        assert not case.exists(), f"{where}: a refused case has a folder"
        assert rows[0]["status"] == "error"
        if damage.message:
            assert re.search(damage.message, lines[0]), f"{where}: {lines[0]}"
    else:
        assert {"result.json", "report.html", "calcium.nii.gz"} <= {f.name for f in case.iterdir()}, where
        assert len([ln for ln in err.splitlines() if ln.startswith("WARNING")]) <= 1, f"{where}: {err}"
        result = json.loads((case / "result.json").read_text())
        if damage.expect == SAME:
            assert _scores(result) == _scores(clean_results[damage.seed]), f"{where}: another score"
    expected = {REFUSED: (2,), SAME: (0,), SCORED: (0,), EITHER: (0, 2)}[damage.expect]
    assert code in expected, f"{where}: exit {code}, expected {damage.expect}: {err}"
    return "refused" if code == 2 else "scored"


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.name for d in DAMAGES])
def test_each_damage_once(damage, tmp_path, clean_inputs, clean_results, model):
    run_damage(damage, 0, tmp_path, clean_inputs, clean_results, model)


@pytest.mark.slow
def test_every_damage_with_random_parameters(tmp_path, clean_inputs, clean_results, model):
    """Each damage N_VARIANTS times with parameters drawn from its seeded generator."""
    outcomes: dict[str, int] = {}
    for damage in DAMAGES:
        for variant in range(1, N_VARIANTS + 1):
            root = tmp_path / f"{DAMAGES.index(damage)}-{variant}"
            outcome = run_damage(damage, variant, root, clean_inputs, clean_results, model)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            shutil.rmtree(root)
    assert sum(outcomes.values()) == len(DAMAGES) * N_VARIANTS
    print(f"fuzz: {sum(outcomes.values())} damaged inputs, {outcomes}")
