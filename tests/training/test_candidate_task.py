"""The "candidates" training task end to end on tiny phantom cases: a self-describing model folder that
predict runs, reproducible for a seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cacscore.detection.classifier import INPUT_KIND
from cacscore.detection.descriptors import DESCRIPTOR_NAMES
from cacscore.detection.domain import TrainingDomain
from cacscore.detection.pipeline import Predictor
from cacscore.errors import CacscoreError
from cacscore.models.engine import TorchEngine
from cacscore.phantom import generate_case
from cacscore.training.candidate_task import CANDIDATE_RECIPES, candidate_recipe, train_candidates
from cacscore.training.tasks import TASKS, TrainOptions


@pytest.fixture(scope="module")
def cases(tiny_phantom_cases):
    return tiny_phantom_cases


def test_task_is_registered_and_recipes_resolve():
    assert "candidates" in TASKS
    assert candidate_recipe("default") == CANDIDATE_RECIPES["default"]
    with pytest.raises(CacscoreError, match="candidates task"):
        candidate_recipe("paper")


def test_smoke_training_writes_a_usable_reproducible_model(cases, tmp_path, helpers):
    """The folder predict needs: the input spec of this cacscore, the training domain, the descriptors'
    training mean and SD inside the network; predict runs with it, and the same seed gives the same
    weights."""
    options = TrainOptions(seed=5, num_threads=1, roi_source="auto")
    a = train_candidates(cases, "smoke", tmp_path / "a", options)
    config = json.loads((a / "config.json").read_text())
    assert config["task"] == "candidates" and config["architecture"]["name"] == "candidate_net"
    assert config["inputs"] == {"patches": ["N", 2, 32, 32], "features": ["N", len(DESCRIPTOR_NAMES)]}
    assert config["input_spec"]["kind"] == INPUT_KIND
    assert config["class_codes"] == [0, 1, 2, 3] and config["seed"] == 5
    domain = TrainingDomain.from_dict(config["domain"])
    assert (domain.descriptor_ranges[:, 0] <= domain.descriptor_ranges[:, 1]).all()
    # every training scan is a 120 kVp phantom scan: its noise lies within the recorded range
    noise = [generate_case(seed, vendor, category=category, n_slices=30).truth["acquisition"]["noise_sd_hu"]
             for seed, vendor, category in helpers.TINY_PHANTOM]
    lo, hi = domain.scan_ranges["noise_sd_hu"]
    assert lo < hi and lo <= max(noise) and hi >= min(noise) * 0.8
    dataset = json.loads((a / "dataset.json").read_text())
    assert dataset["case_ids"] == ["c0", "c1", "c2"] and sum(dataset["class_counts"]["train"]) > 0
    engine = TorchEngine(a, device="cpu")
    scale = engine.model.feature_scale.numpy()
    assert np.all(scale > 0) and not np.allclose(scale, 1.0)  # set from the training descriptors
    predictor = Predictor(engine)
    volume = cases[0].load_volume()
    prediction = predictor.predict_volume(volume)
    assert prediction.probabilities.shape == (len(prediction.candidates), 4)
    # labels are painted on candidate voxels only, with the code the decision rule gave each candidate
    assert set(np.unique(prediction.labels[prediction.candidates.label_map == 0])) <= {0}
    assert prediction.result_dict("c0")["domain"]["measures"]["slice_increment_mm"] == pytest.approx(
        volume.spacing_zyx_mm[0])
    b = train_candidates(cases, "smoke", tmp_path / "b", options)
    again = Predictor(TorchEngine(b, device="cpu")).predict_volume(volume)
    np.testing.assert_array_equal(again.probabilities, prediction.probabilities)


def test_folds_are_refused(cases, tmp_path):
    with pytest.raises(CacscoreError, match="folds"):
        train_candidates(cases, "smoke", tmp_path / "x", TrainOptions(folds=3))


def test_ensemble_members_are_the_single_networks_of_their_seeds(cases, tmp_path):
    """Member k of an ensemble is the network one would train alone with seed + k on the same samples; the
    ensemble folder predicts with both (the mean itself: tests/models/test_candidate_ensemble.py)."""
    from cacscore.training.candidate_task import fit_candidates, sample_cases

    options = TrainOptions(seed=3, num_threads=1, roi_source="auto")
    collected = sample_cases(cases, CANDIDATE_RECIPES["smoke-ensemble"][1], options)
    ens = fit_candidates(cases, collected, "smoke-ensemble", tmp_path / "ens", options)
    alone = fit_candidates(cases, collected, "smoke", tmp_path / "alone", options)
    config = json.loads((ens / "config.json").read_text())
    assert config["architecture"]["name"] == "candidate_ensemble"
    assert config["architecture"]["kwargs"]["n_members"] == 2
    assert len(config["training"]["members"]) == 2 and len(config["decision"]["temperature"]) == 2
    ensemble, single = TorchEngine(ens, device="cpu"), TorchEngine(alone, device="cpu")
    first, second = (m.state_dict() for m in ensemble.model.members)
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(first[name], value)
    assert any(not torch.equal(first[k], second[k]) for k in first if first[k].is_floating_point())
    volume = cases[1].load_volume()
    prediction = Predictor(ensemble).predict_volume(volume)
    assert len(prediction.candidates) > 0
    member_p = Predictor(single).predict_volume(volume).probabilities
    assert prediction.probabilities.shape == member_p.shape
    assert not np.allclose(prediction.probabilities, member_p)  # the second member takes part
