"""``cacscore evaluate --pred PRED --ref REF -o OUTDIR``: orCaScore lesion metrics and patient agreement."""

from __future__ import annotations

import argparse

COMMAND = "evaluate"
HELP = "compare predicted calcium labels with a reference: orCaScore lesion metrics, ICC, Bland-Altman, kappa"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cacscore.scoring.settings import SCORING_PRESETS

    parser.add_argument(
        "--pred", required=True, help="folder of predicted label volumes (<id>.nii.gz ...) or predict outputs"
    )
    parser.add_argument(
        "--ref",
        required=True,
        help="folder of reference label volumes, or an orCaScore/COCA/manifest dataset",
    )
    parser.add_argument(
        "-o", "--output", required=True, help="folder for metrics.json, cases.csv, PNGs, HTML"
    )
    parser.add_argument(
        "--images", default=None, help="scans (HU): a folder of <id>.<ext> / <id>CTI.mhd / <id>/ or a dataset"
    )
    parser.add_argument(
        "--preset", default="default", choices=sorted(SCORING_PRESETS), help="how both sides are scored"
    )
    parser.add_argument("--kvp", type=float, default=None, help="tube voltage for the threshold (all cases)")
    parser.add_argument("--keep-lm", action="store_true", help="evaluate the left main apart from LAD")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cacscore.cli._common import progress_enabled
    from cacscore.evaluation import Evaluator
    from cacscore.evaluation.files import pair_cases
    from cacscore.evaluation.report import write_evaluation
    from cacscore.io import read_mask, read_volume
    from cacscore.scoring import get_preset

    cases, unmatched = pair_cases(args.pred, args.ref, args.images)
    for kind, ids in unmatched.items():
        if ids:
            print(f"{len(ids)} case(s) {kind.replace('_', ' ')}, not evaluated: {', '.join(ids[:10])}")
    evaluator = Evaluator(get_preset(args.preset).with_(kvp=args.kvp), keep_lm=args.keep_lm)
    for case in tqdm(cases, desc="evaluate", unit="case", disable=not progress_enabled(args)):
        volume = read_volume(case.image)
        pred = read_mask(case.prediction, like=volume)
        if hasattr(case.reference, "load_labels"):
            ref = case.reference.load_labels(volume, keep_lm=args.keep_lm)
        else:
            ref = read_mask(case.reference, like=volume)
        evaluator.add(case.case_id, pred, ref, volume)
    summary = evaluator.summary()
    summary["unmatched"] = unmatched
    summary["preset"] = args.preset
    paths = write_evaluation(args.output, summary, evaluator.rows)
    overall = summary["lesion"]["overall"]
    icc = summary["patient"]["agatston"]["icc_2_1"] or {}
    kappa = summary["patient"]["risk_category"]["kappa_linear"]

    def f(x):
        return "n/a" if x is None else f"{x:.3f}"

    print(
        f"{summary['n_cases']} cases: lesions TP {overall['tp']} FN {overall['fn']} FP {overall['fp']}, "
        f"sensitivity {f(overall['sensitivity'])}, PPV {f(overall['ppv'])}, "
        f"volume F1 {f(overall['volume_f1'])}; "
        f"Agatston ICC {f(icc.get('icc'))}; kappa {f(kappa)}"
    )
    print(f"wrote {', '.join(p.name for p in paths.values())} to {args.output}")
    return 0
