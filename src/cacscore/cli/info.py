"""``cacscore info PATH``: what cacscore reads from a scan (geometry, HU range, acquisition, series)."""

from __future__ import annotations

import argparse

COMMAND = "info"
HELP = "show a scan's shape, spacing, orientation, HU range, kVp, slice increment and series chosen"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="DICOM folder, DICOM file, or .mhd/.mha/.nii/.nii.gz/.nrrd image")
    parser.add_argument("--series-uid", default=None, help="DICOM series to read when a folder holds several")


def describe(volume) -> list[tuple[str, str]]:
    """(field, value) lines describing a volume; no patient-identifying field is ever shown."""
    import numpy as np

    from cacscore.io import orientation_code

    info = volume.info

    def opt(value, fmt="{}"):
        return "unknown" if value is None else fmt.format(value)

    hu = volume.hu
    lines = [
        ("source", opt(info.source)),
        ("shape (z, y, x)", " x ".join(str(n) for n in volume.shape)),
        ("spacing (z, y, x) mm", ", ".join(f"{s:.4g}" for s in volume.spacing_zyx_mm)),
        ("orientation", f"{orientation_code(volume.direction)} (where the x, y, z index axes point)"),
        ("origin (x, y, z) mm", ", ".join(f"{o:.2f}" for o in volume.origin_xyz_mm)),
        ("HU range", f"{float(np.min(hu)):.0f} .. {float(np.max(hu)):.0f}"),
        ("modality", opt(info.modality)),
        ("kVp", opt(info.kvp, "{:g}")),
        ("slice thickness mm", opt(info.slice_thickness_mm, "{:g}")),
        ("slice increment mm", opt(info.slice_increment_mm, "{:.4g}")),
        ("manufacturer", " ".join(x for x in (info.manufacturer, info.model) if x) or "unknown"),
        ("kernel", opt(info.kernel)),
        ("series", opt(info.series_uid)),
        ("series description", opt(info.series_description)),
    ]
    if info.series_note:
        lines.append(("series chosen", info.series_note))
    lines.extend(("warning", w) for w in info.warnings if w != info.series_note)
    return lines


def run(args: argparse.Namespace) -> int:
    from cacscore.io import read_volume
    from cacscore.log import collect_warnings

    with collect_warnings() as caught:
        volume = read_volume(args.path, series_uid=args.series_uid)
    lines = describe(volume)
    if caught.summary():
        lines.append(("warning", caught.summary()))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
    return 0
