"""How sure is the model of its right and its false calls? (:data:`cacscore.detection.certainty.UNSURE_BELOW`)

For every case of a phantom cohort with reference labels, runs predict (automatic heart ROI) and, for every
candidate called coronary, records its probability of being coronary (1 - p(not coronary)) and whether
any of its voxels is reference calcium (a right call) or none is (a false one). Prints, per probability
bound, the share of right calls below it and of false calls below it, with and without the cases named by
``--except`` (e.g. a scan the noise warning flags); ``-o`` writes every call as JSON.

    .venv/bin/python benchmarks/unsure_calls.py COHORT [--model DIR] [--except CASE ...] [-o calls.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from cacscore.datasets import open_dataset
from cacscore.detection.candidates import reference_classes
from cacscore.detection.pipeline import PredictOptions, load_predictor

BOUNDS = (0.6, 0.7, 0.8, 0.9)


def called_candidates(cohort: Path, model: str | None) -> list[dict]:
    """Every candidate called coronary in the cohort's cases: case, index, artery code, p(coronary), right."""
    predictor = load_predictor(PredictOptions(model_dir=model))
    rows = []
    for case in open_dataset(cohort):
        if not case.has_reference:
            continue
        volume = case.load_volume()
        reference = case.load_labels(volume)
        prediction = predictor.predict_volume(volume)
        right = reference_classes(prediction.candidates, reference) > 0
        for k, cand in enumerate(prediction.candidates.candidates):
            if prediction.classes[k] == 0:
                continue
            rows.append({"case": case.case_id, "candidate": cand.index, "artery": int(prediction.classes[k]),
                         "probability_coronary": round(1.0 - float(prediction.probabilities[k, 0]), 4),
                         "right": bool(right[k])})
        print(case.case_id, file=sys.stderr, flush=True)
    return rows


def print_table(rows: list[dict], label: str) -> None:
    right = np.array([r["probability_coronary"] for r in rows if r["right"]])
    false = np.array([r["probability_coronary"] for r in rows if not r["right"]])
    print(f"{label}: {len(right)} right calls, {len(false)} false")
    for bound in BOUNDS:
        print(f"  below {bound:.1f}: right {np.mean(right < bound) if right.size else 0:.3f} "
              f"({int(np.sum(right < bound))}), false {np.mean(false < bound) if false.size else 0:.3f} "
              f"({int(np.sum(false < bound))})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cohort", type=Path)
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--except", dest="excluded", nargs="*", default=[], help="case ids to also leave out")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = called_candidates(args.cohort, args.model)
    print_table(rows, "all cases")
    if args.excluded:
        kept = [r for r in rows if r["case"] not in args.excluded]
        print_table(kept, f"without {', '.join(args.excluded)}")
    if args.output is not None:
        args.output.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
