"""Inference engines: one small protocol, so the pipeline runs the same on PyTorch or ONNX Runtime.

An engine turns the classifier's named float32 inputs (``{"patches": (N, C, H, W), "features": (N, F)}``, as
recorded under ``"inputs"`` in the model folder's config.json) into class probabilities (N, n_classes). The
PyTorch engine is here; the ONNX Runtime engine is :mod:`cacscore.models.onnx_engine`, which knows nothing of
this module: :func:`load_engine` picks one of the two and :func:`compare_with_torch` checks one against the
other, so imports run one way only (this module -> onnx_engine, checkpoint).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.log import get_logger

log = get_logger(__name__)

#: Candidates per forward pass (bounds memory on scans with many candidates).
BATCH_SIZE = 256


@runtime_checkable
class Engine(Protocol):
    """What the pipeline needs of a model: its config and probabilities for named inputs."""

    name: str
    model_dir: Path
    config: dict

    def predict_proba(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities (N, n_classes), rows summing to 1, for named float32 inputs of N rows."""
        ...


class TorchEngine:
    """Runs a model folder with PyTorch (CPU, or CUDA when ``device`` is "auto"/"cuda" and one is present).

    Args:
        model_dir: the model folder (config.json + weights), loaded with ``weights_only=True``.
        device: "auto", "cpu" or "cuda".
    """

    name = "torch"

    def __init__(self, model_dir: str | os.PathLike[str], device: str = "auto") -> None:
        import torch

        from cacscore.models.checkpoint import load_model_folder

        self.model_dir = Path(model_dir)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model, self.config = load_model_folder(self.model_dir, map_location=self.device)
        self.model.eval()
        names = tuple(self.config.get("inputs", {}).keys())
        self.input_names: tuple[str, ...] = names or ("patches", "features")

    def predict_proba(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise ValueError(f"inputs {missing} missing; the model takes {list(self.input_names)}")
        n = len(inputs[self.input_names[0]])
        chunks = []
        with torch.inference_mode():
            for start in range(0, n, BATCH_SIZE):
                args = [
                    torch.from_numpy(np.ascontiguousarray(inputs[name][start : start + BATCH_SIZE],
                                                          dtype=np.float32)).to(self.device)
                    for name in self.input_names
                ]
                chunks.append(torch.softmax(self.model(*args), dim=1).cpu().numpy())
        if not chunks:
            n_classes = int(self.config.get("n_classes", len(self.config.get("classes", [])) or 4))
            return np.zeros((0, n_classes), np.float32)
        return np.concatenate(chunks).astype(np.float32)


def load_engine(model_dir: str | os.PathLike[str], engine: str = "auto", device: str = "auto") -> Engine:
    """The engine named ``engine`` for a model folder: "torch", "onnx", or "auto" (PyTorch when it is
    installed, else ONNX Runtime, which needs the folder's ``model.onnx`` from ``cacscore export``).

    The engine object's ``name`` says which one runs (recorded in result.json).
    """
    without_torch = ""
    if engine == "auto":
        engine = "torch" if importlib.util.find_spec("torch") is not None else "onnx"
        without_torch = " (PyTorch is not installed either)" if engine == "onnx" else ""
        log.debug("engine auto: %s", engine)
    if engine == "torch":
        return TorchEngine(model_dir, device=device)
    if engine == "onnx":
        try:
            from cacscore.models.onnx_engine import OnnxEngine
        except ImportError as exc:
            raise CacscoreError(f"ONNX Runtime cannot be imported in this installation{without_torch}; "
                                "install cacscore with its dependencies, or use --engine torch") from exc
        return OnnxEngine(model_dir, device=device)
    raise CacscoreError(f"unknown engine {engine!r}; choose 'auto', 'torch' or 'onnx'")


def compare_with_torch(
    model_dir: str | os.PathLike[str], onnx_path: str | os.PathLike[str], n: int = 64
) -> float:
    """Largest |p_onnx - p_torch| over ``n`` random inputs (standard normal, seed 0) for a model folder."""
    from cacscore.models.onnx_engine import OnnxEngine, input_shapes

    torch_engine = TorchEngine(model_dir, device="cpu")
    onnx_engine = OnnxEngine(onnx_path)
    rng = np.random.default_rng(0)
    inputs = {
        name: rng.standard_normal((n, *shape)).astype(np.float32)
        for name, shape in input_shapes(torch_engine.config).items()
    }
    return float(np.abs(onnx_engine.predict_proba(inputs) - torch_engine.predict_proba(inputs)).max())
