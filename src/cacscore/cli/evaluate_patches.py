"""``cacscore evaluate-patches MODELDIR DATASET``: patch metrics on the model's recorded test split."""

from __future__ import annotations

import argparse

COMMAND = "evaluate-patches"
HELP = (
    "accuracy, sensitivity, precision, specificity, F1, ROC AUC and confusion matrix of a patch model "
    "on the split recorded in its model folder"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model folder written by `cacscore train --task patches`")
    parser.add_argument("dataset", help="the dataset the model was trained on (folder or manifest .csv)")
    parser.add_argument("--split", default="test", choices=("test", "val"), help="which recorded split")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the metrics as JSON")


def run(args: argparse.Namespace) -> int:
    from cacscore.cli._common import progress_enabled
    from cacscore.datasets import open_dataset
    from cacscore.evaluation.patch_metrics import format_metrics
    from cacscore.models.checkpoint import write_json_file
    from cacscore.training.patch_task import evaluate_patch_model

    cases = open_dataset(args.dataset)
    metrics = evaluate_patch_model(
        args.model, cases, split=args.split, device=args.device, progress=progress_enabled(args)
    )
    print(
        f"{args.split} split ({metrics['split_mode']} split), {metrics['n']} patches "
        f"({metrics['n_positive']} with calcium):"
    )
    print(format_metrics(metrics))
    if args.json:
        write_json_file(args.json, metrics)
    return 0
