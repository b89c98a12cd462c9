"""``cacscore evaluate`` on files: orCaScore names, predict-style folders, dataset roots, outputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cacscore.cli.main import main
from cacscore.io import write_mask, write_volume

KINDS = {"TRV1P1": "perfect", "TRV1P2": "missed", "TRV1P3": "fp", "TRV1P4": "swapped"}


@pytest.fixture
def orcascore_root(tmp_path, constructed_case):
    """An orCaScore-layout root (images + reference) and a prediction folder in mixed styles."""
    root = tmp_path / "orCaScore"
    pred_dir = tmp_path / "pred"
    for case_id, kind in KINDS.items():
        volume, pred, ref = constructed_case(kind)
        write_volume(volume, root / "Training Set" / "Images" / f"{case_id}CTI.mhd")
        write_mask(
            ref, volume, root / "Training Set" / "Reference standard" / f"{case_id}R.mhd", dtype=np.int16
        )
        if case_id == "TRV1P2":
            write_mask(pred, volume, pred_dir / case_id / "calcium.nii.gz")  # a predict output folder
        else:
            write_mask(pred, volume, pred_dir / f"{case_id}.nii.gz")
    volume, pred, _ = constructed_case("perfect")
    write_mask(pred, volume, pred_dir / "TRV2P1.nii.gz")  # no reference: reported, not evaluated
    return root, pred_dir


def _check_outputs(out):
    metrics = json.loads((out / "metrics.json").read_text())
    overall = metrics["lesion"]["overall"]
    assert (overall["tp"], overall["fn"], overall["fp"]) == (11, 1, 1)
    assert (metrics["lesion"]["LAD"]["fn"], metrics["lesion"]["LCX"]["fp"]) == (1, 1)
    assert metrics["n_cases"] == 4 and metrics["unmatched"]["prediction_only"] == ["TRV2P1"]
    with open(out / "cases.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["case_id"] for r in rows] == list(KINDS)
    assert float(rows[2]["agatston_pred"]) == pytest.approx(58.0)
    for png in ("bland_altman.png", "confusion_matrix.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "summary.html").read_text()
    assert "TRV1P3" in html and "ICC(2,1)" in html
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_evaluate_with_orcascore_root_as_reference(orcascore_root, tmp_path, capsys):
    root, pred_dir = orcascore_root
    out = tmp_path / "eval"
    assert main(["evaluate", "--pred", str(pred_dir), "--ref", str(root), "-o", str(out)]) == 0
    assert "TP 11 FN 1 FP 1" in capsys.readouterr().out
    _check_outputs(out)


def test_evaluate_reference_folder_with_r_suffix_and_images_folder(orcascore_root, tmp_path):
    root, pred_dir = orcascore_root
    out = tmp_path / "eval2"
    ref_dir = root / "Training Set" / "Reference standard"
    images = root / "Training Set" / "Images"
    assert main(["evaluate", "--pred", str(pred_dir), "--ref", str(ref_dir), "--images", str(images),
                 "-o", str(out)]) == 0  # fmt: skip
    _check_outputs(out)


def test_missing_images_and_no_common_case_are_one_line_errors(orcascore_root, tmp_path, capsys):
    root, pred_dir = orcascore_root
    ref_dir = root / "Training Set" / "Reference standard"
    assert main(["evaluate", "--pred", str(pred_dir), "--ref", str(ref_dir), "-o", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "no image found for case TRV1P1" in err and len(err.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["evaluate", "--pred", str(empty), "--ref", str(root), "-o", str(tmp_path / "e")]) == 2
    assert "no case is in both" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
