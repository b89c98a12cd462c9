"""Task registry: what ``cacscore train --task NAME`` trains.

A task is a callable ``task(cases, recipe, out_dir, options) -> Path`` that samples training data from the
dataset's cases, trains with :func:`cacscore.training.trainer.train_classifier` (or its own loop) following
``recipe``, and writes a model folder (or, with ``options.folds``, one per fold plus a summary) at
``out_dir``. Register a new task by adding it to :data:`TASKS` (the end-to-end pipeline adds "candidates").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cacscore.errors import CacscoreError
from cacscore.patches import PatchParams


@dataclass(frozen=True)
class TrainOptions:
    """Run options that are not part of a recipe (all recorded in the model folder).

    Attributes:
        split: "patient" (honest) or "random" (the paper's random split of patches; leaks patients).
        folds: k for k-fold cross-validation by patient (None: one train/val/test split).
        epochs: override of the recipe's epoch count (None: the recipe's).
        samples_per_epoch: override of the recipe's samples per epoch (None: the recipe's).
        seed: one seed for splits, initialisation, batches and augmentation.
        device: "auto", "cpu" or "cuda".
        num_threads: torch threads (None: CPUs available to this process).
        progress: show progress bars.
        roi_source: "reference" (each case's heart mask, the paper's expert ROI) or "auto".
        patch_params: window parameters.
        stratify_vendor: balance vendors across patient splits.
    """

    split: str = "patient"
    folds: int | None = None
    epochs: int | None = None
    samples_per_epoch: int | None = None
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None
    progress: bool = False
    roi_source: str = "reference"
    patch_params: PatchParams = field(default_factory=PatchParams)
    stratify_vendor: bool = True

    def __post_init__(self) -> None:
        if self.split not in ("patient", "random"):
            raise CacscoreError(f"unknown split {self.split!r}; choose 'patient' or 'random'")
        if self.folds is not None and self.split != "patient":
            raise CacscoreError("k-fold cross-validation is by patient; use --split patient with --folds")
        if self.epochs is not None and self.epochs < 1:
            raise CacscoreError(f"--epochs must be >= 1, got {self.epochs}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = asdict(self)
        d["patch_params"] = self.patch_params.to_dict()
        return d


Task = Callable[[Sequence, Any, "str | os.PathLike[str]", TrainOptions], Path]


def _patches_task(
    cases: Sequence, recipe: Any, out_dir: str | os.PathLike[str], options: TrainOptions
) -> Path:
    from cacscore.training.patch_task import train_patches

    return train_patches(cases, recipe, out_dir, options)


def _candidates_task(
    cases: Sequence, recipe: Any, out_dir: str | os.PathLike[str], options: TrainOptions
) -> Path:
    from cacscore.training.candidate_task import train_candidates

    return train_candidates(cases, recipe, out_dir, options)


#: Task name -> callable(cases, recipe, out_dir, options) -> model folder.
TASKS: dict[str, Task] = {
    "patches": _patches_task,
    "candidates": _candidates_task,
}

#: One line per task, for ``cacscore train --help``.
TASK_HELP: dict[str, str] = {
    "patches": "the paper's task: classify 52x52 windows as calcium / no calcium",
    "candidates": "the pipeline's task: label each calcium candidate not coronary / LAD / LCX / RCA "
    "(recipes: default, smoke)",
}


def get_task(name: str) -> Task:
    """The task registered as ``name``."""
    try:
        return TASKS[name]
    except KeyError:
        raise CacscoreError(f"unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}") from None
