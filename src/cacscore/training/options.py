"""Run options of ``cacscore train`` that are not part of a recipe (split, folds, seed, device, ...).

Below the task registry (:mod:`cacscore.training.tasks`) and the task modules, which all take a
:class:`TrainOptions`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cacscore.errors import CacscoreError
from cacscore.patch_windows import PatchParams


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
        base_model: the candidates model folder the "artery" task adds to (None for the other tasks).
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
    base_model: str | None = None

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
