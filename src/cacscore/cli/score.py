"""``cacscore score IMAGE --mask LABELS``: Agatston, volume and mass per artery from a calcium label mask."""

from __future__ import annotations

import argparse

COMMAND = "score"
HELP = "score calcium (Agatston, volume, mass, risk category, CAC-DRS) from a scan and its artery label mask"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cacscore.scoring.settings import CONVENTIONS, SCORING_PRESETS

    parser.add_argument("image", help="the CT scan: DICOM folder or .mhd/.mha/.nii/.nii.gz/.nrrd")
    parser.add_argument(
        "--mask", required=True, help="calcium label volume on the scan's grid (artery codes)"
    )
    parser.add_argument("-o", "--output", default=None, help="write the scores as JSON here")
    parser.add_argument(
        "--preset",
        default="default",
        choices=sorted(SCORING_PRESETS),
        help="scoring preset (default: default)",
    )
    parser.add_argument("--kvp", type=float, default=None, help="tube voltage to pick the threshold for")
    parser.add_argument(
        "--threshold-hu", type=int, default=None, help="calcium threshold (overrides the kVp table)"
    )
    parser.add_argument("--min-area-mm2", type=float, default=None, help="minimum fragment area (mm2)")
    parser.add_argument("--min-voxels", type=int, default=None, help="minimum fragment size (pixels)")
    parser.add_argument(
        "--connectivity", type=int, choices=(4, 8), default=None, help="in-plane connectivity"
    )
    parser.add_argument("--convention", choices=CONVENTIONS, default=None, help="lesion convention")
    parser.add_argument(
        "--calibration-factor", type=float, default=None, help="mass calibration factor c (mg HA per HU*ml)"
    )
    parser.add_argument("--fold-lm", action="store_true", help="count the left main (label 5) as LAD")
    parser.add_argument("--no-normalise", action="store_true", help="report the raw Agatston score only")
    parser.add_argument("--series-uid", default=None, help="DICOM series to read when a folder holds several")


def run(args: argparse.Namespace) -> int:
    import json

    from cacscore.io import read_mask, read_volume
    from cacscore.io.atomic import write_text_atomic
    from cacscore.log import collect_warnings, get_logger, warning_line
    from cacscore.scoring import get_preset, score_table, score_volume

    settings = get_preset(args.preset).with_(
        kvp=args.kvp,
        threshold_hu=args.threshold_hu,
        min_area_mm2=args.min_area_mm2,
        min_voxels=args.min_voxels,
        connectivity=args.connectivity,
        convention=args.convention,
        calibration_factor=args.calibration_factor,
        keep_lm=False if args.fold_lm else None,
        normalise_to_3mm=False if args.no_normalise else None,
    )
    with collect_warnings() as caught:
        volume = read_volume(args.image, series_uid=args.series_uid)
        labels = read_mask(args.mask, like=volume)
        result = score_volume(volume, labels, settings)
    print(score_table(result))
    warnings = list(dict.fromkeys([*volume.info.warnings, *result.warnings, *caught.own]))
    if caught.summary():
        warnings.append(caught.summary())
    if warnings:
        get_logger(__name__).warning("%s", warning_line(args.image, warnings))
    if args.output:
        document = result.to_dict()
        document["settings"]["preset"] = args.preset
        write_text_atomic(args.output, json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.output}")
    return 0
