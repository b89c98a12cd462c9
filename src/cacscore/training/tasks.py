"""Task registry: what ``cacscore train --task NAME`` trains.

A task is a callable ``task(cases, recipe, out_dir, options) -> Path`` that samples training data from the
dataset's cases, trains with :func:`cacscore.training.trainer.train_classifier` (or its own loop) following
``recipe``, and writes a model folder (or, with ``options.folds``, one per fold plus a summary) at
``out_dir``. Register a new task by adding it to :data:`TASKS` (the end-to-end pipeline adds "candidates").

The registry sits above the tasks: it imports each task module when that task runs, and the task modules
take their :class:`~cacscore.training.options.TrainOptions` from the lower module, never from here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cacscore.errors import CacscoreError
from cacscore.training.options import TrainOptions

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


def _artery_task(
    cases: Sequence, recipe: Any, out_dir: str | os.PathLike[str], options: TrainOptions
) -> Path:
    from cacscore.training.artery_task import train_artery

    return train_artery(cases, out_dir, options)


#: Task name -> callable(cases, recipe, out_dir, options) -> model folder.
TASKS: dict[str, Task] = {
    "patches": _patches_task,
    "candidates": _candidates_task,
    "artery": _artery_task,
}

#: One line per task, for ``cacscore train --help``.
TASK_HELP: dict[str, str] = {
    "patches": "the paper's task: classify 52x52 windows as calcium / no calcium",
    "candidates": "the pipeline's task: label each calcium candidate not coronary / LAD / LCX / RCA "
    "(recipes: default, smoke)",
    "artery": "add the artery by position to the candidates model --base-model (no recipe; its "
    "training patients' coronary candidates vote by where they lie in the heart)",
}


def get_task(name: str) -> Task:
    """The task registered as ``name``."""
    try:
        return TASKS[name]
    except KeyError:
        raise CacscoreError(f"unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}") from None
