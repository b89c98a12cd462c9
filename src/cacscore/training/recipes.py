"""Training recipes: named, frozen sets of every training choice. The CLI lists :data:`RECIPES`.

- "paper": the published method, reproduced as written and never tuned (do Nascimento et al., section 2.2):
  AlexNet, inputs normalised and resized to 227x227, Adam, categorical cross-entropy, 50 epochs, batch 32,
  60/20/20 split. Where the paper says nothing we take the defaults of the library it used (Keras 2.11):
  Adam learning rate 1e-3, betas (0.9, 0.999), epsilon 1e-7; Glorot-uniform initialisation; no class
  weighting, no augmentation, no early stopping; the model after the last epoch is kept; a patch is called
  positive when its softmax probability of calcium is >= 0.5 (argmax). "Normalised" is min-max over the
  12-bit CT range [-1024, 3071] HU -> [0, 1] (our reading).
- "default": our recipe for the same task, built from the paper's own list of future work and more: a small
  network for 52x52 inputs (no 227 resize), class-balanced sampling (with hard negatives, windows
  holding calcium-like pixels, drawn for 40 % of the negatives), augmentation (flips, 90-degree
  rotations, small HU shifts and noise), cosine learning-rate decay to zero and the last epoch kept (no
  early stopping: see "default-es3"), temperature scaling on validation (calibrated probabilities) and the
  decision threshold that maximises F1 on validation. Inputs: HU clipped to [-300, 1200] and divided by
  200 (soft tissue near 0, calcium 0.65 and up), so that the first batch-norm statistics are of order 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from cacscore.errors import CacscoreError
from cacscore.patch_context import ContextParams
from cacscore.training.preprocess import PatchAugmentation, Preprocessing


@dataclass(frozen=True)
class Recipe:
    """Every choice of one training run.

    Attributes:
        name, description: registry name and one line.
        architecture, architecture_kwargs: network (see :data:`cacscore.models.MODELS`).
        preprocessing: HU window and resize.
        epochs, batch_size: training length and batch size.
        lr, betas, eps, weight_decay: Adam settings.
        lr_schedule: "constant" or "cosine" (decay to 0 over ``epochs``).
        class_balance: "none" (plain shuffling) or "sampler" (each batch draws both classes equally often).
        hard_negative_fraction: with the balanced sampler, the share of negative draws given to hard
            negatives (windows holding calcium-like pixels: at least 3 pixels >= 130 HU; valve and annulus
            calcium, bone, metal, noise peaks), which are rare among the negatives.
        samples_per_epoch: patches per epoch (None: the training set size).
        augmentation: None or the random changes applied to training batches.
        early_stopping_patience: epochs without a better validation loss before stopping (None: never stop,
            keep the last epoch).
        calibrate: fit a temperature on the validation set (folded into the last layer).
        threshold: "argmax" (p >= 0.5) or "val_f1" (the probability threshold maximising F1 on validation).
        fractions: train/val/test fractions.
        context: what the network sees besides the window (:class:`cacscore.patch_context.ContextParams`;
            None: the window only, as in the paper). The window set is the same either way.
    """

    name: str
    description: str
    architecture: str
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-7
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    class_balance: str = "none"
    hard_negative_fraction: float = 0.0
    samples_per_epoch: int | None = None
    augmentation: PatchAugmentation | None = None
    early_stopping_patience: int | None = None
    calibrate: bool = False
    threshold: str = "argmax"
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    context: ContextParams | None = None

    def to_dict(self) -> dict:
        """JSON-able form (recorded in config.json)."""
        d = asdict(self)
        d["augmentation"] = None if self.augmentation is None else self.augmentation.to_dict()
        return d

    def with_overrides(self, **changes: Any) -> Recipe:
        """A copy with some fields replaced (e.g. ``epochs``); the caller records the override."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


RECIPES: dict[str, Recipe] = {
    "paper": Recipe(
        name="paper",
        description="the paper's method as published: AlexNet at 227x227, Adam 1e-3, cross-entropy, "
        "50 epochs, batch 32, 60/20/20 (never tuned)",
        architecture="alexnet",
        architecture_kwargs={"in_channels": 1, "n_classes": 2, "dropout": 0.5, "input_px": 227},
        preprocessing=Preprocessing(window_lo_hu=-1024.0, window_hi_hu=3071.0, resize_px=227),
        epochs=50,
        batch_size=32,
        lr=1e-3,
    ),
    "default": Recipe(
        name="default",
        description="ours: PatchNet at 52x52, balanced sampling, augmentation, cosine LR to the last epoch, "
        "temperature calibration, F1-optimal threshold on validation",
        architecture="patchnet",
        architecture_kwargs={"in_channels": 1, "n_classes": 2, "width": 16, "dropout": 0.2},
        preprocessing=Preprocessing(
            window_lo_hu=-300.0, window_hi_hu=1200.0, offset_hu=0.0, scale_hu=200.0, resize_px=None
        ),
        epochs=10,
        batch_size=128,
        lr=2e-3,
        weight_decay=1e-4,
        eps=1e-8,
        lr_schedule="cosine",
        class_balance="sampler",
        hard_negative_fraction=0.4,
        samples_per_epoch=4096,
        augmentation=PatchAugmentation(),
        early_stopping_patience=None,
        calibrate=True,
        threshold="val_f1",
    ),
}


def _with_context(
    base: Recipe, name: str, description: str, context: ContextParams, patience: int | None
) -> Recipe:
    kwargs = dict(base.architecture_kwargs, in_channels=context.n_channels)
    return replace(
        base,
        name=name,
        description=description,
        context=context,
        architecture_kwargs=kwargs,
        early_stopping_patience=patience,
    )


# The default recipe as it was until issue 5's cross-validation: early stopping on the validation loss with
# patience 3 (kept so that its rows in docs/reproduction.md can be reproduced).
RECIPES["default-es3"] = replace(
    RECIPES["default"],
    name="default-es3",
    description="earlier default: as default, plus early stopping on the validation loss (patience 3, "
    "best epoch kept), which stopped most cross-validation folds too early (docs/reproduction.md)",
    early_stopping_patience=3,
)

# Experiments of the default recipe with context (issue 5), kept so that the numbers of
# docs/reproduction.md can be reproduced; both did worse than "default" on held-out patients (with early
# stopping, patience 3, as they were run).
RECIPES["default-2.5d"] = _with_context(
    RECIPES["default"],
    "default-2.5d",
    "experimental: default + the window on the slices above and below as channels (2.5-D); worse than "
    "default on held-out patients (docs/reproduction.md)",
    ContextParams(neighbour_slices=1, wide_factor=0, wide_roi=False, position=False),
    3,
)
RECIPES["default-context"] = _with_context(
    RECIPES["default"],
    "default-context",
    "experimental: default-2.5d + a 4x wider field (block mean, maximum, ROI fraction) and the window's "
    "position in the ROI; worse than default on held-out patients (docs/reproduction.md)",
    ContextParams(neighbour_slices=1, wide_factor=4, wide_roi=True, position=True),
    3,
)
# Where in the heart a window lies (the window alone cannot tell valve and annulus calcium from coronary
# calcium), without the neighbouring slices (whose distance differs between scanners) and without early
# stopping. In two 5-fold cross-validations by patient its ROC AUC was a little higher than "default"'s
# and its thresholded metrics better in one, worse in the other (docs/reproduction.md): not the default.
RECIPES["default-wide"] = _with_context(
    RECIPES["default"],
    "default-wide",
    "experimental: default + a 4x wider field (block mean, maximum, ROI fraction) and the window's position "
    "in the heart ROI, no neighbouring slices; no reliable gain over default (docs/reproduction.md)",
    ContextParams(neighbour_slices=0, wide_factor=4, wide_roi=True, position=True),
    None,
)


def get_recipe(name: str) -> Recipe:
    """The recipe registered as ``name``."""
    try:
        return RECIPES[name]
    except KeyError:
        raise CacscoreError(f"unknown recipe {name!r}; choose one of {', '.join(sorted(RECIPES))}") from None
