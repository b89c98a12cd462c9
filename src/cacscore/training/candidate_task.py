"""The "candidates" training task: teach :class:`~cacscore.models.candidate_net.CandidateNet` to label every
calcium candidate as not coronary, LAD (incl. left main), LCX or RCA.

Training data come from cases with reference labels (orCaScore codes). Each case goes through exactly the
steps ``predict`` runs (:func:`cacscore.detection.pipeline.prepare_scan`: thorax, heart ROI with the same
whole-body fallback, candidates with the scoring threshold and minimum area, descriptors), so the model sees
in training what it sees at prediction; each candidate's target is the majority reference label of its
voxels (0 when it overlaps no reference lesion; :func:`cacscore.detection.candidates.reference_classes`).
Inputs are sampled once plainly and ``n_augment`` times with a random rotation, zoom, shift, blur, noise
and contrast of the patch and a shift of the position descriptors
(:class:`cacscore.detection.classifier.InputAugmentation`).

The heart ROI is the automatic one (``roi="auto"``, what ``predict`` uses by default) or the case's own
heart mask (``roi="reference"``, as ``predict --heart-mask``).

The model folder also records the descriptors' training mean and SD (inside the network), and the range of
scans and candidates seen in training (:class:`cacscore.detection.domain.TrainingDomain`), against which
``predict`` checks every new scan.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cacscore.detection.candidates import CandidateSet, reference_classes
from cacscore.detection.classifier import (
    CandidateInputSpec,
    DecisionRule,
    InputAugmentation,
    sample_candidate_inputs,
)
from cacscore.detection.descriptors import DESCRIPTOR_NAMES
from cacscore.detection.domain import TrainingDomain, scan_measures
from cacscore.detection.pipeline import CandidateScan, prepare_scan
from cacscore.labels import Artery
from cacscore.log import get_logger
from cacscore.training.options import TrainOptions
from cacscore.training.recipes import Recipe
from cacscore.volume import Volume

if TYPE_CHECKING:
    from cacscore.training.trainer import ArrayData, TrainResult

log = get_logger(__name__)

#: Reference label (Artery code) -> class index of the network (LM counts as LAD, as in orCaScore).
CODE_TO_CLASS: dict[int, int] = {
    int(Artery.BACKGROUND): 0,
    int(Artery.LAD): 1,
    int(Artery.LM): 1,
    int(Artery.LCX): 2,
    int(Artery.RCA): 3,
}


@dataclass(frozen=True)
class CandidateSampling:
    """How training samples are drawn from a case's candidates (recorded in the model folder).

    Attributes:
        n_augment: augmented copies sampled per coronary candidate, besides the plain one.
        n_augment_negative: augmented copies per not-coronary candidate (they are many already).
        max_negatives_per_case: most not-coronary candidates kept per case (the largest and densest half,
            the rest at random), so one noisy scan or a chest full of bone does not flood the training set.
            300: a low-dose chest scan (noise SD 40-65 HU) holds 2,000-3,000 noise candidates; with 60 (30
            of them at random) the model saw too few and called 100-200 of them coronary on such a
            held-out scan.
        connectivity: 3-D connectivity of the candidates (6, 18, 26); predict uses the same.
        scoring_preset: scoring settings whose threshold and minimum area define the candidates.
        augmentation: the random changes applied to the augmented copies.
    """

    n_augment: int = 4
    n_augment_negative: int = 1
    max_negatives_per_case: int = 300
    connectivity: int = 26
    scoring_preset: str = "default"
    augmentation: InputAugmentation = field(default_factory=InputAugmentation)

    def to_dict(self) -> dict:
        return asdict(self)


#: Descriptor groups that an ablation recipe can take away (column prefixes of DESCRIPTOR_NAMES).
_GROUPS: dict[str, tuple[str, ...]] = {
    "position": ("offset_",),
    "bone": ("log_structure", "structure_outside", "bone_distance", "in_bone", "rib_cage"),
    "surroundings": ("air_", "fat_", "bright_"),
    "intensity": ("peak_hu", "mean_hu", "peak_over_noise"),
    "shape": ("log_volume", "log_max_area", "z_extent", "log_length", "log_elongation"),
}


def _mask_without(*groups: str) -> list[float]:
    """A feature mask (1 = used) without the descriptor columns of ``groups``."""
    drop = tuple(prefix for g in groups for prefix in _GROUPS[g])
    return [0.0 if name.startswith(drop) else 1.0 for name in DESCRIPTOR_NAMES]


#: Upper caps of the intensity descriptors (HU / 1000) for the "capped-intensity" recipes. Above about 600 HU
#: peak (300 HU mean) every kind of calcium is found - coronary plaque (the team's RCA plaques peak at
#: 390-1235 HU), valve and root calcium (lung1's 1040 HU), ossified cartilage and bone - while noise and
#: partial-volume specks stay far below, so beyond the cap density tells "mineral", not which mineral.
INTENSITY_CAP: dict[str, float] = {"peak_hu_1000": 0.6, "mean_hu_1000": 0.3}


def _caps(caps: dict[str, float]) -> list[float | None]:
    """A feature cap vector (``None`` = uncapped) from {descriptor name: cap}."""
    return [caps.get(name) for name in DESCRIPTOR_NAMES]


def _recipe(name: str, description: str, architecture_kwargs: dict | None = None, **changes) -> Recipe:
    kwargs = {"n_features": len(DESCRIPTOR_NAMES), "n_classes": 4, "n_channels": 2, "width": 16,
              "dropout": 0.3}
    kwargs.update(architecture_kwargs or {})
    base = {
        "architecture": "candidate_net",
        "architecture_kwargs": kwargs,
        "epochs": 30,
        "batch_size": 128,
        "lr": 2e-3,
        "eps": 1e-8,
        "weight_decay": 5e-4,
        "lr_schedule": "cosine",
        "class_balance": "none",
        "early_stopping_patience": 8,
        "calibrate": True,
        "threshold": "argmax",
        "fractions": (0.85, 0.15, 0.0),
    }
    base.update(changes)
    return Recipe(name=name, description=description, **base)


_DEFAULT_TEXT = ("CandidateNet: descriptor MLP (intensity, shape, bone, surroundings, heart-frame position)"
                 " + CNN on a 19 mm tissue-normalised patch, 4 classes, 4 augmented copies per coronary "
                 "candidate, cosine LR, early stopping, temperature calibration")

#: Recipes of the "candidates" task: name -> (trainer recipe, sampling). "ensemble10-capped-intensity"
#: trains the shipped model (v9), "ensemble-capped-intensity" v8, "ensemble" v5 and v6 (five "default"
#: networks); the "no-..." and "...-only" recipes are the ablations of docs/model.md; "smoke" is a
#: seconds-long run for tests.
CANDIDATE_RECIPES: dict[str, tuple[Recipe, CandidateSampling]] = {
    "default": (_recipe("default", _DEFAULT_TEXT), CandidateSampling()),
    "descriptors-only": (
        _recipe("descriptors-only", "ablation: the descriptor MLP alone (no patch CNN)",
                {"branches": ["features"]}),
        CandidateSampling(),
    ),
    "patch-only": (
        _recipe("patch-only", "ablation: the patch CNN alone (no descriptors)", {"branches": ["patch"]}),
        CandidateSampling(),
    ),
    **{
        f"no-{group}": (
            _recipe(f"no-{group}", f"ablation: default without the {group} descriptors",
                    {"feature_mask": _mask_without(group)}),
            CandidateSampling(),
        )
        for group in _GROUPS
    },
    "capped-intensity": (
        _recipe("capped-intensity", "experiment: default with the peak and mean HU capped at "
                "INTENSITY_CAP (docs/model.md)", {"feature_max": _caps(INTENSITY_CAP)}),
        CandidateSampling(),
    ),
    **{
        name: (
            _recipe(name, text, {"n_members": n_members, "feature_max": _caps(INTENSITY_CAP)},
                    architecture="candidate_ensemble"),
            CandidateSampling(),
        )
        for name, n_members, text in (
            ("ensemble-capped-intensity", 5,
             "experiment: ensemble with the peak and mean HU capped at INTENSITY_CAP (docs/model.md)"),
            ("ensemble10-capped-intensity", 10,
             "the shipped model v9: ensemble-capped-intensity with 10 members (seeds seed..seed+9), "
             "against the spread between seeds (docs/results.md)"),
        )
    },
    "ensemble": (
        _recipe("ensemble", "5 CandidateNets of the default recipe from seeds seed..seed+4 on the same "
                "samples and split, probabilities averaged", {"n_members": 5},
                architecture="candidate_ensemble"),
        CandidateSampling(),
    ),
    "smoke": (
        _recipe("smoke", "tiny CandidateNet, 2 epochs (tests only)", {"width": 4, "dropout": 0.0}, epochs=2,
                early_stopping_patience=None, fractions=(0.67, 0.33, 0.0)),
        CandidateSampling(n_augment=1, max_negatives_per_case=10),
    ),
    "smoke-ensemble": (
        _recipe("smoke-ensemble", "2 tiny CandidateNets, 2 epochs (tests only)",
                {"width": 4, "dropout": 0.0, "n_members": 2}, architecture="candidate_ensemble", epochs=2,
                early_stopping_patience=None, fractions=(0.67, 0.33, 0.0)),
        CandidateSampling(n_augment=1, max_negatives_per_case=10),
    ),
}


def candidate_recipe(recipe: Recipe | str) -> tuple[Recipe, CandidateSampling]:
    """The candidates task's recipe for what ``cacscore train --recipe`` gave (a name or a Recipe).

    A Recipe whose architecture is ``candidate_net`` or ``candidate_ensemble`` is used as it is (with the
    default sampling); any other is looked up by name in :data:`CANDIDATE_RECIPES` (so ``--recipe default``
    means this task's default).
    """
    from cacscore.errors import CacscoreError

    if isinstance(recipe, Recipe) and recipe.architecture in ("candidate_net", "candidate_ensemble"):
        return recipe, CANDIDATE_RECIPES.get(recipe.name, CANDIDATE_RECIPES["default"])[1]
    name = recipe if isinstance(recipe, str) else recipe.name
    if name not in CANDIDATE_RECIPES:
        raise CacscoreError(f"recipe {name!r} is not one of the candidates task; "
                            f"choose one of {', '.join(CANDIDATE_RECIPES)}")
    return CANDIDATE_RECIPES[name]


@dataclass(frozen=True, eq=False)
class CandidateSamples:
    """Classifier inputs and targets of many candidates (training samples).

    Attributes:
        inputs: named arrays, ``{"patches": (N, C, H, W), "features": (N, F)}``.
        targets: (N,) class index (0 not coronary, 1 LAD, 2 LCX, 3 RCA).
        groups: (N,) case id of each sample (what splits group by).
        augmented: (N,) whether the sample is an augmented copy.
    """

    inputs: dict[str, np.ndarray]
    targets: np.ndarray
    groups: np.ndarray
    augmented: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, index: np.ndarray) -> CandidateSamples:
        return CandidateSamples(
            {k: v[index] for k, v in self.inputs.items()},
            self.targets[index],
            self.groups[index],
            self.augmented[index],
        )

    @staticmethod
    def concat(parts: Sequence[CandidateSamples], spec: CandidateInputSpec) -> CandidateSamples:
        if not parts:
            return CandidateSamples(
                {
                    "patches": np.zeros((0, spec.n_channels, spec.size_px, spec.size_px), np.float32),
                    "features": np.zeros((0, spec.n_features), np.float32),
                },
                np.zeros(0, np.int64),
                np.zeros(0, object),
                np.zeros(0, bool),
            )
        return CandidateSamples(
            {k: np.concatenate([p.inputs[k] for p in parts]) for k in parts[0].inputs},
            np.concatenate([p.targets for p in parts]),
            np.concatenate([p.groups for p in parts]),
            np.concatenate([p.augmented for p in parts]),
        )

    def class_counts(self, n_classes: int = 4) -> list[int]:
        return np.bincount(self.targets, minlength=n_classes).tolist()


def case_samples(
    case_id: str,
    scan: CandidateScan,
    reference: np.ndarray,
    spec: CandidateInputSpec,
    sampling: CandidateSampling,
    rng: np.random.Generator,
) -> CandidateSamples:
    """The training samples of one prepared scan: its candidates plainly (not-coronary ones subsampled to
    ``max_negatives_per_case``), plus ``n_augment`` random copies of each coronary one and
    ``n_augment_negative`` of each other."""
    cands = scan.candidates
    codes = reference_classes(cands, reference)
    targets = np.array([CODE_TO_CLASS.get(int(c), -1) for c in codes], dtype=np.int64)
    keep = np.flatnonzero(targets >= 0)
    negatives = keep[targets[keep] == 0]
    if negatives.size > sampling.max_negatives_per_case:
        # keep the hardest-looking half (largest, densest) and a random rest
        size = np.array([cands.candidates[i].volume_mm3 * cands.candidates[i].peak_hu for i in negatives])
        order = negatives[np.argsort(-size, kind="stable")]
        half = sampling.max_negatives_per_case // 2
        rest = rng.choice(order[half:], size=sampling.max_negatives_per_case - half, replace=False)
        negatives = np.concatenate([order[:half], rest])
    chosen = np.sort(np.concatenate([keep[targets[keep] > 0], negatives]))
    cands, descriptors, targets = _select(cands, chosen), scan.descriptors[chosen], targets[chosen]
    volume = scan.volume
    plain = sample_candidate_inputs(volume, cands, descriptors, scan.reference, spec)
    parts = [CandidateSamples(plain, targets, np.full(len(cands), case_id, dtype=object),
                              np.zeros(len(cands), bool))]
    for copy in range(max(sampling.n_augment, sampling.n_augment_negative)):
        # coronary candidates get n_augment copies, the others n_augment_negative
        wanted = np.where(targets > 0, copy < sampling.n_augment, copy < sampling.n_augment_negative)
        picked = np.flatnonzero(wanted)
        if picked.size == 0:
            continue
        inputs = sample_candidate_inputs(volume, _select(cands, picked), descriptors[picked], scan.reference,
                                         spec, rng=rng, augmentation=sampling.augmentation)
        parts.append(CandidateSamples(inputs, targets[picked], np.full(picked.size, case_id, dtype=object),
                                      np.ones(picked.size, bool)))
    return CandidateSamples.concat(parts, spec)


def _select(cands: CandidateSet, chosen: np.ndarray) -> CandidateSet:
    """The candidate set restricted to positions ``chosen`` (label map keeps their original indices)."""
    keep_ids = np.array([cands.candidates[i].index for i in chosen], dtype=np.int32)
    lut = np.zeros(int(cands.label_map.max()) + 1, np.int32)
    lut[keep_ids] = keep_ids
    kept = tuple(cands.candidates[i] for i in chosen)
    return CandidateSet(lut[cands.label_map], kept, cands.threshold_hu, cands.connectivity)


@dataclass(frozen=True, eq=False)
class CollectedSamples:
    """What :func:`collect_samples` gathers: the samples, per case its scan measures (for the domain), and
    how long sampling took.

    Attributes:
        samples: every sample of every case.
        scans: case id -> :func:`cacscore.detection.domain.scan_measures` of its scan.
        seconds: wall time of the sampling.
    """

    samples: CandidateSamples
    scans: dict[str, dict[str, float]]
    seconds: float = 0.0

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the samples to one .npz file (an ablation samples once and trains many recipes)."""
        import json

        s = self.samples
        np.savez_compressed(path, patches=s.inputs["patches"], features=s.inputs["features"],
                            targets=s.targets, groups=s.groups.astype(str), augmented=s.augmented,
                            scans=json.dumps(self.scans), seconds=self.seconds)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CollectedSamples:
        """Read what :meth:`save` wrote."""
        import json

        with np.load(path) as z:
            samples = CandidateSamples({"patches": z["patches"], "features": z["features"]}, z["targets"],
                                       z["groups"].astype(object), z["augmented"])
            return cls(samples, json.loads(str(z["scans"])), float(z["seconds"]))


def collect_samples(
    cases: Iterable[tuple[str, Volume, np.ndarray, np.ndarray | None]],
    spec: CandidateInputSpec,
    sampling: CandidateSampling,
    seed: int,
    *,
    roi_source: str = "reference",
    progress: Callable[[Iterable], Iterable] | None = None,
) -> CollectedSamples:
    """Samples of many cases given as ``(case_id, volume, reference labels, heart mask or None)``.

    Each case goes through :func:`~cacscore.detection.pipeline.prepare_scan` as ``predict`` runs it: with
    ``roi_source="auto"`` (or a case without a heart mask) the automatic ROI, else the case's heart mask.
    """
    from cacscore.scoring import get_preset

    settings = get_preset(sampling.scoring_preset)
    rng = np.random.default_rng(seed)
    parts, scans = [], {}
    for case_id, volume, reference, heart_mask in (progress(cases) if progress else cases):
        mask = None if roi_source == "auto" else heart_mask
        scan = prepare_scan(volume, mask, settings=settings, connectivity=sampling.connectivity)
        for warning in scan.warnings:
            log.warning("%s: %s", case_id, warning)
        parts.append(case_samples(case_id, scan, reference, spec, sampling, rng))
        scans[case_id] = scan_measures(volume, scan.reference)
    return CollectedSamples(CandidateSamples.concat(parts, spec), scans)


def classification_metrics(probabilities: np.ndarray, targets: np.ndarray) -> dict:
    """Accuracy, per-class recall, coronary-vs-not sensitivity/specificity, artery accuracy on coronary
    candidates, log loss and the confusion matrix (rows: truth, columns: prediction; classes
    not coronary, LAD, LCX, RCA)."""
    pred = probabilities.argmax(1) if len(probabilities) else np.zeros(0, int)
    y = np.asarray(targets, dtype=int)
    confusion = np.zeros((4, 4), int)
    np.add.at(confusion, (y, pred), 1)
    recall = [float(confusion[c, c] / confusion[c].sum()) if confusion[c].sum() else None for c in range(4)]
    coronary = y > 0
    eps = 1e-7
    return {
        "n": len(y),
        "log_loss": (float(-np.log(np.clip(probabilities[np.arange(len(y)), y], eps, 1)).mean())
                     if len(y) else None),
        "accuracy": float((pred == y).mean()) if len(y) else None,
        "coronary_sensitivity": float((pred[coronary] > 0).mean()) if coronary.any() else None,
        "coronary_specificity": float((pred[~coronary] == 0).mean()) if (~coronary).any() else None,
        "artery_accuracy": float((pred[coronary] == y[coronary]).mean()) if coronary.any() else None,
        "recall_per_class": recall,
        "confusion": confusion.tolist(),
    }


def _identity_transform(batch, training, generator):
    """The trainer's batch transform: inputs are sampled (and augmented) beforehand, passed as they are."""
    return tuple(batch[name] for name in ("patches", "features"))


def _case_stream(cases: Sequence):
    for case in cases:
        volume = case.load_volume()
        labels = case.load_labels(volume)
        yield case.case_id, volume, labels, case.load_heart_mask(volume)


def _phantom_seeds(cases: Sequence) -> dict[str, int]:
    """Case id -> phantom case seed, for cases written by ``cacscore phantom`` (their truth/<id>.json)."""
    import json

    seeds = {}
    for case in cases:
        for parent in list(Path(case.image_path).parents)[:4]:
            truth = parent / "truth" / f"{case.case_id}.json"
            if truth.is_file():
                with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                    seeds[case.case_id] = int(json.loads(truth.read_text())["seed"])
                break
    return seeds


def train_candidates(
    cases: Sequence, recipe: Recipe | str, out_dir: str | os.PathLike[str], options: TrainOptions
) -> Path:
    """The "candidates" task of ``cacscore train``: sample, split by patient, train, write a model folder.

    The model folder's config.json holds everything predict needs (architecture, input spec and names,
    class codes, candidate settings, decision rule, training domain) and how it was made (recipe,
    sampling, options, seed, split, history); dataset.json holds the cases, vendors and class counts;
    metrics.json the validation (and test) figures. :func:`sample_cases` and :func:`fit_candidates` are the
    two halves (an ablation samples once and fits several recipes).
    """
    cases, (recipe, sampling) = _check(cases, recipe, options)
    collected = sample_cases(cases, sampling, options)
    return fit_candidates(cases, collected, recipe, out_dir, options)


def _check(cases: Sequence, recipe: Recipe | str, options: TrainOptions):
    from cacscore.errors import CacscoreError

    if options.folds:
        raise CacscoreError("the candidates task trains one model; --folds is for the patches task")
    if options.split != "patient":
        raise CacscoreError("the candidates task splits by patient only; leave --split out")
    cases = [c for c in cases if c.has_reference]
    if len(cases) < 3:
        raise CacscoreError(f"the candidates task needs at least 3 cases with reference labels, "
                            f"the dataset has {len(cases)}")
    return cases, candidate_recipe(recipe)


def sample_cases(cases: Sequence, sampling: CandidateSampling, options: TrainOptions) -> CollectedSamples:
    """The training samples of ``cases`` (cases of a dataset with reference labels)."""
    wrap = None
    if options.progress:
        from tqdm.auto import tqdm

        def wrap(it):
            return tqdm(it, desc="candidates", unit="case", total=len(cases))

    t0 = time.perf_counter()
    collected = collect_samples(_case_stream(cases), CandidateInputSpec(), sampling, options.seed,
                                roi_source=options.roi_source, progress=wrap)
    return CollectedSamples(collected.samples, collected.scans, time.perf_counter() - t0)


def fit_candidates(
    cases: Sequence,
    collected: CollectedSamples,
    recipe: Recipe | str,
    out_dir: str | os.PathLike[str],
    options: TrainOptions,
) -> Path:
    """Split ``collected`` (the samples of ``cases``) by patient, train ``recipe``, write the model folder."""
    from cacscore.errors import CacscoreError
    from cacscore.models.candidate_net import CLASS_CODES, CLASS_NAMES
    from cacscore.models.checkpoint import json_text, save_model_folder
    from cacscore.training.splits import indices_by_patient, split_by_patient, unique_patients
    from cacscore.training.trainer import ArrayData, predict_logits, resolve_device, softmax_np

    cases, (recipe, sampling) = _check(cases, recipe, options)
    overrides = {k: v for k, v in (("epochs", options.epochs),) if v is not None}
    recipe = recipe.with_overrides(**overrides)
    spec = CandidateInputSpec()
    samples = collected.samples
    sampling_seconds = collected.seconds
    patient_of = {c.case_id: (c.patient_id or c.case_id) for c in cases}
    vendor_of = {(c.patient_id or c.case_id): str(c.vendor) for c in cases}
    patients = unique_patients(list(patient_of.values()))
    groups = split_by_patient(patients, recipe.fractions, options.seed,
                              [vendor_of[p] for p in patients] if options.stratify_vendor else None)
    item_patients = np.array([patient_of[g] for g in samples.groups], dtype=object)
    index = indices_by_patient(item_patients, groups)
    # validation and test use the plain samples only (augmented copies are for training)
    for name in ("val", "test"):
        index[name] = index[name][~samples.augmented[index[name]]]
    splits = {name: samples.subset(idx) for name, idx in index.items()}
    if not (splits["train"].targets > 0).any():
        raise CacscoreError("the training cases hold no coronary calcium candidate; add cases with calcium")
    log.info("candidates: %s", {n: s.class_counts() for n, s in splits.items()})
    plain_train = splits["train"].subset(np.flatnonzero(~splits["train"].augmented))
    train_cases = set(plain_train.groups)
    domain = TrainingDomain.fit([m for c, m in collected.scans.items() if c in train_cases],
                                plain_train.inputs["features"])

    def arrays(s: CandidateSamples) -> ArrayData:
        return ArrayData(s.inputs, s.targets)

    features = plain_train.inputs["features"]
    if "feature_max" in recipe.architecture_kwargs:  # standardise what the network sees
        cap = [np.inf if c is None else c for c in recipe.architecture_kwargs["feature_max"]]
        features = np.minimum(features, np.asarray(cap, dtype=features.dtype))
    device = resolve_device(options.device)
    model, runs = _fit_networks(recipe, arrays(splits["train"]), arrays(splits["val"]),
                                (features.mean(axis=0), features.std(axis=0)), options, device)
    temperatures = [r.temperature for r in runs]
    metrics: dict = {"temperature": temperatures[0] if len(runs) == 1 else temperatures}
    for name in ("train", "val", "test"):
        data = splits[name]
        if len(data):
            plain = data if name != "train" else data.subset(np.flatnonzero(~data.augmented))
            logits = predict_logits(model, arrays(plain), _identity_transform, device)
            metrics[name] = classification_metrics(softmax_np(logits), plain.targets)
    config = {
        "task": "candidates",
        "classes": list(CLASS_NAMES),
        "class_names": list(CLASS_NAMES),
        "class_codes": list(CLASS_CODES),
        "n_classes": len(CLASS_CODES),
        "inputs": spec.input_shapes(),
        "input_spec": spec.to_dict(),
        "feature_names": list(DESCRIPTOR_NAMES),
        "candidates": {"connectivity": sampling.connectivity, "scoring_preset": sampling.scoring_preset,
                       "min_area": "a candidate is kept when one slice holds >= the scoring min area"},
        "recipe": recipe.to_dict(),
        "recipe_overrides": overrides,
        "sampling": sampling.to_dict(),
        "roi_source": options.roi_source,
        "seed": options.seed,
        "options": options.to_dict(),
        "decision": {"rule": "coronary when 1 - p(not coronary) >= min_coronary_probability, some fat lies "
                             "within 10 mm (require_fat), it lies min_cage_depth_mm or more behind "
                             "the rib cage's front (require_inside_cage) and less than half of it in bone "
                             "(require_outside_bone), then the most probable artery",
                     **DecisionRule().settings(),
                     "temperature": metrics["temperature"], "temperature_folded": True},
        "domain": domain.to_dict(),
        "split": {"mode": "patient", "fractions": list(recipe.fractions), "seed": options.seed,
                  "stratified_by_vendor": bool(options.stratify_vendor)},
        "training": {"sampling_seconds": round(sampling_seconds, 2),
                     **(runs[0].training_record(recipe.epochs) if len(runs) == 1 else
                        {"members": [r.training_record(recipe.epochs) for r in runs]})},
    }
    dataset = {
        "n_cases": len(cases),
        "case_ids": [c.case_id for c in cases],
        "vendors": dict(sorted(Counter(str(c.vendor) for c in cases).items())),
        "image_paths": [str(c.image_path) for c in cases],
        "class_counts": {n: s.class_counts() for n, s in splits.items()},
        "n_samples": len(samples),
        "phantom_seeds": _phantom_seeds(cases),
    }
    out = save_model_folder(out_dir, model.cpu(), architecture=recipe.architecture,
                            architecture_kwargs=recipe.architecture_kwargs, config=config, metrics=metrics,
                            dataset=dataset, extra_files={"split.json": json_text(groups)})
    return out


def _fit_networks(
    recipe: Recipe,
    train: ArrayData,
    val: ArrayData,
    feature_scaling: tuple[np.ndarray, np.ndarray],
    options: TrainOptions,
    device: object,
) -> tuple[object, list[TrainResult]]:
    """Train the recipe's network: one CandidateNet, or each member of a CandidateEnsemble in turn.

    Member ``k`` is initialised and shuffled with seed ``options.seed + k`` on the same samples and split,
    and its calibration temperature is folded into its own last layer. Returns (the network, the
    :class:`~cacscore.training.trainer.TrainResult` of each trained CandidateNet).
    """
    from cacscore.errors import CacscoreError
    from cacscore.models import build_model
    from cacscore.training.trainer import seeded_model, train_classifier

    kwargs = dict(recipe.architecture_kwargs)
    n_members = int(kwargs.pop("n_members", 1)) if recipe.architecture == "candidate_ensemble" else 0
    runs = []
    for k in range(max(n_members, 1)):
        net = seeded_model("candidate_net", kwargs, options.seed + k)
        net.set_feature_scaling(*feature_scaling)
        label = f"train candidates (member {k + 1}/{n_members})" if n_members else "train candidates"
        result = train_classifier(net, train, val, recipe, _identity_transform, seed=options.seed + k,
                                  device=device, num_threads=options.num_threads,
                                  progress=options.progress, description=label)
        if not result.temperature_folded and result.temperature != 1.0:
            raise CacscoreError("the calibration temperature could not be folded into the network")
        runs.append(result)
    if not n_members:
        return runs[0].model, runs
    ensemble = build_model("candidate_ensemble", n_members=n_members, **kwargs)
    for member, result in zip(ensemble.members, runs, strict=True):
        member.load_state_dict(result.model.state_dict())
    return ensemble.to(device).eval(), runs
