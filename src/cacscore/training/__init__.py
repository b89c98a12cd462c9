"""Training: splits, patch preprocessing/augmentation, the trainer, named recipes and the task registry.

- :mod:`~cacscore.training.splits`: by patient (60/20/20), k-fold by patient, the paper's random split.
- :mod:`~cacscore.training.preprocess`: HU window + resize, augmentation (batches of HU tensors).
- :mod:`~cacscore.training.recipes`: :data:`RECIPES` ("paper", never tuned; "default", ours).
- :mod:`~cacscore.training.trainer`: :func:`train_classifier` (seeded, progress bar, early stopping,
  temperature scaling).
- :mod:`~cacscore.training.options`: :class:`TrainOptions` (split, folds, seed, device, ...).
- :mod:`~cacscore.training.tasks`: :data:`TASKS` ("patches", "candidates"), above the task modules.

Importing this package does not import PyTorch; the trainer and tasks do when used.
"""

from __future__ import annotations

from cacscore.training.options import TrainOptions
from cacscore.training.splits import kfold_by_patient, random_split, split_by_patient
from cacscore.training.tasks import TASKS, get_task

__all__ = ["TASKS", "TrainOptions", "get_task", "kfold_by_patient", "random_split", "split_by_patient"]
