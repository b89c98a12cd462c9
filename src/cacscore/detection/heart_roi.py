"""Heart region of interest: a user's heart mask, or an automatic one from HU alone.

The paper restricted its windows to a heart region drawn by experts and named an automatic ROI its first
item of future work. :func:`heart_roi` finds the heart on a gated non-contrast CT using only physical tissue
ranges (air < -400 HU, fat about -100 HU, soft tissue and blood 0-80 HU, bone > 200 HU), so it works on real
scans as on the phantom:

1. body: the largest 3-D connected region above -300 HU, closed slice by slice by its convex hull (a
   cardiac field of view often cuts the body off at the sides);
2. lungs: air (< -400 HU, smoothed image) inside the body, in connected parts of at least
   ``min_lung_volume_ml`` that do not hug the body outline (air outside the body, in skin folds or under
   the back does);
3. mediastinum: per slice, the convex hull of the lungs minus the lungs (this removes the chest wall
   outside the lungs: ribs, muscle and fat); bone (> ``bone_hu``) and its surroundings are removed;
4. heart core: soft tissue (> ``soft_tissue_hu`` after smoothing) of the mediastinum, opened with a ball of
   radius ``core_radius_mm`` (removes the descending aorta, oesophagus, thin vessels and wall muscle, keeps
   the chambers), largest 3-D connected part;
5. superior limit: going up from the largest slice, the heart tapers towards its base while the great
   vessels above it keep a constant cross-section; the top is the first slice, once the area is below
   ``waist_fraction`` of the largest, whose area no longer shrinks (or below ``superior_area_fraction``);
   the ROI then extends a tapering cone ``extend_up_mm`` above and ``extend_mm`` below (aortic root,
   coronary ostia, apex);
6. heart ROI: per slice, the convex hull of the core (it bridges the atrioventricular and interventricular
   grooves, where the coronary arteries run in epicardial fat), dilated by ``margin_mm``, kept inside the
   mediastinum and outside bone.

Everything runs on the image downsampled in-plane to about ``work_spacing_mm`` (default 2 mm) and the
result is brought back to the full grid, so a 512x512x60 scan takes about a second.

Scans without lungs (phantoms such as the QRM thorax, whose "lungs" are plastic): :func:`heart_roi` raises a
:class:`~cacscore.errors.CacscoreError` that says to pass a heart mask or use the whole image
(``whole_body_roi``), rather than guessing a region.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.volume import Volume

log = get_logger(__name__)


@dataclass(frozen=True)
class RoiSettings:
    """Parameters of :func:`heart_roi` (HU are physical tissue ranges, not tuned to a scanner).

    Attributes:
        body_hu: body vs outside air / table gap (-300 HU).
        air_hu: lung air below this (-400 HU, lung parenchyma is about -850).
        soft_tissue_hu: heart tissue above this after smoothing (-30 HU: midway between fat, about -100, and
            blood/myocardium, 30-60).
        bone_hu: bone above this (200 HU).
        bone_margin_mm: removed around bone (vertebral body cortex, ribs, sternum).
        min_bone_ml: smallest connected bright region counted as bone (smaller ones are calcium).
        core_radius_mm: radius of the ball opening that separates the heart from thinner structures.
        margin_mm: margin added around the heart hull so that no coronary calcium is cut off.
        superior_area_fraction: superior slices with less core area than this fraction of the largest
            slice area are not heart.
        waist_fraction: above the peak, once the core area is below this fraction of the largest slice
            area, the first slice whose area no longer shrinks is the heart's top (the great vessels keep
            their cross-section while the heart tapers to its base).
        beyond_hull_mm: how far (mm) beyond the lungs' convex hull the heart may reach where it lies against
            the anterior chest wall and the lungs do not wrap around it (30 mm: a phantom heart's anterior
            top lay 31-33 mm in front of the hull; the 12 mm opening keeps thinner chest-wall muscle out).
        extend_mm, extend_up_mm, extend_taper: extension of the ROI below (apex) and above (aortic root)
            the heart core, and how much it narrows per mm of height (mm in-plane; 2: the steep cone of a
            rounded heart cap).
        min_lung_volume_ml: smallest air region counted as lung.
        rim_mm, max_rim_fraction: an air region with more than this fraction of its voxels within
            ``rim_mm`` of the body outline is outside air, not lung.
        smooth_mm: Gaussian smoothing (sigma, mm) before the HU tests, against noise.
        work_spacing_mm: in-plane spacing of the working grid.
    """

    body_hu: float = -300.0
    air_hu: float = -400.0
    soft_tissue_hu: float = -30.0
    bone_hu: float = 200.0
    bone_margin_mm: float = 3.0
    min_bone_ml: float = 5.0
    core_radius_mm: float = 12.0
    margin_mm: float = 11.0
    superior_area_fraction: float = 0.25
    waist_fraction: float = 0.6
    extend_up_mm: float = 9.0
    beyond_hull_mm: float = 30.0
    extend_mm: float = 9.0
    extend_taper: float = 2.0
    min_lung_volume_ml: float = 50.0
    rim_mm: float = 6.0
    max_rim_fraction: float = 0.3
    smooth_mm: float = 1.5
    work_spacing_mm: float = 2.0


def load_heart_mask(path: str | os.PathLike[str], like: Volume) -> np.ndarray:
    """A user-supplied heart mask (any non-zero voxel is heart) on exactly ``like``'s grid, as bool.

    Raises:
        CacscoreError: unreadable file, another grid, or an empty mask.
    """
    from cacscore.io import read_mask

    mask = read_mask(path, like=like) > 0
    if not mask.any():
        raise CacscoreError(f"the heart mask {path} is empty; give a mask with the heart region set non-zero")
    return mask


def whole_body_roi(volume: Volume, settings: RoiSettings = RoiSettings()) -> np.ndarray:
    """The body (largest region above ``body_hu``, holes filled per slice): a fallback ROI for scans without
    lungs, e.g. calibration phantoms."""
    return _body(volume.hu, settings.body_hu)


def _largest(mask: np.ndarray, structure: np.ndarray | None = None) -> np.ndarray:
    lab, n = ndi.label(mask, structure=structure)
    if n == 0:
        return mask.copy()
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def _fill_slices(mask: np.ndarray) -> np.ndarray:
    out = np.empty_like(mask)
    for z in range(mask.shape[0]):
        out[z] = ndi.binary_fill_holes(mask[z])
    return out


def _body(hu: np.ndarray, body_hu: float) -> np.ndarray:
    body = _largest(hu > body_hu)
    return _fill_slices(body)


def _distance2d(mask: np.ndarray, wy: float, wx: float) -> np.ndarray:
    """Per-slice Euclidean distance (mm) from each voxel of ``mask`` to the nearest voxel outside it
    (0 outside); thresholding it erodes, thresholding the distance of the complement dilates."""
    out = np.zeros(mask.shape, dtype=np.float32)
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        if mask[z].all():
            out[z] = np.inf
        else:
            out[z] = ndi.distance_transform_edt(mask[z], sampling=(wy, wx))
    return out


def _hull2d(mask: np.ndarray) -> np.ndarray:
    """Filled convex hull of a 2-D mask: pixels whose centre lies in the hull of the pixels' corners.

    Only the leftmost and rightmost pixel of each row can be hull vertices, so the hull is built from those
    (at most four corners per row) and filled row by row; much faster than testing every pixel.
    """
    from scipy.spatial import ConvexHull, QhullError

    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return mask.copy()
    sub = mask[rows]
    left = np.argmax(sub, axis=1)
    right = mask.shape[1] - 1 - np.argmax(sub[:, ::-1], axis=1)
    r = rows.astype(float)
    pts = np.concatenate(
        [
            np.stack([r - 0.5, left - 0.5], 1),
            np.stack([r + 0.5, left - 0.5], 1),
            np.stack([r - 0.5, right + 0.5], 1),
            np.stack([r + 0.5, right + 0.5], 1),
        ]
    )
    try:
        v = pts[ConvexHull(pts).vertices]
    except QhullError:  # degenerate
        return mask.copy()
    return _fill_convex(v, mask.shape) | mask


def _fill_convex(vertices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels (row, col) whose centre lies inside a convex polygon given by its (row, col) vertices."""
    out = np.zeros(shape, dtype=bool)
    y0, x0 = vertices[:, 0], vertices[:, 1]
    y1, x1 = np.roll(y0, -1), np.roll(x0, -1)
    ys = np.arange(max(0, int(np.ceil(y0.min()))), min(shape[0] - 1, int(np.floor(y0.max()))) + 1)
    if ys.size == 0:
        return out
    lo_y, hi_y = np.minimum(y0, y1), np.maximum(y0, y1)
    cross = (ys[:, None] >= lo_y[None]) & (ys[:, None] <= hi_y[None]) & (hi_y > lo_y)[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ys[:, None] - y0[None]) / (y1 - y0)[None]
        xs = x0[None] + t * (x1 - x0)[None]
    xmin = np.where(cross, xs, np.inf).min(axis=1)
    xmax = np.where(cross, xs, -np.inf).max(axis=1)
    cols = np.arange(shape[1])
    ok = np.isfinite(xmin)
    out[ys[ok]] = (cols[None] >= np.ceil(xmin[ok])[:, None]) & (cols[None] <= np.floor(xmax[ok])[:, None])
    return out


def _convex_hull_slices(mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(mask)
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        out[z] = _hull2d(mask[z])
    return out


def _opening(mask: np.ndarray, radius_mm: float, sampling: tuple[float, float, float]) -> np.ndarray:
    """Morphological opening by a ball (radius in mm, anisotropic voxels) via two distance transforms."""
    inner = ndi.distance_transform_edt(mask, sampling=sampling) > radius_mm
    if not inner.any():
        return inner
    return (ndi.distance_transform_edt(~inner, sampling=sampling) <= radius_mm) & mask


def _opened_largest(mask: np.ndarray, radius_mm: float, sampling: tuple[float, float, float]) -> np.ndarray:
    opened = _opening(mask, radius_mm, sampling)
    if not opened.any():
        raise CacscoreError(
            "no soft-tissue region between the lungs is thick enough to be a heart; "
            "give a heart mask (--heart-mask) instead"
        )
    return _largest(opened)


def _downsample_factor(spacing_yx: tuple[float, float], target_mm: float) -> tuple[int, int]:
    return tuple(max(1, round(float(target_mm / s))) for s in spacing_yx)  # type: ignore[return-value]


def heart_roi(volume: Volume, settings: RoiSettings = RoiSettings()) -> np.ndarray:
    """Automatic heart ROI (bool, the volume's grid): the heart with a margin, from HU alone.

    See the module docstring for the method. Coronary calcium lies on the heart surface inside the
    pericardium; the hull and the margin keep it inside.

    Raises:
        CacscoreError: no lungs (e.g. a calcification phantom) or no soft tissue between them; the message
            says to give a heart mask instead.
    """
    hu_full = np.asarray(volume.hu, dtype=np.float32)
    sz, sy, sx = volume.spacing_zyx_mm
    fy, fx = _downsample_factor((sy, sx), settings.work_spacing_mm)
    nz, ny, nx = hu_full.shape
    # Block-average downsampling (crop to a multiple of the factor; the border is restored at the end).
    cy, cx = (ny // fy) * fy, (nx // fx) * fx
    hu = hu_full[:, :cy, :cx].reshape(nz, cy // fy, fy, cx // fx, fx).mean(axis=(2, 4))
    wy, wx = sy * fy, sx * fx
    voxel_ml = sz * wy * wx / 1000.0
    sigma = (0.0, settings.smooth_mm / wy, settings.smooth_mm / wx)
    smooth = ndi.gaussian_filter(hu, sigma) if settings.smooth_mm > 0 else hu

    body = _largest(smooth > settings.body_hu)
    # The convex hull of the body closes it where a cardiac field of view cuts it off, and so does the
    # field of view's own edge where the body leaves it (a lung cut by the field of view then stays inside);
    # air inside it is lung unless it hugs the body's real outline (air in skin folds, under the back,
    # between body and table); the field of view's edge is no outline.
    fov = _field_of_view(body, (ny, nx), (fy, fx))
    body = _close_body(body, fov)
    air = (smooth < settings.air_hu) & body
    lab, n = ndi.label(air)
    if n == 0:
        raise _no_lungs()
    rim = body & (_distance2d(body | ~fov[None], wy, wx) <= settings.rim_mm)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    on_rim = np.bincount(lab[rim], minlength=n + 1)
    big = sizes * voxel_ml >= settings.min_lung_volume_ml
    big[0] = False
    strict = big & (on_rim <= settings.max_rim_fraction * sizes)
    # A field of view that cuts the chest leaves a lung as a sliver along the body hull's chord, which the
    # rim test takes for outside air; when the strict choice finds no heart, count every large air region.
    choices = [sel for sel in (strict, big) if sel.any()]
    if not choices:
        raise _no_lungs()
    if not strict.any() or (strict == big).all():
        choices = choices[:1]
    for k, sel in enumerate(choices):
        try:
            small = _roi_from_lungs(volume, settings, smooth, body, np.isin(lab, np.flatnonzero(sel)))
            break
        except CacscoreError:
            if k == len(choices) - 1:
                raise
            log.info("no heart between the strict lungs; retrying with every large air region as lung")
    out = np.zeros(hu_full.shape, dtype=bool)
    out[:, :cy, :cx] = np.repeat(np.repeat(small, fy, axis=1), fx, axis=2)
    return out


def _roi_from_lungs(
    volume: Volume, settings: RoiSettings, smooth: np.ndarray, body: np.ndarray, lungs: np.ndarray
) -> np.ndarray:
    """The ROI on the working grid given the lungs (steps 3-6 of the module docstring)."""
    sz, sy, sx = volume.spacing_zyx_mm
    fy, fx = _downsample_factor((sy, sx), settings.work_spacing_mm)
    wy, wx = sy * fy, sx * fx
    voxel_ml = sz * wy * wx / 1000.0
    nz = smooth.shape[0]
    work_shape = smooth.shape
    lung_slices = lungs.any(axis=(1, 2))

    hull = _convex_hull_slices(lungs)
    # Bone: large connected parts above bone_hu (spine, sternum, ribs); small bright parts are calcium.
    bone = smooth > settings.bone_hu
    lab, n = ndi.label(bone)
    if n:
        big = np.flatnonzero(np.bincount(lab.ravel())[1:] * voxel_ml >= settings.min_bone_ml) + 1
        bone = np.isin(lab, big)
    # Work inside the box of the lungs' hull, padded by how far the ROI may reach beyond it.
    pad_mm = settings.beyond_hull_mm + settings.margin_mm + settings.bone_margin_mm
    box = _bbox_yx(hull, pad_mm / wy, pad_mm / wx)
    smooth, body, lungs, hull, bone = smooth[box], body[box], lungs[box], hull[box], bone[box]
    bone = _distance2d(~bone, wy, wx) <= settings.bone_margin_mm
    mediastinum = hull & ~lungs & ~bone & body
    soft = mediastinum & (smooth > settings.soft_tissue_hu)
    if not soft.any():
        raise CacscoreError(
            "no soft tissue between the lungs; this does not look like a chest CT. "
            "Give a heart mask (--heart-mask) instead"
        )
    sampling = (sz, wy, wx)
    core = _opened_largest(soft, settings.core_radius_mm, sampling)
    # Second pass: where the heart touches the anterior chest wall the lungs do not wrap around it and
    # their hull cuts the heart off; let the core grow into soft tissue up to `beyond_hull_mm` outside the
    # hull, opened again so that thin chest-wall muscle does not come along.
    beyond = _distance2d(~hull, wy, wx) <= settings.beyond_hull_mm
    soft_all = beyond & ~lungs & ~bone & body & (smooth > settings.soft_tissue_hu)
    opened = _opening(soft_all, settings.core_radius_mm, sampling)
    lab, _ = ndi.label(opened)
    ids = np.unique(lab[core & opened])
    core |= np.isin(lab, ids[ids > 0])
    area = core.sum(axis=(1, 2)).astype(float)
    z_peak = int(np.argmax(area))
    superior_up = _superior_is_up(lung_slices, volume)
    step = 1 if superior_up else -1
    # Great vessels above the heart: the heart tapers towards its base while the aorta, pulmonary trunk and
    # vena cava above it keep their cross-section, so the heart's top is the waist where the area stops
    # shrinking (looked for only once it is below `waist_fraction` of the peak: the area is flat near the
    # peak too), or where it falls below `superior_area_fraction` of the peak.
    z = z_peak
    while 0 <= z + step < nz and area[z + step] >= settings.superior_area_fraction * area[z_peak]:
        if area[z] < settings.waist_fraction * area[z_peak] and area[z + step] >= area[z]:
            break
        z += step
    if superior_up:
        core[z + 1 :] = False
    else:
        core[:z] = False
    # The ball opening also shaves the apex: sweep from the widest slice towards the feet, adding the soft
    # tissue of each slice that lies under the hull of the slice before.
    zs = np.flatnonzero(core.any(axis=(1, 2)))
    if zs.size:
        z_peak = int(np.argmax(core.sum(axis=(1, 2))))
        sweep = range(z_peak - 1, zs[0] - 1, -1) if superior_up else range(z_peak + 1, zs[-1] + 1)
        for zk in sweep:
            core[zk] |= soft_all[zk] & _hull2d(core[zk + 1 if superior_up else zk - 1])
    # The aortic root (coronary ostia) above, and the apex below, are thinner than the opening ball and the
    # apex is mostly epicardial fat: extend the ROI slice by slice (`extend_up_mm` up, `extend_mm` down)
    # into whatever is not lung or bone under the footprint of the slice before, narrowed by
    # `extend_taper` mm in-plane per mm of height (0: a cylinder; 1: a 45-degree cone; the heart's caps
    # are rounded, hence steeper).
    zs = np.flatnonzero(core.any(axis=(1, 2)))
    allowed = ~lungs & ~bone & body
    up = 1 if superior_up else -1
    if zs.size:
        for start_z, direction in ((zs[-1], 1), (zs[0], -1)):
            n_ext = round(float((settings.extend_up_mm if direction == up else settings.extend_mm) / sz))
            footprint = _hull2d(core[start_z])
            for k in range(1, n_ext + 1):
                zk = start_z + direction * k
                if not 0 <= zk < nz:
                    break
                footprint = _distance2d(footprint[None], wy, wx)[0] > settings.extend_taper * sz
                layer = allowed[zk] & footprint
                if not layer.any():
                    break
                core[zk] = layer
                footprint = layer
    roi = _convex_hull_slices(core)
    if settings.margin_mm > 0:
        roi = _distance2d(~roi, wy, wx) <= settings.margin_mm
    roi &= ~lungs & ~bone & body
    roi = _fill_slices(roi)

    small = np.zeros(work_shape, dtype=bool)
    small[box] = roi
    return small


def _field_of_view(body: np.ndarray, full_yx: tuple[int, int], factor_yx: tuple[int, int]) -> np.ndarray:
    """The reconstructed field of view on the working grid (2-D bool): the image's inscribed circle, the
    usual reconstruction circle of CT (pixels outside it are padding), or the whole image when the body
    reaches beyond that circle (a scanner that reconstructs the full square)."""
    ny, nx = full_yx
    fy, fx = factor_yx
    h, w = body.shape[1:]
    yy = (np.arange(h) * fy + (fy - 1) / 2.0 - (ny - 1) / 2.0)[:, None]
    xx = (np.arange(w) * fx + (fx - 1) / 2.0 - (nx - 1) / 2.0)[None, :]
    radius = min(ny, nx) / 2.0
    disc = yy**2 + xx**2 <= radius**2
    outside_by = yy**2 + xx**2 > (radius + 2.0 * max(fy, fx)) ** 2
    if np.any(body & outside_by[None]):
        return np.ones((h, w), dtype=bool)
    return disc


def _close_body(body: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """Per slice, the convex hull of the body plus the parts of the field of view that the body encloses
    where it leaves it.

    A body cross-section is close to convex. A part of the field of view outside the body's hull lies
    either beyond the body's outline (outside air: the hull's boundary there is the outline itself, made
    of body pixels) or beyond a chord of the hull that joins two points where the body leaves the field of
    view, with no body along it (a lung that the field of view cuts: what the chord crosses is a cavity,
    not the outline). In the second case the body went out of the field of view at both ends, so by
    convexity that whole part is inside the body.
    """
    out = np.zeros_like(body)
    for z in np.flatnonzero(body.any(axis=(1, 2))):
        b = body[z]
        hull = _hull2d(b)
        out[z] = hull
        lab, n = ndi.label(fov & ~hull)
        if n == 0:
            continue
        # The hull's boundary pixels next to each outside part, and how many of them are body.
        grown = ndi.grey_dilation(lab, size=(3, 3))
        border = hull & (grown > 0)
        total = np.bincount(grown[border], minlength=n + 1)
        on_body = np.bincount(grown[border & b], minlength=n + 1)
        cavity = np.flatnonzero((total > 0) & (on_body < 0.5 * total))
        cavity = cavity[cavity > 0]
        if cavity.size:
            out[z] |= np.isin(lab, cavity)
    return out


def _bbox_yx(mask: np.ndarray, pad_y: float, pad_x: float) -> tuple[slice, slice, slice]:
    """(all slices, rows, columns) of the in-plane bounding box of ``mask`` padded by the given pixels."""
    rows = np.flatnonzero(mask.any(axis=(0, 2)))
    cols = np.flatnonzero(mask.any(axis=(0, 1)))
    ny, nx = mask.shape[1:]
    if rows.size == 0:
        return (slice(None), slice(0, ny), slice(0, nx))
    py, px = int(np.ceil(pad_y)) + 1, int(np.ceil(pad_x)) + 1
    return (
        slice(None),
        slice(max(0, rows[0] - py), min(ny, rows[-1] + 1 + py)),
        slice(max(0, cols[0] - px), min(nx, cols[-1] + 1 + px)),
    )


def _superior_is_up(lung_slices: np.ndarray, volume: Volume) -> bool:
    """True when increasing slice index goes towards the head (from the direction cosines; LPS +z = head)."""
    z_axis = np.asarray(volume.direction)[:, 2]
    if abs(z_axis[2]) > 0.5:
        return bool(z_axis[2] > 0)
    # Unusual orientation: assume the lungs reach the top of the scan.
    return bool(lung_slices[-1] or not lung_slices[0])


def _no_lungs() -> CacscoreError:
    return CacscoreError(
        "no lungs found (no air region of 50 ml or more inside the body), so the automatic heart ROI "
        "cannot place the heart; this is expected for calcification phantoms. Give a heart mask "
        "(--heart-mask), or use the whole body as ROI (cacscore.detection.heart_roi.whole_body_roi)"
    )
