"""``generate_case``: one synthetic non-contrast CT (ECG-gated calcium scoring or non-gated chest) with
exact ground truth.

Steps: draw the patient's thorax (:mod:`cacscore.phantom.anatomy`) and the acquisition
(:mod:`cacscore.phantom.acquisition`); paint the anatomy on the scan grid and blur it; render the coronary
lesions and the look-alikes supersampled; add noise; name every bright voxel (:mod:`cacscore.phantom.truth`).
Randomness comes from one seed through five independent generators (anatomy, lesions, look-alikes, noise,
acquisition), so changing the scanner keeps the patient and changing the patient keeps the scanner.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.phantom.acquisition import Acquisition, draw_acquisition, make_grid
from cacscore.phantom.anatomy import Thorax, build_thorax, paint_anatomy
from cacscore.phantom.grid import Grid
from cacscore.phantom.imaging import blur_anatomy, correlated_noise, motion_blur_region, render_object
from cacscore.phantom.lesions import draw_category, plan_lesions
from cacscore.phantom.lookalikes import CalcObject, LookAlike, plan_lookalikes
from cacscore.phantom.presets import AcquisitionPreset, get_preset
from cacscore.phantom.truth import label_codes, name_bright_voxels
from cacscore.volume import ScanInfo, Volume

log = get_logger(__name__)

#: A voxel belongs to an object's footprint when the object raises its blurred HU by at least this much.
FOOTPRINT_MIN_HU: float = 15.0
#: Highest HU stored (12-bit CT range with the -1024 offset).
MAX_HU: int = 3071
#: Keys ``generate_case`` accepts as overrides.
OVERRIDES = (
    "category",
    "fov_mm",
    "noise_sd_hu",
    "n_slices",
    "lookalikes",
    "metal",
    "score",
    "protocol",
    "gated",
    "slice_thickness_mm",
    "slice_increment_mm",
)


@dataclass
class PhantomCase:
    """A generated scan and its ground truth.

    Attributes:
        volume: the CT volume (float32 HU, integer-valued).
        labels: uint8 orCaScore codes (Artery: 0, 1 LAD incl. LM, 2 LCX, 3 RCA), coronary calcium only.
        heart_mask: bool, the pericardial sac with the coronaries and the aortic root.
        lookalikes: uint8 :class:`LookAlike` codes of every non-coronary voxel >= 130 HU.
        truth: JSON-able dict: acquisition, patient, lesions, dropped lesions, look-alikes, scores.
        tissues: uint8 :class:`cacscore.phantom.tissues.Tissue` map of the sharp anatomy (what each voxel is).
    """

    volume: Volume
    labels: np.ndarray
    heart_mask: np.ndarray
    lookalikes: np.ndarray
    truth: dict = field(default_factory=dict)
    tissues: np.ndarray | None = None
    #: The drawn geometry ("thorax", "heart", "grid", "acquisition"), for tests and figures; not truth.
    geometry: dict = field(default_factory=dict, repr=False)


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
        vendor: a key of :data:`cacscore.phantom.presets.ACQUISITION_PRESETS` (the four vendor presets,
            gated calcium-scoring protocols, or "random": every acquisition parameter drawn) or a preset.
        **overrides: ``category`` (target risk category 0..4: 0, 1-10, 11-100, 101-400, >400),
            ``protocol`` ("gated" or "chest"), ``gated`` (bool; default: protocol == "gated"),
            ``slice_thickness_mm``, ``slice_increment_mm``, ``fov_mm``, ``noise_sd_hu`` (blood-pool noise
            SD), ``n_slices``, ``lookalikes`` (False: none), ``metal`` (True/False; default drawn, ~8 %),
            ``score`` (False: skip the truth scores).

    Returns:
        a :class:`PhantomCase`.
    """
    unknown = set(overrides) - set(OVERRIDES)
    if unknown:
        raise CacscoreError(f"unknown phantom option(s) {sorted(unknown)}; known: {', '.join(OVERRIDES)}")
    preset = get_preset(vendor)
    r_anat, r_les, r_look, r_noise, r_acq = _streams(seed)
    category = overrides.get("category")
    category = draw_category(r_les) if category is None else int(category)
    if not 0 <= category <= 4:
        raise CacscoreError(f"category must be 0..4 (0, 1-10, 11-100, 101-400, >400), not {category}")

    thorax = build_thorax(r_anat)
    acq = draw_acquisition(r_acq, preset, overrides)
    grid = make_grid(r_acq, acq, thorax, overrides.get("n_slices"), isinstance(preset, AcquisitionPreset))
    anatomy = paint_anatomy(grid, thorax, r_anat)
    tissue, organ_mask = anatomy.tissue, anatomy.heart_mask
    image = blur_anatomy(anatomy.hu, grid, acq)
    del anatomy  # the sharp image is no longer needed
    if not acq.gated:
        motion_blur_region(image, grid, organ_mask, acq.motion_mm)

    h = thorax.patient.hu
    lesions = plan_lesions(r_les, thorax.heart, category, h.blood + 0.5 * (h.soft_tissue - h.blood))
    owner, rendered = _render_lesions(image, grid, acq, lesions, r_les)
    objects = np.zeros(grid.shape, np.uint8)
    look_truth = []
    if overrides.get("lookalikes", True):
        z_axis = grid.axis_mm(0)
        planned = plan_lookalikes(
            r_look, thorax, category, (float(z_axis[0]), float(z_axis[-1])), overrides.get("metal")
        )
        look_truth = _render_lookalikes(image, grid, acq, planned, owner >= 0, objects, r_look)
    image, sd = _add_noise(image, grid, acq, thorax, r_noise)
    if overrides.get("lookalikes", True):
        _add_noise_spikes(image, grid, owner >= 0, objects, r_look)
    image = _finish(image, grid, acq)

    labels, lesion_truth, dropped = _label_lesions(image, owner, lesions, rendered, organ_mask)
    volume = Volume(
        hu=image,
        spacing_zyx_mm=grid.spacing_zyx_mm,
        origin_xyz_mm=grid.origin_xyz_mm,
        info=_scan_info(acq, seed),
    )
    truth = {
        "generator": "cacscore.phantom",
        "seed": int(seed),
        "vendor": acq.preset,
        "acquisition": _acquisition_truth(acq, grid, sd),
        "patient": _patient_truth(thorax, category),
        "lesions": lesion_truth,
        "dropped_lesions": dropped,
        "lookalikes": look_truth,
        **label_codes(),
    }
    case = PhantomCase(
        volume=volume,
        labels=labels,
        heart_mask=organ_mask | (labels > 0),
        lookalikes=name_bright_voxels(image, tissue, objects, labels > 0, grid.spacing_zyx_mm[1]),
        truth=truth,
        tissues=tissue,
        geometry={"thorax": thorax, "heart": thorax.heart, "grid": grid, "acquisition": acq},
    )
    if overrides.get("score", True):
        truth["scores"] = true_scores(case)
    return case


def _add_noise(image, grid: Grid, acq: Acquisition, thorax: Thorax, rng) -> tuple[np.ndarray, float]:
    """Add the acquisition's noise, scaled up for bigger patients (more attenuation, fewer photons)."""
    p = thorax.patient
    body_mm = p.cavity_semi_x_mm + p.cage_mm + p.fat_mm + 10
    sd = min(acq.noise_sd_hu * float(np.clip(body_mm / 160, 0.85, 1.2)), 65.0)
    image += correlated_noise(rng, grid, acq, sd)
    return image, sd


def _finish(image, grid: Grid, acq: Acquisition) -> np.ndarray:
    """Integer HU in the 12-bit range; outside the circular reconstruction field the scanner's fill value."""
    image = np.clip(np.rint(image), -1024, MAX_HU).astype(np.float32)
    yy, xx = np.ogrid[: grid.shape[1], : grid.shape[2]]
    image[:, (yy - 255.5) ** 2 + (xx - 255.5) ** 2 > 256.0**2] = acq.outside_fov_hu
    return image


def _render_lesions(image, grid: Grid, acq: Acquisition, lesions: list[CalcObject], rng):
    """Add every lesion to ``image``; the owner (lesion index) of each footprint voxel (-1 elsewhere)."""
    best = np.zeros(grid.shape, np.float32)
    owner = np.full(grid.shape, -1, np.int16)
    rendered = []
    for i, les in enumerate(lesions):
        r = render_object(grid, les.ellipsoids, les.background_hu, acq, _motion(rng, acq, les))
        rendered.append(r)
        if r is None:
            continue
        image[r.box] += r.contribution
        sub_best, sub_owner = best[r.box], owner[r.box]
        take = (r.contribution >= FOOTPRINT_MIN_HU) & (r.contribution > sub_best)
        sub_best[take] = r.contribution[take]
        sub_owner[take] = i
    return owner, rendered


def _motion(rng, acq: Acquisition, les: CalcObject):
    """A non-gated scan sees a coronary plaque at two or three positions along its path of motion (the
    RCA moves most): copies ``motion_mm`` apart, weights summing to 1."""
    if acq.gated or acq.motion_mm <= 0:
        return None
    amp = acq.motion_mm * (1.5 if les.info.get("artery") == "RCA" else 1.0) * rng.uniform(0.6, 1.0)
    d = rng.normal(0, 1, 3)
    d[2] *= 0.4
    d /= np.linalg.norm(d)
    w = rng.uniform(0.3, 0.7)
    return [(-d * amp / 2, w), (d * amp / 2, 1 - w)]


def _render_lookalikes(image, grid, acq, planned, footprint, objects, rng) -> list[dict]:
    """Add the look-alike objects that do not touch a lesion's footprint; their codes go into ``objects``."""
    out = []
    for obj in planned:
        metal = obj.kind == LookAlike.METAL.name
        r = render_object(
            grid, obj.ellipsoids, obj.background_hu, acq, sample_mm=(0.3, 0.6) if metal else (0.12, 0.3)
        )
        if r is None:
            continue
        fp = r.contribution >= FOOTPRINT_MIN_HU
        if (fp & footprint[r.box]).any():
            continue
        image[r.box] += r.contribution
        code = LookAlike[obj.kind]
        objects[r.box][fp] = code
        if code == LookAlike.METAL:
            _add_streaks(image, grid, r, rng)
        out.append({"kind": obj.kind, **obj.info})
    return out


def _add_noise_spikes(image, grid, footprint, objects, rng) -> None:
    """A few isolated bright voxels in soft tissue, away from lesions (detector or reconstruction spikes)."""
    for _ in range(int(rng.integers(0, 5))):
        k, j, i = (int(rng.integers(0, n)) for n in grid.shape)
        if footprint[max(k - 1, 0) : k + 2, max(j - 3, 0) : j + 4, max(i - 3, 0) : i + 4].any():
            continue
        if not -150 < image[k, j, i] < 120:
            continue
        image[k, j, i] += float(rng.uniform(150, 350))
        objects[k, j, i] = LookAlike.NOISE_SPIKE


def _label_lesions(image, owner, lesions, rendered, heart_mask):
    """Reference labels (orCaScore codes) and the truth entries of the visible and the dropped lesions."""
    calcium = image >= THRESHOLD_HU_120KVP
    labelled = (owner >= 0) & calcium
    codes = np.array([int(les.artery) for les in lesions] + [0], np.uint8)
    labels = np.zeros(image.shape, np.uint8)
    labels[labelled] = codes[owner[labelled]]
    lesion_truth, dropped = [], []
    for i, les in enumerate(lesions):
        r = rendered[i]
        n_vox = int(np.count_nonzero(labelled[r.box] & (owner[r.box] == i))) if r is not None else 0
        entry = {"id": i + 1, **les.info, "voxels_at_or_above_threshold": n_vox}
        if n_vox:
            entry["peak_image_hu"] = float(image[r.box][owner[r.box] == i].max())
            entry["inside_heart_mask"] = bool(
                np.all(heart_mask[r.box][labelled[r.box] & (owner[r.box] == i)])
            )
            lesion_truth.append(entry)
        else:
            entry["reason"] = "no voxel >= 130 HU after partial volume and noise (not visible; not labelled)"
            dropped.append(entry)
    return labels, lesion_truth, dropped


def _acquisition_truth(acq: Acquisition, grid: Grid, sd: float) -> dict:
    return {
        **acq.to_dict(),
        "pixel_spacing_mm": grid.spacing_zyx_mm[1],
        "shape_zyx": list(grid.shape),
        "noise_sd_hu": round(sd, 2),  # the noise this patient's size gave the preset's level
    }


def _patient_truth(thorax: Thorax, category: int) -> dict:
    p, heart = thorax.patient, thorax.heart
    return {
        "age_years": round(p.age_years, 1),
        "sex": "F" if p.female else "M",
        "adiposity": round(p.adiposity, 3),
        "thorax_width_mm": round(2 * p.cavity_semi_x_mm, 1),
        "thorax_depth_mm": round(p.cavity_semi_y_ant_mm + p.cavity_semi_y_post_mm, 1),
        "subcutaneous_fat_mm": round(p.fat_mm, 1),
        "breast_mm": round(p.breast_mm, 1),
        "tissue_hu": {k: round(v, 1) for k, v in asdict(p.hu).items()},
        "retrosternal_fat_mm": round(thorax.retrosternal_fat_mm, 1),
        "epicardial_fat_mm": round(heart.epicardial_fat_mm, 2),
        "coronary_fat_mm": {
            a: {"gap": round(g, 2), "sleeve": round(s, 2)} for a, (g, s) in heart.coronary_fat.items()
        },
        "heart_centre_xyz_mm": [round(float(c), 1) for c in heart.centre],
        "costal_cartilages_calcified": len(thorax.ribcage.calcifications),
        "target_category": category,
    }


def _scan_info(acq: Acquisition, seed: int) -> ScanInfo:
    kind = "Calcium Score" if acq.protocol == "gated" else "Chest"
    return ScanInfo(
        modality="CT",
        kvp=acq.kvp,
        slice_thickness_mm=acq.slice_thickness_mm,
        slice_increment_mm=acq.slice_increment_mm,
        manufacturer=acq.manufacturer,
        model=acq.model,
        kernel=acq.kernel,
        series_description=f"{kind} {acq.slice_thickness_mm:g} mm (cacscore phantom)",
        source=f"cacscore phantom seed={seed} vendor={acq.preset}",
    )


def true_scores(case: PhantomCase) -> dict | None:
    """Agatston / volume / mass per artery of the reference labels (:func:`cacscore.scoring.score_volume`)."""
    from cacscore.scoring import score_volume

    return score_volume(case.volume, case.labels).to_dict()


def _add_streaks(image: np.ndarray, grid: Grid, rendered, rng) -> None:
    """Bright and dark streaks radiating from metal in the slices it occupies (beam hardening/photon
    starvation look-alike): amplitude ~ 1/(1 + r/15 mm), a few random angles; the pattern is smooth, so
    it is computed on every second pixel and repeated."""
    box = rendered.box
    ny, nx = grid.shape[1:]
    dy, dx = grid.spacing_zyx_mm[1:]
    angles = rng.uniform(0, np.pi, 6)
    signs = rng.choice([-1.0, 1.0], 6) * rng.uniform(60, 200, 6)
    rows = np.arange(0, ny, 2)[:, None]
    cols = np.arange(0, nx, 2)[None, :]
    for kz in range(box[0].start, box[0].stop):
        c = rendered.contribution[kz - box[0].start]
        if c.max() < 800:
            continue
        j, i = np.unravel_index(np.argmax(c), c.shape)
        yy = (rows - (j + box[1].start)) * dy
        xx = (cols - (i + box[2].start)) * dx
        theta = np.arctan2(yy, xx) % np.pi
        r = np.sqrt(yy**2 + xx**2)
        s = np.zeros(r.shape, np.float32)
        for a, amp in zip(angles, signs, strict=True):
            d = np.minimum(np.abs(theta - a), np.pi - np.abs(theta - a))
            s += amp * np.exp(-((d * r / 1.2) ** 2))
        s /= 1 + r / 15.0
        image[kz] += np.repeat(np.repeat(s, 2, axis=0), 2, axis=1)[:ny, :nx]
