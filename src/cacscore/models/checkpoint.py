"""Self-describing model folders.

A model folder holds:

- ``weights.pt``: the network's ``state_dict`` (``torch.save``), read back with ``weights_only=True`` (no
  pickled code is ever executed);
- ``config.json``: everything needed to rebuild and use the network: ``architecture`` (registry name +
  keyword arguments), and whatever the trainer adds (task, classes, inputs, recipe, preprocessing, patch
  parameters, split, training history), ``versions`` (cacscore, torch, numpy, python) and the weights'
  SHA-256;
- ``metrics.json``: the evaluation figures;
- ``dataset.json``: the dataset fingerprint (case ids, patients, vendor mix, counts, hash).

The folder is written next to its destination under a temporary name and renamed into place, so a reader
never sees half a model; an existing model folder at the destination is replaced, any other non-empty
folder is refused.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cacscore.errors import CacscoreError

FORMAT = "cacscore-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.pt"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
DATASET_FILE = "dataset.json"


def versions() -> dict[str, str]:
    """Versions of cacscore, torch, numpy and python (recorded in every model folder)."""
    import numpy
    import torch

    import cacscore

    return {
        "cacscore": cacscore.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def json_text(obj: Any) -> str:
    """Indented JSON text (numpy scalars and arrays, paths converted), ending in a newline."""
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model_folder(
    out_dir: str | os.PathLike[str],
    model,
    *,
    architecture: str,
    architecture_kwargs: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    extra_files: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a model folder atomically and return its path.

    Args:
        out_dir: destination folder (created; an existing model folder there is replaced).
        model: the trained ``torch.nn.Module``.
        architecture: its name in :data:`cacscore.models.MODELS`.
        architecture_kwargs: the keyword arguments that rebuild it with :func:`cacscore.models.build_model`.
        config: further config.json entries (task, classes, inputs, recipe, preprocessing, ...).
        metrics: metrics.json content.
        dataset: dataset.json content (the fingerprint).
        extra_files: more files to write in the folder (name -> text or bytes), e.g. split.json.
    """
    import torch

    from cacscore.models import MODELS

    if architecture not in MODELS:
        raise CacscoreError(f"architecture {architecture!r} is not registered in cacscore.models.MODELS")
    target = Path(out_dir)
    if target.exists() and (
        not target.is_dir() or (any(target.iterdir()) and not (target / CONFIG_FILE).is_file())
    ):
        raise CacscoreError(
            f"{target} exists and is not a cacscore model folder; choose another output folder"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save(state, tmp / WEIGHTS_FILE)
        full_config: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_id": target.name,
            "architecture": {"name": architecture, "kwargs": dict(architecture_kwargs or {})},
        }
        full_config.update(config or {})
        full_config["weights_sha256"] = file_sha256(tmp / WEIGHTS_FILE)
        full_config["versions"] = versions()
        full_config["created_utc"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        (tmp / CONFIG_FILE).write_text(json_text(full_config), encoding="utf-8")
        (tmp / METRICS_FILE).write_text(json_text(metrics or {}), encoding="utf-8")
        (tmp / DATASET_FILE).write_text(json_text(dataset or {}), encoding="utf-8")
        for name, content in (extra_files or {}).items():
            path = tmp / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        os.chmod(tmp, 0o755)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / "x")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def write_json_file(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as JSON atomically (e.g. metrics.json updated by ``cacscore evaluate-patches``)."""
    from cacscore.io.atomic import write_text_atomic

    write_text_atomic(path, json_text(obj))


def read_json_file(path: str | os.PathLike[str]) -> dict:
    """A JSON file of a model folder, with a clear error when it is missing or damaged."""
    p = Path(path)
    if not p.is_file():
        raise CacscoreError(
            f"{p.parent} is not a complete cacscore model folder ({p.name} is missing); "
            "give a folder written by `cacscore train`"
        )
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CacscoreError(f"cannot read {p}: {exc}; the model folder is damaged") from exc


def load_model_folder(model_dir: str | os.PathLike[str], map_location: Any = "cpu"):
    """Rebuild the network of a model folder and load its weights (``weights_only=True``).

    Returns:
        (model in eval mode on ``map_location``, config dict).

    Raises:
        CacscoreError: the folder is not a model folder, its architecture is unknown, or its weights do not
            fit the architecture.
    """
    import torch

    from cacscore.models import build_model

    folder = Path(model_dir)
    if not folder.is_dir():
        raise CacscoreError(
            f"model folder {folder} does not exist; give a folder written by `cacscore train`"
        )
    config = read_json_file(folder / CONFIG_FILE)
    arch = config.get("architecture") or {}
    if not isinstance(arch, dict) or "name" not in arch:
        raise CacscoreError(f"{folder / CONFIG_FILE} names no architecture; the model folder is damaged")
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise CacscoreError(f"{folder} has no {WEIGHTS_FILE}; the model folder is incomplete")
    model = build_model(arch["name"], **dict(arch.get("kwargs") or {}))
    try:
        state = torch.load(weights, map_location=map_location, weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # a damaged file makes torch's unpickler raise many types (struct.error, ...)
        first = (str(exc).splitlines() or [type(exc).__name__])[0]  # an empty file gives an empty message
        raise CacscoreError(
            f"the weights in {weights} do not fit architecture {arch['name']!r}: {first}"
        ) from exc
    model.to(map_location)
    model.eval()
    return model, config


__all__ = [
    "json_text",
    "load_model_folder",
    "read_json_file",
    "save_model_folder",
    "versions",
    "write_json_file",
]
