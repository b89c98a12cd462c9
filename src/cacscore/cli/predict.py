"""``cacscore predict``: coronary calcium per artery for one or more scans (mask, result.json, report)."""

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
from cacscore.errors import CacscoreError

COMMAND = "predict"
HELP = "find and score coronary calcium per artery in CT scans (DICOM folder, .mhd/.mha, .nii(.gz), .nrrd)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="DICOM folder or image file, one per case")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="folder for OUTDIR/<case id>/ and OUTDIR/summary.csv (never inside an input)")
    parser.add_argument("--overwrite", action="store_true", help="redo cases whose results exist")
    add_model_and_output_options(
        parser, heart_mask_help="heart mask on the scan's grid (file), or a folder of <case id>.nii.gz masks")


def add_model_and_output_options(parser: argparse.ArgumentParser, heart_mask_help: str) -> None:
    """The options that ``predict`` and ``batch`` share (model, engine, ROI, scoring, outputs)."""
    parser.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model)")
    parser.add_argument("--engine", choices=("auto", "torch", "onnx"), default="auto",
                        help="inference engine: auto (default) = torch when installed, else onnx (ONNX "
                        "Runtime on CPU; needs `cacscore export`)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (torch engine)")
    parser.add_argument("--heart-mask", metavar="PATH",
                        help=f"{heart_mask_help}; default: automatic heart ROI")
    parser.add_argument("--mask-format", choices=("nifti", "mhd"), default="nifti",
                        help="calcium.nii.gz (default) or calcium.mhd with short integers (orCaScore)")
    parser.add_argument("--scoring", default="default", metavar="PRESET",
                        help="scoring preset (cacscore.scoring.SCORING_PRESETS; default: 'default')")
    parser.add_argument("--kvp", type=float, default=None,
                        help="tube voltage (kV) of the scans, for the calcium threshold; default: read from "
                        "DICOM, else 120 kVp with a warning (NIfTI/MHD/NRRD carry no kVp)")
    parser.add_argument("--no-seg", action="store_true", help="no DICOM SEG for DICOM inputs")
    parser.add_argument("--include-phi", action="store_true",
                        help="allow patient-identifying DICOM fields (name, ID, birth date, accession) in "
                             "reports, logs and error messages; off by default")


def options_from_args(args: argparse.Namespace):
    """PredictOptions from the parsed arguments (shared with ``cacscore demo``)."""
    from cacscore.detection.pipeline import PredictOptions

    return PredictOptions(
        model_dir=getattr(args, "model", None),
        heart_mask=getattr(args, "heart_mask", None),
        mask_format=getattr(args, "mask_format", "nifti"),
        engine=getattr(args, "engine", "auto"),
        device=getattr(args, "device", "auto"),
        overwrite=getattr(args, "overwrite", False),
        include_phi=getattr(args, "include_phi", False),
        write_seg=False if getattr(args, "no_seg", False) else None,
        scoring_preset=getattr(args, "scoring", "default"),
        kvp=getattr(args, "kvp", None),
    )


def artery_table(result: dict) -> str:
    """The per-artery table printed after each case."""
    from cacscore.reporting.html import category_text, total_of

    agatston = result.get("agatston") or {}
    volume = result.get("volume_mm3") or {}
    names = [n for n in ("LM", "LAD", "LCX", "RCA") if n in agatston]
    lines = [f"  {'artery':<8}{'Agatston':>10}{'volume mm3':>12}"]
    for name in names:
        lines.append(f"  {name:<8}{agatston.get(name, 0):>10.1f}{volume.get(name, 0):>12.1f}")
    lines.append(f"  {'total':<8}{total_of(agatston) or 0:>10.1f}{total_of(volume) or 0:>12.1f}")
    lines.append(f"  risk category {category_text(result.get('risk_category'))}, "
                 f"{category_text(result.get('cac_drs'))}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Every input is run (one failing does not stop the others), summary.csv lists each once, and the
    exit status says whether all went well (:func:`cacscore.cli._common.exit_status`)."""
    from cacscore.case_folder import case_ids_for, check_output_folder, predict_to_folder
    from cacscore.detection.pipeline import load_predictor
    from cacscore.reporting import write_summary_csv

    inputs = [Path(p) for p in args.inputs]
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise CacscoreError(f"input(s) not found: {', '.join(missing)}; give DICOM folders or image files")
    if args.heart_mask and len(inputs) > 1 and not Path(args.heart_mask).is_dir():
        raise CacscoreError("one --heart-mask file for several inputs; give a folder of <case id> masks")
    out_dir = Path(args.output)
    check_output_folder(out_dir, inputs)
    case_ids = case_ids_for(inputs)
    options = options_from_args(args)
    import_engine_libraries(options.engine)
    predictor = load_predictor(options)
    outcomes = []
    cases = list(zip(inputs, case_ids, strict=True))
    if progress_enabled(args) and len(inputs) > 1:
        from tqdm import tqdm

        cases = tqdm(cases, desc="predict", unit="case")
    for path, case_id in cases:
        check_interrupted()
        outcome = predict_to_folder(path, out_dir, options, predictor=predictor, case_id=case_id)
        outcomes.append(outcome)
        if outcome.status == "ok":
            print(f"{outcome.case_id}: {outcome.seconds:.1f} s -> {Path(outcome.output_dir) / 'report.html'}")
            print(artery_table(outcome.result))
        elif outcome.status == "skipped":
            print(f"{outcome.case_id}: results exist in {outcome.output_dir}; skipped (--overwrite to redo)")
        else:
            print(f"cacscore predict: error: {one_line(outcome.error or '')}", file=sys.stderr)
    write_summary_csv(outcomes, out_dir / "summary.csv")
    print(f"summary: {out_dir / 'summary.csv'}")
    return exit_status(outcomes)
