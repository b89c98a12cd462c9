"""The "patches" task: the paper's 52x52 windows classified as calcium / no calcium.

cases -> :func:`cacscore.patch_windows.extract_cases` (heart ROI, windows) -> split (by patient, k-fold by
patient, or the paper's random split of windows) -> :func:`~cacscore.training.trainer.train_classifier`
-> test metrics -> model folder (weights, config.json with recipe/preprocessing/patch parameters/split/
history, metrics.json, dataset.json fingerprint, split.json).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cacscore.errors import CacscoreError
from cacscore.evaluation.patch_metrics import binary_metrics
from cacscore.log import get_logger
from cacscore.models.checkpoint import (
    json_text,
    load_model_folder,
    read_json_file,
    save_model_folder,
    write_json_file,
)
from cacscore.patch_context import ContextParams
from cacscore.patch_windows import PatchParams, PatchSet, extract_cases
from cacscore.training.options import TrainOptions
from cacscore.training.preprocess import PatchAugmentation, Preprocessing
from cacscore.training.recipes import Recipe
from cacscore.training.splits import (
    SPLIT_NAMES,
    indices_by_patient,
    kfold_by_patient,
    random_split,
    split_by_patient,
    unique_patients,
)
from cacscore.training.trainer import (
    ArrayData,
    TrainResult,
    predict_logits,
    resolve_device,
    seeded_model,
    softmax_np,
    train_classifier,
)

log = get_logger(__name__)

CLASSES = ("no calcium", "calcium")
RANDOM_SPLIT_WARNING = (
    "random split of patches (the paper's protocol): windows of one patient, and overlapping "
    "windows of one lesion, fall in training and test alike, so the test figures are "
    "optimistic; use --split patient for an honest estimate"
)


class PatchTransform:
    """Batch transform of the patch task: int16 HU patches (N, H, W) -> augmented (training only),
    windowed and resized network input (N, 1, S, S).

    With a :class:`~cacscore.patch_context.ContextParams` the batch also holds "context_hu" (N, C, H, W)
    int16, "context_roi" (N, R, H, W) uint8 ROI pixel counts per wide-field block and "position" (N, P);
    the input is (N, 1 + C + R + P, H, W): the window and its HU context through the same preprocessing,
    the ROI fraction (0..1), then the position numbers broadcast as constant planes. Flips and rotations
    move all image planes together; HU shifts and noise touch only the HU planes.
    """

    def __init__(
        self,
        preprocessing: Preprocessing,
        augmentation: PatchAugmentation | None = None,
        context: ContextParams | None = None,
    ) -> None:
        self.preprocessing = preprocessing
        self.augmentation = augmentation
        self.context = context

    def __call__(self, batch: dict[str, torch.Tensor], training: bool, generator: torch.Generator):
        hu = batch["patches"].float().unsqueeze(1)
        if self.context is None:
            if training and self.augmentation is not None:
                hu = self.augmentation(hu, generator)
            return (self.preprocessing(hu),)
        hu = torch.cat([hu, batch["context_hu"].float()], dim=1)
        block = max(int(self.context.wide_factor), 1) ** 2
        roi = batch["context_roi"].float() / block
        if training and self.augmentation is not None:
            hu, roi = self.augmentation(hu, generator, spatial=roi)
        x = self.preprocessing(hu)
        pos = batch["position"].float()[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        return (torch.cat([x, roi, pos], dim=1),)


#: A negative window is "hard" (calcium-like) when it holds at least this many pixels >= HARD_HU.
HARD_MIN_PIXELS = 3
HARD_HU = 130


def _arrays(ps: PatchSet, index: np.ndarray) -> ArrayData:
    patches = ps.patches[index]
    hard = (patches >= HARD_HU).sum(axis=(1, 2)) >= HARD_MIN_PIXELS
    inputs = {"patches": patches}
    if ps.context is not None:
        inputs["context_hu"] = ps.context.hu[index]
        inputs["context_roi"] = ps.context.roi[index]
        inputs["position"] = ps.context.position[index]
    return ArrayData(inputs, ps.labels[index].astype(np.int64), hard=hard)


def split_counts(ps: PatchSet, index: dict[str, np.ndarray]) -> dict[str, dict[str, int]]:
    """The paper's count report: total / positive / negative patches, overall and per split."""
    out = {"all": ps.counts()}
    for name, idx in index.items():
        out[name] = ps.subset(idx).counts()
    return out


def dataset_fingerprint(ps: PatchSet, index: dict[str, np.ndarray], cases: Sequence) -> dict:
    """What the model was trained on: cases, patients, vendor mix, window counts and a content hash."""
    out = {
        "n_cases": len(ps.case_ids),
        "case_ids": list(ps.case_ids),
        "patient_ids": sorted(set(ps.patient_ids)),
        "vendors": dict(sorted(Counter(str(v) for v in ps.vendors).items())),
        "image_paths": [str(c.image_path) for c in cases],
        "roi_source": ps.roi_source,
        "patch_params": ps.params.to_dict(),
        "counts": split_counts(ps, index),
        "patches_sha256": ps.fingerprint(),
    }
    if ps.context is not None:
        out["context_sha256"] = ps.context_fingerprint()
    return out


def make_splits(ps: PatchSet, options: TrainOptions, fractions) -> list[dict]:
    """The split(s) of a run: a list of {"name", "index": {split: patch indices}, "record": split.json}."""
    patients = unique_patients(ps.patient_ids)
    vendor_of = dict(zip(ps.patient_ids, ps.vendors, strict=True))
    strata = [str(vendor_of[p]) for p in patients] if options.stratify_vendor else None
    item_patients = ps.patch_patient_ids
    base = {
        "mode": options.split,
        "seed": options.seed,
        "fractions": list(fractions),
        "stratified_by_vendor": bool(options.stratify_vendor),
    }
    if options.split == "random":
        log.warning(RANDOM_SPLIT_WARNING)
        index = random_split(len(ps), fractions, options.seed)
        record = dict(
            base,
            warning=RANDOM_SPLIT_WARNING,
            n_patches=len(ps),
            indices={k: index[k].tolist() for k in ("val", "test")},
        )
        return [{"name": None, "index": index, "record": record}]
    if options.folds:
        runs = []
        for i, groups in enumerate(kfold_by_patient(patients, options.folds, options.seed, strata)):
            record = dict(base, fold=i + 1, k=options.folds, patients=groups)
            runs.append(
                {
                    "name": f"fold_{i + 1}",
                    "index": indices_by_patient(item_patients, groups),
                    "record": record,
                }
            )
        return runs
    groups = split_by_patient(patients, fractions, options.seed, strata)
    return [
        {
            "name": None,
            "index": indices_by_patient(item_patients, groups),
            "record": dict(base, patients=groups),
        }
    ]


def _window_metrics(
    model: torch.nn.Module,
    data: ArrayData,
    transform: PatchTransform,
    device: torch.device,
    calcium_pixels: np.ndarray,
    decision: dict,
) -> dict:
    """:func:`binary_metrics` of ``model`` on windows ``data`` under a model folder's ``decision`` record
    (threshold, temperature, whether the temperature is folded into the weights)."""
    logits = predict_logits(model, data, transform, device)
    folded = bool(decision.get("temperature_folded", True))
    temperature = 1.0 if folded else float(decision.get("temperature", 1.0))
    p = softmax_np(logits, temperature)[:, 1]
    return binary_metrics(data.labels, p, float(decision.get("threshold", 0.5)), calcium_pixels)


def _train_one(
    ps: PatchSet,
    cases: Sequence,
    run: dict,
    recipe: Recipe,
    options: TrainOptions,
    out_dir: Path,
    overrides: dict,
) -> dict:
    """Train, evaluate and write the model folder of one split (``run``); returns its metrics.json."""
    index = run["index"]
    for name in SPLIT_NAMES:
        counts = ps.subset(index[name]).counts()
        log.info("%s split: %d patches (%d positive, %d negative)",
                 name, counts["total"], counts["positive"], counts["negative"])
    train, val, test = (_arrays(ps, index[n]) for n in SPLIT_NAMES)
    if train.labels.sum() == 0:
        raise CacscoreError("the training split has no calcium window; the dataset needs cases with calcium")
    transform = PatchTransform(recipe.preprocessing, recipe.augmentation, recipe.context)
    model = seeded_model(recipe.architecture, recipe.architecture_kwargs, options.seed)
    device = resolve_device(options.device)
    result = train_classifier(
        model, train, val, recipe, transform, seed=options.seed, device=device,
        num_threads=options.num_threads, progress=options.progress,
        description=f"train {recipe.name}" + (f" {run['name']}" if run["name"] else ""),
    )
    decision = {
        "threshold": result.threshold,
        "temperature": result.temperature,
        "temperature_folded": result.temperature_folded,
    }
    metrics: dict = {"threshold": result.threshold, "temperature": result.temperature}
    for name, data in (("val", val), ("test", test)):
        if len(data):
            metrics[name] = _window_metrics(
                result.model, data, transform, device, ps.calcium_pixels[index[name]], decision
            )
    save_model_folder(
        out_dir,
        result.model.cpu(),
        architecture=recipe.architecture,
        architecture_kwargs=recipe.architecture_kwargs,
        config=_model_config(ps, run, recipe, options, overrides, result, decision),
        metrics=metrics,
        dataset=dataset_fingerprint(ps, index, cases),
        extra_files={"split.json": json_text(run["record"])},
    )
    if "test" in metrics:
        m = metrics["test"]
        log.info(
            "test: accuracy %s sensitivity %s precision %s specificity %s",
            *(_fmt(m[k]) for k in ("accuracy", "sensitivity", "precision", "specificity")),
        )
    return metrics


def _model_config(
    ps: PatchSet,
    run: dict,
    recipe: Recipe,
    options: TrainOptions,
    overrides: dict,
    result: TrainResult,
    decision: dict,
) -> dict:
    """config.json of a patch model: inputs, recipe, preprocessing, windows, decision, split, training."""
    size = recipe.preprocessing.resize_px or ps.params.size_px
    channels = 1 if recipe.context is None else recipe.context.n_channels
    return {
        "task": "patches",
        "classes": list(CLASSES),
        "n_classes": len(CLASSES),
        "inputs": {"patches": [channels, size, size]},
        "context": None if recipe.context is None else recipe.context.to_dict(),
        "recipe": recipe.to_dict(),
        "recipe_overrides": overrides,
        "preprocessing": recipe.preprocessing.to_dict(),
        "patch_params": ps.params.to_dict(),
        "roi_source": ps.roi_source,
        "decision": decision,
        "options": options.to_dict(),
        "split": {k: v for k, v in run["record"].items() if k not in ("indices", "patients")},
        "training": result.training_record(recipe.epochs),
    }


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def extract_for(
    cases: Sequence,
    params: PatchParams,
    roi_source: str,
    progress: bool,
    context: ContextParams | None = None,
) -> PatchSet:
    """Patches (and their context, when asked) of all cases, with a progress bar over cases when asked."""
    wrap = None
    if progress:
        from tqdm.auto import tqdm

        def wrap(it):
            return tqdm(it, desc="patches", unit="case", total=len(cases))

    return extract_cases(cases, params, roi_source, progress=wrap, context=context)


def train_patches(
    cases: Sequence, recipe: Recipe, out_dir: str | os.PathLike[str], options: TrainOptions
) -> Path:
    """Train the patch classifier; write a model folder (or, with folds, one per fold and cv_metrics.json)."""
    cases = [c for c in cases if c.has_reference]
    if not cases:
        raise CacscoreError("the dataset has no case with reference labels; the patch task needs them")
    overrides = {
        k: v
        for k, v in (("epochs", options.epochs), ("samples_per_epoch", options.samples_per_epoch))
        if v is not None
    }
    recipe = recipe.with_overrides(**overrides)
    if overrides:
        log.info("recipe %s overridden: %s (recorded in config.json)", recipe.name, overrides)
    ps = extract_for(cases, options.patch_params, options.roi_source, options.progress, recipe.context)
    counts = ps.counts()
    log.info(
        "%d patches: %d positive, %d negative, from %d cases",
        counts["total"],
        counts["positive"],
        counts["negative"],
        len(cases),
    )
    out = Path(out_dir)
    runs = make_splits(ps, options, recipe.fractions)
    if len(runs) == 1:
        _train_one(ps, cases, runs[0], recipe, options, out, overrides)
        return out
    if out.exists() and any(out.iterdir()) and not (out / "cv_metrics.json").is_file():
        raise CacscoreError(f"{out} exists and is not a cross-validation folder of cacscore; choose another")
    per_fold = []
    for run in runs:
        per_fold.append(_train_one(ps, cases, run, recipe, options, out / run["name"], overrides))
    write_json_file(out / "cv_metrics.json", cv_summary(per_fold))
    return out


def cv_summary(per_fold: list[dict]) -> dict:
    """Mean and standard deviation over folds of each test metric, the pooled confusion matrix, and folds."""
    keys = ("accuracy", "sensitivity", "precision", "specificity", "f1", "roc_auc")
    summary: dict = {"k": len(per_fold), "mean": {}, "sd": {}}
    for k in keys:
        vals = [f["test"][k] for f in per_fold if f.get("test") and f["test"].get(k) is not None]
        summary["mean"][k] = float(np.mean(vals)) if vals else None
        summary["sd"][k] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    cm = np.zeros((2, 2), dtype=int)
    for f in per_fold:
        if f.get("test"):
            cm += np.asarray(f["test"]["confusion_matrix"], dtype=int)
    summary["pooled_confusion_matrix"] = cm.tolist()
    summary["folds"] = per_fold
    return summary


def evaluate_patch_model(
    model_dir: str | os.PathLike[str],
    cases: Sequence,
    *,
    split: str = "test",
    device: str = "auto",
    progress: bool = False,
) -> dict:
    """Re-extract the dataset's windows with the model's recorded parameters and evaluate on its split.

    Raises:
        CacscoreError: not a patch model, or the dataset's windows differ from those the model was trained on
            (its fingerprint hash), so the recorded split would not mean the same patches.
    """
    folder = Path(model_dir)
    model, config = load_model_folder(folder, map_location="cpu")
    if config.get("task") != "patches":
        raise CacscoreError(
            f"{folder} holds a {config.get('task')!r} model; evaluate-patches needs a patch model"
        )
    record = read_json_file(folder / "split.json")
    fingerprint = read_json_file(folder / "dataset.json")
    params = PatchParams(**config["patch_params"])
    cases = [c for c in cases if c.has_reference]
    context = ContextParams.from_dict(config.get("context"))
    ps = extract_for(cases, params, config.get("roi_source", "reference"), progress, context)
    recorded_context = fingerprint.get("context_sha256")
    if ps.fingerprint() != fingerprint.get("patches_sha256") or (
        recorded_context is not None and ps.context_fingerprint() != recorded_context
    ):
        raise CacscoreError(
            "this dataset's windows differ from those the model was trained on (dataset.json "
            "hash); give the same dataset (same cases, labels and heart masks)"
        )
    if record["mode"] == "random":
        if split not in record["indices"]:
            raise CacscoreError(f"the random split records only {sorted(record['indices'])}, not {split!r}")
        index = np.asarray(record["indices"][split], dtype=np.int64)
    else:
        index = indices_by_patient(ps.patch_patient_ids, record["patients"])[split]
    pre = Preprocessing.from_dict(config["preprocessing"])
    dev = resolve_device(device)
    model.to(dev)
    metrics = _window_metrics(model, _arrays(ps, index), PatchTransform(pre, context=context), dev,
                              ps.calcium_pixels[index], config.get("decision", {}))
    metrics["split"] = split
    metrics["split_mode"] = record["mode"]
    return metrics
