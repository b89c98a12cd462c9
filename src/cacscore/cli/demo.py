"""``cacscore demo``: no data needed. Generates a phantom scan, runs predict with the shipped model, prints
the per-artery table next to the phantom's true scores, and says where the report is."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "demo"
HELP = "generate a phantom cardiac CT, score its coronary calcium with the shipped model, write a report"

DEFAULT_OUT = "cacscore-demo"
DEFAULT_SEED = 2026
#: The demo phantom's risk category (3 = Agatston 101-400): lesions in several arteries.
DEMO_CATEGORY = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="DIR",
                        help=f"output folder (default: ./{DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="phantom seed")
    parser.add_argument("--vendor", default="siemens", help="phantom vendor preset")
    parser.add_argument("--category", type=int, default=DEMO_CATEGORY,
                        help="target risk category of the phantom, 0..4 (0, 1-10, 11-100, 101-400, >400)")
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model)")
    parser.add_argument("--engine", choices=("auto", "torch", "onnx"), default="auto",
                        help="inference engine (auto: torch when installed, else onnx)")
    # the demo always replaces its own previous results
    parser.set_defaults(overwrite=True)


def run(args: argparse.Namespace) -> int:
    from cacscore.case_folder import predict_to_folder
    from cacscore.cli.predict import artery_table, options_from_args
    from cacscore.detection.pipeline import load_predictor
    from cacscore.errors import CacscoreError
    from cacscore.io import write_volume
    from cacscore.phantom import VENDOR_PRESETS, generate_case

    if args.vendor not in VENDOR_PRESETS:
        raise CacscoreError(f"unknown vendor preset {args.vendor!r}; "
                            f"choose one of {', '.join(VENDOR_PRESETS)}")
    out = Path(args.output)
    print(f"generating a phantom scan (seed {args.seed}, {args.vendor} preset) ...")
    case = generate_case(args.seed, args.vendor, category=args.category)
    scan = out / "input" / "demo-phantom.nii.gz"
    scan.parent.mkdir(parents=True, exist_ok=True)
    write_volume(case.volume, scan)
    # the NIfTI file carries no kVp: tell predict the phantom's, as a user would with --kvp
    args.kvp = case.volume.info.kvp
    options = options_from_args(args)
    predictor = load_predictor(options)
    outcome = predict_to_folder(scan, out / "results", options, predictor=predictor)
    if outcome.status != "ok":
        raise CacscoreError(f"the demo scan could not be scored: {outcome.error}")
    print(f"scored in {outcome.seconds:.1f} s (model {outcome.result['model']['id']})")
    print(artery_table(outcome.result))
    truth = case.truth.get("scores", {}).get("agatston", {})
    if truth:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in truth.items() if k != "total")
        print(f"  phantom truth: total {truth.get('total', 0):.1f} ({parts})")
    report = Path(outcome.output_dir) / "report.html"
    print(f"report: {report.resolve()}")
    print(f"scan:   {scan.resolve()}")
    return 0
