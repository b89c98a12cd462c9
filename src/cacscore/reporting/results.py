"""result.json: the per-case result dict written as JSON (atomically; NumPy values made plain)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cacscore.io.atomic import write_text_atomic


def to_jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars/arrays, tuples and paths turned into JSON types; NaN and infinities become
    null (JSON has no such numbers; the readers refuse such voxels, so none should reach a result)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, Path):
        return str(value)
    return value


def write_result_json(result: Mapping, path: str | os.PathLike[str]) -> Path:
    """Write ``result`` to ``path`` as indented UTF-8 JSON, atomically; returns the path."""
    target = Path(path)
    write_text_atomic(target, json.dumps(to_jsonable(result), indent=2, allow_nan=False) + "\n")
    return target


def read_result_json(path: str | os.PathLike[str]) -> dict:
    """A result.json read back."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
