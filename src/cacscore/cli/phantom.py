"""``cacscore phantom``: write a synthetic calcium-scoring cohort with exact ground truth."""

from __future__ import annotations

import argparse
import json

from cacscore.cli._common import progress_enabled

COMMAND = "phantom"
HELP = "generate synthetic calcium-scoring and chest CT scans (phantom) with exact ground truth"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cacscore.phantom.presets import ACQUISITION_PRESETS

    parser.add_argument("-o", "--output", required=False, help="output folder")
    parser.add_argument("--cases", type=int, default=4, help="number of cases (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    parser.add_argument(
        "--vendor",
        action="append",
        choices=list(ACQUISITION_PRESETS),
        metavar="NAME",
        help=f"acquisition preset ({', '.join(ACQUISITION_PRESETS)}: the four gated vendor protocols, or "
        "'random', every acquisition drawn per case, gated or chest); repeat to cycle through several "
        "(default: the four vendor presets)",
    )
    parser.add_argument(
        "--layout",
        choices=["orcascore", "manifest"],
        default="orcascore",
        help="orcascore: MHD files in the orCaScore layout; manifest: DICOM series + "
        "NIfTI masks + manifest.csv (default orcascore)",
    )
    parser.add_argument(
        "--min-category",
        type=int,
        default=0,
        choices=range(5),
        metavar="K",
        help="only patients aiming at risk category K or higher (0..4: 0, 1-10, 11-100, 101-400, >400); "
        "e.g. 1 for a training cohort where every patient has coronary calcium (default 0: all)",
    )
    parser.add_argument("--montage", action="store_true", help="also write a PNG montage per case")
    parser.add_argument("--list-vendors", action="store_true", help="list the acquisition presets and exit")


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cacscore.errors import CacscoreError
    from cacscore.phantom.cohort import truth_path, write_cohort
    from cacscore.phantom.presets import ACQUISITION_PRESETS

    if args.list_vendors:
        for name, preset in ACQUISITION_PRESETS.items():
            print(name, json.dumps(asdict(preset)))
        return 0
    if not args.output:
        raise CacscoreError("give an output folder with -o DIR")
    cases = write_cohort(
        args.output,
        args.cases,
        args.seed,
        vendors=args.vendor,
        layout=args.layout,
        montage=args.montage,
        min_category=args.min_category,
        progress=progress_enabled(args),
    )
    print(f"{'case':10} {'vendor':8} {'lesions':>7} {'Agatston':>9}  category")
    for case in cases:
        truth = json.loads(truth_path(args.output, case).read_text())
        scores = truth.get("scores") or {}
        total = (scores.get("agatston") or {}).get("total", float("nan"))
        category = (scores.get("risk_category") or {}).get("label", "?")
        print(f"{case.case_id:10} {truth['vendor']:8} {len(truth['lesions']):7d} {total:9.1f}  {category}")
    print(f"{len(cases)} case(s) in {args.output} ({args.layout} layout)")
    return 0
