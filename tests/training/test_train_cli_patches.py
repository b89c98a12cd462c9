"""`cacscore train` and `cacscore evaluate-patches` on a small constructed orCaScore-layout dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cacscore.cli.main import main
from cacscore.io import write_mask, write_volume
from cacscore.volume import Volume


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """6 patients (vendors 1-2, 3 each): 4 slices of 160x160, 0.7 mm, a 104x104 heart mask, calcium spots
    (3x3 pixels, 450 HU) on slices 1 and 2, lung-free (the heart masks are given)."""
    root = tmp_path_factory.mktemp("orc")
    train = root / "Training Set"
    rng = np.random.default_rng(0)
    for v in (1, 2):
        for p in (1, 2, 3):
            hu = rng.normal(40, 15, (4, 160, 160)).round().astype(np.float32)
            labels = np.zeros(hu.shape, np.uint8)
            for z in (1, 2):
                for _ in range(2):
                    y, x = rng.integers(30, 125, 2)
                    labels[z, y : y + 3, x : x + 3] = 1 + (p % 3)
            hu[labels > 0] = 450
            heart = np.zeros(hu.shape, np.uint8)
            heart[:, 28:132, 28:132] = 1
            vol = Volume(hu, (3.0, 0.7, 0.7))
            case = f"TRV{v}P{p}"
            write_volume(vol, train / "Images" / f"{case}CTI.mhd")
            write_mask(labels, vol, train / "Reference standard" / f"{case}R.mhd")
            write_mask(heart, vol, train / "Heart masks" / f"{case}H.mhd")
    return root


def _train(dataset, out, *options: str) -> int:
    """``cacscore -q train DATASET -o OUT`` on the CPU with one thread and a short run, plus ``options``."""
    fast = ("--epochs", "1", "--samples-per-epoch", "32", "--device", "cpu", "--threads", "1")
    return main(["-q", "train", str(dataset), "-o", str(out), *fast, *options])


def test_train_then_evaluate(dataset, tmp_path, capsys):
    out = tmp_path / "model"
    # later options win: 2 epochs of 64 windows
    rc = _train(dataset, out, "--recipe", "default", "--epochs", "2", "--samples-per-epoch", "64", "--seed",
                "1")
    assert rc == 0
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "patches" and config["recipe"]["name"] == "default"
    assert config["recipe"]["epochs"] == 2 and config["recipe_overrides"] == {
        "epochs": 2,
        "samples_per_epoch": 64,
    }
    assert config["inputs"] == {"patches": [1, 52, 52]} and config["patch_params"]["size_px"] == 52
    assert config["context"] is None  # the default recipe sees the window only (context: opt-in)
    assert len(config["training"]["history"]) == config["training"]["epochs_run"]
    split = json.loads((out / "split.json").read_text())
    assert split["mode"] == "patient"
    parts = [set(split["patients"][k]) for k in ("train", "val", "test")]
    assert [len(s) for s in parts] == [4, 1, 1] and len(set.union(*parts)) == 6
    fingerprint = json.loads((out / "dataset.json").read_text())
    assert fingerprint["vendors"] == {"1": 3, "2": 3} and fingerprint["n_cases"] == 6
    # Hand count per case, slices 0 and 3 (no calcium): heart rows/columns 28..131, step-52 grid
    # {0, 52, 104}: only y0 = x0 = 52 fits (52..103) -> 1 negative per slice, 2 per case, 12 in all.
    counts = fingerprint["counts"]
    assert counts["all"]["negative"] == 12
    assert counts["all"]["total"] == sum(counts[k]["total"] for k in ("train", "val", "test"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"accuracy", "sensitivity", "precision", "specificity", "f1", "roc_auc"}
    bands = metrics["test"]["sensitivity_by_calcium_pixels"]
    assert sum(b["positives"] for b in bands) == metrics["test"]["n_positive"]
    assert sum(b["found"] for b in bands) == metrics["test"]["confusion_matrix"][1][1]
    capsys.readouterr()
    rc = main(
        [
            "-q",
            "evaluate-patches",
            str(out),
            str(dataset),
            "--device",
            "cpu",
            "--json",
            str(tmp_path / "m.json"),
        ]
    )
    assert rc == 0
    assert "accuracy" in capsys.readouterr().out
    again = json.loads((tmp_path / "m.json").read_text())
    assert again["confusion_matrix"] == metrics["test"]["confusion_matrix"]
    assert again["sensitivity_by_calcium_pixels"] == bands


def test_random_split_records_the_leak(dataset, tmp_path):
    out = tmp_path / "model"
    rc = _train(dataset, out, "--recipe", "default", "--split", "random")
    assert rc == 0
    split = json.loads((out / "split.json").read_text())
    assert split["mode"] == "random" and "optimistic" in split["warning"]


def test_user_errors_exit_2(dataset, tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope"), "-o", str(tmp_path / "m")]) == 2
    assert main(["train", str(dataset), "-o", str(tmp_path / "m"), "--split", "random", "--folds", "3"]) == 2
    assert main(["evaluate-patches", str(tmp_path / "nope"), str(dataset)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 3


def test_kfold_by_patient_writes_one_folder_per_fold(dataset, tmp_path):
    out = tmp_path / "cv"
    rc = _train(dataset, out, "--folds", "3")
    assert rc == 0
    summary = json.loads((out / "cv_metrics.json").read_text())
    assert summary["k"] == 3 and len(summary["folds"]) == 3
    tested = []
    for i in (1, 2, 3):
        split = json.loads((out / f"fold_{i}" / "split.json").read_text())
        tested += split["patients"]["test"]
    assert sorted(tested) == sorted(f"V{v}P{p}" for v in (1, 2) for p in (1, 2, 3))
    n_test = sum(f["test"]["n"] for f in summary["folds"])
    assert int(np.sum(summary["pooled_confusion_matrix"])) == n_test


def test_context_recipe_trains_and_evaluate_rebuilds_its_context(dataset, tmp_path):
    """A recipe with context (2.5-D, wide field, ROI fraction, position): the window set and its hash are
    the paper's, the context is recorded, and evaluate-patches rebuilds it to the same test metrics."""
    from dataclasses import replace

    from cacscore.datasets import open_dataset
    from cacscore.patch_context import ContextParams
    from cacscore.patch_windows import extract_cases
    from cacscore.training.options import TrainOptions
    from cacscore.training.patch_task import evaluate_patch_model, train_patches
    from cacscore.training.recipes import RECIPES

    context = ContextParams(neighbour_slices=1, wide_factor=2, wide_roi=True, position=True)
    base = RECIPES["default"]
    recipe = replace(
        base,
        context=context,
        architecture_kwargs=dict(base.architecture_kwargs, in_channels=context.n_channels),
    )
    cases = [c for c in open_dataset(dataset) if c.has_reference]
    out = tmp_path / "ctx"
    options = TrainOptions(epochs=1, samples_per_epoch=32, seed=2, device="cpu", num_threads=1)
    train_patches(cases, recipe, out, options)
    config = json.loads((out / "config.json").read_text())
    # window + 2 neighbouring slices + wide mean and maximum + ROI fraction + 3 position planes
    assert config["inputs"] == {"patches": [9, 52, 52]} and config["context"] == context.to_dict()
    fingerprint = json.loads((out / "dataset.json").read_text())
    paper_windows = extract_cases(cases)  # no context: the paper's extraction
    assert fingerprint["patches_sha256"] == paper_windows.fingerprint()
    assert fingerprint["counts"]["all"] == paper_windows.counts()
    assert len(fingerprint["context_sha256"]) == 64
    metrics = json.loads((out / "metrics.json").read_text())
    again = evaluate_patch_model(out, cases, device="cpu")
    assert again["confusion_matrix"] == metrics["test"]["confusion_matrix"]
    assert again["roc_auc"] == pytest.approx(metrics["test"]["roc_auc"])
