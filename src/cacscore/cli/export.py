"""``cacscore export``: a model folder to one ONNX file for ONNX Runtime (``--engine onnx``)."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "export"
HELP = "export a model folder to ONNX (probabilities out, dynamic batch) and check it against PyTorch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", type=Path, metavar="MODELDIR",
                        help="model folder (config.json + weights)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="the .onnx file (default: MODELDIR/model.onnx, which --engine onnx then uses)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip comparing ONNX Runtime with PyTorch on random inputs")


def run(args: argparse.Namespace) -> int:
    from cacscore.errors import CacscoreError
    from cacscore.models.engine import compare_with_torch
    from cacscore.models.onnx_engine import MODEL_FILE, TOLERANCE, export_model_folder

    output = args.output or args.model_dir / MODEL_FILE
    if output.suffix != ".onnx":
        raise CacscoreError(f"the output {output} should end in .onnx")
    path = export_model_folder(args.model_dir, output)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if not args.no_check:
        diff = compare_with_torch(args.model_dir, path)
        verdict = "ok" if diff < TOLERANCE else "TOO LARGE"
        print(f"max |p_onnx - p_torch| on 64 random inputs: {diff:.2e} "
              f"(tolerance {TOLERANCE:.0e}): {verdict}")
        if diff >= TOLERANCE:
            return 1
    return 0
