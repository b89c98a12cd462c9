"""``cacscore score``: table on stdout, JSON written atomically, user errors as one line with exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cacscore.cli.main import main
from cacscore.io import write_mask, write_volume
from cacscore.labels import Artery
from cacscore.volume import Volume


@pytest.fixture
def scan(tmp_path):
    hu = np.zeros((4, 16, 16), dtype=np.float32)
    hu[1, 2:4, 2:5] = 250  # LAD: 6 px of 0.25 mm2 = 1.5 mm2, weight 2 -> 3.0 (raw, 3 mm slices)
    hu[2, 8:10, 8:10] = 420  # RCA: 4 px = 1.0 mm2, weight 4 -> 4.0
    hu[2, 12, 12] = 500  # LCX: 1 px = 0.25 mm2, below 1 mm2 (counted only with --preset siemens)
    labels = np.zeros(hu.shape, dtype=np.uint8)
    labels[1, 2:4, 2:5] = Artery.LAD
    labels[2, 8:10, 8:10] = Artery.RCA
    labels[2, 12, 12] = Artery.LCX
    volume = Volume(hu, (3.0, 0.5, 0.5))
    image = write_volume(volume, tmp_path / "scan.nii.gz")
    mask = write_mask(labels, volume, tmp_path / "mask.nii.gz")
    return image, mask


def test_score_prints_table_and_writes_json(scan, tmp_path, capsys):
    image, mask = scan
    out = tmp_path / "out" / "scores.json"
    assert (
        main(
            [
                "score",
                str(image),
                "--mask",
                str(mask),
                "-o",
                str(out),
                "--kvp",
                "120",
                "--calibration-factor",
                "1.0",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "LAD" in printed and "total" in printed and "CAC-DRS A1/N2" in printed
    doc = json.loads(out.read_text())
    assert doc["agatston"] == pytest.approx({"total": 7.0, "LAD": 3.0, "LCX": 0.0, "RCA": 4.0})
    assert doc["volume_mm3"]["total"] == pytest.approx(10 * 0.75)
    assert doc["mass_mg"]["RCA"] == pytest.approx(420 * 4 * 0.75 / 1000)
    assert doc["settings"]["preset"] == "default" and doc["settings"]["kvp"] == 120
    assert doc["risk_category"]["label"] == "1-10"
    assert [p.name for p in out.parent.iterdir()] == ["scores.json"]  # no temporary file left


def test_preset_and_overrides(scan, tmp_path):
    image, mask = scan
    out = tmp_path / "s.json"
    assert main(["score", str(image), "--mask", str(mask), "-o", str(out), "--preset", "siemens"]) == 0
    doc = json.loads(out.read_text())
    assert doc["agatston"]["LCX"] == pytest.approx(0.25 * 4)
    assert doc["mass_mg"]["total"] is None
    assert any("kVp is unknown" in w for w in doc["scan"]["warnings"])  # NIfTI carries no kVp
    assert (
        main(
            [
                "score",
                str(image),
                "--mask",
                str(mask),
                "-o",
                str(out),
                "--connectivity",
                "4",
                "--min-area-mm2",
                "2",
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["agatston"]["total"] == 0.0


def test_mask_on_another_grid_is_one_line_error(scan, tmp_path, capsys):
    image, _ = scan
    other = write_mask(
        np.zeros((4, 8, 8), np.uint8),
        Volume(np.zeros((4, 8, 8), np.float32), (3, 1, 1)),
        tmp_path / "other.nii.gz",
    )
    out = tmp_path / "never.json"
    assert main(["score", str(image), "--mask", str(other), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cacscore score: error:") and len(err.strip().splitlines()) == 1
    assert not out.exists()
