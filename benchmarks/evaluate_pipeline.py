"""Evaluate the whole pipeline (candidates + classifier + scoring) on a phantom cohort with reference labels.

Prints, overall and per vendor: lesion sensitivity (all reference lesions, and those of >= 1 mm2 on a
slice, the smallest Agatston scores) and false positives per scan by the orCaScore rules
(cacscore.evaluation), Agatston ICC(2,1), risk-category linearly weighted kappa, and the artery accuracy on
detected lesions (a detected reference lesion is correct when the majority predicted label of its calcium
voxels that were labelled equals its reference artery). Writes metrics.json and cases.csv to -o.

    .venv/bin/cacscore phantom -o /tmp/cac/eval-cohort --cases 20 --seed 202
    .venv/bin/python benchmarks/evaluate_pipeline.py /tmp/cac/eval-cohort -o /tmp/cac/eval \
        [--model DIR] [--roi reference|auto] [--train-cohort /tmp/cac/train-cohort]

``--train-cohort`` checks that no evaluation case seed was used in training (truth/*.json "seed").
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from cacscore.datasets import open_dataset
from cacscore.detection.pipeline import PredictOptions, load_predictor, scoring_threshold_hu
from cacscore.evaluation import Evaluator, reference_lesions
from cacscore.phantom import VENDOR_PRESETS
from cacscore.scoring import get_preset

#: orCaScore vendor number -> phantom preset name.
VENDOR_NAMES = {str(p.vendor_code): name for name, p in VENDOR_PRESETS.items()}


def artery_agreement(pred: np.ndarray, ref: np.ndarray, calcium: np.ndarray,
                     pixel_mm2: float) -> tuple[int, int, int, int]:
    """(detected reference lesions, of which the predicted artery is right, reference lesions of >= 1 mm2
    on a slice, of which detected)."""
    ref_c = np.where(calcium, ref, 0)
    lesions, majority = reference_lesions(ref_c)
    detected = right = scoreable = scoreable_found = 0
    for i in range(1, len(majority)):
        voxels = lesions == i
        big = voxels.sum(axis=(1, 2)).max() * pixel_mm2 >= 1.0
        labelled = pred[voxels & (pred > 0)]
        scoreable += int(big)
        scoreable_found += int(big and labelled.size > 0)
        if labelled.size == 0:
            continue
        detected += 1
        values, counts = np.unique(labelled, return_counts=True)
        right += int(values[np.argmax(counts)] == majority[i])
    return detected, right, scoreable, scoreable_found


def seeds_of(cohort: Path) -> dict[str, int]:
    out = {}
    for path in sorted((cohort / "truth").glob("*.json")):
        truth = json.loads(path.read_text())
        if "seed" in truth:
            out[path.stem] = int(truth["seed"])
    return out


def summarise(evaluator: Evaluator, detected: int, right: int, scoreable: int, scoreable_found: int) -> dict:
    s = evaluator.summary()
    overall = s["lesion"]["overall"]
    return {
        "n_cases": s["n_cases"],
        "reference_lesions": overall["tp"] + overall["fn"],
        "sensitivity": overall["sensitivity"],
        "fp_per_scan": overall.get("fp_per_scan"),
        "ppv": overall["ppv"],
        "volume_sensitivity": overall["volume_sensitivity"],
        "agatston_icc": (s["patient"]["agatston"]["icc_2_1"] or {}).get("icc"),
        "kappa_linear": s["patient"]["risk_category"]["kappa_linear"],
        "category_share_same": s["patient"]["risk_category"]["share_same"],
        "artery_accuracy": right / detected if detected else None,
        "detected": detected,
        "lesions_1mm2": scoreable,
        "sensitivity_1mm2": scoreable_found / scoreable if scoreable else None,
        "full": s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohort", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--roi", choices=("reference", "auto"), default="auto",
                        help="heart ROI: the cohort's heart masks, or cacscore.roi.heart_roi (default)")
    parser.add_argument("--train-cohort", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.train_cohort is not None:
        overlap = set(seeds_of(args.cohort).values()) & set(seeds_of(args.train_cohort).values())
        if overlap:
            print(f"evaluation seeds used in training: {sorted(overlap)}", file=sys.stderr)
            return 1
    predictor = load_predictor(PredictOptions(model_dir=args.model))
    settings = get_preset("default")
    cases = [c for c in open_dataset(args.cohort) if c.has_reference]
    evaluators: dict[str, Evaluator] = defaultdict(lambda: Evaluator(settings))
    artery: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    rows = []
    for case in cases:
        t0 = time.perf_counter()
        volume = case.load_volume()
        ref = case.load_labels(volume)
        mask = case.load_heart_mask(volume) if args.roi == "reference" else None
        prediction = predictor.predict_volume(volume, mask)
        seconds = time.perf_counter() - t0
        vendor = VENDOR_NAMES.get(str(case.vendor), str(case.vendor))
        row = None
        for key in ("all", vendor):
            row = evaluators[key].add(case.case_id, prediction.labels, ref, volume)
            calcium = volume.hu >= scoring_threshold_hu(volume, settings)
            counts = artery_agreement(prediction.labels, ref, calcium, volume.pixel_area_mm2)
            artery[key] = [a + b for a, b in zip(artery[key], counts, strict=True)]
        plain = {k: v for k, v in row.items() if k != "lesions_by_artery"}
        rows.append(plain | {"vendor": vendor, "seconds": round(seconds, 2)})
        print(f"{case.case_id:8} {vendor:8} ref {row['agatston_ref']:8.1f} pred {row['agatston_pred']:8.1f} "
              f"tp {row['tp']:2d} fn {row['fn']:2d} fp {row['fp']:2d}  {seconds:.1f} s", flush=True)

    results = {key: summarise(ev, *artery[key]) for key, ev in evaluators.items()}
    print()
    print(f"{'subset':8} {'cases':>5} {'lesions':>7} {'sens':>6} {'>=1mm2':>6} {'FP/scan':>7} {'ICC':>6} "
          f"{'kappa':>6} {'artery':>6}")

    def fmt(v):
        return "  n/a" if v is None else f"{v:6.3f}"

    for key in ["all", *sorted(k for k in results if k != "all")]:
        r = results[key]
        print(f"{key:8} {r['n_cases']:5d} {r['reference_lesions']:7d} {fmt(r['sensitivity'])} "
              f"{fmt(r['sensitivity_1mm2'])} {fmt(r['fp_per_scan']):>7} {fmt(r['agatston_icc'])} "
              f"{fmt(r['kappa_linear'])} {fmt(r['artery_accuracy'])}")
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "metrics.json").write_text(json.dumps(
        {"roi": args.roi, "model": predictor.model_info, "cohort": str(args.cohort), "results": results},
        indent=2, default=float) + "\n")
    with (args.output / "cases.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nmetrics.json and cases.csv in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
