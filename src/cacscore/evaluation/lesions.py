"""Lesion-level detection by the orCaScore rules (Wolterink et al., Med Phys 2016; orcascore.isi.uu.nl).

Exact rules used (docs/scoring.md, "Evaluation"):

- Calcium voxels: HU >= the scoring threshold (130 HU at 120 kVp). Labels outside calcium voxels are
  ignored, in reference and prediction alike. orCaScore's text says "> 130 HU"; cacscore keeps the one
  threshold of its Agatston score (>= 130), which differs only for voxels of exactly 130 HU.
- Left main (label 5) counts as LAD unless ``keep_lm`` (orCaScore: "left main counted as LAD").
- Reference lesions: 3-D 6-connected components of labelled calcium voxels; a component with mixed labels
  takes its majority label (ties: lowest code).
- Overall (artery ignored): a reference lesion is a true positive when any of its voxels is labelled
  (non-zero) in the prediction, else a false negative; a predicted lesion (6-connected component of the
  prediction's labelled calcium) is a false positive when none of its voxels is reference calcium.
- Per artery a: a reference lesion of artery a is a true positive when any of its voxels carries label a
  in the prediction, else a false negative for a. Predicted lesions of artery a are the 6-connected
  components of calcium voxels labelled a ("all connected voxels with the same label are one lesion");
  one is a false positive for a when none of its voxels lies in a reference lesion of artery a. A lesion
  given the wrong artery is thus a false negative for its true artery and a false positive for the other.
- By volume (voxel-wise, so partial detections count partially): TP = calcium voxels in both, FN = in the
  reference only, FP = in the prediction only (per artery: reference-lesion artery a vs predicted label a),
  times the voxel volume (mm^3, depth = slice increment).
- Sensitivity = TP / (TP + FN), PPV = TP / (TP + FP), F1 = 2 TP / (2 TP + FP + FN), by count and by volume;
  ``None`` when the denominator is 0. False positives per scan = FP count / number of scans.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage as ndi

from cacscore.labels import Artery
from cacscore.scoring.agatston import majority_label
from cacscore.scoring.score import _bounding_box

_SIX = ndi.generate_binary_structure(3, 1)

#: The per-artery rows reported (others appear only when a label volume uses them).
BASE_ARTERIES: tuple[Artery, ...] = (Artery.LAD, Artery.LCX, Artery.RCA)


@dataclass
class LesionCounts:
    """Counts (lesions) and volumes (mm^3) of true positives, false negatives and false positives."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tp_mm3: float = 0.0
    fn_mm3: float = 0.0
    fp_mm3: float = 0.0

    def __iadd__(self, other: LesionCounts) -> LesionCounts:
        for key in ("tp", "fn", "fp", "tp_mm3", "fn_mm3", "fp_mm3"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        return self

    def metrics(self, n_scans: int | None = None) -> dict:
        """Counts plus sensitivity, PPV and F1 by count and by volume (and FP per scan given ``n_scans``)."""
        out = asdict(self)
        out.update(detection_metrics(self.tp, self.fn, self.fp, prefix=""))
        out.update(detection_metrics(self.tp_mm3, self.fn_mm3, self.fp_mm3, prefix="volume_"))
        if n_scans:
            out["fp_per_scan"] = self.fp / n_scans
        return out


def detection_metrics(tp: float, fn: float, fp: float, prefix: str = "") -> dict[str, float | None]:
    """Sensitivity, PPV and F1 from TP/FN/FP (``None`` where a denominator is 0)."""

    def ratio(num: float, den: float) -> float | None:
        return None if den == 0 else float(num) / float(den)

    return {
        f"{prefix}sensitivity": ratio(tp, tp + fn),
        f"{prefix}ppv": ratio(tp, tp + fp),
        f"{prefix}f1": ratio(2 * tp, 2 * tp + fp + fn),
    }


def reference_lesions(calcium_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """6-connected lesions of labelled calcium and their majority label.

    Args:
        calcium_labels: int label volume already restricted to calcium voxels (0 elsewhere).

    Returns:
        (lesion map with ids 1..L, 0 outside; array of L+1 majority labels, index 0 unused = 0).
    """
    lesions, n = ndi.label(calcium_labels > 0, structure=_SIX)
    inside = lesions > 0
    majority = np.zeros(n + 1, dtype=np.int64)
    if n:
        majority[1:] = majority_label(lesions[inside] - 1, calcium_labels[inside].astype(np.int64), n)
    return lesions, majority


def lesion_counts(
    pred_labels: np.ndarray,
    ref_labels: np.ndarray,
    hu: np.ndarray,
    threshold_hu: float,
    voxel_volume_mm3: float,
    keep_lm: bool = False,
) -> dict[str, LesionCounts]:
    """Lesion counts of one scan: ``"overall"`` and one entry per artery name (LAD, LCX, RCA, and any other
    code either volume uses), by the rules in this module's docstring."""
    if pred_labels.shape != ref_labels.shape or hu.shape != ref_labels.shape:
        raise ValueError(f"shapes differ: pred {pred_labels.shape}, ref {ref_labels.shape}, image {hu.shape}")
    lo, hi = _bounding_box((pred_labels > 0) | (ref_labels > 0))
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    calcium = hu[box] >= threshold_hu
    pred = np.where(calcium, pred_labels[box], 0).astype(np.int64)
    ref = np.where(calcium, ref_labels[box], 0).astype(np.int64)
    if not keep_lm:
        pred[pred == Artery.LM] = int(Artery.LAD)
        ref[ref == Artery.LM] = int(Artery.LAD)

    ref_map, ref_major = reference_lesions(ref)
    ref_artery = ref_major[ref_map]  # per voxel: the artery of its reference lesion (0 outside)
    pred_any = pred > 0
    ref_any = ref > 0
    out: dict[str, LesionCounts] = {}

    n_ref = len(ref_major) - 1
    detected = np.zeros(n_ref + 1, dtype=bool)
    detected[np.unique(ref_map[pred_any & ref_any])] = True
    pred_map, n_pred = ndi.label(pred_any, structure=_SIX)
    hit = np.zeros(n_pred + 1, dtype=bool)
    hit[np.unique(pred_map[pred_any & ref_any])] = True
    out["overall"] = LesionCounts(
        tp=int(detected[1:].sum()),
        fn=int(n_ref - detected[1:].sum()),
        fp=int(n_pred - hit[1:].sum()),
        tp_mm3=float((pred_any & ref_any).sum() * voxel_volume_mm3),
        fn_mm3=float((ref_any & ~pred_any).sum() * voxel_volume_mm3),
        fp_mm3=float((pred_any & ~ref_any).sum() * voxel_volume_mm3),
    )

    codes = (
        set(BASE_ARTERIES)
        | {Artery(int(c)) for c in np.unique(pred) if c}
        | {Artery(int(c)) for c in np.unique(ref_major[1:])}
    )
    for artery in sorted(codes):
        a = int(artery)
        pred_a = pred == a
        ref_a = ref_artery == a
        ids_a = np.flatnonzero(ref_major == a)
        found = np.zeros(n_ref + 1, dtype=bool)
        found[np.unique(ref_map[ref_a & pred_a])] = True
        tp = int(found[ids_a].sum())
        lesions_a, n_a = ndi.label(pred_a, structure=_SIX)
        hit_a = np.zeros(n_a + 1, dtype=bool)
        hit_a[np.unique(lesions_a[pred_a & ref_a])] = True
        out[artery.name] = LesionCounts(
            tp=tp,
            fn=int(ids_a.size - tp),
            fp=int(n_a - hit_a[1:].sum()),
            tp_mm3=float((pred_a & ref_a).sum() * voxel_volume_mm3),
            fn_mm3=float((ref_a & ~pred_a).sum() * voxel_volume_mm3),
            fp_mm3=float((pred_a & ~ref_a).sum() * voxel_volume_mm3),
        )
    return out
