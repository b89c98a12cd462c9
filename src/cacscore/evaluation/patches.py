"""Patch classification metrics: the paper's four (accuracy, sensitivity, precision, specificity) plus F1,
ROC AUC and the confusion matrix.

Definitions (Sokolova & Lapalme 2009, the paper's reference), positives = windows with calcium:
accuracy = (TP + TN) / N, sensitivity (recall) = TP / (TP + FN), precision = TP / (TP + FP),
specificity = TN / (TN + FP), F1 = 2 TP / (2 TP + FP + FN). A ratio with a zero denominator is None (JSON
null), never 0 or 1. ROC AUC (scikit-learn) is None when one class is absent.
"""

from __future__ import annotations

import numpy as np


def _ratio(num: int, den: int) -> float | None:
    return float(num) / float(den) if den else None


def binary_metrics(labels: np.ndarray, p_positive: np.ndarray, threshold: float = 0.5) -> dict:
    """Metrics of a binary classifier whose positive-class probability is ``p_positive``.

    Args:
        labels: (N,) 0/1 reference.
        p_positive: (N,) probability (or any score) of class 1; predicted positive when >= ``threshold``.
        threshold: decision threshold.

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
    return {
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
    return "\n".join(lines)
