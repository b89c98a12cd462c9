"""``cacscore predict`` from the command line: outputs, summary, bad inputs (exit 2, nothing written)."""

from __future__ import annotations

import csv

from cacscore.cli.main import main
from cacscore.io import write_mask, write_volume
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
