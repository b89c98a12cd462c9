"""Which descriptor makes the model call a real candidate what it calls it?

For each named candidate of a scan (``--scan PATH --candidate N [N ...]``, the candidate numbers of
result.json), sets one descriptor at a time to its median over a class of a phantom cohort's candidates
(``--like``: the candidates of one look-alike kind, e.g. the aortic valve, or the coronary lesions) and
prints how far its probability of being coronary (1 - p(not coronary)) moves, largest moves first; then
with every descriptor at that median, and with the local patch blanked. The phantom cohort is run once with
the model (automatic heart ROI) to collect its candidates' descriptors and what each is by the truth
(look-alike volume and reference labels).

It answers "would this call change if the candidate looked like the phantom's valves in this one respect?",
which is how the peak-HU cue behind v6's call on lung1's aortic root was found (docs/model.md, "Peak HU").

    .venv/bin/python benchmarks/descriptor_influence.py COHORT \
        --scan ../shared/data/real-chest-ct/lung1_image.nrrd --candidate 9 10 \
        [--like AORTIC_VALVE] [--model DIR] [--top 6]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cacscore.datasets import open_dataset
from cacscore.detection.candidates import reference_classes
from cacscore.detection.classifier import sample_candidate_inputs
from cacscore.detection.descriptors import DESCRIPTOR_NAMES
from cacscore.detection.pipeline import PredictOptions, Predictor, load_predictor, prepare_scan
from cacscore.io import read_volume
from cacscore.phantom import LookAlike

#: --like value naming the reference cohort's coronary candidates instead of a look-alike kind.
CORONARY = "CORONARY"


def cohort_descriptors(cohort: Path, predictor: Predictor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Descriptors (N, D) of every candidate of the cohort's cases, the look-alike code most of its voxels
    carry (0: none) and whether any of its voxels is reference coronary calcium."""
    descriptors, kinds, coronary = [], [], []
    for case in open_dataset(cohort):
        if not case.has_reference:
            continue
        volume = case.load_volume()
        reference = case.load_labels(volume)
        lookalikes = read_volume(cohort / "truth" / f"{case.case_id}_lookalikes.nii.gz").hu.astype(int)
        scan = prepare_scan(volume, None, settings=predictor.settings, connectivity=predictor.connectivity)
        kinds.append(reference_classes(scan.candidates, lookalikes))
        coronary.append(reference_classes(scan.candidates, reference) > 0)
        descriptors.append(scan.descriptors)
        print(case.case_id, file=sys.stderr, flush=True)
    return np.concatenate(descriptors), np.concatenate(kinds), np.concatenate(coronary)


def influence(predictor: Predictor, scan_path: Path, candidates: list[int], median: np.ndarray,
              top: int) -> None:
    """Print, per candidate, p(coronary) and its moves when descriptors are set to ``median``."""
    volume = read_volume(scan_path)
    scan = prepare_scan(volume, None, settings=predictor.settings, connectivity=predictor.connectivity)
    inputs = sample_candidate_inputs(volume, scan.candidates, scan.descriptors, scan.reference,
                                     predictor.spec)
    index = [c.index for c in scan.candidates.candidates]

    def p_coronary(one: dict[str, np.ndarray]) -> float:
        return 1.0 - float(predictor.engine.predict_proba(one)[0, 0])

    for number in candidates:
        if number not in index:
            print(f"{scan_path.name}: no candidate {number}")
            continue
        k = index.index(number)
        one = {key: value[k:k + 1].copy() for key, value in inputs.items()}
        base = p_coronary(one)
        moves = []
        for j, name in enumerate(DESCRIPTOR_NAMES):
            changed = {key: value.copy() for key, value in one.items()}
            changed["features"][0, j] = median[j]
            moves.append((p_coronary(changed) - base, name, float(one["features"][0, j]), float(median[j])))
        moves.sort(key=lambda m: -abs(m[0]))
        print(f"{scan_path.name} candidate {number}: p(coronary) {base:.2f}")
        for move, name, own, med in moves[:top]:
            print(f"  {name:24s} {own:8.3f} -> {med:8.3f}: {move:+.2f}")
        every = {key: value.copy() for key, value in one.items()}
        every["features"][0] = median
        blank = {key: value.copy() for key, value in one.items()}
        blank["patches"][:] = 0.0
        print(f"  every descriptor at the median: {p_coronary(every):.2f}; "
              f"patch blanked: {p_coronary(blank):.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cohort", type=Path, help="phantom cohort with truth/ (cacscore phantom)")
    parser.add_argument("--scan", type=Path, required=True)
    parser.add_argument("--candidate", type=int, nargs="+", required=True)
    parser.add_argument("--like", default=LookAlike.AORTIC_VALVE.name,
                        choices=[*LookAlike.__members__, CORONARY],
                        help="the class whose median descriptors are put in (default AORTIC_VALVE)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args(argv)
    predictor = load_predictor(PredictOptions(model_dir=args.model))
    descriptors, kinds, coronary = cohort_descriptors(args.cohort, predictor)
    chosen = coronary if args.like == CORONARY else (kinds == LookAlike[args.like].value) & ~coronary
    if not chosen.any():
        print(f"no {args.like} candidate in {args.cohort}")
        return 1
    print(f"{int(chosen.sum())} {args.like} candidates of {args.cohort}; "
          "their median descriptors replace one at a time")
    influence(predictor, args.scan, args.candidate, np.median(descriptors[chosen], axis=0), args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
