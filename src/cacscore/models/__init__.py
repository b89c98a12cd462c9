"""Networks, their registry and model-folder I/O.

:data:`MODELS` is the one list of architectures: name -> ``"module:Class"`` and a one-line description.
:func:`build_model` imports the module only when asked, so that importing :mod:`cacscore.models` (e.g. for
the ONNX Runtime engine) does not import PyTorch.

A model folder (weights.pt, config.json, metrics.json, dataset.json) is written and read by
:mod:`cacscore.models.checkpoint`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from cacscore.errors import CacscoreError


@dataclass(frozen=True)
class ModelSpec:
    """Where an architecture lives and what it is."""

    target: str
    description: str


#: Architecture name -> spec. Add an entry here for a new network (and nothing else).
MODELS: dict[str, ModelSpec] = {
    "alexnet": ModelSpec(
        "cacscore.models.alexnet:AlexNet",
        "the paper's AlexNet (5 conv, 3 max-pool, 3 FC), 227x227 input, 2 classes",
    ),
    "patchnet": ModelSpec(
        "cacscore.models.patchnet:PatchNet", "small CNN for 52x52 patches (default recipe), 2 classes"
    ),
    "candidate_net": ModelSpec(
        "cacscore.models.candidate_net:CandidateNet",
        "candidate classifier: multi-scale 2.5-D patches + heart-ROI position features, 4 classes "
        "(not coronary, LAD, LCX, RCA)",
    ),
    "candidate_ensemble": ModelSpec(
        "cacscore.models.candidate_ensemble:CandidateEnsemble",
        "several candidate_net members trained from different seeds, their probabilities averaged",
    ),
}


def model_class(name: str) -> type:
    """The class registered as ``name``."""
    try:
        spec = MODELS[name]
    except KeyError:
        raise CacscoreError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}") from None
    module_name, attr = spec.target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def build_model(name: str, **kwargs: Any):
    """A freshly initialised network ``name`` (see :data:`MODELS`) built with ``kwargs``."""
    return model_class(name)(**kwargs)


__all__ = ["MODELS", "ModelSpec", "build_model", "model_class"]
