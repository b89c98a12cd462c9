"""ONNX export of any cacscore model and an ONNX Runtime inference engine (CPU).

Export: the model wrapped with a softmax (the ONNX graph outputs probabilities, named ``probabilities``),
named inputs in the order of the model folder's ``config["inputs"]``, a dynamic batch axis on every input and
on the output. The TorchDynamo exporter (``torch.onnx.export(..., dynamo=True)``, torch >= 2.5, uses
onnxscript) is tried first; when it cannot trace a model the TorchScript exporter (``dynamo=False``) is used
and the log says so. The config and a fingerprint of the weights travel in the ONNX metadata, so an .onnx
file is self-describing and a stale export is detected.

Inference: :class:`OnnxEngine` implements the ``Engine`` protocol of :mod:`cacscore.models.engine` (which
picks an engine and compares this one with PyTorch; this module does not import it) with ONNX Runtime's
CPUExecutionProvider; intra-op threads are set explicitly (argument, else ``CACSCORE_NUM_THREADS`` set by
batch workers, else the CPUs this process may use) and inter-op threads to 1. Given a model folder it uses
``<model_dir>/model.onnx`` when that file was exported from the folder's current weights, else an export
cached under ``$CACSCORE_CACHE_DIR`` (default ``~/.cache/cacscore``) keyed by the weights' fingerprint;
exporting needs PyTorch, running an existing .onnx file does not.

Agreement with PyTorch is tested (tests/deploy/test_onnx.py): max |p_onnx - p_torch| < 1e-5 on probabilities.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.io.atomic import atomic_path
from cacscore.log import get_logger
from cacscore.models.checkpoint import CONFIG_FILE, read_json_file

log = get_logger(__name__)

#: Name of the ONNX graph's output (class probabilities, rows sum to 1).
OUTPUT_NAME = "probabilities"
#: File name of an export kept inside a model folder.
MODEL_FILE = "model.onnx"
#: ONNX opset of exports (ONNX Runtime >= 1.14 runs it).
OPSET = 18
#: Rows per ONNX Runtime call (bounds memory on scans with many candidates).
BATCH_SIZE = 256
#: Largest |p_onnx - p_torch| accepted by the tests and by ``cacscore export --check``.
TOLERANCE = 1e-5

_WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")


def input_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of each named input, in the order the model's ``forward`` takes them.

    Read from ``config["inputs"]``: ``{name: [dims...]}`` or ``{name: {"shape": [dims...]}}``; a leading batch
    dimension that is not a positive integer ("N", null, -1) is dropped.
    """
    specs = config.get("inputs")
    if not isinstance(specs, dict) or not specs:
        raise CacscoreError("the model's config.json has no 'inputs' (name -> shape); it cannot be exported")
    shapes = {}
    for name, spec in specs.items():
        dims = list(spec.get("shape") if isinstance(spec, dict) else spec)
        if dims and not (isinstance(dims[0], int) and dims[0] > 0):
            dims = dims[1:]
        if not all(isinstance(d, int) and d > 0 for d in dims):
            raise CacscoreError(f"input {name!r} has a shape {dims} that is not fixed; it cannot be exported")
        shapes[name] = tuple(dims)
    return shapes


def weights_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """SHA-256 (hex, 16 chars) of the folder's config.json and weight files: changes when the model does."""
    folder = Path(model_dir)
    digest = hashlib.sha256()
    files = [folder / CONFIG_FILE, *sorted(f for f in folder.iterdir() if f.suffix in _WEIGHT_SUFFIXES)]
    for file in files:
        if file.is_file():
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _probabilities_module(model: Any) -> Any:
    import torch

    class Probabilities(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.inner(*inputs), dim=1)

    return Probabilities(model).eval()


def export_onnx(
    model: Any,
    shapes: dict[str, tuple[int, ...]],
    path: str | os.PathLike[str],
    metadata: dict[str, str] | None = None,
) -> Path:
    """Export ``model`` (logits out) to an ONNX file whose output is softmax probabilities.

    Args:
        model: a ``torch.nn.Module`` taking the inputs of ``shapes`` positionally, in that order.
        shapes: per-sample shape of each named input (the batch axis is dynamic).
        path: the .onnx file (written atomically, weights inside the file).
        metadata: extra key/value strings stored in the model's metadata.
    """
    import onnx
    import torch

    wrapped = _probabilities_module(model.cpu().eval())
    names = list(shapes)
    # batch of 2: an example batch of 1 lets the exporter specialise the batch axis to a constant
    generator = torch.Generator().manual_seed(0)
    example = tuple(torch.randn((2, *shapes[n]), generator=generator) for n in names)
    target = Path(path)
    with atomic_path(target) as tmp:
        try:
            batch = torch.export.Dim("batch", min=1)
            torch.onnx.export(
                wrapped, example, str(tmp), dynamo=True, external_data=False, opset_version=OPSET,
                input_names=names, output_names=[OUTPUT_NAME], verbose=False,
                dynamic_shapes=(tuple({0: batch} for _ in names),),  # one entry: the *inputs tuple
            )
            exporter = "dynamo"
        except Exception as exc:  # the dynamo exporter cannot trace every model; the TorchScript one may
            log.warning("TorchDynamo ONNX export failed (%s); using the TorchScript exporter", exc)
            torch.onnx.export(
                wrapped, example, str(tmp), dynamo=False, opset_version=OPSET,
                input_names=names, output_names=[OUTPUT_NAME],
                dynamic_axes={**{n: {0: "batch"} for n in names}, OUTPUT_NAME: {0: "batch"}},
            )
            exporter = "torchscript"
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        entries = {"cacscore_exporter": exporter, **(metadata or {})}
        for key, value in entries.items():
            prop = proto.metadata_props.add()
            prop.key, prop.value = key, str(value)
        onnx.save(proto, str(tmp))
    log.info("exported ONNX model (%s exporter) to %s", exporter, target)
    return target


def export_model_folder(model_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Export the model of a model folder (``cacscore export MODELDIR -o model.onnx``)."""
    from cacscore.models.checkpoint import load_model_folder

    folder = Path(model_dir)
    model, config = load_model_folder(folder, map_location="cpu")
    metadata = {
        "cacscore_config": json.dumps(config, sort_keys=True),
        "cacscore_fingerprint": weights_fingerprint(folder),
    }
    return export_onnx(model, input_shapes(config), path, metadata=metadata)


def cache_dir() -> Path:
    """Folder of on-demand exports: ``$CACSCORE_CACHE_DIR/onnx`` (default ``~/.cache/cacscore/onnx``)."""
    root = os.environ.get("CACSCORE_CACHE_DIR") or Path.home() / ".cache" / "cacscore"
    return Path(root) / "onnx"


def _default_threads() -> int:
    env = os.environ.get("CACSCORE_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class OnnxEngine:
    """Runs a model with ONNX Runtime (the ``Engine`` protocol of :mod:`cacscore.models.engine`).

    Args:
        model: a model folder, or an .onnx file written by :func:`export_onnx` / ``cacscore export``.
        device: "auto" or "cpu" run on CPUExecutionProvider; "cuda" uses CUDAExecutionProvider when the
            installed ONNX Runtime has it.
        threads: intra-op threads (default: ``CACSCORE_NUM_THREADS``, else the CPUs this process may use).
    """

    name = "onnx"

    def __init__(
        self, model: str | os.PathLike[str], device: str = "auto", threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        path = Path(model)
        if path.is_dir():
            self.model_dir = path
            self.onnx_path = self._export_for(path)
        elif path.is_file() and path.suffix == ".onnx":
            self.onnx_path = path
            self.model_dir = path.parent
        else:
            raise CacscoreError(f"{path} is neither a model folder nor an .onnx file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.onnx_path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for bad files
            raise CacscoreError(f"ONNX Runtime cannot load {self.onnx_path}: {exc}; export it again") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        if path.is_dir():
            self.config = read_json_file(path / CONFIG_FILE)
        else:
            self.config = json.loads(meta.get("cacscore_config", "{}"))
        self.input_names: tuple[str, ...] = tuple(i.name for i in self.session.get_inputs())
        self.threads = options.intra_op_num_threads

    @staticmethod
    def _export_for(model_dir: Path) -> Path:
        """The .onnx file of a model folder's current weights, exporting it into the cache when needed."""
        import onnx

        fingerprint = weights_fingerprint(model_dir)
        inside = model_dir / MODEL_FILE
        if inside.is_file():
            props = {p.key: p.value for p in onnx.load(str(inside), load_external_data=False).metadata_props}
            if props.get("cacscore_fingerprint") == fingerprint:
                return inside
            log.warning("%s was exported from other weights; using a fresh export", inside)
        cached = cache_dir() / f"{fingerprint}.onnx"
        if not cached.is_file():
            try:
                import torch  # noqa: F401
            except ImportError as exc:
                raise CacscoreError(
                    f"{model_dir} has no current {MODEL_FILE} and PyTorch is not installed to export one; "
                    f"run `cacscore export {model_dir} -o {inside}` where PyTorch is installed"
                ) from exc
            log.info("exporting %s to ONNX (once; cached at %s)", model_dir, cached)
            export_model_folder(model_dir, cached)
        return cached

    def predict_proba(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities (N, n_classes) for named float32 inputs of N rows."""
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise ValueError(f"inputs {missing} missing; the model takes {list(self.input_names)}")
        n = len(inputs[self.input_names[0]])
        if n == 0:
            n_classes = int(self.session.get_outputs()[0].shape[1])
            return np.zeros((0, n_classes), np.float32)
        chunks = [
            self.session.run(
                [OUTPUT_NAME],
                {
                    name: np.ascontiguousarray(inputs[name][start : start + BATCH_SIZE], dtype=np.float32)
                    for name in self.input_names
                },
            )[0]
            for start in range(0, n, BATCH_SIZE)
        ]
        return np.concatenate(chunks).astype(np.float32)
