"""The trainer: one seeded loop for any classifier of named array inputs, following a :class:`Recipe`.

Reproducible: the weights are initialised after ``torch.manual_seed(seed)``, batches are drawn by a
``torch.Generator`` seeded with ``seed``, augmentation by another seeded with ``seed + 1``, data loading runs
in the main process (``num_workers=0``), and the thread count is fixed; the same seed on the same CPU and
thread count gives bitwise-equal weights. Threads default to the CPUs this process may use
(``os.sched_getaffinity``), overridden by ``CACSCORE_NUM_THREADS`` or the ``num_threads`` argument.

A task supplies the data as :class:`ArrayData` (named numpy inputs + integer labels) and a batch transform
that turns a batch of those inputs into the network's positional arguments (preprocessing, augmentation).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as nnf
from torch.utils.data import DataLoader, Dataset, RandomSampler, WeightedRandomSampler

from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.training.recipes import Recipe

log = get_logger(__name__)

#: batch -> network arguments; called as transform(batch_tensors, training, generator).
BatchTransform = Callable[[dict[str, torch.Tensor], bool, torch.Generator], tuple[torch.Tensor, ...]]


@dataclass
class ArrayData:
    """Named input arrays (each with N rows) and N integer class labels."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    #: Optional (N,) bool: class-0 rows that look like the positive class (hard negatives), which a recipe
    #: with ``hard_negative_fraction`` > 0 draws more often.
    hard: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class TrainResult:
    """A trained model and how it got there."""

    model: nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0
    stopped_early: bool = False
    temperature: float = 1.0
    temperature_folded: bool = False
    threshold: float = 0.5
    seconds: float = 0.0
    device: str = "cpu"
    num_threads: int = 1
    samples_per_epoch: int = 0

    def training_record(self, epochs_planned: int) -> dict:
        """What a model folder's config.json records of the run ("training")."""
        return {"epochs_planned": epochs_planned, "epochs_run": self.epochs_run,
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
                "seconds": round(self.seconds, 2), "device": self.device, "num_threads": self.num_threads,
                "samples_per_epoch": self.samples_per_epoch, "history": self.history}


class _Indices(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def default_threads() -> int:
    """Threads for torch: ``CACSCORE_NUM_THREADS`` if set, else the CPUs this process may run on."""
    env = os.environ.get("CACSCORE_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str) -> torch.device:
    """ "auto" -> CUDA when present else CPU; "cuda" without a GPU is a user error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise CacscoreError(
            "--device cuda was asked for but PyTorch sees no CUDA GPU; use --device cpu or auto"
        )
    if device not in ("cpu", "cuda"):
        raise CacscoreError(f"unknown device {device!r}; choose auto, cpu or cuda")
    return torch.device(device)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n)``, restoring the previous count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _batches(data: ArrayData, index: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v[index])).to(device) for k, v in data.inputs.items()}


def predict_logits(
    model: nn.Module,
    data: ArrayData,
    transform: BatchTransform,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
) -> np.ndarray:
    """Logits (N, n_classes) of ``model`` (switched to eval mode) on ``data``, no augmentation."""
    device = torch.device(device)
    model.eval()
    out = []
    dummy = torch.Generator()
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            idx = np.arange(start, min(start + batch_size, len(data)))
            args = transform(_batches(data, idx, device), False, dummy)
            out.append(model(*args).float().cpu().numpy())
    if not out:
        return np.zeros((0, 2), np.float32)
    return np.concatenate(out)


def softmax_np(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature scaling (Guo et al., ICML 2017): the T > 0 minimising the NLL of softmax(logits / T)."""
    from scipy.optimize import minimize_scalar

    if len(labels) == 0:
        return 1.0
    labels = np.asarray(labels, dtype=int)

    def nll(log_t: float) -> float:
        z = logits / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(labels)), labels].mean())

    res = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded", options={"xatol": 1e-4})
    return float(math.exp(res.x))


def fold_temperature(model: nn.Module, temperature: float) -> bool:
    """Divide the last linear layer's weight and bias by ``temperature`` when it produces the logits.

    This assumes the last ``nn.Linear`` produces the logits (true for the registered patch networks);
    :func:`train_classifier` checks it on the validation set and undoes the fold when it does not hold.
    Returns True when folded.
    """
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            last = m
    if last is None or temperature == 1.0:
        return temperature == 1.0
    with torch.no_grad():
        last.weight.div_(temperature)
        if last.bias is not None:
            last.bias.div_(temperature)
    return True


def best_f1_threshold(p_positive: np.ndarray, labels: np.ndarray) -> float:
    """Probability threshold maximising F1 on (p, labels): midpoint between the chosen score and the next
    lower one, so that it generalises; 0.5 when there is no positive."""
    labels = np.asarray(labels).astype(bool)
    if labels.sum() == 0 or len(labels) == 0:
        return 0.5
    order = np.argsort(-p_positive, kind="stable")
    p_sorted = p_positive[order]
    tp = np.cumsum(labels[order])
    k = np.arange(1, len(labels) + 1)
    f1 = 2 * tp / (k + labels.sum())
    # only cut between distinct scores
    distinct = np.r_[p_sorted[1:] < p_sorted[:-1], True]
    f1 = np.where(distinct, f1, -1.0)
    i = int(np.argmax(f1))
    lower = p_sorted[i + 1] if i + 1 < len(p_sorted) else 0.0
    return float((p_sorted[i] + lower) / 2)


def sampling_weights(labels: np.ndarray, hard: np.ndarray | None, hard_fraction: float) -> np.ndarray:
    """Per-row weights giving every class the same share of draws; within class 0, hard rows get
    ``hard_fraction`` of that class's share (when there are hard and easy rows)."""
    counts = np.bincount(labels, minlength=int(labels.max()) + 1).astype(float)
    weights = 1.0 / counts[labels]
    if hard is not None and hard_fraction > 0:
        neg = labels == 0
        n_hard = int(np.count_nonzero(hard & neg))
        n_easy = int(np.count_nonzero(~hard & neg))
        if n_hard and n_easy:
            weights[neg & hard] = hard_fraction / n_hard
            weights[neg & ~hard] = (1.0 - hard_fraction) / n_easy
    return weights


def _sampler(
    labels: np.ndarray,
    recipe: Recipe,
    n_samples: int,
    generator: torch.Generator,
    hard: np.ndarray | None = None,
):
    if recipe.class_balance == "sampler":
        weights = sampling_weights(labels, hard, recipe.hard_negative_fraction)
        return WeightedRandomSampler(
            torch.as_tensor(weights, dtype=torch.double), n_samples, replacement=True, generator=generator
        )
    if recipe.class_balance != "none":
        raise CacscoreError(f"unknown class balancing {recipe.class_balance!r}")
    return RandomSampler(
        range(len(labels)), replacement=n_samples > len(labels), num_samples=n_samples, generator=generator
    )


def train_classifier(
    model: nn.Module,
    train: ArrayData,
    val: ArrayData,
    recipe: Recipe,
    transform: BatchTransform,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    num_threads: int | None = None,
    progress: bool = False,
    description: str = "training",
) -> TrainResult:
    """Train ``model`` (already initialised under ``torch.manual_seed(seed)``) following ``recipe``.

    Each epoch draws ``recipe.samples_per_epoch`` (default: all) training rows, shuffled or class-balanced,
    in batches of ``recipe.batch_size``; after each epoch the validation loss and metrics are computed and
    shown on the progress bar. With early stopping the weights of the best validation-loss epoch are kept.
    Then, if the recipe says so, a temperature is fitted on validation and folded into the last layer, and a
    decision threshold is chosen on validation.
    """
    if len(train) == 0:
        raise CacscoreError("the training split is empty; the dataset is too small for this split")
    if len(np.unique(train.labels)) < 2:
        log.warning("the training split holds one class only; the classifier cannot learn to separate")
    device = device if isinstance(device, torch.device) else resolve_device(device)
    threads = num_threads or default_threads()
    n_samples = int(recipe.samples_per_epoch or len(train))
    total_steps = math.ceil(n_samples / recipe.batch_size) * recipe.epochs
    start_time = time.perf_counter()
    result = TrainResult(model=model, device=str(device), num_threads=threads, samples_per_epoch=n_samples)
    with torch_threads(threads):
        model.to(device)
        g_batches = torch.Generator().manual_seed(seed)
        g_augment = torch.Generator().manual_seed(seed + 1)
        train_labels = np.asarray(train.labels, dtype=np.int64)
        loader = DataLoader(
            _Indices(len(train)),
            batch_size=recipe.batch_size,
            sampler=_sampler(train_labels, recipe, n_samples, g_batches, train.hard),
            num_workers=0,
            generator=g_batches,
        )
        optimiser, schedule = _optimiser(model, recipe, total_steps)
        val_labels = np.asarray(val.labels, dtype=np.int64)
        patience = recipe.early_stopping_patience
        stopper = _EarlyStopping(patience) if patience is not None and len(val) else None
        bar = _Progress(total_steps, description, progress, recipe.epochs, result.history)
        try:
            for epoch in range(1, recipe.epochs + 1):
                t0 = time.perf_counter()
                train_loss = _train_epoch(
                    model, loader, lambda index: transform(_batches(train, index, device), True, g_augment),
                    train_labels, optimiser, schedule, device, functools.partial(bar.step, epoch),
                )
                record = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "train_seconds": round(time.perf_counter() - t0, 3),
                }
                if len(val):
                    record.update(_validation_record(model, val, val_labels, transform, device))
                record["seconds"] = round(time.perf_counter() - t0, 3)
                result.history.append(record)
                log.info("%s epoch %d/%d: %s", description, epoch, recipe.epochs, _record_text(record))
                bar.show(epoch, record["train_loss"])
                result.epochs_run = epoch
                if stopper is None:
                    result.best_epoch = epoch
                elif stopper.stop_after(epoch, record["val_loss"], model):
                    result.stopped_early = True
                    bar.complete()
                    break
        finally:
            bar.close()
        if stopper is not None and stopper.best_state is not None:
            model.load_state_dict(stopper.best_state)
            result.best_epoch = stopper.best_epoch
        if len(val) and (recipe.calibrate or recipe.threshold != "argmax"):
            result.temperature, result.temperature_folded, result.threshold = _calibrate(
                model, val, val_labels, recipe, transform, device
            )
        model.eval()
    result.seconds = time.perf_counter() - start_time
    return result


@dataclass
class _EarlyStopping:
    """Early stopping on the validation loss: the best epoch's weights, and when to stop (``patience``
    epochs without an improvement of more than 1e-6)."""

    patience: int
    best_loss: float = math.inf
    best_epoch: int = 0
    best_state: dict | None = None
    stale: int = 0

    def stop_after(self, epoch: int, val_loss: float, model: nn.Module) -> bool:
        """Record the epoch's validation loss (keeping the weights when it is the best); True: stop now."""
        if val_loss < self.best_loss - 1e-6:
            self.best_loss, self.best_epoch, self.stale = val_loss, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.stale += 1
        return self.stale >= self.patience


class _Progress:
    """The training progress bar (batches; epoch, running loss, last validation metrics); a no-op when off."""

    def __init__(
        self, total_steps: int, description: str, enabled: bool, epochs: int, history: list[dict]
    ) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, desc=description, unit="batch", dynamic_ncols=True, leave=True)
        self.total, self.epochs, self.history = total_steps, epochs, history

    def step(self, epoch: int, running_loss: float) -> None:
        """One batch done."""
        if self.bar is not None:
            self.bar.update(1)
            self.show(epoch, running_loss)

    def show(self, epoch: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"epoch {epoch}/{self.epochs} loss {loss:.4f}" + _val_text(self.history))

    def complete(self) -> None:
        """Fill the bar (training stopped early)."""
        if self.bar is not None:
            self.bar.update(self.total - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _optimiser(model: nn.Module, recipe: Recipe, total_steps: int):
    """Adam with the recipe's settings and its learning-rate schedule (None: constant), stepped per batch."""
    optimiser = torch.optim.Adam(
        model.parameters(),
        lr=recipe.lr,
        betas=tuple(recipe.betas),
        eps=recipe.eps,
        weight_decay=recipe.weight_decay,
    )
    if recipe.lr_schedule == "cosine":
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps))
        )
    elif recipe.lr_schedule == "constant":
        schedule = None
    else:
        raise CacscoreError(f"unknown learning-rate schedule {recipe.lr_schedule!r}")
    return optimiser, schedule


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    batch_args: Callable[[np.ndarray], tuple[torch.Tensor, ...]],
    labels: np.ndarray,
    optimiser: torch.optim.Optimizer,
    schedule,
    device: torch.device,
    on_batch: Callable[[float], None],
) -> float:
    """One pass over ``loader``, a gradient step per batch; returns the mean cross-entropy per training row.

    ``batch_args(index)`` gives the network's (augmented) arguments for those rows; ``on_batch`` is told the
    running mean loss after each step.
    """
    model.train()
    loss_sum, n_seen = 0.0, 0
    for idx in loader:
        index = idx.numpy()
        args = batch_args(index)
        y = torch.from_numpy(labels[index]).to(device)
        loss = nnf.cross_entropy(model(*args), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if schedule is not None:
            schedule.step()
        loss_sum += float(loss.detach()) * len(index)
        n_seen += len(index)
        on_batch(loss_sum / n_seen)
    return loss_sum / max(n_seen, 1)


def _validation_record(
    model: nn.Module, val: ArrayData, labels: np.ndarray, transform: BatchTransform, device: torch.device
) -> dict:
    """Validation loss and metrics of an epoch: the paper's four for two classes, else the accuracy."""
    from cacscore.evaluation.patch_metrics import binary_metrics

    logits = predict_logits(model, val, transform, device)
    record = {"val_loss": float(nnf.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)))}
    if logits.shape[1] == 2:
        m = binary_metrics(labels, softmax_np(logits)[:, 1])
        record.update({f"val_{k}": m[k] for k in ("accuracy", "sensitivity", "precision", "specificity")})
    else:
        record["val_accuracy"] = float((logits.argmax(1) == labels).mean())
    return record


def _calibrate(
    model: nn.Module,
    val: ArrayData,
    labels: np.ndarray,
    recipe: Recipe,
    transform: BatchTransform,
    device: torch.device,
) -> tuple[float, bool, float]:
    """The recipe's decision rule fitted on validation: (temperature, folded into the last layer, threshold).

    The temperature is folded only when the folded model's logits are the old ones / T (checked), else it is
    left to config.json. The threshold is the F1-best one for ``recipe.threshold == "val_f1"`` on two
    classes, else 0.5.
    """
    logits = predict_logits(model, val, transform, device)
    temperature, folded, threshold = 1.0, False, 0.5
    if recipe.calibrate:
        temperature = fit_temperature(logits, labels)
        folded = fold_temperature(model, temperature)
        if folded and temperature != 1.0:
            after = predict_logits(model, val, transform, device)
            if np.allclose(after, logits / temperature, rtol=1e-3, atol=1e-4):
                logits = after
            else:
                fold_temperature(model, 1.0 / temperature)
                folded = False
                log.warning(
                    "the last linear layer does not give the logits; the temperature %.3f is recorded in "
                    "config.json instead of folded",
                    temperature,
                )
    if recipe.threshold == "val_f1" and logits.shape[1] == 2:
        threshold = best_f1_threshold(softmax_np(logits, 1.0 if folded else temperature)[:, 1], labels)
    elif recipe.threshold not in ("argmax", "val_f1"):
        raise CacscoreError(f"unknown threshold rule {recipe.threshold!r}")
    return temperature, folded, threshold


def _val_text(history: list[dict]) -> str:
    if not history or "val_loss" not in history[-1]:
        return ""
    r = history[-1]
    parts = [f" | val loss {r['val_loss']:.4f}"]
    for key, short in (
        ("val_accuracy", "acc"),
        ("val_sensitivity", "sens"),
        ("val_precision", "prec"),
        ("val_specificity", "spec"),
    ):
        if key in r and r[key] is not None:
            parts.append(f"{short} {r[key]:.3f}")
    return " ".join(parts)


def _record_text(record: dict) -> str:
    return ", ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
        for k, v in record.items()
        if k != "epoch" and v is not None
    )


def seeded_model(architecture: str, kwargs: dict, seed: int) -> nn.Module:
    """Build a registered network with its initial weights drawn under ``torch.manual_seed(seed)``."""
    from cacscore.models import build_model

    torch.manual_seed(seed)
    return build_model(architecture, **kwargs)
