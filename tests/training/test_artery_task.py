"""The "artery" training task: the shipped network with the artery by position of a base model's training
patients, written as a new model folder that predict uses."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cacscore.detection.pipeline import PredictOptions, load_predictor, shipped_model_dir
from cacscore.errors import CacscoreError
from cacscore.labels import Artery
from cacscore.training.artery_task import train_artery
from cacscore.training.tasks import TASKS, TrainOptions


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The shipped model with a split of the tiny cohort: p0 and p1 train, p2 validates."""
    folder = tmp_path_factory.mktemp("base") / "net"
    shutil.copytree(shipped_model_dir(), folder)
    (folder / "split.json").write_text(json.dumps({"train": ["p0", "p1"], "val": ["p2"], "test": []}))
    return folder


def test_the_artery_task_adds_the_training_patients_coronary_positions(tiny_phantom_cases, base, tmp_path):
    assert "artery" in TASKS
    before = {f.name: f.read_bytes() for f in base.iterdir()}
    out = train_artery(tiny_phantom_cases, tmp_path / "with-artery", TrainOptions(base_model=str(base)), k=1)
    assert {f.name: f.read_bytes() for f in base.iterdir()} == before  # the base is left as it was
    config = json.loads((out / "config.json").read_text())
    head = config["artery_by_position"]
    # the training patients' reference arteries (LM counted as LAD), read from their labels alone
    wanted = set()
    for case in tiny_phantom_cases[:2]:
        codes = np.unique(case.load_labels(case.load_volume()))
        wanted |= {1 if c == Artery.LM else int(c) for c in codes if c in (Artery.LM, Artery.LAD, Artery.LCX,
                                                                            Artery.RCA)}
    assert set(head["classes"]) == wanted and len(head["positions_mm"]) >= len(wanted)
    # the offsets lie inside a heart (within 120 mm of its ROI's centroid on every axis)
    assert np.abs(np.asarray(head["positions_mm"])).max() < 120
    record = config["artery_task"]
    assert record["k"] == 1 and record["n_train_coronary_candidates"] == len(head["classes"])
    assert record["n_val_coronary_candidates"] > 0 and 0 <= record["val_artery_accuracy_position"] <= 1
    assert (out / "weights.pt").read_bytes() == (base / "weights.pt").read_bytes()
    assert not (out.parent / "with-artery.partial").exists()
    # predict names the artery by position: every call lies among the training arteries
    predictor = load_predictor(PredictOptions(model_dir=str(out)))
    case = tiny_phantom_cases[2]
    prediction = predictor.predict_volume(case.load_volume())
    assert prediction.model["artery_from"] == "position"
    assert set(np.unique(prediction.classes[prediction.classes > 0]).tolist()) <= wanted
    rows = prediction.candidate_table()
    assert all("network_probabilities" in r for r in rows)
    for row in rows:  # the network's p(not coronary) is kept; the rest is split by the position's shares
        assert row["probabilities"]["not coronary"] == row["network_probabilities"]["not coronary"]
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=2e-3)
    # the positions were measured in automatic ROIs (the base's roi_source): with a given heart mask,
    # whose centroid lies elsewhere, the network names the artery
    assert head["roi"] == "auto"
    volume = case.load_volume()
    given = predictor.predict_volume(volume, case.load_heart_mask(volume))
    assert given.model["artery_from"] == "network" and given.network_probabilities is None
    network_artery = given.probabilities[:, 1:].argmax(axis=1) + 1
    assert np.array_equal(given.classes[given.classes > 0], network_artery[given.classes > 0])


def test_the_artery_task_refuses_what_it_cannot_use(tiny_phantom_cases, base, tmp_path):
    with pytest.raises(CacscoreError, match="--base-model"):
        train_artery(tiny_phantom_cases, tmp_path / "a", TrainOptions())
    with pytest.raises(CacscoreError, match="not a candidates model folder"):
        train_artery(tiny_phantom_cases, tmp_path / "a", TrainOptions(base_model=str(tmp_path)))
    (tmp_path / "taken").mkdir()
    with pytest.raises(CacscoreError, match="exists"):
        train_artery(tiny_phantom_cases, tmp_path / "taken", TrainOptions(base_model=str(base)))
    other = tmp_path / "other-split"
    shutil.copytree(base, other)
    (other / "split.json").write_text(json.dumps({"train": ["nobody"], "val": []}))
    with pytest.raises(CacscoreError, match="training patients"):
        train_artery(tiny_phantom_cases, tmp_path / "b", TrainOptions(base_model=str(other)))
    assert not (tmp_path / "b").exists()
