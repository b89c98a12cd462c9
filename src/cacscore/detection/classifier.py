"""Classifier inputs: what the candidate network sees of each candidate (patches and features).

Patches are resampled to fixed millimetre grids and oriented in patient space (LPS); see
:class:`CandidateInputSpec` and docs/model.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from cacscore.detection.candidates import CandidateSet
from cacscore.volume import Volume


@dataclass(frozen=True)
class CandidateInputSpec:
    """How the classifier's inputs are sampled around a candidate (recorded in the model folder).

    Two named float32 arrays per candidate (see docs/model.md for why):

    ``patches`` (N, 7, size, size), all axial and resampled to fixed millimetre grids so that pixel size does
    not change what the network sees:

    - 0-2: local patch, the candidate's slice and its neighbours (-1, 0, +1 slices), ``local_mm_per_px``,
      HU window ``local_window_hu``;
    - 3: the candidate's own voxels on that local grid (1 inside, 0 outside);
    - 4-5: context patch on the candidate's slice, ``context_mm_per_px`` (a field of view the size of the
      heart), windows ``context_window_hu`` (body/lung/bone) and ``soft_window_hu`` (mediastinum);
    - 6: the heart ROI on the context grid.

    ``features`` (N, 12): position of the candidate in the heart ROI (bounding-box coordinates in [-1, 1] and
    offset from the ROI centroid along L, P, S; distance to the ROI surface) and its own measures (volume,
    peak and mean HU, largest area, extent in z).

    Patches are oriented in patient space (LPS): images stored with flipped axes are sampled the same way.
    """

    size_px: int = 32
    local_mm_per_px: float = 0.6
    context_mm_per_px: float = 4.0
    local_window_hu: tuple[float, float] = (-200.0, 1200.0)
    context_window_hu: tuple[float, float] = (-1000.0, 1000.0)
    soft_window_hu: tuple[float, float] = (-150.0, 350.0)

    @property
    def n_channels(self) -> int:
        return 7

    @property
    def n_features(self) -> int:
        return len(FEATURE_NAMES)

    def input_shapes(self) -> dict[str, list[int | str]]:
        """Named input shapes with a symbolic batch dimension (for config.json and ONNX export)."""
        return {
            "patches": ["N", self.n_channels, self.size_px, self.size_px],
            "features": ["N", self.n_features],
        }

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CandidateInputSpec:
        known = cls.__dataclass_fields__
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**fields)


FEATURE_NAMES: tuple[str, ...] = (
    "roi_box_lr",
    "roi_box_ap",
    "roi_box_si",
    "roi_offset_l_100mm",
    "roi_offset_p_100mm",
    "roi_offset_s_100mm",
    "roi_depth_20mm",
    "log_volume_mm3",
    "peak_hu_1000",
    "mean_hu_1000",
    "log_max_area_mm2",
    "z_extent_10mm",
)


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied while sampling training inputs (all drawn from the caller's Generator).

    Attributes:
        hu_shift_sd: SD (HU) of one shift added to every HU value of a sample (scanner calibration).
        hu_scale_sd: SD of a multiplicative change of (HU + 1000) (beam hardening / kVp differences).
        noise_sd_hu: largest SD (HU) of Gaussian noise added to the patches (drawn uniformly from 0..this).
        rotate_deg: largest in-plane rotation (degrees) of the sampling grids.
        scale: largest relative change of the sampling grids' mm per pixel.
        jitter_mm: largest shift (mm) of the sampling centre in-plane.
        roi_shift_mm: largest shift (mm) of the ROI-derived position features (imperfect heart masks).
    """

    hu_shift_sd: float = 15.0
    hu_scale_sd: float = 0.03
    noise_sd_hu: float = 30.0
    rotate_deg: float = 20.0
    scale: float = 0.1
    jitter_mm: float = 1.0
    roi_shift_mm: float = 5.0


def _axis_signs(volume: Volume) -> np.ndarray:
    """+1/-1 per index axis (z, y, x) so that stepping index * sign moves towards S, P, L respectively."""
    d = volume.direction
    # columns of direction are the x, y, z index axes in LPS; take the dominant patient axis component.
    sx = np.sign(d[0, 0]) if abs(d[0, 0]) > 0.5 else 1.0
    sy = np.sign(d[1, 1]) if abs(d[1, 1]) > 0.5 else 1.0
    sz = np.sign(d[2, 2]) if abs(d[2, 2]) > 0.5 else 1.0
    return np.array([sz, sy, sx], dtype=float)


@dataclass(frozen=True, eq=False)
class RoiGeometry:
    """What the position features need of the heart ROI (computed once per volume)."""

    lo_mm: np.ndarray  # (3,) z, y, x bounding box lower corner, mm in index-aligned space
    hi_mm: np.ndarray
    centroid_mm: np.ndarray
    depth_mm: np.ndarray  # coarse distance-to-surface map (mm) inside the ROI
    depth_step: tuple[int, int, int]
    mask: np.ndarray  # the ROI mask itself (bool, z y x)


#: Grid (mm) on which the ROI centroid and depth map are computed.
DEPTH_GRID_MM = 3.0


def roi_geometry(volume: Volume, roi_mask: np.ndarray | None) -> RoiGeometry:
    """Bounding box, centroid and a coarse inside-distance map (mm) of ``roi_mask``.

    Without an ROI (or an empty one) the whole volume stands in for it.
    """
    shape = volume.shape
    spacing = np.asarray(volume.spacing_zyx_mm)
    mask = np.ones(shape, bool) if roi_mask is None else np.asarray(roi_mask, dtype=bool)
    if not mask.any():
        mask = np.ones(shape, bool)
    profiles = [mask.sum(axis=tuple(a for a in range(3) if a != ax), dtype=np.int64) for ax in range(3)]
    idx = [np.flatnonzero(p) for p in profiles]
    lo = np.array([i[0] for i in idx], float) * spacing
    hi = np.array([i[-1] for i in idx], float) * spacing
    # centroid and depth on a grid of about DEPTH_GRID_MM (fast; the features are coarse by design)
    step = tuple(max(1, round(DEPTH_GRID_MM / s)) for s in spacing)
    coarse = mask[:: step[0], :: step[1], :: step[2]]
    centroid = np.array([(np.arange(p.size) * p).sum() / p.sum() for p in profiles]) * spacing
    # the distance map inside the ROI's bounding box (padded by one: outside it is outside the ROI)
    c_lo = [i[0] // st for i, st in zip(idx, step, strict=True)]
    c_hi = [i[-1] // st + 1 for i, st in zip(idx, step, strict=True)]
    inner = coarse[c_lo[0] : c_hi[0], c_lo[1] : c_hi[1], c_lo[2] : c_hi[2]]
    inner_depth = ndimage.distance_transform_edt(np.pad(inner, 1), sampling=spacing * np.asarray(step))
    depth = np.zeros(coarse.shape, np.float32)
    depth[c_lo[0] : c_hi[0], c_lo[1] : c_hi[1], c_lo[2] : c_hi[2]] = inner_depth[1:-1, 1:-1, 1:-1]
    return RoiGeometry(lo, hi, centroid, depth, step, mask)


def sample_candidate_inputs(
    volume: Volume,
    candidates: CandidateSet,
    geometry: RoiGeometry,
    spec: CandidateInputSpec = CandidateInputSpec(),
    *,
    rng: np.random.Generator | None = None,
    augmentation: Augmentation | None = None,
) -> dict[str, np.ndarray]:
    """The classifier's named float32 inputs for every candidate: ``{"patches": ..., "features": ...}``.

    With ``rng`` and ``augmentation`` the sampling is randomised for training (see :class:`Augmentation`);
    without them it is deterministic.
    """
    n = len(candidates)
    size = spec.size_px
    patches = np.zeros((n, spec.n_channels, size, size), np.float32)
    features = np.zeros((n, spec.n_features), np.float32)
    if n == 0:
        return {"patches": patches, "features": features}
    aug = augmentation if (rng is not None and augmentation is not None) else None
    hu = volume.hu
    nz = hu.shape[0]
    spacing = np.asarray(volume.spacing_zyx_mm)
    signs = _axis_signs(volume)
    half = (size - 1) / 2.0
    grid = (np.arange(size, dtype=np.float64) - half)
    gy, gx = np.meshgrid(grid, grid, indexing="ij")  # rows -> posterior, columns -> left (LPS)
    roi_slices: dict[int, np.ndarray] = {}

    for i, cand in enumerate(candidates.candidates):
        cz, cy, cx = cand.centroid_zyx
        z0 = round(cz)
        # the candidate's slice nearest its centroid that holds some of it
        z0 = min(max(z0, cand.bbox_zyx[0]), cand.bbox_zyx[3] - 1)
        angle, scale, shift_y, shift_x = 0.0, 1.0, 0.0, 0.0
        hu_shift, hu_scale, noise_sd = 0.0, 1.0, 0.0
        if aug is not None:
            angle = np.deg2rad(rng.uniform(-aug.rotate_deg, aug.rotate_deg))
            scale = 1.0 + rng.uniform(-aug.scale, aug.scale)
            shift_y, shift_x = rng.uniform(-aug.jitter_mm, aug.jitter_mm, size=2)
            hu_shift = rng.normal(0.0, aug.hu_shift_sd)
            hu_scale = 1.0 + rng.normal(0.0, aug.hu_scale_sd)
            noise_sd = rng.uniform(0.0, aug.noise_sd_hu)
        cos, sin = np.cos(angle), np.sin(angle)
        ry = cos * gy - sin * gx
        rx = sin * gy + cos * gx

        def coords(mm_per_px: float, ry=ry, rx=rx, cy=cy, cx=cx, scale=scale, sy=shift_y, sx=shift_x):
            step = mm_per_px * scale
            yy = cy + signs[1] * (ry * step + sy) / spacing[1]
            xx = cx + signs[2] * (rx * step + sx) / spacing[2]
            return yy, xx

        def hu_transform(values: np.ndarray, hs=hu_shift, sc=hu_scale) -> np.ndarray:
            return (values + 1000.0) * sc - 1000.0 + hs

        def window(values: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
            lo, hi = lo_hi
            return (np.clip(values, lo, hi) - lo) / (hi - lo) * 2.0 - 1.0

        yy, xx = coords(spec.local_mm_per_px)
        for c, dz in enumerate((-1, 0, 1)):
            z = min(max(z0 + int(signs[0]) * dz, 0), nz - 1)
            vals = ndimage.map_coordinates(hu[z], [yy, xx], order=1, mode="nearest")
            vals = hu_transform(vals)
            if noise_sd > 0:
                vals = vals + rng.normal(0.0, noise_sd, vals.shape)
            patches[i, c] = window(vals, spec.local_window_hu)
        ids = ndimage.map_coordinates(candidates.label_map[z0], [yy, xx], order=0, mode="constant", cval=0)
        patches[i, 3] = ids == cand.index
        yy, xx = coords(spec.context_mm_per_px)
        vals = hu_transform(ndimage.map_coordinates(hu[z0], [yy, xx], order=1, mode="constant", cval=-1000.0))
        patches[i, 4] = window(vals, spec.context_window_hu)
        patches[i, 5] = window(vals, spec.soft_window_hu)
        if z0 not in roi_slices:
            roi_slices[z0] = geometry.mask[z0].astype(np.float32)
        patches[i, 6] = ndimage.map_coordinates(roi_slices[z0], [yy, xx], order=1, mode="constant", cval=0.0)

        pos_mm = np.array([cz, cy, cx]) * spacing
        if aug is not None:
            pos_mm = pos_mm + rng.uniform(-aug.roi_shift_mm, aug.roi_shift_mm, size=3)
        extent = np.maximum(geometry.hi_mm - geometry.lo_mm, 1.0)
        box = (pos_mm - geometry.lo_mm) / extent * 2.0 - 1.0
        offset = (pos_mm - geometry.centroid_mm) / 100.0
        # order the features L (x), P (y), S (z), each signed towards L, P, S
        box_lps = np.array([box[2] * signs[2], box[1] * signs[1], box[0] * signs[0]])
        off_lps = np.array([offset[2] * signs[2], offset[1] * signs[1], offset[0] * signs[0]])
        di = np.clip(np.round(np.array([cz, cy, cx]) / np.asarray(geometry.depth_step)).astype(int), 0,
                     np.asarray(geometry.depth_mm.shape) - 1)
        depth = float(geometry.depth_mm[tuple(di)])
        peak, mean = cand.peak_hu, cand.mean_hu
        if aug is not None:
            peak, mean = hu_transform(np.array(peak)), hu_transform(np.array(mean))
        features[i] = (
            *box_lps,
            *off_lps,
            depth / 20.0,
            np.log1p(cand.volume_mm3) / 5.0,
            float(peak) / 1000.0,
            float(mean) / 1000.0,
            np.log1p(cand.max_area_mm2) / 5.0,
            cand.n_slices * spacing[0] / 10.0,
        )
    return {"patches": patches, "features": features}
