"""``cacscore train DATASET -o MODELDIR``: train a classifier with a named recipe; write a model folder."""

from __future__ import annotations

import argparse

COMMAND = "train"
HELP = (
    "train a classifier (task 'patches': the paper's 52x52 windows) with a named recipe; write a model folder"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cacscore.training.recipes import RECIPES
    from cacscore.training.tasks import TASK_HELP, TASKS

    parser.add_argument("dataset", help="dataset folder (orCaScore, COCA, phantom) or manifest .csv")
    parser.add_argument(
        "-o", "--output", required=True, help="model folder to write (with --folds: one per fold)"
    )
    parser.add_argument(
        "--task",
        default="patches",
        choices=sorted(TASKS),
        help="; ".join(f"{k}: {v}" for k, v in TASK_HELP.items() if k in TASKS) or None,
    )
    from cacscore.training.candidate_task import CANDIDATE_RECIPES

    parser.add_argument(
        "--recipe",
        default="default",
        choices=sorted(set(RECIPES) | set(CANDIDATE_RECIPES)),
        help="; ".join(f"{k}: {r.description}" for k, r in RECIPES.items())
        + "; task candidates: "
        + "; ".join(f"{k}: {r.description}" for k, (r, _) in CANDIDATE_RECIPES.items()),
    )
    parser.add_argument(
        "--split",
        default="patient",
        choices=("patient", "random"),
        help="patient: 60/20/20 by patient (default); random: the paper's random split of "
        "patches, which puts one patient in training and test (optimistic)",
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=None,
        metavar="K",
        help="k-fold cross-validation by patient (one model folder per fold + cv_metrics.json)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        metavar="N",
        help="override the recipe's epochs (recorded in config.json)",
    )
    parser.add_argument(
        "--samples-per-epoch",
        type=int,
        default=None,
        metavar="N",
        help="override the recipe's patches per epoch (recorded in config.json)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of splits, initialisation, batches (default 0)"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: available CPUs)")
    parser.add_argument(
        "--base-model",
        default=None,
        metavar="DIR",
        help="task artery: the candidates model folder to add the artery by position to",
    )
    parser.add_argument(
        "--roi",
        default="reference",
        choices=("reference", "auto"),
        help="heart ROI: the dataset's heart masks as the paper's experts drew them "
        "(automatic where a case has none; default), or always automatic",
    )


def run(args: argparse.Namespace) -> int:
    from cacscore.cli._common import progress_enabled
    from cacscore.datasets import open_dataset
    from cacscore.training.recipes import get_recipe
    from cacscore.training.tasks import TrainOptions, get_task

    options = TrainOptions(
        split=args.split,
        folds=args.folds,
        epochs=args.epochs,
        samples_per_epoch=args.samples_per_epoch,
        seed=args.seed,
        device=args.device,
        num_threads=args.threads,
        progress=progress_enabled(args),
        roi_source=args.roi,
        base_model=args.base_model,
    )
    task = get_task(args.task)
    if args.task == "candidates":  # its own recipes (cacscore.training.candidate_task.CANDIDATE_RECIPES)
        recipe = args.recipe
    elif args.task == "artery":  # no recipe: it adds to --base-model
        recipe = None
    else:
        recipe = get_recipe(args.recipe)
    cases = open_dataset(args.dataset)
    out = task(cases, recipe, args.output, options)
    _print_summary(out)
    return 0


def _print_summary(out) -> None:
    import json
    from pathlib import Path

    from cacscore.evaluation.patch_metrics import format_metrics

    out = Path(out)
    cv = out / "cv_metrics.json"
    if cv.is_file():
        summary = json.loads(cv.read_text())
        print(f"{summary['k']}-fold cross-validation by patient (mean ± sd over folds):")
        for key, mean in summary["mean"].items():
            sd = summary["sd"].get(key)
            print(
                f"  {key:<12} {'n/a' if mean is None else f'{mean:.4f}'}"
                + ("" if sd is None else f" ± {sd:.4f}")
            )
        print(f"model folders and cv_metrics.json in {out}")
        return
    counts = json.loads((out / "dataset.json").read_text()).get("counts", {})
    if counts:
        print("patches    total  positive  negative")
        for name in ("all", "train", "val", "test"):
            if name in counts:
                c = counts[name]
                print(f"{name:<8} {c['total']:>7} {c['positive']:>9} {c['negative']:>9}")
    metrics = json.loads((out / "metrics.json").read_text())
    for key, value in (metrics.get("artery_by_position") or {}).items():
        print(f"{key:<34} {value}")
    if "test" in metrics:
        print("test split:")
        print(format_metrics(metrics["test"]))
    print(f"model folder: {out}")
