"""ONNX export and the ONNX Runtime engine agree with PyTorch: max |p_onnx - p_torch| < 1e-5 (TOLERANCE)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from cacscore.models.onnx_engine import OUTPUT_NAME, TOLERANCE, OnnxEngine, export_onnx, input_shapes


def _randomise_batch_norm(model: torch.nn.Module, seed: int) -> None:
    """Non-trivial running statistics, so the exported inference-mode batch norm is really exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def _reference_probabilities(model, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Softmax over the class axis of the PyTorch model's logits, written out in float64 numpy."""
    with torch.no_grad():
        logits = model(*(torch.from_numpy(v) for v in inputs.values())).numpy().astype(np.float64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _candidate_net():
    from cacscore.models.candidate_net import CandidateNet

    torch.manual_seed(0)
    model = CandidateNet().eval()
    _randomise_batch_norm(model, 1)
    # descriptor scaling buffers as training sets them, so that the export must carry them
    model.set_feature_scaling(torch.linspace(-1.0, 1.0, 24), torch.linspace(0.5, 2.0, 24))
    return model, {"patches": (2, 32, 32), "features": (24,)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model, shapes = _candidate_net()
    path = export_onnx(model, shapes, tmp_path_factory.mktemp("onnx") / "m.onnx", metadata={"note": "test"})
    return model, shapes, path


def test_export_matches_torch_for_any_batch_size(exported):
    model, shapes, path = exported
    proto = onnx.load(str(path))
    assert [o.name for o in proto.graph.output] == [OUTPUT_NAME]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["note"] == "test"
    assert meta["cacscore_exporter"] == "dynamo"  # the TorchDynamo exporter handles the candidate network
    engine = OnnxEngine(path, threads=1)
    assert engine.input_names == ("patches", "features")
    rng = np.random.default_rng(0)
    for n in (1, 7, 300):  # 300 > one ONNX Runtime call of 256 rows
        inputs = {k: rng.standard_normal((n, *s)).astype(np.float32) for k, s in shapes.items()}
        p_onnx = engine.predict_proba(inputs)
        assert p_onnx.shape == (n, 4)
        assert np.abs(p_onnx - _reference_probabilities(model, inputs)).max() < TOLERANCE
    assert engine.predict_proba({k: np.zeros((0, *s), np.float32) for k, s in shapes.items()}).shape == (0, 4)


def test_threads_are_set_explicitly(exported, monkeypatch):
    path = exported[2]
    assert OnnxEngine(path, threads=3).session.get_session_options().intra_op_num_threads == 3
    monkeypatch.setenv("CACSCORE_NUM_THREADS", "2")
    engine = OnnxEngine(path)
    assert engine.threads == 2 and engine.session.get_session_options().inter_op_num_threads == 1


def test_input_shapes_from_config():
    config = {"inputs": {"patches": ["N", 7, 32, 32], "features": {"shape": [None, 12]}, "x": [3, 4]}}
    assert input_shapes(config) == {"patches": (7, 32, 32), "features": (12,), "x": (3, 4)}
    from cacscore.errors import CacscoreError

    with pytest.raises(CacscoreError):
        input_shapes({})
    with pytest.raises(CacscoreError):
        input_shapes({"inputs": {"a": ["N", "H", 3]}})


def test_missing_input_is_an_error(exported):
    engine = OnnxEngine(exported[2])
    with pytest.raises(ValueError, match="features"):
        engine.predict_proba({"patches": np.zeros((1, 2, 32, 32), np.float32)})


#: Per-sample input shape of every registered architecture (a new entry in MODELS needs one here).
REGISTRY_INPUTS = {
    "alexnet": {"x": (1, 227, 227)},
    "patchnet": {"x": (1, 52, 52)},
    "candidates": {"patches": (2, 32, 32), "features": (24,)},
}


def _registry_inputs(name: str) -> dict[str, tuple[int, ...]]:
    from cacscore.models import MODELS

    if name in REGISTRY_INPUTS:
        return REGISTRY_INPUTS[name]
    if MODELS[name].target.split(".")[-1] in ("candidate_net:CandidateNet",
                                              "candidate_ensemble:CandidateEnsemble"):
        return REGISTRY_INPUTS["candidates"]
    raise AssertionError(f"no input shape known for registered model {name!r}; add it to REGISTRY_INPUTS")


def _registered() -> list:
    """Every registered architecture; AlexNet (57 M parameters, a 233 MB export) runs with the slow tests."""
    from cacscore.models import MODELS

    return [pytest.param(n, marks=pytest.mark.slow) if n == "alexnet" else n for n in sorted(MODELS)]


@pytest.mark.parametrize("name", _registered())
def test_every_registered_model_exports_and_matches_torch(tmp_path, name):
    from cacscore.models import build_model

    torch.manual_seed(0)
    model = build_model(name).eval()
    _randomise_batch_norm(model, 2)
    shapes = _registry_inputs(name)
    engine = OnnxEngine(export_onnx(model, shapes, tmp_path / f"{name}.onnx"), threads=2)
    rng = np.random.default_rng(1)
    inputs = {k: rng.random((24, *s), dtype=np.float32) for k, s in shapes.items()}
    p_onnx, p_ref = engine.predict_proba(inputs), _reference_probabilities(model, inputs)
    assert p_ref.std(axis=0).max() > 1e-4  # outputs differ between inputs: the comparison means something
    assert np.abs(p_onnx - p_ref).max() < TOLERANCE


def _patchnet_folder(folder, seed: int):
    from cacscore.models import build_model
    from cacscore.models.checkpoint import save_model_folder

    torch.manual_seed(seed)
    model = build_model("patchnet").eval()
    _randomise_batch_norm(model, seed)
    config = {"inputs": {"x": ["N", 1, 52, 52]}}
    return save_model_folder(folder, model, architecture="patchnet", config=config)


def test_model_folder_engine_matches_torch_engine_and_caches_its_export(tmp_path, monkeypatch):
    from cacscore.models.engine import TorchEngine, load_engine

    monkeypatch.setenv("CACSCORE_CACHE_DIR", str(tmp_path / "cache"))
    folder = _patchnet_folder(tmp_path / "model", seed=3)
    before = sorted(p.name for p in folder.iterdir())
    engine = load_engine(folder, "onnx")
    assert isinstance(engine, OnnxEngine) and engine.onnx_path.parent == tmp_path / "cache" / "onnx"
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written into the model folder
    inputs = {"x": np.random.default_rng(4).random((50, 1, 52, 52), dtype=np.float32)}
    torch_engine = TorchEngine(folder, device="cpu")
    p_torch = torch_engine.predict_proba(inputs)
    assert np.abs(p_torch - _reference_probabilities(torch_engine.model, inputs)).max() < TOLERANCE
    assert np.abs(engine.predict_proba(inputs) - p_torch).max() < TOLERANCE
    mtime = engine.onnx_path.stat().st_mtime_ns
    assert OnnxEngine(folder).onnx_path.stat().st_mtime_ns == mtime  # exported once, then reused


def test_stale_export_inside_the_folder_is_not_used(tmp_path, monkeypatch):
    from cacscore.cli.main import main

    monkeypatch.setenv("CACSCORE_CACHE_DIR", str(tmp_path / "cache"))
    folder = _patchnet_folder(tmp_path / "model", seed=5)
    assert main(["export", str(folder)]) == 0  # default output: MODELDIR/model.onnx, checked against torch
    assert OnnxEngine(folder).onnx_path == folder / "model.onnx"
    old_export = (folder / "model.onnx").read_bytes()
    _patchnet_folder(folder, seed=6)  # retrained: new weights ...
    (folder / "model.onnx").write_bytes(old_export)  # ... next to the export of the old ones
    assert OnnxEngine(folder).onnx_path.parent == tmp_path / "cache" / "onnx"


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "no config"])
def test_export_of_a_damaged_model_folder_is_one_clear_error(tmp_path, damage, capsys):
    from cacscore.cli.main import main

    folder = _patchnet_folder(tmp_path / "model", seed=7)
    weights = folder / "weights.pt"
    data = weights.read_bytes()
    if damage == "no config":
        (folder / "config.json").unlink()
    else:
        damaged = {"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"\x80\x04junk"}
        weights.write_bytes(damaged[damage])
    assert main(["export", str(folder), "-o", str(tmp_path / "m.onnx")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("cacscore")]
    assert len(err) == 1 and err[0].startswith("cacscore export: error:")
    assert not (tmp_path / "m.onnx").exists()


def test_a_capped_net_exports_with_its_caps(tmp_path):
    """The descriptor caps (an ``inf`` for each uncapped column) travel in the export: beyond its cap a column
    changes nothing in ONNX Runtime either."""
    from cacscore.models.candidate_net import CandidateNet

    torch.manual_seed(0)
    model = CandidateNet(feature_max=[0.6] + [None] * 23).eval()
    _randomise_batch_norm(model, 3)
    shapes = {"patches": (2, 32, 32), "features": (24,)}
    engine = OnnxEngine(export_onnx(model, shapes, tmp_path / "capped.onnx"), threads=1)
    rng = np.random.default_rng(2)
    row = {k: rng.standard_normal((1, *s)).astype(np.float32) for k, s in shapes.items()}
    inputs = {k: np.repeat(v, 3, axis=0) for k, v in row.items()}
    inputs["features"][:, 0] = (0.6, 2.0, 0.1)  # one candidate at the cap, beyond it, below it
    p = engine.predict_proba(inputs)
    assert np.abs(p - _reference_probabilities(model, inputs)).max() < TOLERANCE
    np.testing.assert_allclose(p[0], p[1], atol=TOLERANCE)
    assert np.abs(p[0] - p[2]).max() > 1e-6
