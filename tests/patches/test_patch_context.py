"""Context of a window (the experimental recipes default-2.5d and default-context) on a constructed volume,
computed by hand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from cacscore.errors import CacscoreError
from cacscore.patch_context import ContextParams, extract_context
from cacscore.patch_windows import extract_cases
from cacscore.training.patch_task import PatchTransform
from cacscore.training.preprocess import PatchAugmentation, Preprocessing
from cacscore.training.recipes import RECIPES
from cacscore.volume import Volume

CTX = ContextParams(neighbour_slices=1, wide_factor=2, wide_roi=True, position=True)


def _volume():
    """3 slices of 12x12: slice 0 at -100 HU, slice 1 at 0 HU with one 400 HU pixel at (2, 3), slice 2 at
    300 HU; ROI rows 2..9, columns 3..10 on every slice (bounding box z 0..2, y 2..9, x 3..10)."""
    hu = np.zeros((3, 12, 12), np.float32)
    hu[0], hu[2] = -100.0, 300.0
    hu[1, 2, 3] = 400.0
    roi = np.zeros(hu.shape, bool)
    roi[:, 2:10, 3:11] = True
    return hu, roi


def test_context_by_hand():
    hu, roi = _volume()
    ctx = extract_context(hu, roi, np.array([[1, 4, 5], [0, 2, 3], [1, 0, 0]]), 4, CTX)
    assert ctx.hu.shape == (3, 4, 4, 4) and ctx.hu.dtype == np.int16
    assert ctx.roi.shape == (3, 1, 4, 4) and ctx.position.shape == (3, 3)
    # Window (1, 4, 5): neighbours are slices 0 and 2; the 8x8 field starts 2 px before the window
    # (rows 2..9, columns 3..10 = the ROI), its 2x2 block (0, 0) holds 400, 0, 0, 0: mean 100, max 400.
    assert np.all(ctx.hu[0, 0] == -100) and np.all(ctx.hu[0, 1] == 300)
    mean, peak = np.zeros((4, 4)), np.zeros((4, 4))
    mean[0, 0], peak[0, 0] = 100, 400
    assert np.array_equal(ctx.hu[0, 2], mean) and np.array_equal(ctx.hu[0, 3], peak)
    assert np.all(ctx.roi[0, 0] == 4)
    # centre (1, 5.5, 6.5) is the middle of the ROI's bounding box
    assert np.allclose(ctx.position[0], [0.0, 0.0, 0.0])
    # Window (0, 2, 3): slice -1 repeats slice 0; slice 1 holds the 400 HU pixel at the window's (0, 0).
    assert np.all(ctx.hu[1, 0] == -100)
    above = np.zeros((4, 4))
    above[0, 0] = 400
    assert np.array_equal(ctx.hu[1, 1], above)
    # field rows 0..7, columns 1..8 of slice 0: all -100; ROI blocks: rows 0-1 or columns 1-2 outside
    assert np.all(ctx.hu[1, 2] == -100) and np.all(ctx.hu[1, 3] == -100)
    roi_blocks = np.zeros((4, 4))
    roi_blocks[1:, 1:] = 4
    assert np.array_equal(ctx.roi[1, 0], roi_blocks)
    # centre (0, 3.5, 4.5): z -1, y 2 * 1.5 / 7 - 1, x the same
    assert np.allclose(ctx.position[1], [-1.0, -4 / 7, -4 / 7])
    # Window (1, 0, 0): field rows and columns -2..5; blocks beyond the image are air (-1024)
    wide = ctx.hu[2, 2]
    assert np.all(wide[0, :] == -1024) and np.all(wide[:, 0] == -1024)
    assert wide[1, 1] == 0 and wide[2, 2] == 100 and ctx.hu[2, 3][2, 2] == 400


def test_network_input_layout():
    hu, roi = _volume()
    ctx = extract_context(hu, roi, np.array([[1, 4, 5]]), 4, CTX)
    batch = {
        "patches": torch.from_numpy(hu[1:2, 4:8, 5:9].astype(np.int16)),
        "context_hu": torch.from_numpy(ctx.hu),
        "context_roi": torch.from_numpy(ctx.roi),
        "position": torch.from_numpy(ctx.position),
    }
    pre = Preprocessing(window_lo_hu=-300.0, window_hi_hu=1200.0, offset_hu=0.0, scale_hu=200.0)
    (x,) = PatchTransform(pre, None, CTX)(batch, False, torch.Generator())
    assert x.shape == (1, CTX.n_channels, 4, 4) == (1, 9, 4, 4)
    assert torch.all(x[0, 0] == 0) and torch.all(x[0, 1] == -0.5) and torch.all(x[0, 2] == 1.5)
    assert x[0, 3, 0, 0] == 0.5 and x[0, 4, 0, 0] == 2.0  # wide mean 100 / 200, max 400 / 200
    assert torch.all(x[0, 5] == 1.0)  # 4 of 4 block pixels in the ROI
    assert torch.all(x[0, 6:] == 0.0)  # position planes


def test_augmentation_moves_roi_planes_with_the_image_but_shifts_only_hu():
    g = torch.Generator().manual_seed(0)
    img = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4).repeat(8, 1, 1, 1)
    aug = PatchAugmentation(flips=True, rot90=True, hu_shift=15.0, noise_sd_hu=0.0)
    hu, spatial = aug(img.clone(), g, spatial=img.clone())
    diff = hu - spatial  # same geometry: a constant HU shift per sample, within +-15
    assert torch.allclose(diff, diff[:, :, :1, :1].expand_as(diff))
    assert float(diff.abs().max()) <= 15.0
    assert not torch.equal(spatial, img)  # some sample was flipped or rotated


def test_paper_recipe_sees_the_window_only():
    paper = RECIPES["paper"]
    assert paper.context is None and paper.architecture_kwargs["in_channels"] == 1
    t = PatchTransform(paper.preprocessing, paper.augmentation, paper.context)
    (x,) = t({"patches": torch.zeros((2, 52, 52), dtype=torch.int16)}, True, torch.Generator())
    assert x.shape == (2, 1, 227, 227)
    for recipe in RECIPES.values():  # a recipe's network takes as many channels as its input has
        channels = 1 if recipe.context is None else recipe.context.n_channels
        assert recipe.architecture_kwargs["in_channels"] == channels


@dataclass
class _MemoryCase:
    """A dataset case held in memory (what :func:`extract_cases` asks of a case)."""

    case_id: str
    volume: Volume
    labels: np.ndarray
    heart: np.ndarray
    patient_id: str = ""
    vendor: str | None = None

    def load_volume(self) -> Volume:
        return self.volume

    def load_labels(self, volume: Volume) -> np.ndarray:
        return self.labels

    def load_heart_mask(self, volume: Volume) -> np.ndarray:
        return self.heart


def _memory_case(case_id: str, seed: int, calcium_zyx: tuple[int, int, int]) -> _MemoryCase:
    rng = np.random.default_rng(seed)
    hu = rng.normal(40, 30, (3, 130, 130)).astype(np.float32)
    heart = np.zeros(hu.shape, bool)
    heart[:, 10:120, 5:125] = True
    labels = np.zeros(hu.shape, np.uint8)
    labels[calcium_zyx] = 1
    hu[calcium_zyx] = 500.0
    return _MemoryCase(case_id, Volume(hu, (3.0, 0.7, 0.7)), labels, heart)


def test_windows_are_independent_of_context():
    """Every window (pixels, label, place, case) is the same with and without context, and each window's
    context is taken at that window's own place (its neighbour-slice planes are the image there)."""
    cases = [_memory_case("a", 1, (1, 60, 60)), _memory_case("b", 2, (0, 30, 90))]
    plain = extract_cases(cases)
    with_context = extract_cases(cases, context=ContextParams())
    assert plain.context is None and len(plain) > 0 and plain.labels.sum() > 0
    for name in ("patches", "labels", "case_index", "positions_zyx", "calcium_pixels"):
        assert np.array_equal(getattr(plain, name), getattr(with_context, name)), name
    assert plain.fingerprint() == with_context.fingerprint()
    context = with_context.context
    assert len(context.hu) == len(plain)
    for i, ((z, y, x), c) in enumerate(zip(plain.positions_zyx, plain.case_index, strict=True)):
        hu = cases[c].volume.hu
        below, above = hu[max(z - 1, 0), y : y + 52, x : x + 52], hu[min(z + 1, 2), y : y + 52, x : x + 52]
        assert np.array_equal(context.hu[i, 0], np.rint(below).astype(np.int16)), i
        assert np.array_equal(context.hu[i, 1], np.rint(above).astype(np.int16)), i


def test_bad_context_is_a_user_error():
    with pytest.raises(CacscoreError):
        ContextParams(neighbour_slices=-1)
