"""Ablations of the candidate classifier: which inputs, and what each does on held-out phantom cohorts and on
the two real chest CTs, side by side in one table (docs/model.md).

The training cohort is sampled once (cached as an .npz beside the models) and every recipe is trained on the
same samples with the same seed and split; each model is then run end to end by
benchmarks/evaluate_pipeline.py on every evaluation cohort and by benchmarks/real_chest_ct.py on the real
scans, in subprocesses, and their JSON read back.

    .venv/bin/python benchmarks/ablate_candidates.py TRAIN_COHORT --eval COHORT [--eval COHORT ...] -o OUT \
        [--recipes default,descriptors-only,patch-only,no-position,no-bone,no-surroundings,...] [--seed 0]

Writes OUT/<recipe>/ (model folder), OUT/<recipe>-eval-<cohort>/, OUT/<recipe>-real/, OUT/ablation.md and
OUT/ablation.json. A model folder or evaluation that exists already is reused (delete it to redo it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from cacscore.datasets import open_dataset
from cacscore.training.candidate_task import (
    CANDIDATE_RECIPES,
    CollectedSamples,
    candidate_recipe,
    fit_candidates,
    sample_cases,
)
from cacscore.training.options import TrainOptions

HERE = Path(__file__).resolve().parent


def _run(script: str, *args: str) -> None:
    done = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"{script} {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def _row(recipe: str, evals: dict[str, dict], real: dict) -> dict:
    row: dict = {"recipe": recipe}
    for name, metrics in evals.items():
        r = metrics["results"]["all"]
        row[name] = {k: r[k] for k in ("sensitivity", "sensitivity_1mm2", "fp_per_scan", "agatston_icc",
                                       "kappa_linear", "artery_accuracy")}
    for scan, s in real["scans"].items():
        row[scan] = {"agatston": s["agatston_total"], "called": len(s["called"]),
                     "in_bone_or_abdomen": s["called_in_bone_or_abdomen"]}
    return row


def _table(rows: list[dict], cohorts: list[str]) -> str:
    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    head = ["recipe"] + [f"{c} sens / >=1mm2 / FP / ICC / kappa / artery" for c in cohorts] + [
        "lung1 Agatston, calls (bone/abdomen)", "lung2 Agatston, calls (bone/abdomen)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["recipe"]]
        for c in cohorts:
            m = r[c]
            cells.append(" / ".join(f(m[k]) for k in ("sensitivity", "sensitivity_1mm2", "fp_per_scan",
                                                      "agatston_icc", "kappa_linear", "artery_accuracy")))
        for scan in ("lung1", "lung2"):
            s = r[scan]
            cells.append(f"{s['agatston']:.0f}, {s['called']} ({s['in_bone_or_abdomen']})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train", type=Path)
    parser.add_argument("--eval", type=Path, action="append", required=True, dest="evals")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--recipes", default="default,descriptors-only,patch-only,no-position,no-bone,"
                                             "no-surroundings,no-intensity,no-shape")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = [r for r in recipes if r not in CANDIDATE_RECIPES]
    if unknown:
        raise SystemExit(f"unknown recipes {unknown}; known: {', '.join(CANDIDATE_RECIPES)}")
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    options = TrainOptions(seed=args.seed, num_threads=args.threads, roi_source="auto", progress=False)
    cases = list(open_dataset(args.train))
    cache = out / "samples.npz"
    if cache.is_file():
        collected = CollectedSamples.load(cache)
    else:
        labelled = [c for c in cases if c.has_reference]
        collected = sample_cases(labelled, candidate_recipe("default")[1], options)
        collected.save(cache)
    print(f"{len(collected.samples)} samples of {len(collected.scans)} cases ({collected.seconds:.0f} s)",
          flush=True)
    rows = []
    for recipe in recipes:
        model = out / recipe
        if not (model / "config.json").is_file():
            fit_candidates(cases, collected, recipe, model, options)
        evals = {}
        for cohort in args.evals:
            target = out / f"{recipe}-eval-{cohort.name}"
            if not (target / "metrics.json").is_file():
                _run("evaluate_pipeline.py", str(cohort), "-o", str(target), "--model", str(model),
                     "--train-cohort", str(args.train))
            evals[cohort.name] = json.loads((target / "metrics.json").read_text())
        real_dir = out / f"{recipe}-real"
        if not (real_dir / "results.json").is_file():
            _run("real_chest_ct.py", "--model", str(model), "-o", str(real_dir))
        rows.append(_row(recipe, evals, json.loads((real_dir / "results.json").read_text())))
        print(_table(rows[-1:], [c.name for c in args.evals]), flush=True)
    table = _table(rows, [c.name for c in args.evals])
    (out / "ablation.md").write_text(table)
    (out / "ablation.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
