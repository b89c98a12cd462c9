"""``generate_case``: one synthetic ECG-gated non-contrast calcium-scoring scan with exact ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.errors import CacscoreError
from cacscore.labels import Artery
from cacscore.log import get_logger
from cacscore.phantom.anatomy import draw_body, paint_anatomy
from cacscore.phantom.grid import Grid
from cacscore.phantom.heart import HeartGeometry, build_heart
from cacscore.phantom.imaging import blur_anatomy, correlated_noise, render_object
from cacscore.phantom.lesions import LookAlike, draw_category, plan_lesions, plan_lookalikes
from cacscore.phantom.presets import AcquisitionPreset, get_preset
from cacscore.volume import ScanInfo, Volume

log = get_logger(__name__)

#: A voxel belongs to an object's footprint when the object raises its blurred HU by at least this much.
FOOTPRINT_MIN_HU: float = 15.0
#: Highest HU stored (12-bit CT range with the -1024 offset).
MAX_HU: int = 3071
#: Keys ``generate_case`` accepts as overrides.
OVERRIDES = ("category", "fov_mm", "noise_sd_hu", "n_slices", "lookalikes", "metal", "score")


@dataclass
class PhantomCase:
    """A generated scan and its ground truth.

    Attributes:
        volume: the CT volume (float32 HU, integer-valued).
        labels: uint8 orCaScore codes (Artery: 0, 1 LAD incl. LM, 2 LCX, 3 RCA), coronary calcium only.
        heart_mask: bool, the pericardial sac with the coronaries and the aortic root.
        lookalikes: uint8 :class:`LookAlike` codes of non-coronary bright voxels (>= 130 HU).
        truth: JSON-able dict: acquisition, patient, lesions, dropped lesions, look-alikes, scores.
    """

    volume: Volume
    labels: np.ndarray
    heart_mask: np.ndarray
    lookalikes: np.ndarray
    truth: dict = field(default_factory=dict)
    #: The drawn patient geometry ("body", "heart", "grid"), for tests and figures; not part of the truth.
    geometry: dict = field(default_factory=dict, repr=False)


def _place_heart(rng, body) -> HeartGeometry:
    size = rng.uniform(0.88, 1.12) * np.sqrt(body.semi_x_mm / 160)
    heart = build_heart(rng, np.array([0.0, 0.0, 0.0]), float(size))
    half = np.sqrt(((heart.frame * heart.sac_semi_mm[:, None]) ** 2).sum(axis=0))
    cay = body.cavity_semi_mm[1]
    y_min = -cay + half[1] + 4
    y_max = body.spine_y_mm - body.vertebra_radius_mm - 16 - half[1]
    cy = rng.uniform(min(y_min, y_max), max(y_min, y_max)) if y_min <= y_max else (y_min + y_max) / 2
    shift = np.array([rng.uniform(15, 35), cy, 0.0])
    heart.centre = heart.centre + shift
    heart.root_centre = heart.root_centre + shift
    for br in heart.branches:
        br.points = br.points + shift
    return heart


def _make_grid(rng, preset: AcquisitionPreset, heart: HeartGeometry, overrides: dict) -> Grid:
    fov = float(overrides.get("fov_mm") or rng.uniform(*preset.fov_mm))
    px = fov / 512
    half = np.sqrt(((heart.frame * heart.sac_semi_mm[:, None]) ** 2).sum(axis=0))
    z_bottom = heart.centre[2] - half[2] - rng.uniform(6, 20)
    z_top = heart.root_centre[2] + rng.uniform(45, 65)
    inc = preset.slice_increment_mm
    n = overrides.get("n_slices") or int(np.clip(np.ceil((z_top - z_bottom) / inc) + 1, 40, 80))
    cx = heart.centre[0] + rng.uniform(-10, 10)
    cy = heart.centre[1] + rng.uniform(-10, 10)
    origin = (cx - 255.5 * px, cy - 255.5 * px, z_bottom)
    return Grid(shape=(int(n), 512, 512), spacing_zyx_mm=(inc, px, px), origin_xyz_mm=origin)


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent generators for anatomy, lesions, look-alikes, noise and acquisition."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5)]


def target_category(seed: int) -> int:
    """The risk category (0..4) that case ``seed`` aims at, without generating it (its first lesion draw).

    The category the case ends up in (truth ``scores``) can be lower when small lesions fall below the
    threshold after partial volume and noise, as in real scans.
    """
    return draw_category(_streams(seed)[1])


def generate_case(seed: int, vendor: str | AcquisitionPreset = "siemens", **overrides) -> PhantomCase:
    """Generate one phantom scan.

    Args:
        seed: the case seed; the same seed, vendor and overrides give the same case, bit for bit.
        vendor: a key of :data:`cacscore.phantom.VENDOR_PRESETS` or a preset.
        **overrides: ``category`` (target risk category 0..4: 0, 1-10, 11-100, 101-400, >400),
            ``fov_mm``, ``noise_sd_hu`` (blood-pool noise SD), ``n_slices``, ``lookalikes`` (False: none),
            ``metal`` (True/False; default drawn, ~8 %), ``score`` (False: skip the truth scores).

    Returns:
        a :class:`PhantomCase`.
    """
    unknown = set(overrides) - set(OVERRIDES)
    if unknown:
        raise CacscoreError(f"unknown phantom option(s) {sorted(unknown)}; known: {', '.join(OVERRIDES)}")
    preset = get_preset(vendor)
    r_anat, r_les, r_look, r_noise, r_acq = _streams(seed)

    body = draw_body(r_anat)
    heart = _place_heart(r_anat, body)
    grid = _make_grid(r_acq, preset, heart, overrides)
    anatomy = paint_anatomy(grid, body, heart, r_anat)
    image = blur_anatomy(anatomy.hu, grid, preset)

    category = overrides.get("category")
    category = draw_category(r_les) if category is None else int(category)
    if not 0 <= category <= 4:
        raise CacscoreError(f"category must be 0..4 (0, 1-10, 11-100, 101-400, >400), not {category}")
    lesions = plan_lesions(r_les, heart, category)

    # Coronary lesions: rendered supersampled, footprints kept for the labels.
    best = np.zeros(grid.shape, np.float32)
    owner = np.full(grid.shape, -1, np.int16)
    rendered_lesions = []
    for i, les in enumerate(lesions):
        r = render_object(grid, les.ellipsoids, les.background_hu, preset)
        rendered_lesions.append(r)
        if r is None:
            continue
        image[r.box] += r.contribution
        sub_best, sub_owner = best[r.box], owner[r.box]
        take = (r.contribution >= FOOTPRINT_MIN_HU) & (r.contribution > sub_best)
        sub_best[take] = r.contribution[take]
        sub_owner[take] = i
    lesion_footprint = owner >= 0

    # Look-alikes: never overlapping a lesion footprint.
    look = np.zeros(grid.shape, np.uint8)
    look_truth = []
    if overrides.get("lookalikes", True):
        z_axis = grid.axis_mm(0)
        sternum = (0.0, -(body.semi_y_mm - body.fat_mm) + body.muscle_mm * 0.45)
        objs = plan_lookalikes(
            r_look,
            heart,
            anatomy.landmarks,
            body.desc_aorta_xy_mm,
            body.desc_aorta_radius_mm,
            sternum,
            category,
            (float(z_axis[0]), float(z_axis[-1])),
            overrides.get("metal"),
        )
        for obj in objs:
            r = render_object(grid, obj.ellipsoids, obj.background_hu, preset)
            if r is None:
                continue
            fp = r.contribution >= FOOTPRINT_MIN_HU
            if (fp & lesion_footprint[r.box]).any():
                continue
            image[r.box] += r.contribution
            code = LookAlike[obj.kind]
            look[r.box][fp] = code  # thresholded below
            if code == LookAlike.METAL:
                _add_streaks(image, grid, r, r_look)
            look_truth.append({"kind": obj.kind, **obj.info})

    sd = float(overrides.get("noise_sd_hu") or r_acq.uniform(*preset.noise_sd_hu))
    sd = min(sd * float(np.clip(body.semi_x_mm / 160, 0.85, 1.2)), 45.0)  # bigger patients are noisier
    image += correlated_noise(r_noise, grid, preset, sd)

    # Noise spikes: a few isolated bright voxels in soft tissue, away from lesions.
    n_spikes = int(r_look.integers(0, 5)) if overrides.get("lookalikes", True) else 0
    for _ in range(n_spikes):
        k, j, i = (int(r_look.integers(0, n)) for n in grid.shape)
        if lesion_footprint[max(k - 1, 0) : k + 2, max(j - 3, 0) : j + 4, max(i - 3, 0) : i + 4].any():
            continue
        if not -150 < image[k, j, i] < 120:
            continue
        image[k, j, i] += float(r_look.uniform(150, 350))
        look[k, j, i] = LookAlike.NOISE_SPIKE

    image = np.clip(np.rint(image), -1024, MAX_HU).astype(np.float32)
    yy, xx = np.ogrid[: grid.shape[1], : grid.shape[2]]
    outside = (yy - 255.5) ** 2 + (xx - 255.5) ** 2 > 256.0**2
    image[:, outside] = preset.outside_fov_hu

    calcium = image >= THRESHOLD_HU_120KVP
    look[~calcium] = 0
    bone = _dilate(anatomy.bone_mask) & calcium & (look == 0) & ~lesion_footprint
    look[bone] = LookAlike.BONE_EDGE

    labels = np.zeros(grid.shape, np.uint8)
    codes = np.array([int(les.artery) for les in lesions] + [0], np.uint8)
    labelled = lesion_footprint & calcium & anatomy.heart_mask & (look == 0)
    labels[labelled] = codes[owner[labelled]]

    lesion_truth, dropped = [], []
    for i, les in enumerate(lesions):
        n_vox = int(np.count_nonzero(labelled & (owner == i))) if rendered_lesions[i] is not None else 0
        entry = {"id": i + 1, **les.info, "voxels_at_or_above_threshold": n_vox}
        if n_vox:
            sub = image[rendered_lesions[i].box][owner[rendered_lesions[i].box] == i]
            entry["peak_image_hu"] = float(sub.max())
            lesion_truth.append(entry)
        else:
            entry["reason"] = "no voxel >= 130 HU after partial volume and noise (not visible; not labelled)"
            dropped.append(entry)

    info = ScanInfo(
        modality="CT",
        kvp=preset.kvp,
        slice_thickness_mm=preset.slice_thickness_mm,
        slice_increment_mm=preset.slice_increment_mm,
        manufacturer=preset.manufacturer,
        model=preset.model,
        kernel=preset.kernel,
        series_description="Calcium Score 3 mm (cacscore phantom)",
        source=f"cacscore phantom seed={seed} vendor={preset.name}",
    )
    volume = Volume(hu=image, spacing_zyx_mm=grid.spacing_zyx_mm, origin_xyz_mm=grid.origin_xyz_mm, info=info)
    truth = {
        "generator": "cacscore.phantom",
        "seed": int(seed),
        "vendor": preset.name,
        "acquisition": {
            "kvp": preset.kvp,
            "slice_thickness_mm": preset.slice_thickness_mm,
            "slice_increment_mm": preset.slice_increment_mm,
            "pixel_spacing_mm": grid.spacing_zyx_mm[1],
            "shape_zyx": list(grid.shape),
            "noise_sd_hu": round(sd, 2),
            "kernel": preset.kernel,
        },
        "patient": {
            "body_width_mm": round(2 * body.semi_x_mm, 1),
            "body_depth_mm": round(2 * body.semi_y_mm, 1),
            "heart_centre_xyz_mm": [round(float(c), 1) for c in heart.centre],
            "target_category": category,
        },
        "lesions": lesion_truth,
        "dropped_lesions": dropped,
        "lookalikes": look_truth,
        "label_codes": {a.name: int(a) for a in (Artery.BACKGROUND, Artery.LAD, Artery.LCX, Artery.RCA)},
        "lookalike_codes": {c.name: int(c) for c in LookAlike},
    }
    case = PhantomCase(
        volume=volume,
        labels=labels,
        heart_mask=anatomy.heart_mask,
        lookalikes=look,
        truth=truth,
        geometry={"body": body, "heart": heart, "grid": grid},
    )
    if overrides.get("score", True):
        truth["scores"] = true_scores(case)
    return case


def true_scores(case: PhantomCase) -> dict | None:
    """Agatston / volume / mass per artery of the reference labels (:func:`cacscore.scoring.score_volume`)."""
    try:
        from cacscore.scoring import score_volume
    except ImportError:  # the scoring package is not there (yet)
        log.warning("cacscore.scoring.score_volume is not available; truth scores left out")
        return None
    return score_volume(case.volume, case.labels).to_dict()


def _dilate(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=1)


def _add_streaks(image: np.ndarray, grid: Grid, rendered, rng) -> None:
    """Bright and dark streaks radiating from metal in the slices it occupies (beam hardening/photon
    starvation look-alike): amplitude ~ 1/(1 + r/15 mm), a few random angles."""
    box = rendered.box
    ny, nx = grid.shape[1:]
    dy, dx = grid.spacing_zyx_mm[1:]
    angles = rng.uniform(0, np.pi, 6)
    signs = rng.choice([-1.0, 1.0], 6) * rng.uniform(60, 200, 6)
    for kz in range(box[0].start, box[0].stop):
        c = rendered.contribution[kz - box[0].start]
        if c.max() < 800:
            continue
        j, i = np.unravel_index(np.argmax(c), c.shape)
        j += box[1].start
        i += box[2].start
        yy = (np.arange(ny)[:, None] - j) * dy
        xx = (np.arange(nx)[None, :] - i) * dx
        theta = np.arctan2(yy, xx) % np.pi
        r = np.sqrt(yy**2 + xx**2)
        s = np.zeros((ny, nx), np.float32)
        for a, amp in zip(angles, signs, strict=True):
            d = np.minimum(np.abs(theta - a), np.pi - np.abs(theta - a))
            s += amp * np.exp(-((d * r / 1.2) ** 2))
        image[kz] += (s / (1 + r / 15.0)).astype(np.float32)
