"""The "candidates" training task end to end on tiny phantom cases: a self-describing model folder that
TorchEngine loads, reproducible for a seed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cacscore.datasets import Case
from cacscore.errors import CacscoreError
from cacscore.io import write_mask, write_volume
from cacscore.models.engine import TorchEngine
from cacscore.phantom import generate_case
from cacscore.training.candidate_task import CANDIDATE_RECIPES, candidate_recipe, train_candidates
from cacscore.training.tasks import TASKS, TrainOptions


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    out = []
    for i, (seed, vendor, category) in enumerate([(71, "siemens", 3), (72, "philips", 2), (73, "ge", 4)]):
        c = generate_case(seed, vendor, category=category, n_slices=30)
        image, labels, heart = root / f"c{i}.nii.gz", root / f"c{i}_R.nii.gz", root / f"c{i}_H.nii.gz"
        write_volume(c.volume, image)
        write_mask(c.labels, c.volume, labels)
        write_mask(c.heart_mask, c.volume, heart)
        out.append(Case(case_id=f"c{i}", image_path=image, label_path=labels, heart_mask_path=heart,
                        patient_id=f"p{i}", vendor=vendor))
    return out


def test_task_is_registered_and_recipes_resolve():
    assert "candidates" in TASKS
    assert candidate_recipe("default") == CANDIDATE_RECIPES["default"]
    with pytest.raises(CacscoreError, match="candidates task"):
        candidate_recipe("paper")


def test_smoke_training_writes_a_usable_reproducible_model(cases, tmp_path):
    options = TrainOptions(seed=5, num_threads=1)
    a = train_candidates(cases, "smoke", tmp_path / "a", options)
    config = json.loads((a / "config.json").read_text())
    assert config["task"] == "candidates" and config["architecture"]["name"] == "candidate_net"
    assert config["inputs"] == {"patches": ["N", 7, 32, 32], "features": ["N", 12]}
    assert config["class_codes"] == [0, 1, 2, 3] and config["seed"] == 5
    dataset = json.loads((a / "dataset.json").read_text())
    assert dataset["case_ids"] == ["c0", "c1", "c2"] and sum(dataset["class_counts"]["train"]) > 0
    engine = TorchEngine(a, device="cpu")
    rng = np.random.default_rng(0)
    inputs = {"patches": rng.normal(size=(5, 7, 32, 32)).astype(np.float32),
              "features": rng.normal(size=(5, 12)).astype(np.float32)}
    p = engine.predict_proba(inputs)
    assert p.shape == (5, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    b = train_candidates(cases, "smoke", tmp_path / "b", options)
    np.testing.assert_array_equal(TorchEngine(b, device="cpu").predict_proba(inputs), p)


def test_folds_are_refused(cases, tmp_path):
    with pytest.raises(CacscoreError, match="folds"):
        train_candidates(cases, "smoke", tmp_path / "x", TrainOptions(folds=3))
