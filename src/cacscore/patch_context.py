"""Context of the paper's 52x52 windows: what a network may see of a window besides its own pixels.

Not the paper's (it classifies the window alone); cacscore's experimental recipes ``default-2.5d`` and
``default-context`` use it (docs/reproduction.md). All views lie on the window's own 52x52 grid: the window
on the neighbouring slices (2.5-D), a wider field around the window shrunk to 52x52 (block mean and block
maximum of the HU, and the fraction of heart-ROI pixels in each block), and the position of the window's
centre in the ROI's bounding box. The window set (:mod:`cacscore.patch_windows`) is the same with or without
it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from cacscore.errors import CacscoreError


def to_int16(values: np.ndarray) -> np.ndarray:
    """HU values rounded and clipped to int16 (how windows and their context are stored)."""
    info = np.iinfo(np.int16)
    return np.clip(np.rint(values), info.min, info.max).astype(np.int16)


@dataclass(frozen=True)
class ContextParams:
    """What a network sees of a window besides its own pixels (cacscore's addition; the paper has none).

    All views lie on the window's own ``size_px`` x ``size_px`` grid, centred on the window's centre.

    Attributes:
        neighbour_slices: k: the same window on slices z-k .. z-1 and z+1 .. z+k (2k HU channels; a slice
            beyond the volume repeats the nearest existing slice). 0: none.
        wide_factor: f >= 2: a field of f*size_px pixels around the window, reduced by f x f blocks to
            size_px (two HU channels: block mean and block maximum; pixels beyond the image count as
            ``outside_hu``). 0 or 1: none.
        wide_roi: with a wide field, one more channel: the fraction of heart-ROI pixels in each block
            (0..1), i.e. where the window lies in the heart.
        position: three numbers: the window centre's slice, row and column, scaled to [-1, 1] over the
            bounding box of the volume's ROI (-1: first slice / top row / left column of the ROI).
        outside_hu: HU of pixels beyond the image in the wide field (air).
    """

    neighbour_slices: int = 1
    wide_factor: int = 4
    wide_roi: bool = True
    position: bool = True
    outside_hu: int = -1024

    def __post_init__(self) -> None:
        if int(self.neighbour_slices) < 0 or int(self.wide_factor) < 0:
            raise CacscoreError(
                "context neighbour_slices and wide_factor must be >= 0, got "
                f"{self.neighbour_slices} and {self.wide_factor}"
            )

    @property
    def hu_channels(self) -> int:
        """HU channels added to the window: neighbouring slices, then wide-field mean and maximum."""
        return 2 * int(self.neighbour_slices) + (2 if self.wide_factor >= 2 else 0)

    @property
    def roi_channels(self) -> int:
        """ROI-fraction channels (0 or 1)."""
        return 1 if (self.wide_roi and self.wide_factor >= 2) else 0

    @property
    def n_position(self) -> int:
        """Position numbers per window (0 or 3)."""
        return 3 if self.position else 0

    @property
    def n_channels(self) -> int:
        """Network input channels with the window itself and the position broadcast as planes."""
        return 1 + self.hu_channels + self.roi_channels + self.n_position

    def to_dict(self) -> dict:
        """JSON-able form (recorded in a model folder's config.json)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> ContextParams | None:
        """Inverse of :meth:`to_dict`; None stays None (no context: the paper's input)."""
        return None if d is None else cls(**d)


@dataclass(frozen=True)
class WindowContext:
    """Context of N windows (see :class:`ContextParams`).

    Attributes:
        hu: (N, C, size, size) int16 HU: neighbouring slices (z-k .. z-1, z+1 .. z+k), then wide-field
            block mean and block maximum.
        roi: (N, R, size, size) uint8: ROI pixels per wide-field block (0 .. f*f), R = 0 or 1.
        position: (N, P) float32: window centre (z, y, x) in [-1, 1] over the ROI's bounding box, P = 0 or 3.
    """

    hu: np.ndarray
    roi: np.ndarray
    position: np.ndarray

    def take(self, index: np.ndarray) -> WindowContext:
        """The context of the windows at ``index``."""
        return WindowContext(self.hu[index], self.roi[index], self.position[index])

    @staticmethod
    def concatenate(parts: Sequence[WindowContext]) -> WindowContext:
        """All windows of ``parts`` in order."""
        return WindowContext(
            np.concatenate([p.hu for p in parts]),
            np.concatenate([p.roi for p in parts]),
            np.concatenate([p.position for p in parts]),
        )

    def fingerprint(self) -> str:
        """SHA-256 of the context arrays."""
        h = hashlib.sha256()
        for arr in (self.hu, self.roi, self.position):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def _block_reduce(a: np.ndarray, f: int, how: str) -> np.ndarray:
    """(..., n*f, n*f) -> (..., n, n) by the mean, maximum or sum of f x f blocks."""
    *lead, h, w = a.shape
    b = a.reshape(*lead, h // f, f, w // f, f)
    if how == "mean":
        return b.mean(axis=(-3, -1))
    if how == "max":
        return b.max(axis=(-3, -1))
    return b.sum(axis=(-3, -1))


def extract_context(
    hu: np.ndarray,
    roi: np.ndarray,
    positions_zyx: np.ndarray,
    size_px: int,
    context: ContextParams,
) -> WindowContext:
    """The context of windows at ``positions_zyx`` (slice, top row, left column) of one volume.

    Args:
        hu: (z, y, x) HU array (not masked: the context shows the image around the ROI too).
        roi: (z, y, x) bool heart ROI.
        positions_zyx: (N, 3) window positions as :func:`extract_patches` gives them.
        size_px: window side.
        context: what to extract.
    """
    hu = np.asarray(hu)
    roi = np.asarray(roi, dtype=bool)
    pos = np.asarray(positions_zyx, dtype=np.int64).reshape(-1, 3)
    n, s = len(pos), int(size_px)
    nz = hu.shape[0]
    k = int(context.neighbour_slices)
    f = int(context.wide_factor) if context.wide_factor >= 2 else 0
    out_hu = np.empty((n, context.hu_channels, s, s), dtype=np.int16)
    out_roi = np.empty((n, context.roi_channels, s, s), dtype=np.uint8)
    out_pos = np.zeros((n, context.n_position), dtype=np.float32)
    offsets = [d for d in range(-k, k + 1) if d != 0]
    if f:
        # pad so that every wide field (f*s pixels centred on the window) lies inside the padded slice
        margin = (f * s - s + 1) // 2 + 1
        pad = ((0, 0), (margin, margin), (margin, margin))
        hu_pad = np.pad(hu, pad, constant_values=context.outside_hu)
        roi_pad = np.pad(roi, pad, constant_values=False)
        lo = (f * s - s) // 2  # wide field starts lo pixels before the window
    if context.position and n:
        bounds = []
        for axes, extent in (((1, 2), nz), ((0, 2), hu.shape[1]), ((0, 1), hu.shape[2])):
            idx = np.flatnonzero(roi.any(axis=axes))
            bounds.append((float(idx[0]), float(idx[-1])) if idx.size else (0.0, float(extent - 1)))
    for i, (z, y, x) in enumerate(pos.tolist()):
        for c, d in enumerate(offsets):
            zz = min(max(z + d, 0), nz - 1)
            out_hu[i, c] = to_int16(hu[zz, y : y + s, x : x + s])
        if f:
            y1, x1 = y + margin - lo, x + margin - lo
            field_hu = hu_pad[z, y1 : y1 + f * s, x1 : x1 + f * s].astype(np.float32)
            out_hu[i, len(offsets)] = to_int16(_block_reduce(field_hu, f, "mean"))
            out_hu[i, len(offsets) + 1] = to_int16(_block_reduce(field_hu, f, "max"))
            if context.roi_channels:
                field_roi = roi_pad[z, y1 : y1 + f * s, x1 : x1 + f * s].astype(np.uint8)
                out_roi[i, 0] = _block_reduce(field_roi, f, "sum")
        if context.position:
            centre = (z, y + (s - 1) / 2, x + (s - 1) / 2)
            for j, (c0, (b0, b1)) in enumerate(zip(centre, bounds, strict=True)):
                out_pos[i, j] = 0.0 if b1 <= b0 else 2.0 * (c0 - b0) / (b1 - b0) - 1.0
    return WindowContext(out_hu, out_roi, out_pos)
