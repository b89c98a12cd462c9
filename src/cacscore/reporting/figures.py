"""PNG figures for reports: axial slices with every calcium lesion outlined in its artery's colour, and the
calcifications the classifier called coronary but anatomy ruled out outlined in dashed yellow.

Drawn with Pillow (already a Matplotlib dependency) rather than Matplotlib: a few slices per case in a few
milliseconds each, which keeps the report off the critical path of ``predict``.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from cacscore.labels import Artery
from cacscore.volume import Volume

#: Display window (HU) of the slices: level 40, width 400 (mediastinal); calcium shows white.
DISPLAY_WINDOW_HU: tuple[float, float] = (-160.0, 240.0)
#: Smallest side (mm) of the displayed field of view around the lesions.
MIN_FIELD_MM = 160.0
#: Displayed image width (pixels).
DISPLAY_PX = 420
#: Outline colour (RGB) of a calcification ruled out by anatomy (drawn dashed), unlike every artery's.
RULED_OUT_COLOUR: tuple[int, int, int] = (255, 200, 0)
#: Most slices shown for the scored lesions: enough to picture every lesion of a heavily calcified scan
#: (lung2's 22 regions lie on 10 slices), few enough for one page.
MAX_SLICES = 24
#: Most extra slices shown for ruled-out calcifications (beyond the lesions' ``max_slices``).
MAX_RULED_OUT_SLICES = 4


@dataclass(frozen=True)
class SliceFigure:
    """One rendered slice: its index, position along z (mm), arteries drawn, whether a ruled-out
    calcification is drawn, and the PNG as base64."""

    index: int
    z_mm: float
    arteries: tuple[str, ...]
    png_base64: str
    ruled_out: bool = False

    @property
    def data_uri(self) -> str:
        return f"data:image/png;base64,{self.png_base64}"


def choose_slices(labels: np.ndarray, max_slices: int = MAX_SLICES, shown: tuple[int, ...] = (),
                  per_slice: bool = False) -> tuple[list[int], int]:
    """Slices that picture every labelled lesion beside the slices already ``shown``, and how many lesions
    they leave without a picture.

    A lesion is a 3-D connected region (26-neighbour), or with ``per_slice`` a region of one slice
    (8-neighbour), as the clinical convention's lesion table lists them.

    Greedy, biggest lesion first: a lesion with no voxel on a slice shown or chosen adds its slice of
    largest area, until ``max_slices`` are chosen. With no labelled voxel and nothing shown, the middle
    slice.
    """
    mask = labels > 0
    if not mask.any():
        return ([] if shown else [labels.shape[0] // 2]), 0
    # work in the lesions' bounding box (a small part of the scan)
    box = tuple(slice(int(np.flatnonzero(p)[0]), int(np.flatnonzero(p)[-1]) + 1)
                for p in (mask.any(axis=(1, 2)), mask.any(axis=(0, 2)), mask.any(axis=(0, 1))))
    z0 = box[0].start
    structure = np.ones((3, 3, 3), bool)
    if per_slice:
        structure[[0, 2]] = False
    components, n = ndimage.label(mask[box], structure=structure)
    area = np.stack([np.bincount(components[z].ravel(), minlength=n + 1)
                     for z in range(components.shape[0])])[:, 1:]
    best_slice = area.argmax(axis=0) + z0
    chosen: list[int] = []
    unpictured = 0
    for lesion in np.argsort(-area.sum(axis=0), kind="stable"):
        if any(0 <= z - z0 < len(area) and area[z - z0, lesion] for z in (*shown, *chosen)):
            continue
        if len(chosen) == max_slices:
            unpictured += 1
        else:
            chosen.append(int(best_slice[lesion]))
    return sorted(chosen), unpictured


def _field_of_view(shown: np.ndarray, spacing_yx: tuple[float, float]) -> tuple[slice, slice]:
    """In-plane crop: the bounding box of the ``shown`` voxels grown to a square of at least MIN_FIELD_MM."""
    ny, nx = shown.shape[1:]
    mask2d = shown.any(axis=0)
    if mask2d.any():
        rows, cols = np.flatnonzero(mask2d.any(axis=1)), np.flatnonzero(mask2d.any(axis=0))
        cy, cx = (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2
        side_mm = max((rows[-1] - rows[0] + 1) * spacing_yx[0], (cols[-1] - cols[0] + 1) * spacing_yx[1])
        side_mm = max(side_mm * 1.3, MIN_FIELD_MM)
    else:
        cy, cx = (ny - 1) / 2, (nx - 1) / 2
        side_mm = max(MIN_FIELD_MM * 1.5, 0.6 * ny * spacing_yx[0])
    half_y = min(ny, side_mm / spacing_yx[0]) / 2
    half_x = min(nx, side_mm / spacing_yx[1]) / 2
    y0 = int(np.clip(round(cy - half_y), 0, max(ny - 2 * half_y, 0)))
    x0 = int(np.clip(round(cx - half_x), 0, max(nx - 2 * half_x, 0)))
    return slice(y0, min(ny, y0 + round(2 * half_y))), slice(x0, min(nx, x0 + round(2 * half_x)))


def _outline(mask: np.ndarray) -> np.ndarray:
    """The 2-pixel ring just outside ``mask`` (2-D)."""
    return ndimage.binary_dilation(mask, iterations=2) & ~mask


def render_slice(volume: Volume, labels: np.ndarray, z: int, crop: tuple[slice, slice],
                 ruled_out: np.ndarray | None = None) -> Image.Image:
    """Slice ``z`` in the display window with each artery's voxels outlined in ``Artery(code).colour`` and
    the ``ruled_out`` voxels (bool, like ``labels``) in dashed :data:`RULED_OUT_COLOUR`."""
    lo, hi = DISPLAY_WINDOW_HU
    gray = np.clip((volume.hu[z][crop] - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    lab = labels[z][crop]
    h, w = gray.shape
    sy, sx = volume.spacing_zyx_mm[1], volume.spacing_zyx_mm[2]
    # square pixels on screen: scale so the width is DISPLAY_PX and the height follows the aspect ratio
    out_w = DISPLAY_PX
    out_h = max(1, round(DISPLAY_PX * (h * sy) / (w * sx)))
    image = Image.fromarray(gray).resize((out_w, out_h), Image.Resampling.BILINEAR).convert("RGB")
    rgb = np.asarray(image).copy()

    def enlarged(a: np.ndarray) -> np.ndarray:
        big = Image.fromarray(a.astype(np.uint8)).resize((out_w, out_h), Image.Resampling.NEAREST)
        return np.asarray(big)

    if lab.any():
        big = enlarged(lab)
        for code in np.flatnonzero(np.bincount(big.ravel())):
            if code == 0:
                continue
            rgb[_outline(big == code)] = Artery(int(code)).colour
    if ruled_out is not None and ruled_out[z][crop].any():
        ring = _outline(enlarged(ruled_out[z][crop]) > 0)
        yy, xx = np.indices(ring.shape)
        rgb[ring & (((yy + xx) // 4) % 2 == 0)] = RULED_OUT_COLOUR  # dashes of 4 px
    return Image.fromarray(rgb)


def slice_figures(volume: Volume, labels: np.ndarray, max_slices: int = MAX_SLICES,
                  ruled_out: np.ndarray | None = None,
                  per_slice: bool = False) -> tuple[list[SliceFigure], int]:
    """The report's slice figures (PNG, base64) with lesions outlined by artery colour, and how many
    lesions (3-D, or regions of one slice with ``per_slice``; see :func:`choose_slices`) they leave without
    a picture (0 unless more than ``max_slices`` slices are needed).

    ``ruled_out`` (bool, like ``labels``; optional): calcifications the classifier called coronary and
    anatomy ruled out; those not on a lesion's slice get their largest slice shown too (up to
    :data:`MAX_RULED_OUT_SLICES` more slices), with them outlined in dashed yellow, so that a reader can
    check what was not scored.
    """
    has_ruled_out = ruled_out is not None and bool(ruled_out.any())
    slices, unpictured = (choose_slices(labels, max_slices, per_slice=per_slice)
                          if labels.any() or not has_ruled_out
                          else ([], 0))
    shown = labels > 0
    if has_ruled_out:
        extra, _ = choose_slices(ruled_out.astype(np.uint8), MAX_RULED_OUT_SLICES, shown=tuple(slices))
        slices = sorted(slices + extra)
        shown = shown | ruled_out
    crop = _field_of_view(shown, (volume.spacing_zyx_mm[1], volume.spacing_zyx_mm[2]))
    figures = []
    for z in slices:
        image = render_slice(volume, labels, z, crop, ruled_out if has_ruled_out else None)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=False, compress_level=3)
        present = tuple(Artery(int(c)).name for c in np.flatnonzero(np.bincount(labels[z].ravel())) if c != 0)
        z_mm = float(volume.index_to_physical(np.array([z, 0, 0]))[2])
        figures.append(SliceFigure(z, z_mm, present, base64.b64encode(buffer.getvalue()).decode("ascii"),
                                   ruled_out=has_ruled_out and bool(ruled_out[z].any())))
    return figures, unpictured
