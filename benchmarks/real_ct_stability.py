"""Does a model's reading of the two real chest CTs survive what differs between scanners?

The real scans' anatomy is fixed; what a different scanner or protocol would change is the image: noise,
pixel size, kernel sharpness, calibration, how the array is stored. This script changes one of them at a
time on each real CT (../shared/data/real-chest-ct), runs the model, and prints the total and per-artery
Agatston, the risk category and the slices of the calls next to the unchanged scan's. A change of the
image that is not a change of the calcium should change the calls little; where it changes them, the
model reads the scanner, not the anatomy. Some change of the score is physics (a softer kernel lowers the
peaks, an offset raises them): the column "same calls" scores the unchanged scan's calls (mapped onto the
changed image through patient coordinates, grown by 1 mm in-plane) on the changed image, i.e. what the
score would be had the model called the same calcium.

The changes (``VARIANTS``), each a realistic scanner difference:

- ``noise+15``, ``noise+30``: Gaussian noise of SD 15 / 30 HU added, smoothed in-plane by a 0.8-pixel
  Gaussian (CT noise is correlated over about a millimetre). The scans are 5 mm chest CTs measuring 7 and
  11 HU; +15 gives ~17-19 HU, the noise of a 3 mm calcium-scoring scan, +30 that of a low-dose or obese
  patient's scan.
- ``pixel0.4``, ``pixel0.8``: resampled in-plane (linear) to 0.4 / 0.8 mm pixels (field of view 200 /
  410 mm at 512 px; gated calcium scans have 0.32-0.47 mm).
- ``soft0.6mm``: a softer kernel (Gaussian, sigma 0.6 mm in-plane). Agatston falls with it by physics (peaks
  fall): compare the calls, not only the totals.
- ``hu+15``: calibration offset of +15 HU (within what scanners drift). Agatston rises with it by physics.
- ``mirrored-x``: the same image stored with the x axis reversed (another orientation in the header); the
  patient is unchanged, so the result must be identical.

    .venv/bin/python benchmarks/real_ct_stability.py [--model DIR] [-o results.json]

Takes about 3 minutes on 2 cores. Results in docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from cacscore.detection.pipeline import PredictOptions, load_predictor
from cacscore.io import read_volume
from cacscore.scanner_changes import add_noise, mirror_x, resample_in_plane, soften
from cacscore.scoring import risk_category, score_volume
from cacscore.volume import Volume

SHARED = Path(os.environ.get("CACSCORE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SCANS = SHARED / "data" / "real-chest-ct"


VARIANTS: dict[str, Callable[[Volume], Volume]] = {
    "native": lambda v: v,
    "noise+15": lambda v: add_noise(v, 15.0),
    "noise+30": lambda v: add_noise(v, 30.0),
    "pixel0.4": lambda v: resample_in_plane(v, 0.4),
    "pixel0.8": lambda v: resample_in_plane(v, 0.8),
    "soft0.6mm": lambda v: soften(v, 0.6),
    "hu+15": lambda v: v.with_hu(v.hu + np.float32(15.0)),
    "mirrored-x": mirror_x,
}


def labels_on(volume: Volume, native: Volume, labels: np.ndarray) -> np.ndarray:
    """``labels`` (on ``native``'s grid) on ``volume``'s grid: nearest voxel through patient coordinates,
    then grown by 1 mm in-plane (a blurred or resampled lesion spreads a little)."""
    nz, ny, nx = volume.shape
    yy, xx = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    inverse = np.linalg.inv(native.direction)
    out = np.zeros(volume.shape, labels.dtype)
    for z in range(nz):
        zyx = np.stack([np.full_like(yy, z), yy, xx], axis=-1)
        xyz = (volume.index_to_physical(zyx) - np.asarray(native.origin_xyz_mm)) @ inverse.T
        idx = np.rint(xyz[..., ::-1] / np.asarray(native.spacing_zyx_mm)).astype(int)
        inside = np.all((idx >= 0) & (idx < np.asarray(native.shape)), axis=-1)
        out[z][inside] = labels[tuple(idx[inside].T)]
    radius = max(1, round(1.0 / volume.spacing_zyx_mm[1]))
    grown = ndi.grey_dilation(out, size=(1, 2 * radius + 1, 2 * radius + 1))
    return np.where(out > 0, out, grown)


def read(predictor, volume: Volume, native: Volume, native_labels: np.ndarray | None) -> dict:
    """The model's reading of ``volume``: noise, Agatston total and per artery, category, calls' slices,
    and the total of the native calls on this image (``native_labels`` None: this is the native scan)."""
    prediction = predictor.predict_volume(volume)
    agatston = prediction.score.agatston
    calls = [cand for cand, code in zip(prediction.candidates.candidates, prediction.classes, strict=True)
             if code]
    labels = prediction.labels if native_labels is None else labels_on(volume, native, native_labels)
    same = score_volume(volume, labels, predictor.settings).agatston["total"]
    return {
        "labels": prediction.labels,
        "same_calls_total": round(float(same), 1),
        "noise_sd_hu": round(prediction.scan.reference.noise_sd_hu, 1),
        "agatston": {k: round(float(agatston.get(k, 0.0)), 1) for k in ("total", "LAD", "LCX", "RCA")},
        "category": risk_category(float(agatston["total"])).label,
        "calls": len(calls),
        "call_slices": sorted(round(float(c.centroid_zyx[0])) for c in calls),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="write the readings here (JSON)")
    args = parser.parse_args(argv)
    predictor = load_predictor(PredictOptions(model_dir=args.model, kvp=120.0))
    readings: dict[str, dict[str, dict]] = {"model": predictor.model_info, "scans": {}}
    print("| scan | image | noise HU | total | same calls | LAD | LCX | RCA | category | calls (slices) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ("lung1", "lung2"):
        native = read_volume(SCANS / f"{name}_image.nrrd")
        readings["scans"][name] = {}
        native_labels = None
        for variant, change in VARIANTS.items():
            r = read(predictor, change(native), native, native_labels)
            labels = r.pop("labels")
            native_labels = labels if native_labels is None else native_labels
            readings["scans"][name][variant] = r
            a = r["agatston"]
            print(f"| {name} | {variant} | {r['noise_sd_hu']} | {a['total']} | {r['same_calls_total']} | "
                  f"{a['LAD']} | {a['LCX']} | {a['RCA']} | {r['category']} | "
                  f"{r['calls']} ({', '.join(map(str, r['call_slices']))}) |", flush=True)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(readings, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
