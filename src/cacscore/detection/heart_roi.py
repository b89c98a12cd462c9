"""Heart region of interest: a user's heart mask, or an automatic one from the thorax (HU alone).

The paper restricted its windows to a heart region drawn by experts and named an automatic ROI its first
item of future work. :func:`heart_roi` finds the heart from the body, lungs and bone of
:func:`cacscore.detection.thorax.find_thorax`, on gated cardiac scans and on chest CTs that reach into the
abdomen alike:

1. mediastinum: per slice, the convex hull of the lungs minus the lungs (this removes the chest wall
   outside the lungs: ribs, muscle and fat), minus bone and ``bone_margin_mm`` around it;
2. heart core: soft tissue (> ``soft_tissue_hu`` after smoothing) of the mediastinum, opened with a ball of
   radius ``core_radius_mm`` (removes the descending aorta, oesophagus, thin vessels and wall muscle, keeps
   the chambers), largest 3-D connected part, grown into soft tissue up to ``beyond_hull_mm`` outside the
   lungs' hull where the heart lies against the anterior chest wall;
3. heart versus abdomen: a scan that reaches below the diaphragm holds the liver next to the heart, as a
   part of its own or joined to it; of the parts, the heart's is the one with a thoracic hump in its area
   along z (a widest slice with lung on both sides and much lung; :func:`_humps`), and a joined liver is
   cut off at the waist between the two humps (:func:`_heart_hump`);
4. superior limit: going up from the widest slice, the heart tapers towards its base while the great
   vessels above it keep a constant cross-section; the top is the first slice, once the area is below
   ``waist_fraction`` of the largest, whose area no longer shrinks (or below ``superior_area_fraction``);
5. caps: the apex shaved by the opening is swept back in under the hull of the slice above, and the ROI
   extends a tapering cone ``extend_up_mm`` above and ``extend_mm`` below (aortic root, coronary ostia,
   apex);
6. heart ROI: per slice, the convex hull of the core (it bridges the atrioventricular and interventricular
   grooves, where the coronary arteries run in epicardial fat), dilated by ``margin_mm``, plus the fat
   joined to it up to ``fat_reach_mm`` from the hull (thick epicardial fat), kept inside the body and
   outside lungs and bone.

Everything runs on the thorax's working grid (about 2 mm in-plane) and is brought back to the full grid, so
a 512x512x60 scan takes about a second. The real QRM thorax phantom has lung-equivalent inserts around its
cardiac insert, which is then the ROI. A scan without anything lung-like (a water cylinder):
:func:`heart_roi` raises a :class:`~cacscore.errors.CacscoreError` that says to pass a heart mask or use
the whole body (:func:`whole_body_roi`), rather than guessing a region.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from cacscore.detection.thorax import Thorax, ThoraxSettings, find_thorax
from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.masks import (
    bbox_yx,
    dilate2d,
    distance2d,
    fill_slices,
    hull2d,
    hull_slices,
    largest_component,
    opening3d,
)
from cacscore.volume import Volume

log = get_logger(__name__)


@dataclass(frozen=True)
class RoiSettings:
    """Parameters of :func:`heart_roi`. The HU are physical tissue ranges; the lengths and fractions were set
    on the development phantom cases and the two real chest CTs (docs/reproduction.md, "Automatic heart
    ROI"), from anatomy, not fitted to a scanner.

    Attributes:
        soft_tissue_hu: heart tissue above this after smoothing (-30 HU: midway between fat, about -100, and
            blood/myocardium, 30-60).
        bone_margin_mm: removed around bone (vertebral body cortex, ribs, sternum).
        core_radius_mm: radius of the ball opening that separates the heart from thinner structures.
        margin_mm: margin added around the heart hull so that no coronary calcium is cut off.
        superior_area_fraction: superior slices with less core area than this fraction of the largest
            slice area are not heart.
        waist_fraction: above the peak, once the core area is below this fraction of the largest slice
            area, the first slice whose area no longer shrinks by ``waist_taper_per_mm`` is the heart's
            top (the great vessels keep their cross-section while the heart tapers to its base).
        waist_taper_per_mm: the least shrink of the area (a fraction per mm of height) that is still the
            heart's base narrowing (lung2's base: 1.5-3 % per mm; the great vessels above it: 0.4 %, i.e.
            noise). Without it a 2 % wobble of the area on the great vessels' plateau (the working grid
            shifted by a pixel, e.g. the scan stored mirrored) moved lung2's top by 6 slices.
        beyond_hull_mm: how far (mm) beyond the lungs' convex hull the heart may reach where it lies against
            the anterior chest wall and the lungs do not wrap around it (30 mm: a phantom heart's anterior
            top lay 31-33 mm in front of the hull; the 12 mm opening keeps thinner chest-wall muscle out).
        extend_mm, extend_up_mm, extend_taper: extension of the ROI below (apex) and above (aortic root)
            the heart core, and how much it narrows per mm of height (mm in-plane; 1: a 45-degree cone; a
            steeper cone (2) lost the top 10 mm of a 5 mm-slice chest case's heart, seed 7017; 15 mm up
            reaches the aortic root and left main on a case whose core stopped 9 slices below the heart's
            top, seed 7042).
        min_hump_prominence, near_lung_mm, far_lung_mm, right_mm: how the heart is told from the liver and
            the great vessels (:func:`_heart_likeness`): the core's area along z has a hump per organ where
            its dip is at least ``min_hump_prominence`` of the hump's height (a chest-protocol phantom's
            heart hump stands 9 % above its dip to the liver's); at the heart's widest slice the lungs lie
            close on both sides (the farther side's gap 7-36 mm on the real chest CTs and 40 phantom
            cases, the liver's 17 mm to no lung at all) and its centroid lies at or left of the body's
            centre (the heart -10 to +33 mm, the liver -8 to -64 mm); each cue scores 0 to 1 between
            these bounds, and a hump is the heart's kind at a sum of 1 or more.
        fat_reach_mm: how far from the heart's hull the ROI follows the fat around the heart (epicardial
            fat, where the coronary arteries run, reaches 15-20 mm in the grooves of some patients, and the
            fat pad at the right cardiophrenic angle 30-40 mm: at 25 mm, seed 7042 kept 0.88 of its heart).
        below_waist_mm: how far under the waist between the heart and a liver joined to it the core keeps
            what lies under the heart's footprint (:func:`_limit_heart_slices`).
        thorax: how body, lungs and bone are found (:class:`~cacscore.detection.thorax.ThoraxSettings`).
    """

    soft_tissue_hu: float = -30.0
    bone_margin_mm: float = 3.0
    core_radius_mm: float = 12.0
    margin_mm: float = 11.0
    superior_area_fraction: float = 0.15
    waist_fraction: float = 0.6
    waist_taper_per_mm: float = 0.01
    extend_up_mm: float = 15.0
    beyond_hull_mm: float = 30.0
    extend_mm: float = 9.0
    extend_taper: float = 1.0
    min_hump_prominence: float = 0.05
    near_lung_mm: float = 10.0
    far_lung_mm: float = 40.0
    right_mm: float = 25.0
    below_waist_mm: float = 12.0
    fat_reach_mm: float = 40.0
    thorax: ThoraxSettings = field(default_factory=ThoraxSettings)


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
    """The body (largest region above the body threshold, holes filled per slice): a fallback ROI for scans
    without lungs, e.g. calibration phantoms."""
    return fill_slices(largest_component(volume.hu > settings.thorax.body_hu))


def heart_roi(
    volume: Volume, settings: RoiSettings = RoiSettings(), thorax: Thorax | None = None
) -> np.ndarray:
    """Automatic heart ROI (bool, the volume's grid): the heart with a margin, from HU alone.

    See the module docstring for the method. Coronary calcium lies on the heart surface inside the
    pericardium; the hull and the margin keep it inside. ``thorax`` is the scan's
    :func:`~cacscore.detection.thorax.find_thorax` when the caller has it already.

    Raises:
        CacscoreError: no lungs (e.g. a calcification phantom) or no soft tissue between them; the message
            says to give a heart mask instead.
    """
    thorax = find_thorax(volume, settings.thorax) if thorax is None else thorax
    if not thorax.lung_choices:
        raise CacscoreError(
            f"no lungs found (no air region of {settings.thorax.min_lung_volume_ml:g} ml or more inside the "
            "body), so the automatic heart ROI cannot place the heart; this is expected for calcification "
            "phantoms. Give a heart mask (--heart-mask), or use the whole body as ROI "
            "(cacscore.detection.heart_roi.whole_body_roi)"
        )
    for k, lungs in enumerate(thorax.lung_choices):
        try:
            return thorax.grid.to_full(_roi_from_lungs(thorax, lungs, settings))
        except CacscoreError:
            if k == len(thorax.lung_choices) - 1:
                raise
            log.info("no heart between the strict lungs; retrying with every large air region as lung")
    raise AssertionError("unreachable")  # pragma: no cover


def _roi_from_lungs(thorax: Thorax, lungs: np.ndarray, settings: RoiSettings) -> np.ndarray:
    """The ROI on the working grid given the lungs (steps 1-6 of the module docstring)."""
    sz, wy, wx = thorax.grid.spacing_zyx_mm
    hull = hull_slices(lungs)
    # Work inside the box of the lungs' hull, padded by how far the ROI may reach beyond it.
    pad_mm = settings.beyond_hull_mm + settings.margin_mm + settings.bone_margin_mm
    box = bbox_yx(hull, pad_mm / wy, pad_mm / wx)
    smooth, body, lungs, hull = thorax.grid.smooth[box], thorax.body[box], lungs[box], hull[box]
    bone = dilate2d(thorax.bone[box], settings.bone_margin_mm, wy, wx)
    soft = hull & ~lungs & ~bone & body & (smooth > settings.soft_tissue_hu)
    if not soft.any():
        raise CacscoreError(
            "no soft tissue between the lungs; this does not look like a chest CT. "
            "Give a heart mask (--heart-mask) instead"
        )
    frame = _Frame(lungs, body, (sz, wy, wx), thorax.superior_up, thorax.left_sign)
    core = _heart_component(soft, frame, settings)
    # Second pass: where the heart touches the anterior chest wall the lungs do not wrap around it and
    # their hull cuts the heart off; let the core grow into soft tissue up to `beyond_hull_mm` outside the
    # hull, opened again so that thin chest-wall muscle does not come along.
    soft_all = dilate2d(hull, settings.beyond_hull_mm, wy, wx) & ~lungs & ~bone & body \
        & (smooth > settings.soft_tissue_hu)
    lab, _ = ndi.label(opening3d(soft_all, settings.core_radius_mm, (sz, wy, wx)))
    ids = np.unique(lab[core & (lab > 0)])
    core |= np.isin(lab, ids)
    _limit_heart_slices(core, frame, settings)
    _sweep_apex(core, soft_all, thorax.superior_up)
    _extend_caps(core, ~lungs & ~bone & body, settings, thorax)
    hull_core = hull_slices(core)
    roi = dilate2d(hull_core, settings.margin_mm, wy, wx) if settings.margin_mm > 0 else hull_core
    roi &= ~lungs & ~bone & body
    roi |= _fat_around(roi, hull_core, smooth, ~lungs & ~bone & body, settings, (wy, wx))
    roi = fill_slices(roi)
    small = np.zeros(thorax.grid.shape, dtype=bool)
    small[box] = roi
    return small


def _heart_component(soft: np.ndarray, frame: _Frame, settings: RoiSettings) -> np.ndarray:
    """The connected part of the opened soft tissue that holds the heart: of the parts of at least a
    tenth of the largest's size, the one with the largest heart-like hump (:func:`_humps`), else the one
    with the most heart-like hump. In a narrow cardiac field of view the liver under the diaphragm can be
    a separate part larger than the heart."""
    opened = opening3d(soft, settings.core_radius_mm, frame.spacing)
    if not opened.any():
        raise CacscoreError(
            "no soft-tissue region between the lungs is thick enough to be a heart; "
            "give a heart mask (--heart-mask) instead"
        )
    lab, _ = ndi.label(opened)
    sizes = np.bincount(lab.ravel())[1:]
    ranked = []  # (heart-like, area or likeness, label) per part
    for k in np.flatnonzero(sizes >= 0.1 * sizes.max()) + 1:
        part = lab == k
        area = part.sum(axis=(1, 2)).astype(float)
        humps = _humps(area, part, frame, settings) or [(int(np.argmax(area)), 0.0)]
        p, likeness = max(humps, key=lambda h: (h[1] >= 1.0, area[h[0]] if h[1] >= 1.0 else h[1]))
        ranked.append((likeness >= 1.0, area[p] if likeness >= 1.0 else likeness, int(k)))
    return lab == max(ranked)[2]


def _limit_heart_slices(core: np.ndarray, frame: _Frame, settings: RoiSettings) -> None:
    """Cut ``core`` (in place) to the heart's slices: below, at the waist to an abdominal hump (step 3);
    above, where the great vessels begin (step 4).

    The heart's inferior wall sits on the liver's dome, so the waist of the area lies above the heart's
    lowest part: ``below_waist_mm`` under the waist, the core keeps what lies under the heart's footprint
    at the waist (the inferior wall and the crux, where the posterior descending artery runs), and loses
    the rest of the liver.
    """
    nz = core.shape[0]
    superior_up = frame.superior_up
    step = 1 if superior_up else -1
    area = core.sum(axis=(1, 2)).astype(float)
    z_peak, z_dip = _heart_hump(area, core, frame, settings)
    if z_dip is not None:
        footprint = hull2d(core[z_dip])
        keep = round(settings.below_waist_mm / frame.spacing[0])
        below = range(z_dip - keep, z_dip) if superior_up else range(z_dip + 1, z_dip + 1 + keep)
        kept = {z: core[z] & footprint for z in below if 0 <= z < nz}
        if superior_up:
            core[:z_dip] = False
        else:
            core[z_dip + 1 :] = False
        for z, layer in kept.items():
            core[z] = layer
        area = core.sum(axis=(1, 2)).astype(float)
    # The heart's top is the waist where the area stops shrinking (looked for only once it is below
    # `waist_fraction` of the peak: the area is flat near the peak too), or where it falls below
    # `superior_area_fraction` of the peak.
    z = z_peak
    still = 1.0 - settings.waist_taper_per_mm * frame.spacing[0]
    while 0 <= z + step < nz and area[z + step] >= settings.superior_area_fraction * area[z_peak]:
        if area[z] < settings.waist_fraction * area[z_peak] and area[z + step] >= still * area[z]:
            break
        z += step
    if superior_up:
        core[z + 1 :] = False
    else:
        core[:z] = False


@dataclass(frozen=True, eq=False)
class _Frame:
    """What the hump tests need of the scan besides the core: lungs and body (working grid, cropped to
    the work box), the working spacing, which way is up and which way is the patient's left."""

    lungs: np.ndarray
    body: np.ndarray
    spacing: tuple[float, float, float]
    superior_up: bool
    left_sign: float


def _humps(
    area: np.ndarray, core: np.ndarray, frame: _Frame, settings: RoiSettings
) -> list[tuple[int, float]]:
    """The humps of the core's area along z: (widest slice, heart-likeness) per hump.

    A hump is a peak whose prominence is at least ``min_hump_prominence`` of its height; its
    heart-likeness is :func:`_heart_likeness` of its widest slice, 0 when that is the scan's lowest slice
    (an organ widest at the scan's lower edge goes on below it, as the liver's dome at the bottom of a
    cardiac scan; the heart sits on the diaphragm).
    """
    from scipy.signal import find_peaks

    padded = np.concatenate([[0.0], area, [0.0]])
    peaks, props = find_peaks(padded, prominence=0.0)
    keep = props["prominences"] >= settings.min_hump_prominence * padded[peaks]
    lowest = 0 if frame.superior_up else len(area) - 1
    return [(int(p), 0.0 if p == lowest else _heart_likeness(core[p], frame, int(p), settings))
            for p in peaks[keep] - 1]


def _heart_likeness(core2d: np.ndarray, frame: _Frame, z: int, settings: RoiSettings) -> float:
    """0 to 2: how much a core cross-section looks like the heart's, from two cues of anatomy.

    - Lungs close on both sides: in each of the central half of its rows, the gap to the lung on its
      farther side (no lung there: infinite); the median gap scores 1 at ``near_lung_mm`` or less, 0 at
      ``far_lung_mm`` or more. The heart's borders are the lungs' (through its pericardial fat); the liver
      and spleen border the lungs on one side only, the stomach, spleen or chest wall on the other.
    - On the patient's left: its centroid's offset from the body's centroid scores 1 at 0 mm or left, 0
      at ``right_mm`` or more to the right (the liver's mass is right; a patient with situs inversus needs
      --heart-mask).
    """
    wx = frame.spacing[2]
    rows = np.flatnonzero(core2d.any(axis=1))
    if rows.size == 0:
        return 0.0
    gaps = []
    for y in rows[rows.size // 4 : max(rows.size * 3 // 4, rows.size // 4 + 1)]:
        cols = np.flatnonzero(core2d[y])
        lung = np.flatnonzero(frame.lungs[z, y])
        left, right = lung[lung < cols[0]], lung[lung > cols[-1]]
        if left.size and right.size:
            gaps.append(max(cols[0] - left.max(), right.min() - cols[-1]) * wx)
        else:
            gaps.append(np.inf)
    gap = float(np.median(gaps))
    near = np.clip((settings.far_lung_mm - gap) / (settings.far_lung_mm - settings.near_lung_mm), 0.0, 1.0)
    body_cols = np.nonzero(frame.body[z])[1]
    centre = np.nonzero(core2d)[1].mean()
    left_mm = frame.left_sign * (centre - body_cols.mean()) * wx if body_cols.size else 0.0
    side = np.clip((left_mm + settings.right_mm) / settings.right_mm, 0.0, 1.0)
    return float(near + side)


def _heart_hump(
    area: np.ndarray, core: np.ndarray, frame: _Frame, settings: RoiSettings
) -> tuple[int, int | None]:
    """The widest slice of the heart and the waist slice between it and the abdomen below it (or None).

    The heart's hump is the largest heart-like one (:func:`_humps`, likeness 1 or more), else the most
    heart-like. The core is cut at the lowest slice between it and the next hump towards the feet only
    when that hump is not heart-like (an abdominal organ; a second hump of the heart itself is heart-like
    too).
    """
    humps = _humps(area, core, frame, settings)
    if not humps:
        return int(np.argmax(area)), None
    heart_like = [p for p, likeness in humps if likeness >= 1.0]
    if heart_like:
        chosen = max(heart_like, key=lambda p: area[p])
    else:
        chosen = max(humps, key=lambda h: (h[1], area[h[0]]))[0]
    below = [(p, likeness) for p, likeness in humps if (p < chosen if frame.superior_up else p > chosen)]
    if not below:
        return chosen, None
    neighbour, likeness = below[-1] if frame.superior_up else below[0]
    if likeness >= 1.0:
        return chosen, None
    lo, hi = sorted((neighbour, chosen))
    return chosen, lo + int(np.argmin(area[lo : hi + 1]))


def _fat_around(
    roi: np.ndarray, hull_core: np.ndarray, smooth: np.ndarray, allowed: np.ndarray, settings: RoiSettings,
    pixel_mm: tuple[float, float],
) -> np.ndarray:
    """The fat that surrounds the heart, slice by slice: fat (-250 HU to ``soft_tissue_hu``) within
    ``fat_reach_mm`` of the heart's hull that touches the ROI through fat alone. Epicardial fat can be
    15-20 mm thick in the grooves where the coronary arteries run, beyond the ROI's margin; the chest wall's
    subcutaneous fat lies behind muscle and bone, not joined to it."""
    wy, wx = pixel_mm
    fat = allowed & (smooth >= -250.0) & (smooth < settings.soft_tissue_hu)
    fat &= dilate2d(hull_core, settings.fat_reach_mm, wy, wx)
    out = np.zeros_like(roi)
    ring = np.ones((3, 3), bool)
    for z in np.flatnonzero(fat.any(axis=(1, 2)) & roi.any(axis=(1, 2))):
        lab, _ = ndi.label(fat[z], structure=ring)
        touching = np.unique(lab[ndi.binary_dilation(roi[z], structure=ring) & (lab > 0)])
        out[z] = np.isin(lab, touching)
    return out


def _sweep_apex(core: np.ndarray, soft: np.ndarray, superior_up: bool) -> None:
    """The ball opening also shaves the apex: sweep from the widest slice towards the feet, adding (in
    place) the soft tissue of each slice that lies under the hull of the slice before."""
    zs = np.flatnonzero(core.any(axis=(1, 2)))
    if not zs.size:
        return
    z_peak = int(np.argmax(core.sum(axis=(1, 2))))
    sweep = range(z_peak - 1, zs[0] - 1, -1) if superior_up else range(z_peak + 1, zs[-1] + 1)
    for zk in sweep:
        core[zk] |= soft[zk] & hull2d(core[zk + 1 if superior_up else zk - 1])


def _extend_caps(core: np.ndarray, allowed: np.ndarray, settings: RoiSettings, thorax: Thorax) -> None:
    """The aortic root (coronary ostia) above, and the apex below, are thinner than the opening ball and the
    apex is mostly epicardial fat: extend the core (in place) slice by slice (``extend_up_mm`` up,
    ``extend_mm`` down) into ``allowed`` under the footprint of the slice before, narrowed by
    ``extend_taper`` mm in-plane per mm of height (0: a cylinder; 1: a 45-degree cone; the heart's caps are
    rounded, hence steeper)."""
    sz, wy, wx = thorax.grid.spacing_zyx_mm
    nz = core.shape[0]
    zs = np.flatnonzero(core.any(axis=(1, 2)))
    if not zs.size:
        return
    up = 1 if thorax.superior_up else -1
    for start_z, direction in ((zs[-1], 1), (zs[0], -1)):
        n_ext = round(float((settings.extend_up_mm if direction == up else settings.extend_mm) / sz))
        footprint = hull2d(core[start_z])
        for k in range(1, n_ext + 1):
            zk = start_z + direction * k
            if not 0 <= zk < nz:
                break
            footprint = distance2d(footprint[None], wy, wx)[0] > settings.extend_taper * sz
            layer = allowed[zk] & footprint
            if not layer.any():
                break
            core[zk] = layer
            footprint = layer
