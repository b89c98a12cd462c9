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


def _torch_probabilities(model, inputs: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(*(torch.from_numpy(v) for v in inputs.values())), dim=1).numpy()


def _candidate_net():
    from cacscore.models.candidate_net import CandidateNet

    torch.manual_seed(0)
    model = CandidateNet().eval()
    _randomise_batch_norm(model, 1)
    return model, {"patches": (7, 32, 32), "features": (12,)}


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
        p_torch = _torch_probabilities(model, inputs)
        assert p_onnx.shape == (n, 4)
        np.testing.assert_allclose(p_onnx.sum(axis=1), 1.0, atol=1e-5)
        assert np.abs(p_onnx - p_torch).max() < TOLERANCE
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
        engine.predict_proba({"patches": np.zeros((1, 7, 32, 32), np.float32)})
