"""The "artery" training task: give a candidates model the artery by position
(:class:`cacscore.detection.artery.ArteryByPosition`).

``cacscore train DATASET --task artery --base-model DIR -o OUT`` copies the candidates model folder DIR to
OUT and records in its config.json the positions and arteries of the coronary candidates of DIR's training
patients (split.json), as ``predict`` finds them: every case goes through
:func:`~cacscore.detection.pipeline.prepare_scan` with DIR's heart ROI source and candidate settings, and a
candidate's artery is the majority reference label of its voxels
(:func:`~cacscore.detection.candidates.reference_classes`). The network is kept as it is; it still says
whether a candidate is coronary. metrics.json gains, on DIR's validation patients, the artery accuracy of
the network and of the position, on the same reference coronary candidates.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cacscore.detection.artery import ArteryByPosition
from cacscore.detection.candidates import reference_classes
from cacscore.detection.classifier import sample_candidate_inputs
from cacscore.detection.pipeline import PredictOptions, load_predictor, prepare_scan
from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.models.checkpoint import json_text
from cacscore.training.candidate_task import CODE_TO_CLASS
from cacscore.training.options import TrainOptions

log = get_logger(__name__)

#: Neighbours that vote: about 4 % of the ~400 coronary candidates of a 240-patient cohort's training
#: patients, few enough to follow an artery's course round the heart, enough to outvote a stray label.
K_NEAREST = 15


def train_artery(cases: Sequence, out_dir: str | os.PathLike[str], options: TrainOptions,
                 k: int = K_NEAREST) -> Path:
    """Fit the artery by position on the base model's training patients among ``cases``; write OUT."""
    if not options.base_model:
        raise CacscoreError("the artery task adds to a candidates model: give it with --base-model DIR")
    base, out = Path(options.base_model), Path(out_dir)
    if not (base / "config.json").is_file() or not (base / "split.json").is_file():
        raise CacscoreError(f"{base} is not a candidates model folder (config.json and split.json)")
    if out.exists():
        raise CacscoreError(f"{out} exists; give a new folder for the model with the artery by position")
    split = json.loads((base / "split.json").read_text())
    config = json.loads((base / "config.json").read_text())
    if config.get("task") != "candidates":
        raise CacscoreError(f"{base} is a {config.get('task')!r} model; the artery task adds to a "
                            "candidates model")
    predictor = load_predictor(PredictOptions(model_dir=str(base)))
    roi_source = config.get("roi_source", "auto")
    part_of = {p: name for name in ("train", "val") for p in split.get(name, [])}
    found: dict[str, list] = {"train": [], "val": []}
    for case in cases:
        part = part_of.get(case.patient_id or case.case_id)
        if part is None or not case.has_reference:
            continue
        volume = case.load_volume()
        mask = case.load_heart_mask(volume) if roi_source == "reference" else None
        scan = prepare_scan(volume, mask, settings=predictor.settings, connectivity=predictor.connectivity)
        classes = np.array([CODE_TO_CLASS.get(int(c), -1)
                            for c in reference_classes(scan.candidates, case.load_labels(volume))])
        coronary = np.flatnonzero(classes > 0)
        network = np.zeros((0, 4))
        if part == "val" and coronary.size:
            inputs = sample_candidate_inputs(volume, scan.candidates, scan.descriptors, scan.reference,
                                             predictor.spec)
            network = predictor.engine.predict_proba(inputs)[coronary]
        found[part].append((scan.descriptors[coronary], classes[coronary], network))
        log.info("%s: %d coronary candidate(s) (%s)", case.case_id, coronary.size, part)
    if not found["train"]:
        raise CacscoreError(f"none of {base}'s training patients is in this dataset")
    train_d, train_c = (np.concatenate([f[i] for f in found["train"]]) for i in (0, 1))
    head = ArteryByPosition.fit(train_d, train_c, k, roi="mask" if roi_source == "reference" else "auto")
    metrics = {"n_train_coronary_candidates": len(head.classes)}
    if found["val"]:
        val_d, val_c, val_p = (np.concatenate([f[i] for f in found["val"]]) for i in (0, 1, 2))
        network_right = val_p[:, 1:].argmax(axis=1) + 1 == val_c
        metrics.update(n_val_coronary_candidates=len(val_c),
                       val_artery_accuracy_network=round(float(network_right.mean()), 4),
                       val_artery_accuracy_position=round(float(np.mean(head.shares(val_d)[1] == val_c)), 4))
    config["artery_task"] = {"base_model": str(config.get("model_id") or base.name), "k": k,
                             "roi_source": roi_source, **metrics}
    config["model_id"] = out.name
    config["artery_by_position"] = head.to_dict()
    config["decision"]["rule"] = config["decision"]["rule"].replace(
        "then the most probable artery",
        "then the artery of the nearest training coronary candidates by position (artery_by_position)")
    metrics_file = base / "metrics.json"
    model_metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    model_metrics["artery_by_position"] = metrics
    # written beside OUT and renamed when complete, so that no half-written model folder is left
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(base, partial, ignore=shutil.ignore_patterns("MAKE.md"))
    (partial / "config.json").write_text(json_text(config))
    (partial / "metrics.json").write_text(json_text(model_metrics))
    partial.rename(out)
    return out
