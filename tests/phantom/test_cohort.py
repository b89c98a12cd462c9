"""write_cohort layouts read back through cacscore.datasets / cacscore.io; the CLI; cohort seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cacscore.cli.main import main
from cacscore.datasets import open_dataset, read_manifest, read_orcascore
from cacscore.errors import CacscoreError
from cacscore.phantom import generate_case
from cacscore.phantom.cohort import case_plan, case_seed, write_cohort


def test_case_k_does_not_depend_on_the_cohort_size():
    small = case_plan(3, seed=9)
    big = case_plan(20, seed=9)
    assert small == big[:3]
    assert len({p["seed"] for p in big}) == 20
    assert case_seed(9, 2) != case_seed(10, 2)
    # Vendors cycle in orCaScore order; patient numbers continue past 8.
    assert [p["case_id"] for p in big[:5]] == ["TRV1P1", "TRV2P1", "TRV3P1", "TRV4P1", "TRV1P2"]
    assert big[-1]["case_id"] == "TRV4P5"
    assert case_plan(40, 1, vendors=["ge"])[-1]["case_id"] == "TRV3P40"
    # The random acquisition is vendor 5 in file names; default cohorts keep the four vendor presets.
    assert [p["case_id"] for p in case_plan(2, 1, vendors=["random"])] == ["TRV5P1", "TRV5P2"]
    assert {p["vendor"] for p in big} == {"siemens", "philips", "ge", "canon"}


def test_min_category_keeps_the_same_seeds_and_skips_the_others():
    """--min-category selects from the cohort's own seed sequence: the cases kept are exactly those of the
    plain cohort whose target category is high enough, in order, renumbered per vendor."""
    from cacscore.phantom.generator import target_category

    plain = case_plan(60, seed=9)
    wanted = [p["seed"] for p in plain if target_category(p["seed"]) >= 2]
    picked = case_plan(len(wanted), seed=9, min_category=2)
    assert [p["seed"] for p in picked] == wanted
    assert [p["index"] for p in picked] == [p["index"] for p in plain if p["seed"] in set(wanted)]
    assert [p["case_id"] for p in picked[:5]] == ["TRV1P1", "TRV2P1", "TRV3P1", "TRV4P1", "TRV1P2"]
    with pytest.raises(CacscoreError, match="minimum category"):
        case_plan(3, seed=9, min_category=5)


def test_orcascore_layout_reads_back(tmp_path):
    cases = write_cohort(tmp_path, 2, seed=4, vendors=["siemens", "canon"], montage=True)
    assert [c.case_id for c in cases] == ["TRV1P1", "TRV4P1"]
    assert [c.case_id for c in read_orcascore(tmp_path)] == ["TRV1P1", "TRV4P1"]
    assert [c.case_id for c in open_dataset(tmp_path)] == ["TRV1P1", "TRV4P1"]
    plan = case_plan(2, seed=4, vendors=["siemens", "canon"])
    for case, item in zip(cases, plan, strict=True):
        expected = generate_case(item["seed"], item["vendor"], score=False)
        vol = case.load_volume()
        assert vol.shape == expected.volume.shape
        assert np.array_equal(vol.hu, expected.volume.hu)
        assert np.allclose(vol.spacing_zyx_mm, expected.volume.spacing_zyx_mm)
        assert np.array_equal(case.load_labels(vol), expected.labels)
        assert np.array_equal(case.load_heart_mask(vol), expected.heart_mask)
        truth = json.loads((tmp_path / "truth" / f"{case.case_id}.json").read_text())
        assert truth["seed"] == item["seed"] and truth["case_id"] == case.case_id
        assert (tmp_path / "montages" / f"{case.case_id}.png").stat().st_size > 10_000
    # A second run keeps the complete cases and adds the new one.
    again = write_cohort(tmp_path, 3, seed=4, vendors=["siemens", "canon"])
    assert [c.case_id for c in again] == ["TRV1P1", "TRV4P1", "TRV1P2"]


def test_manifest_layout_reads_back_from_dicom(tmp_path):
    cases = write_cohort(tmp_path, 1, seed=5, vendors=["philips"], layout="manifest")
    listed = read_manifest(tmp_path / "manifest.csv")
    assert [c.case_id for c in listed] == [c.case_id for c in cases] == ["TRV2P1"]
    item = case_plan(1, seed=5, vendors=["philips"])[0]
    expected = generate_case(item["seed"], "philips", score=False)
    vol = cases[0].load_volume()
    assert np.array_equal(vol.hu, expected.volume.hu)  # int16 with the -1024 intercept is exact
    assert vol.info.kvp == 120 and vol.spacing_zyx_mm[0] == pytest.approx(1.5)
    assert np.array_equal(cases[0].load_labels(vol), expected.labels)


def test_cli(tmp_path, capsys):
    assert (
        main(["phantom", "-o", str(tmp_path / "out"), "--cases", "1", "--seed", "3", "--vendor", "ge"]) == 0
    )
    out = capsys.readouterr().out
    assert "TRV3P1" in out and "1 case(s)" in out
    args = ["phantom", "-o", str(tmp_path / "m"), "--cases", "1", "--seed", "3", "--vendor", "ge"]
    assert main([*args, "--layout", "manifest"]) == 0
    assert "TRV3P1" in capsys.readouterr().out
    assert (tmp_path / "m" / "manifest.csv").is_file()
    assert main(["phantom", "-o", str(tmp_path / "bad"), "--cases", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert main(["phantom", "--list-vendors"]) == 0
    assert "canon" in capsys.readouterr().out
