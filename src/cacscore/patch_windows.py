"""The paper's patch ("tile") extraction: 52x52-pixel windows on axial slices of the ROI-masked image.

What the paper (do Nascimento et al., "Classification of coronary calcifications using deep learning",
section 2.1) says, and how each sentence maps to a parameter of :class:`PatchParams`:

- "subdividing the previously segmented images into smaller windows sized 52 x 52 mm (52 x 52 pixels)":
  square windows of ``size_px`` = 52 pixels on axial slices (the mm figure only holds at 1 mm pixels; we
  follow the pixel count, as the network input is defined in pixels).
- "Images that did not have calcification were subjected to a side-by-side approach": on slices with no
  reference calcium, negative windows on a grid with ``negative_stride_px`` = 52 (no overlap).
- "The remaining images, all containing calcification, were part of an extracting process involving an
  overlap of patches": on slices with reference calcium, windows on a grid with ``positive_stride_px``
  (not given by the paper; we chose 26 px = half a window); a window is positive when it holds at least
  ``min_calcium_pixels`` (1) reference calcium pixels.
- "We discarded the calcification-free patches from these remaining images": windows without calcium on a
  calcium slice are dropped (``keep_negatives_on_calcium_slices=False``).
- Figure 1(c) "discarding patches with black pixels": a window with any pixel outside the ROI is dropped
  (``allow_outside_roi=False``); when allowed, pixels outside the ROI are set to ``outside_hu`` (black).

Choices the paper leaves open (documented in docs/reproduction.md): the grids start at pixel (0, 0) of each
slice (row, column), "reference calcium" is any voxel with a non-zero label in the reference standard, and a
slice "contains calcification" when any voxel of the slice is labelled, inside the ROI or not.

Patches are stored as int16 HU (rounded, clipped to the int16 range): 37,610 patches of 52x52 take 203 MB.

What else a network may see of each window (not the paper's; the experimental recipes only) is in
:mod:`cacscore.patch_context`; the window set (which windows exist, their labels, the fingerprint) is the
same with or without it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.patch_context import ContextParams, WindowContext, extract_context, to_int16

log = get_logger(__name__)


@dataclass(frozen=True)
class PatchParams:
    """How windows are cut; defaults are the paper's values or, where it says nothing, our documented choice.

    Attributes:
        size_px: window side in pixels (paper: 52).
        positive_stride_px: grid step on slices with calcium (paper: "overlap", value not given; ours 26).
        negative_stride_px: grid step on slices without calcium (paper: side by side, i.e. = size_px).
        min_calcium_pixels: reference calcium pixels a window needs to be positive (ours: 1).
        allow_outside_roi: keep windows reaching outside the ROI (paper: no, they are discarded).
        keep_negatives_on_calcium_slices: keep calcium-free windows of calcium slices (paper: no).
        outside_hu: value of pixels outside the ROI in the masked image (used only when windows may reach
            outside the ROI).
    """

    size_px: int = 52
    positive_stride_px: int = 26
    negative_stride_px: int = 52
    min_calcium_pixels: int = 1
    allow_outside_roi: bool = False
    keep_negatives_on_calcium_slices: bool = False
    outside_hu: int = -1024

    def __post_init__(self) -> None:
        for name in ("size_px", "positive_stride_px", "negative_stride_px", "min_calcium_pixels"):
            if int(getattr(self, name)) < 1:
                raise CacscoreError(f"patch parameter {name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        """JSON-able form (recorded in a model folder's config.json)."""
        return asdict(self)


@dataclass(frozen=True)
class SlicePatches:
    """Windows of one volume: int16 HU patches (N, size, size), labels (N,) 1 = calcium, and positions."""

    patches: np.ndarray
    labels: np.ndarray
    #: (N, 3) int32: slice index z, top row y0, left column x0 of each window.
    positions_zyx: np.ndarray
    #: (N,) int32: reference calcium pixels inside each window.
    calcium_pixels: np.ndarray


def _window_sums(mask2d: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of ``mask2d`` in each ``size`` window on a grid of step ``stride`` from (0, 0).

    Returns (y0 grid, x0 grid, sums[len(y0), len(x0)]) using a summed-area table (exact integer sums).
    """
    ny, nx = mask2d.shape
    y0 = np.arange(0, ny - size + 1, stride)
    x0 = np.arange(0, nx - size + 1, stride)
    if y0.size == 0 or x0.size == 0:
        return y0, x0, np.zeros((y0.size, x0.size), dtype=np.int64)
    sat = np.zeros((ny + 1, nx + 1), dtype=np.int64)
    sat[1:, 1:] = np.cumsum(np.cumsum(mask2d, axis=0, dtype=np.int64), axis=1)
    y1, x1 = y0 + size, x0 + size
    sums = sat[np.ix_(y1, x1)] - sat[np.ix_(y0, x1)] - sat[np.ix_(y1, x0)] + sat[np.ix_(y0, x0)]
    return y0, x0, sums


def extract_patches(
    hu: np.ndarray,
    roi: np.ndarray,
    calcium: np.ndarray | None,
    params: PatchParams = PatchParams(),
) -> SlicePatches:
    """Cut the paper's windows from one volume.

    Args:
        hu: (z, y, x) HU array.
        roi: (z, y, x) bool heart ROI (the "segmented image" of the paper).
        calcium: (z, y, x) reference labels (non-zero = calcium) or None (no calcium anywhere).
        params: window parameters.

    Returns:
        Positive windows (calcium slices, overlapping grid) first, then negative windows, each group in
        slice, row, column order.
    """
    hu = np.asarray(hu)
    roi = np.asarray(roi, dtype=bool)
    if roi.shape != hu.shape:
        raise CacscoreError(
            f"the ROI has shape {roi.shape}, the image {hu.shape}; give a mask on the image grid"
        )
    calc = np.zeros(hu.shape, dtype=bool) if calcium is None else np.asarray(calcium) != 0
    if calc.shape != hu.shape:
        raise CacscoreError(f"the labels have shape {calc.shape}, the image {hu.shape}")
    size = int(params.size_px)
    full = size * size
    pos: list[tuple[int, int, int, int]] = []
    neg: list[tuple[int, int, int, int]] = []
    for z in range(hu.shape[0]):
        roi_z = roi[z]
        if not roi_z.any():
            continue
        calc_z = calc[z]
        has_calcium = bool(calc_z.any())
        strides = [params.positive_stride_px] if has_calcium else []
        if not has_calcium or params.keep_negatives_on_calcium_slices:
            strides.append(params.negative_stride_px)
        for stride in dict.fromkeys(strides):
            y0, x0, inside = _window_sums(roi_z, size, int(stride))
            if y0.size == 0 or x0.size == 0:
                continue
            _, _, n_calc = _window_sums(
                calc_z & roi_z if not params.allow_outside_roi else calc_z, size, int(stride)
            )
            keep = inside == full if not params.allow_outside_roi else inside > 0
            for iy, ix in zip(*np.nonzero(keep), strict=True):
                n = int(n_calc[iy, ix])
                item = (z, int(y0[iy]), int(x0[ix]), n)
                if has_calcium and stride == params.positive_stride_px and n >= params.min_calcium_pixels:
                    pos.append(item)
                elif n == 0 and (
                    not has_calcium
                    or (params.keep_negatives_on_calcium_slices and stride == params.negative_stride_px)
                ):
                    neg.append(item)
    items = pos + neg
    n_items = len(items)
    patches = np.empty((n_items, size, size), dtype=np.int16)
    positions = np.zeros((n_items, 3), dtype=np.int32)
    calcium_pixels = np.zeros(n_items, dtype=np.int32)
    for i, (z, y, x, n) in enumerate(items):
        window = hu[z, y : y + size, x : x + size]
        if params.allow_outside_roi:
            window = np.where(roi[z, y : y + size, x : x + size], window, params.outside_hu)
        patches[i] = to_int16(window)
        positions[i] = (z, y, x)
        calcium_pixels[i] = n
    labels = np.zeros(n_items, dtype=np.uint8)
    labels[: len(pos)] = 1
    return SlicePatches(patches, labels, positions, calcium_pixels)


@dataclass
class PatchSet:
    """Patches of a whole dataset, with the case, patient and vendor of each.

    Attributes:
        patches: (N, size, size) int16 HU.
        labels: (N,) uint8, 1 = window holds reference calcium.
        case_index: (N,) int32 index into ``case_ids``.
        positions_zyx: (N, 3) int32 slice and top-left corner of each window.
        calcium_pixels: (N,) int32 reference calcium pixels inside each window (0 for negatives).
        case_ids, patient_ids, vendors: per case (same order).
        params: the window parameters used.
        roi_source: "reference" or "auto".
        context: what else the network sees of each window (None: the window only, as in the paper);
            not part of :meth:`fingerprint`, which identifies the window set.
    """

    patches: np.ndarray
    labels: np.ndarray
    case_index: np.ndarray
    positions_zyx: np.ndarray
    calcium_pixels: np.ndarray
    case_ids: tuple[str, ...]
    patient_ids: tuple[str, ...]
    vendors: tuple[str | None, ...]
    params: PatchParams = field(default_factory=PatchParams)
    roi_source: str = "reference"
    context: WindowContext | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def patch_patient_ids(self) -> np.ndarray:
        """(N,) patient id of each patch (object array)."""
        return np.asarray(self.patient_ids, dtype=object)[self.case_index]

    def subset(self, index: np.ndarray) -> PatchSet:
        """The patches at ``index`` (an index array or boolean mask), same case tables."""
        return PatchSet(
            self.patches[index],
            self.labels[index],
            self.case_index[index],
            self.positions_zyx[index],
            self.calcium_pixels[index],
            self.case_ids,
            self.patient_ids,
            self.vendors,
            self.params,
            self.roi_source,
            None if self.context is None else self.context.take(index),
        )

    def counts(self) -> dict[str, int]:
        """Total, positive and negative patch counts (the paper's figures)."""
        n_pos = int(np.count_nonzero(self.labels))
        return {"total": len(self), "positive": n_pos, "negative": len(self) - n_pos}

    def fingerprint(self) -> str:
        """SHA-256 of case ids, positions, labels and patch bytes: the same data gives the same hash."""
        h = hashlib.sha256()
        h.update("\n".join(self.case_ids).encode())
        for arr in (self.case_index, self.positions_zyx, self.labels, self.patches):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def context_fingerprint(self) -> str | None:
        """SHA-256 of the context arrays (None without context)."""
        return None if self.context is None else self.context.fingerprint()


def extract_cases(
    cases: Sequence,
    params: PatchParams = PatchParams(),
    roi_source: str = "reference",
    progress: Callable[[Iterable], Iterable] | None = None,
    context: ContextParams | None = None,
) -> PatchSet:
    """Extract the paper's windows from every case of a dataset (cases need reference labels).

    Args:
        cases: :class:`cacscore.datasets.Case` objects.
        params: window parameters.
        roi_source: "reference" uses each case's heart mask (the paper's expert ROI) and falls back to the
            automatic ROI, logging it, when a case has none; "auto" always uses
            :func:`cacscore.detection.heart_roi.heart_roi`.
        progress: optional wrapper (e.g. tqdm) around the case iterator.
        context: also extract each window's context (:func:`extract_context`); the windows are the same.
    """
    from cacscore.detection.heart_roi import heart_roi

    if roi_source not in ("reference", "auto"):
        raise CacscoreError(f"unknown ROI source {roi_source!r}; choose 'reference' or 'auto'")
    chunks: list[SlicePatches] = []
    index: list[np.ndarray] = []
    contexts: list[WindowContext] = []
    iterator = progress(cases) if progress is not None else cases
    for i, case in enumerate(iterator):
        volume = case.load_volume()
        labels = case.load_labels(volume)
        if labels is None:
            raise CacscoreError(f"case {case.case_id} has no reference labels; patch training needs them")
        roi = case.load_heart_mask(volume) if roi_source == "reference" else None
        if roi is None:
            if roi_source == "reference":
                log.info("case %s has no heart mask; using the automatic heart ROI", case.case_id)
            roi = heart_roi(volume)
        chunk = extract_patches(volume.hu, roi, labels, params)
        chunks.append(chunk)
        if context is not None:
            contexts.append(extract_context(volume.hu, roi, chunk.positions_zyx, params.size_px, context))
        index.append(np.full(len(chunk.labels), i, dtype=np.int32))
        log.debug(
            "case %s: %d positive, %d negative windows",
            case.case_id,
            int(chunk.labels.sum()),
            int(len(chunk.labels) - chunk.labels.sum()),
        )
    if not chunks:  # no case: one empty volume gives arrays of the right shapes and types
        size = params.size_px
        empty = np.zeros((1, size, size))
        chunks.append(extract_patches(empty, empty.astype(bool), None, params))
        index.append(np.zeros(0, dtype=np.int32))
        if context is not None:
            contexts.append(extract_context(empty, empty.astype(bool), np.zeros((0, 3)), size, context))
    return PatchSet(
        patches=np.concatenate([c.patches for c in chunks]),
        labels=np.concatenate([c.labels for c in chunks]),
        case_index=np.concatenate(index),
        positions_zyx=np.concatenate([c.positions_zyx for c in chunks]),
        calcium_pixels=np.concatenate([c.calcium_pixels for c in chunks]),
        case_ids=tuple(c.case_id for c in cases),
        patient_ids=tuple(c.patient_id or c.case_id for c in cases),
        vendors=tuple(c.vendor for c in cases),
        params=params,
        roi_source=roi_source,
        context=None if context is None else WindowContext.concatenate(contexts),
    )
