"""``cacscore batch``: a whole cohort through predict, locally or on a Dask cluster, resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cacscore.cli._common import (
    check_interrupted,
    exit_status,
    import_engine_libraries,
    one_line,
    progress_enabled,
)

COMMAND = "batch"
HELP = "score every scan of a folder or manifest (process pool or Dask; resumable; shardable)"

# Exit status: 0 every case done, 2 a case failed on its input (listed in summary.csv, one line each on
# stderr), 1 a case hit an internal error, 130 interrupted.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cacscore.cli.predict import add_model_and_output_options

    parser.add_argument("source", type=Path, metavar="INPUT_DIR|MANIFEST",
                        help="folder of cases (DICOM subfolders or .mhd/.mha/.nii/.nii.gz/.nrrd files) "
                             "or a manifest .csv")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR",
                        help="output folder: OUTDIR/<case>/ per scan, plus summary.csv, "
                             "risk_categories.png and index.html")
    parser.add_argument("--workers", type=int, default=1,
                        help="local worker processes, each loading the model once (default 1)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on an existing Dask distributed cluster, e.g. tcp://host:8786")
    parser.add_argument("--num-parts", type=int, default=1, metavar="K",
                        help="split the cohort into K parts (job arrays): case i by id in part i %% K")
    parser.add_argument("--part-id", type=int, default=0, metavar="I", help="the part to run, 0..K-1")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo cases whose result.json exists (default: skip them, so a rerun resumes)")
    add_model_and_output_options(
        parser, heart_mask_help="folder of <case id>.nii.gz heart masks (a manifest names its own)")


def run(args: argparse.Namespace) -> int:
    from cacscore.batch import run_batch
    from cacscore.cli.predict import options_from_args

    options = options_from_args(args)
    import_engine_libraries(options.engine)
    check_interrupted()
    bar = None
    failed = 0

    def on_start(n_todo: int, n_skipped: int) -> None:
        nonlocal bar
        if n_skipped:
            print(f"{n_skipped} case(s) already done, skipped (--overwrite to redo them)")
        if progress_enabled(args):
            from tqdm import tqdm

            bar = tqdm(total=n_todo, unit="case", desc="cases", dynamic_ncols=True)

    def on_done(outcome) -> None:
        nonlocal failed
        failed += outcome.status != "ok"
        if bar is not None:
            bar.set_postfix(failed=failed, refresh=False)
            bar.update(1)

    try:
        report = run_batch(
            args.source, args.output, options, workers=args.workers, scheduler=args.scheduler,
            num_parts=args.num_parts, part_id=args.part_id, on_case_done=on_done, on_start=on_start,
        )
    finally:
        if bar is not None:
            bar.close()
    for outcome in report.failed:
        print(f"cacscore batch: error: {one_line(outcome.error or '')}", file=sys.stderr)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report.summary.counts.items()))
    print(f"{len(report.outcomes)} run, {len(report.skipped)} skipped; cohort: {counts}")
    print(f"summary: {report.summary.summary_csv}")
    print(f"index:   {report.summary.index_html}")
    return exit_status(report.outcomes)
