"""What lies round a coronary plaque: the fat shares of the in-plane shells round candidates (descriptors
``fat_0_2mm``, ``fat_2_5mm``, ``fat_5_10mm``; :mod:`cacscore.detection.descriptors`), phantom against real.

For every phantom cohort given, the candidates (automatic heart ROI) that are reference coronary calcium,
per artery; for the two real chest CTs (../shared/data/real-chest-ct), the candidates the model calls
coronary (the scans have no annotation: docs/results.md says which calls are anatomically coronary).
Prints the median and quartiles of each shell's fat share. docs/phantom.md ("Fat is too tidy") uses it.

    .venv/bin/python benchmarks/shell_fat.py [COHORT ...] [--real] [--model DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cacscore.datasets import open_dataset
from cacscore.detection.candidates import reference_classes
from cacscore.detection.descriptors import DESCRIPTOR_NAMES
from cacscore.detection.pipeline import PredictOptions, load_predictor, prepare_scan
from cacscore.io import read_volume
from cacscore.labels import Artery

SHELLS = ("fat_0_2mm", "fat_2_5mm", "fat_5_10mm")
COLUMNS = [DESCRIPTOR_NAMES.index(name) for name in SHELLS]
SCANS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-chest-ct"


def cohort_shells(cohort: Path, predictor) -> dict[str, np.ndarray]:
    """Fat shares (N, 3) of the reference coronary candidates of a cohort, per artery and all together."""
    rows: dict[str, list[np.ndarray]] = {a.name: [] for a in (Artery.LAD, Artery.LCX, Artery.RCA)}
    for case in open_dataset(cohort):
        if not case.has_reference:
            continue
        volume = case.load_volume()
        scan = prepare_scan(volume, None, settings=predictor.settings, connectivity=predictor.connectivity)
        codes = reference_classes(scan.candidates, case.load_labels(volume))
        for artery in (Artery.LAD, Artery.LCX, Artery.RCA):
            rows[artery.name].append(scan.descriptors[codes == int(artery)][:, COLUMNS])
        print(case.case_id, file=sys.stderr, flush=True)
    out = {name: np.concatenate(parts) for name, parts in rows.items()}
    out["all"] = np.concatenate(list(out.values()))
    return out


def real_shells(predictor) -> dict[str, np.ndarray]:
    """Fat shares (N, 3) of the candidates the model calls coronary on each real chest CT."""
    out = {}
    for name in ("lung1", "lung2"):
        prediction = predictor.predict_volume(read_volume(SCANS / f"{name}_image.nrrd"))
        out[name] = prediction.scan.descriptors[prediction.classes > 0][:, COLUMNS]
    return out


def print_rows(label: str, groups: dict[str, np.ndarray]) -> None:
    print(label)
    for name, values in groups.items():
        if not len(values):
            print(f"  {name:6s} n=0")
            continue
        cells = [f"{s} {np.median(v):.2f} ({np.percentile(v, 25):.2f}-{np.percentile(v, 75):.2f})"
                 for s, v in zip(SHELLS, values.T, strict=True)]
        print(f"  {name:6s} n={len(values):4d}  " + "  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cohorts", type=Path, nargs="*")
    parser.add_argument("--real", action="store_true", help="also the model's calls on the two real CTs")
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    args = parser.parse_args(argv)
    predictor = load_predictor(PredictOptions(model_dir=args.model))
    print("fat share per shell: median (quartiles)")
    for cohort in args.cohorts:
        print_rows(f"{cohort}: reference coronary candidates", cohort_shells(cohort, predictor))
    if args.real:
        print_rows("real chest CTs: candidates called coronary", real_shells(predictor))
    return 0


if __name__ == "__main__":
    sys.exit(main())
