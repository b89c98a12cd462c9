"""Patch classification metrics: the paper's four (accuracy, sensitivity, precision, specificity) plus F1,
ROC AUC and the confusion matrix.

Definitions (Sokolova & Lapalme 2009, the paper's reference), positives = windows with calcium:
accuracy = (TP + TN) / N, sensitivity (recall) = TP / (TP + FN), precision = TP / (TP + FP),
specificity = TN / (TN + FP), F1 = 2 TP / (2 TP + FP + FN). A ratio with a zero denominator is None (JSON
null), never 0 or 1. ROC AUC (scikit-learn) is None when one class is absent.

Sensitivity by calcium size: a positive window may hold a whole lesion or a single pixel of one (the edge
of a lesion cut by the overlapping grid, or a faint lesion barely above 130 HU); a 1-3-pixel piece of
calcium is as bright as the noise peaks of many calcium-free windows. Found-versus-missed is therefore also
given per band of reference calcium pixels in the window (:data:`CALCIUM_PIXEL_BANDS`).
"""

from __future__ import annotations

import numpy as np


def _ratio(num: int, den: int) -> float | None:
    return float(num) / float(den) if den else None


#: Lower edges of the bands of reference calcium pixels per positive window: 1-3, 4-9, 10-29, >= 30.
CALCIUM_PIXEL_BANDS = (1, 4, 10, 30)


def sensitivity_by_calcium_pixels(
    labels: np.ndarray, predicted: np.ndarray, calcium_pixels: np.ndarray
) -> list[dict]:
    """Positives, found and sensitivity per band of :data:`CALCIUM_PIXEL_BANDS` (only positive windows count).

    Args:
        labels: (N,) 0/1 reference.
        predicted: (N,) bool decisions.
        calcium_pixels: (N,) reference calcium pixels in each window.

    Returns:
        One dict per band: {"pixels": "1-3", "positives", "found", "sensitivity" (None without positives)}.
    """
    y = np.asarray(labels).astype(bool).ravel()
    pred = np.asarray(predicted).astype(bool).ravel()
    n = np.asarray(calcium_pixels).ravel()
    uppers = (*CALCIUM_PIXEL_BANDS[1:], None)
    rows = []
    for lo, hi in zip(CALCIUM_PIXEL_BANDS, uppers, strict=True):
        band = y & (n >= lo) & (True if hi is None else n < hi)
        found = int(np.count_nonzero(band & pred))
        rows.append(
            {
                "pixels": f">={lo}" if hi is None else f"{lo}-{hi - 1}",
                "positives": int(np.count_nonzero(band)),
                "found": found,
                "sensitivity": _ratio(found, int(np.count_nonzero(band))),
            }
        )
    return rows


def binary_metrics(
    labels: np.ndarray,
    p_positive: np.ndarray,
    threshold: float = 0.5,
    calcium_pixels: np.ndarray | None = None,
) -> dict:
    """Metrics of a binary classifier whose positive-class probability is ``p_positive``.

    Args:
        labels: (N,) 0/1 reference.
        p_positive: (N,) probability (or any score) of class 1; predicted positive when >= ``threshold``.
        threshold: decision threshold.
        calcium_pixels: optional (N,) reference calcium pixels per window; adds
            ``sensitivity_by_calcium_pixels`` (:func:`sensitivity_by_calcium_pixels`).

    Returns:
        dict with accuracy, sensitivity, precision, specificity, f1, roc_auc, balanced_accuracy,
        confusion_matrix [[TN, FP], [FN, TP]], n, n_positive, n_negative, threshold.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels).astype(bool).ravel()
    p = np.asarray(p_positive, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"{y.shape[0]} labels but {p.shape[0]} scores")
    pred = p >= threshold
    tp = int(np.count_nonzero(pred & y))
    fp = int(np.count_nonzero(pred & ~y))
    fn = int(np.count_nonzero(~pred & y))
    tn = int(np.count_nonzero(~pred & ~y))
    sens = _ratio(tp, tp + fn)
    spec = _ratio(tn, tn + fp)
    both = len(np.unique(y)) == 2
    metrics = {
        "accuracy": _ratio(tp + tn, len(y)),
        "sensitivity": sens,
        "precision": _ratio(tp, tp + fp),
        "specificity": spec,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "balanced_accuracy": (sens + spec) / 2 if sens is not None and spec is not None else None,
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "n": len(y),
        "n_positive": int(y.sum()),
        "n_negative": int((~y).sum()),
        "threshold": float(threshold),
    }
    if calcium_pixels is not None:
        metrics["sensitivity_by_calcium_pixels"] = sensitivity_by_calcium_pixels(y, pred, calcium_pixels)
    return metrics


#: The rows of :func:`format_metrics`, in the paper's order first.
METRIC_ROWS = ("accuracy", "sensitivity", "precision", "specificity", "f1", "roc_auc")


def format_metrics(metrics: dict) -> str:
    """A small text table of the metrics and the confusion matrix."""
    lines = []
    for key in METRIC_ROWS:
        v = metrics.get(key)
        lines.append(f"{key:<12} {'n/a' if v is None else f'{v:.4f}'}")
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    lines.append(
        f"confusion    TN {tn}  FP {fp}  FN {fn}  TP {tp}  (n = {metrics['n']}, "
        f"threshold {metrics['threshold']:.3f})"
    )
    bands = metrics.get("sensitivity_by_calcium_pixels")
    if bands:
        parts = [f"{b['pixels']} px {b['found']}/{b['positives']}" for b in bands]
        lines.append("found by calcium pixels in the window: " + ", ".join(parts))
    return "\n".join(lines)
