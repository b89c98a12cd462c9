"""Model folders: self-describing, weights read with weights_only=True, written atomically."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from cacscore.errors import CacscoreError
from cacscore.models import build_model
from cacscore.models.checkpoint import load_model_folder, save_model_folder


def _model():
    torch.manual_seed(0)
    return build_model("patchnet", width=4)


def test_round_trip_restores_weights_and_config(tmp_path):
    model = _model()
    out = save_model_folder(
        tmp_path / "m",
        model,
        architecture="patchnet",
        architecture_kwargs={"width": 4},
        config={"task": "patches", "preprocessing": {"window_lo_hu": -300}},
        metrics={"test": {"accuracy": 0.5}},
        dataset={"case_ids": ["a", "b"]},
        extra_files={"split.json": "{}"},
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "dataset.json",
        "metrics.json",
        "split.json",
        "weights.pt",
    ]
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"] == {"name": "patchnet", "kwargs": {"width": 4}}
    assert config["task"] == "patches" and config["preprocessing"]["window_lo_hu"] == -300
    assert set(config["versions"]) == {"cacscore", "torch", "numpy", "python"}
    assert len(config["weights_sha256"]) == 64
    loaded, cfg = load_model_folder(out)
    assert not loaded.training
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert cfg["model_id"] == "m"
    # A second save replaces the model folder.
    save_model_folder(out, model, architecture="patchnet", architecture_kwargs={"width": 4})
    assert json.loads((out / "metrics.json").read_text()) == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_to_overwrite_other_folders(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("keep me")
    with pytest.raises(CacscoreError, match="not a cacscore model folder"):
        save_model_folder(
            tmp_path / "notes", _model(), architecture="patchnet", architecture_kwargs={"width": 4}
        )
    assert (tmp_path / "notes" / "a.txt").read_text() == "keep me"


def test_load_errors_are_user_errors(tmp_path):
    with pytest.raises(CacscoreError, match="does not exist"):
        load_model_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CacscoreError, match=r"config\.json"):
        load_model_folder(tmp_path / "empty")
    out = save_model_folder(
        tmp_path / "m", _model(), architecture="patchnet", architecture_kwargs={"width": 4}
    )
    config = json.loads((out / "config.json").read_text())
    config["architecture"]["kwargs"]["width"] = 8
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(CacscoreError, match="do not fit"):
        load_model_folder(out)


def test_weights_are_not_unpickled_code(tmp_path):
    """A weights.pt whose pickle calls ``open(marker, "w")`` when unpickled: loading it must refuse the pickle
    (``weights_only=True``) before anything runs, so the marker file never appears."""
    out = save_model_folder(
        tmp_path / "m", _model(), architecture="patchnet", architecture_kwargs={"width": 4}
    )
    marker = tmp_path / "payload-ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"x": Evil()}, out / "weights.pt")
    with pytest.raises(CacscoreError, match="do not fit") as caught:
        load_model_folder(out)
    assert not marker.exists(), "unpickling weights.pt executed the payload"
    # refused by the unpickler, not later by load_state_dict rejecting the keys
    assert isinstance(caught.value.__cause__, pickle.UnpicklingError), repr(caught.value.__cause__)
