"""The paper's windows on constructed slices, counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.errors import CacscoreError
from cacscore.patch_windows import PatchParams, extract_patches


def _volume():
    """3 slices of 200x200: ROI rows 20..179, columns 0..129 on slices 0 and 1, no ROI on slice 2.

    Slice 0 has no calcium; slice 1 has a calcium pixel at (100, 60) and another at (175, 10), close to the
    ROI's lower edge; slice 2 has no ROI.
    """
    hu = np.full((3, 200, 200), 40.0, dtype=np.float32)
    roi = np.zeros(hu.shape, dtype=bool)
    roi[:2, 20:180, 0:130] = True
    labels = np.zeros(hu.shape, dtype=np.uint8)
    labels[1, 100, 60] = 1
    labels[1, 175, 10] = 3
    hu[labels > 0] = 500.0
    return hu, roi, labels


def test_counts_and_positions_as_hand_computed():
    hu, roi, labels = _volume()
    out = extract_patches(hu, roi, labels, PatchParams())
    # Slice 0 (no calcium), grid step 52 from 0: y0 in {0, 52, 104}, inside rows 20..179 needs
    # 20 <= y0 <= 128 -> {52, 104}; x0 in {0, 52, 104}, inside columns 0..129 needs x0 <= 78 -> {0, 52}.
    negatives = {(0, 52, 0), (0, 52, 52), (0, 104, 0), (0, 104, 52)}
    # Slice 1 (calcium), step 26: y0 in {0, 26, ..., 130}, inside -> {26, 52, 78, 104}; x0 inside ->
    # {0, 26, 52, 78}. Holding (100, 60): 48 < y0 <= 100 -> {52, 78}; 8 < x0 <= 60 -> {26, 52}.
    # Pixel (175, 10) would need y0 >= 124, whose windows end below row 179: all discarded.
    positives = {(1, 52, 26), (1, 52, 52), (1, 78, 26), (1, 78, 52)}
    got = {tuple(int(v) for v in p) for p in out.positions_zyx}
    assert got == negatives | positives
    assert len(out.labels) == 8
    pos = {tuple(int(v) for v in p) for p, y in zip(out.positions_zyx, out.labels, strict=True) if y == 1}
    assert pos == positives
    assert out.patches.shape == (8, 52, 52) and out.patches.dtype == np.int16
    assert np.all(out.calcium_pixels[out.labels == 1] == 1)
    assert np.all(out.calcium_pixels[out.labels == 0] == 0)
    # Pixel values are the image's: the window at (1, 52, 26) holds the 500 HU pixel at (48, 34).
    i = [tuple(p) for p in out.positions_zyx.tolist()].index((1, 52, 26))
    assert out.patches[i][48, 34] == 500 and out.patches[i][0, 0] == 40


def test_negatives_of_calcium_slices_kept_only_on_request():
    hu, roi, labels = _volume()
    out = extract_patches(hu, roi, labels, PatchParams(keep_negatives_on_calcium_slices=True))
    # Slice 1 adds the step-52 windows inside the ROI without calcium: (52, 0), (52, 52) and (104, 0),
    # (104, 52) hold no calcium pixel ((100, 60) lies in (52, 52)!), so 3 of the 4 are added.
    neg = {tuple(p) for p, y in zip(out.positions_zyx.tolist(), out.labels, strict=True) if y == 0}
    assert neg == {(0, 52, 0), (0, 52, 52), (0, 104, 0), (0, 104, 52), (1, 52, 0), (1, 104, 0), (1, 104, 52)}


def test_windows_reaching_outside_roi_kept_only_on_request_and_blackened():
    hu, roi, labels = _volume()
    out = extract_patches(hu, roi, np.zeros_like(labels), PatchParams(allow_outside_roi=True))
    # Slices 0 and 1 have no calcium now: every step-52 window touching the ROI: y0 in {0, 52, 104},
    # x0 in {0, 52, 104} (x0 = 104 covers columns 104..155, partly inside) -> 9 per slice.
    assert len(out.labels) == 18 and out.labels.sum() == 0
    i = [tuple(p) for p in out.positions_zyx.tolist()].index((0, 0, 0))
    assert out.patches[i][0, 0] == -1024 and out.patches[i][20, 0] == 40


def test_min_calcium_pixels():
    hu, roi, labels = _volume()
    out = extract_patches(hu, roi, labels, PatchParams(min_calcium_pixels=2))
    assert out.labels.sum() == 0 and len(out.labels) == 4


def test_no_discarded_window_is_kept_on_random_volumes():
    rng = np.random.default_rng(3)
    for _ in range(5):
        shape = (4, int(rng.integers(60, 160)), int(rng.integers(60, 160)))
        hu = rng.normal(40, 30, shape).astype(np.float32)
        roi = np.zeros(shape, bool)
        for z in range(shape[0]):
            y0, x0 = rng.integers(0, 30, 2)
            roi[z, y0 : y0 + int(rng.integers(40, 130)), x0 : x0 + int(rng.integers(40, 130))] = True
        labels = (rng.random(shape) < 0.0005).astype(np.uint8)
        labels[0] = 0
        params = PatchParams(positive_stride_px=int(rng.integers(5, 30)))
        out = extract_patches(hu, roi, labels, params)
        calcium_slices = set(np.flatnonzero(labels.any(axis=(1, 2))).tolist())
        for (z, y, x), y_lab in zip(out.positions_zyx.tolist(), out.labels, strict=True):
            assert roi[z, y : y + 52, x : x + 52].all()
            n = int(labels[z, y : y + 52, x : x + 52].astype(bool).sum())
            if y_lab:
                assert n >= 1 and z in calcium_slices and y % params.positive_stride_px == 0
            else:
                assert n == 0 and z not in calcium_slices and y % 52 == 0 and x % 52 == 0


def test_bad_inputs_are_user_errors():
    hu, roi, labels = _volume()
    with pytest.raises(CacscoreError):
        extract_patches(hu, roi[:2], labels)
    with pytest.raises(CacscoreError):
        PatchParams(size_px=0)
