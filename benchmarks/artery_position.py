"""Does a heart-centred frame name the artery better than the network does? (docs/model.md, "Which
frame for the artery")

For the reference coronary candidates of two phantom cohorts (automatic heart ROI), the artery the model
names (the most probable of LAD, LCX, RCA) against the reference, and against a classifier given the
candidate's position alone in one of three frames, fitted on the first cohort's candidates and tested on
the second's:

- ``roi centroid``: the offset of the candidate's centroid from the heart ROI's centroid along the
  patient's left, posterior and superior axes (the position descriptors the network has);
- ``roi principal axes``: that offset on the ROI's principal axes (long axis turned towards the patient's
  left, front and feet, where the apex points; then the front, then their cross product), in mm and in SDs
  of the ROI along each axis;
- ``slice centroid``: the in-plane offset from the ROI's centroid on the candidate's own slice, and its
  depth below the ROI's top (mm), which a ROI's extent in z does not move.

Classifiers: multinomial logistic regression (standardised inputs) and 15 nearest neighbours (in mm, or SDs),
and :class:`cacscore.detection.artery.ArteryByPosition` (15 nearest in the ROI-centroid frame, ties to the
nearest; what ``cacscore train --task artery`` adds to a model). With ``--real SCAN``, each candidate the
model calls coronary on that scan is listed with the network's artery, ArteryByPosition's and each frame's
logistic artery, with their probabilities (the scans have no annotation: docs/results.md says what each
call is anatomically).

    .venv/bin/python benchmarks/artery_position.py TRAIN_COHORT TEST_COHORT [--model DIR] \
        [--real ../shared/data/real-chest-ct/lung2_image.nrrd ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cacscore.datasets import open_dataset
from cacscore.detection.artery import ArteryByPosition, positions_mm
from cacscore.detection.candidates import reference_classes
from cacscore.detection.classifier import sample_candidate_inputs
from cacscore.detection.pipeline import PredictOptions, Predictor, load_predictor, prepare_scan
from cacscore.io import read_volume
from cacscore.training.candidate_task import CODE_TO_CLASS
from cacscore.volume import Volume

#: Where the heart's apex points, in LPS: the patient's left, front (-P) and feet (-S).
APEX_LPS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
FRAMES = ("roi centroid", "roi principal axes (mm)", "roi principal axes (SD)", "slice centroid")
ARTERIES = "LAD", "LCX", "RCA"


def frames(volume: Volume, roi: np.ndarray, centroids_zyx: np.ndarray, descriptors: np.ndarray
           ) -> dict[str, np.ndarray]:
    """(N, 3) position of each candidate centroid (voxel indices, z y x) in each frame of :data:`FRAMES`;
    the ROI-centroid frame is the candidates' position descriptors (``descriptors``), in mm."""
    points = volume.index_to_physical(np.argwhere(roi).astype(float))
    covariance = np.cov(points.T)
    long_axis = np.linalg.eigh(covariance)[1][:, -1]
    long_axis = long_axis if long_axis @ APEX_LPS >= 0 else -long_axis
    front = np.array([0.0, -1.0, 0.0]) + long_axis[1] * long_axis  # the front, less its part on the axis
    front /= np.linalg.norm(front)
    axes = np.stack([long_axis, front, np.cross(long_axis, front)])
    sd = np.sqrt(np.einsum("ij,jk,ik->i", axes, covariance, axes))
    cand_lps = volume.index_to_physical(centroids_zyx)
    offset = positions_mm(descriptors)
    on_axes = offset @ axes.T
    z_roi = np.flatnonzero(roi.any(axis=(1, 2)))
    top = volume.index_to_physical(np.array([[z_roi[0], 0, 0], [z_roi[-1], 0, 0]], float))[:, 2].max()
    in_slice = []
    for (z, _, _), own in zip(centroids_zyx, cand_lps, strict=True):
        k = int(np.clip(round(z), z_roi[0], z_roi[-1]))
        y, x = np.argwhere(roi[k]).mean(axis=0)
        left, posterior, _ = own - volume.index_to_physical(np.array([k, y, x], float))
        in_slice.append((left, posterior, top - own[2]))
    return dict(zip(FRAMES, (offset, on_axes, on_axes / sd, np.array(in_slice)), strict=True))


def scan_rows(volume: Volume, predictor: Predictor, reference: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per candidate of one scan: candidate number, reference code (-1 without a reference), the
    network's probabilities and the positions in every frame."""
    scan = prepare_scan(volume, None, settings=predictor.settings, connectivity=predictor.connectivity)
    cands = scan.candidates.candidates
    if not cands:
        return {}
    inputs = sample_candidate_inputs(volume, scan.candidates, scan.descriptors, scan.reference,
                                     predictor.spec)
    rows = frames(volume, scan.roi, np.array([c.centroid_zyx for c in cands], float), scan.descriptors)
    rows["descriptors"] = scan.descriptors
    rows["number"] = np.array([c.index for c in cands])
    # the artery class as training sees it (LM counts as LAD; "artery unknown" -1, left out)
    rows["reference"] = (np.array([CODE_TO_CLASS.get(int(c), -1)
                                   for c in reference_classes(scan.candidates, reference)])
                         if reference is not None else np.full(len(cands), -1))
    rows["probabilities"] = predictor.engine.predict_proba(inputs)
    return rows


def cohort_rows(cohort: Path, predictor: Predictor) -> dict[str, np.ndarray]:
    """:func:`scan_rows` of the reference coronary candidates of every case of a cohort, stacked."""
    parts = []
    for case in open_dataset(cohort):
        if not case.has_reference:
            continue
        volume = case.load_volume()
        rows = scan_rows(volume, predictor, case.load_labels(volume))
        if rows:
            keep = rows["reference"] > 0
            parts.append({key: value[keep] for key, value in rows.items()})
        print(case.case_id, file=sys.stderr, flush=True)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def classifiers() -> dict[str, object]:
    """Fresh position classifiers by name."""
    return {"logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            "15-NN": KNeighborsClassifier(15)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train", type=Path, help="phantom cohort the position classifiers are fitted on")
    parser.add_argument("test", type=Path, help="phantom cohort they and the network are measured on")
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--real", type=Path, nargs="*", default=[], help="scans without annotation to list")
    args = parser.parse_args(argv)
    predictor = load_predictor(PredictOptions(model_dir=args.model))
    train, test = cohort_rows(args.train, predictor), cohort_rows(args.test, predictor)
    network = test["probabilities"][:, 1:].argmax(axis=1) + 1
    print(f"{len(train['reference'])} coronary candidates to fit on ({args.train.name}), "
          f"{len(test['reference'])} to test on ({args.test.name})")
    print(f"{'artery named by':32s} accuracy")
    print(f"{'the network':32s} {np.mean(network == test['reference']):.3f}")
    head = ArteryByPosition.fit(train["descriptors"], train["reference"])
    print(f"{'roi centroid, ArteryByPosition':32s} "
          f"{np.mean(head.shares(test['descriptors'])[1] == test['reference']):.3f}")
    fitted = {}
    for frame in FRAMES:
        for name, model in classifiers().items():
            model.fit(train[frame], train["reference"])
            accuracy = np.mean(model.predict(test[frame]) == test["reference"])
            print(f"{frame + ', ' + name:32s} {accuracy:.3f}")
            if name == "logistic":
                fitted[frame] = model
    for path in args.real:
        rows = scan_rows(read_volume(path), predictor, None)
        called = np.flatnonzero(1.0 - rows["probabilities"][:, 0] >= 0.5) if rows else []
        print(f"\n{path.name}: candidate, network's artery (p among arteries), ArteryByPosition's (share of "
              "the 15 nearest), each frame's logistic artery")
        for k in called:
            p = rows["probabilities"][k, 1:] / rows["probabilities"][k, 1:].sum()
            line = f"  #{rows['number'][k]:<4d} network {ARTERIES[p.argmax()]} {p.max():.2f}"
            share, artery = head.shares(rows["descriptors"][k:k + 1])
            line += f" | ArteryByPosition {ARTERIES[artery[0] - 1]} {share.max():.2f}"
            for frame, model in fitted.items():
                q = model.predict_proba(rows[frame][k:k + 1])[0]
                line += f" | {frame} {ARTERIES[q.argmax()]} {q.max():.2f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
