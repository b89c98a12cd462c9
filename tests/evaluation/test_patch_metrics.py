"""Patch metrics (cacscore.evaluation.patch_metrics) against hand-computed values."""

import numpy as np
import pytest

from cacscore.evaluation.patch_metrics import binary_metrics, format_metrics, sensitivity_by_calcium_pixels


def test_four_metrics_and_confusion_matrix_by_hand():
    # 4 positives, 6 negatives; at threshold 0.5: TP 3 (0.9, 0.8, 0.6), FN 1 (0.2), FP 1 (0.7), TN 5.
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.6, 0.2, 0.7, 0.4, 0.3, 0.1, 0.05, 0.0])
    m = binary_metrics(labels, p, 0.5)
    assert m["confusion_matrix"] == [[5, 1], [1, 3]]
    assert m["accuracy"] == pytest.approx(8 / 10)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["f1"] == pytest.approx(6 / 8)
    # ROC AUC = share of (positive, negative) pairs ranked right: 0.9, 0.8 beat all 6; 0.6 beats 5 of 6
    # (not 0.7); 0.2 beats 3 (0.1, 0.05, 0.0): (6 + 6 + 5 + 3) / 24.
    assert m["roc_auc"] == pytest.approx(20 / 24)
    assert "sensitivity_by_calcium_pixels" not in m


def test_undefined_ratios_are_none():
    m = binary_metrics(np.array([0, 0]), np.array([0.1, 0.2]))
    assert m["sensitivity"] is None and m["precision"] is None and m["roc_auc"] is None
    assert m["specificity"] == 1.0


def test_sensitivity_by_calcium_pixels_bands_by_hand():
    labels = np.array([1, 1, 1, 1, 1, 1, 0])
    found = np.array([False, True, True, False, True, True, True])
    pixels = np.array([1, 3, 4, 9, 10, 30, 0])
    bands = sensitivity_by_calcium_pixels(labels, found, pixels)
    assert [b["pixels"] for b in bands] == ["1-3", "4-9", "10-29", ">=30"]
    assert [(b["positives"], b["found"]) for b in bands] == [(2, 1), (2, 1), (1, 1), (1, 1)]
    assert [b["sensitivity"] for b in bands] == [0.5, 0.5, 1.0, 1.0]
    empty = sensitivity_by_calcium_pixels(labels[:2], found[:2], pixels[:2])
    assert empty[2] == {"pixels": "10-29", "positives": 0, "found": 0, "sensitivity": None}


def test_bands_reach_metrics_and_text():
    labels = np.array([1, 1, 0])
    m = binary_metrics(labels, np.array([0.9, 0.1, 0.2]), 0.5, calcium_pixels=np.array([40, 2, 0]))
    assert [b["found"] for b in m["sensitivity_by_calcium_pixels"]] == [0, 0, 0, 1]
    assert "1-3 px 0/1" in format_metrics(m) and ">=30 px 1/1" in format_metrics(m)
