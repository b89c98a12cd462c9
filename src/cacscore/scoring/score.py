"""``score_volume``: Agatston, volume and mass scores per lesion, per artery and in total.

Definitions (docs/scoring.md has the full story):

- Calcium voxel: HU >= threshold (130 HU at 120 kVp) and a non-zero label.
- Agatston: sum over slice fragments of area_mm2 x weight(fragment's own peak HU); fragments below
  ``min_area_mm2`` / ``min_voxels`` count in no score. With ``normalise_to_3mm`` the reported score is the raw
  score x increment / 3 mm, the increment being the distance between slice positions
  (``volume.spacing_zyx_mm[0]``), never the slice thickness; the raw score is reported as well.
- Volume: number of counted calcium voxels x voxel volume, the voxel depth being the slice increment (so
  overlapping reconstructions do not inflate it).
- Mass: mean HU x volume (ml) x calibration factor c (mg HA per HU*ml) = c x sum of HU x voxel volume (ml);
  null without a calibration factor.
- Artery of a lesion: the majority label of its voxels (ties: the lowest code). Left main (label 5) is
  reported as ``LM`` when present and ``keep_lm`` is set, else folded into LAD. Label 4 (coronary, artery
  unknown) counts in the total and is reported under ``UNKNOWN`` when present; it is not a vessel for
  CAC-DRS N.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import cacscore
from cacscore.constants import AGATSTON_REFERENCE_INCREMENT_MM, KVP_THRESHOLDS_HU, THRESHOLD_HU_120KVP
from cacscore.errors import CacscoreError
from cacscore.labels import Artery
from cacscore.log import get_logger
from cacscore.scoring.agatston import Fragments, agatston_weight, find_fragments, majority_label
from cacscore.scoring.categories import RiskCategory, cac_drs, risk_category
from cacscore.scoring.settings import ScoringSettings
from cacscore.volume import Volume

log = get_logger(__name__)

#: Tolerance (mm^2) when comparing a fragment's area with ``min_area_mm2`` (4 pixels of 0.5 mm are 1 mm^2).
_AREA_TOLERANCE_MM2 = 1e-9

_REPORT_ORDER = (Artery.LM, Artery.LAD, Artery.LCX, Artery.RCA, Artery.UNKNOWN)


@dataclass(frozen=True)
class Lesion:
    """One scored lesion (a slice fragment in the clinical convention, a 3-D lesion in orCaScore's)."""

    id: int
    artery: Artery
    agatston: float
    agatston_raw: float
    volume_mm3: float
    mass_mg: float | None
    peak_hu: float
    centroid_mm: tuple[float, float, float]
    slices: tuple[int, ...]
    n_voxels: int

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "artery": self.artery.name,
            "agatston": self.agatston,
            "volume_mm3": self.volume_mm3,
            "mass_mg": self.mass_mg,
            "peak_hu": self.peak_hu,
            "centroid_mm": list(self.centroid_mm),
            "slices": list(self.slices),
        }


@dataclass(frozen=True)
class ScoreResult:
    """Scores of one scan. Per-artery dicts are keyed ``"total"`` and artery names (``Artery.name``)."""

    agatston: dict[str, float]
    agatston_raw: dict[str, float]
    volume_mm3: dict[str, float]
    mass_mg: dict[str, float | None]
    risk_category: RiskCategory
    cac_drs: str
    lesions: tuple[Lesion, ...]
    scan: dict
    settings: ScoringSettings
    threshold_hu: int
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """The JSON document of issue 4 (``cacscore score -o``, ``result.json``)."""
        settings = self.settings.to_dict()
        settings["threshold_hu"] = self.threshold_hu
        return {
            "agatston": dict(self.agatston),
            "agatston_raw": dict(self.agatston_raw),
            "volume_mm3": dict(self.volume_mm3),
            "mass_mg": dict(self.mass_mg),
            "risk_category": self.risk_category.to_dict(),
            "cac_drs": self.cac_drs,
            "lesions": [les.to_dict() for les in self.lesions],
            "scan": dict(self.scan, warnings=list(self.warnings)),
            "settings": settings,
            "software": {"name": "cacscore", "version": cacscore.__version__},
        }


def resolve_threshold(
    settings: ScoringSettings, scan_kvp: float | None
) -> tuple[int, float | None, list[str]]:
    """The threshold (HU) to use, the kVp it is for, and warnings.

    An explicit ``settings.threshold_hu`` wins. Otherwise the kVp (``settings.kvp``, else the scan's) is
    looked up in ``constants.KVP_THRESHOLDS_HU``; a scan kVp other than 120 is warned about unless the user
    chose the kVp, and a kVp that is unknown or not in the table falls back to 130 HU with a warning.
    """
    warnings: list[str] = []
    kvp = settings.kvp if settings.kvp is not None else scan_kvp
    if settings.threshold_hu is not None:
        return int(settings.threshold_hu), kvp, warnings
    if kvp is None:
        warnings.append(
            f"the scan's kVp is unknown; using {THRESHOLD_HU_120KVP} HU (the 120 kVp threshold); set the kVp "
            "if the scan was not acquired at 120 kVp"
        )
        return THRESHOLD_HU_120KVP, None, warnings
    key = round(kvp)
    if abs(kvp - key) < 1e-6 and key in KVP_THRESHOLDS_HU:
        threshold = KVP_THRESHOLDS_HU[key]
        if key != 120 and settings.kvp is None:
            warnings.append(
                f"the scan was acquired at {kvp:g} kVp, not 120; using the {threshold} HU threshold for "
                f"{key} kVp (Grani et al. 2018); Agatston's score is defined at 120 kVp"
            )
        return threshold, kvp, warnings
    warnings.append(
        f"no calcium threshold is tabulated for {kvp:g} kVp (table: "
        f"{', '.join(str(k) for k in sorted(KVP_THRESHOLDS_HU))} kVp); using {THRESHOLD_HU_120KVP} HU; "
        "give the threshold explicitly if you know a better one"
    )
    return THRESHOLD_HU_120KVP, kvp, warnings


def check_labels(labels: np.ndarray, volume: Volume) -> np.ndarray:
    """The label volume as int64 after checking shape and codes; raises :class:`CacscoreError`."""
    labels = np.asarray(labels)
    if labels.shape != volume.shape:
        raise CacscoreError(
            f"the label volume has shape {labels.shape} but the scan {volume.shape}; "
            "give the mask made on this scan"
        )
    if labels.dtype.kind == "b":
        raise CacscoreError("the mask is boolean; give artery labels (1 LAD, 2 LCX, 3 RCA, 4 unknown, 5 LM)")
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        raise CacscoreError("the label volume holds non-integer values")
    low, high = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    valid = {int(a) for a in Artery}
    if low < 0 or high > max(valid):
        bad = sorted({low, high} - valid)
    else:
        present = np.flatnonzero(np.bincount(labels.ravel().astype(np.intp, copy=False), minlength=high + 1))
        bad = [int(v) for v in present if int(v) not in valid]
    if bad:
        raise CacscoreError(
            f"label values {bad[:5]} are not artery codes (0 background, "
            + ", ".join(f"{int(a)} {a.name}" for a in Artery if a)
            + ")"
        )
    return labels


def score_volume(volume: Volume, labels: np.ndarray, settings: ScoringSettings | None = None) -> ScoreResult:
    """Score the calcium labelled in ``labels`` (artery codes, same grid as ``volume``).

    Raises:
        CacscoreError: labels of another shape or with codes that are not :class:`Artery` values.
    """
    settings = settings or ScoringSettings()
    labels = check_labels(labels, volume)
    threshold, kvp, warnings = resolve_threshold(settings, volume.info.kvp)
    for w in warnings:
        log.warning(w)
    increment = float(volume.spacing_zyx_mm[0])
    factor = increment / AGATSTON_REFERENCE_INCREMENT_MM if settings.normalise_to_3mm else 1.0
    voxel_mm3 = volume.voxel_volume_mm3
    c = settings.calibration_factor

    lo, hi = _bounding_box(labels > 0)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    hu = volume.hu[box]
    lab = labels[box].astype(np.int64)
    arteries = _reported_arteries(lab, settings)
    if not settings.keep_lm:
        lab[lab == Artery.LM] = int(Artery.LAD)
    frags = find_fragments(hu, (hu >= threshold) & (lab > 0), settings.connectivity, settings.convention)
    lesion_artery = _lesion_arteries(frags, lab)
    frag_artery = lesion_artery[frags.lesion]

    # the counting rule: fragments below the minimum area or voxel count count in no score
    area = frags.n_voxels * volume.pixel_area_mm2
    kept = (area >= settings.min_area_mm2 - _AREA_TOLERANCE_MM2) & (frags.n_voxels >= settings.min_voxels)
    raw = np.where(kept, area * agatston_weight(frags.peak_hu), 0.0)

    def per_artery(values: np.ndarray) -> dict[str, float]:
        """Sum of per-fragment ``values`` in total and per reported artery."""
        out = {"total": float(values.sum())}
        for a in arteries:
            out[a.name] = float(values[frag_artery == a].sum())
        return out

    agatston_raw = per_artery(raw)
    agatston = {k: v * factor for k, v in agatston_raw.items()}
    volume_mm3 = per_artery(np.where(kept, frags.n_voxels, 0) * voxel_mm3)
    if c is None:
        mass_mg: dict[str, float | None] = dict.fromkeys(volume_mm3)
    else:
        mass_mg = dict(per_artery(np.where(kept, frags.sum_hu, 0.0) * voxel_mm3 / 1000.0 * c))
    lesions = _lesions(volume, frags, kept, raw, lesion_artery, hu.shape, lo, factor, voxel_mm3, c)
    return ScoreResult(
        agatston=agatston,
        agatston_raw=agatston_raw,
        volume_mm3=volume_mm3,
        mass_mg=mass_mg,
        risk_category=risk_category(agatston["total"], settings.category_scheme),
        cac_drs=cac_drs(agatston["total"], {k: v for k, v in agatston.items() if k != "total"}),
        lesions=tuple(lesions),
        scan=_scan_record(volume, kvp, factor),
        settings=settings,
        threshold_hu=threshold,
        warnings=tuple(warnings),
    )


def _reported_arteries(labels: np.ndarray, settings: ScoringSettings) -> list[Artery]:
    """The arteries reported, in report order: LAD, LCX and RCA always; LM when kept apart and present;
    UNKNOWN when present. ``labels`` are the codes before the left main is folded into the LAD."""
    return [
        a
        for a in _REPORT_ORDER
        if a in (Artery.LAD, Artery.LCX, Artery.RCA)
        or (a == Artery.LM and settings.keep_lm and bool((labels == Artery.LM).any()))
        or (a == Artery.UNKNOWN and bool((labels == Artery.UNKNOWN).any()))
    ]


def _lesion_arteries(frags: Fragments, labels: np.ndarray) -> np.ndarray:
    """The artery code of each lesion: the majority label of its voxels (ties: the lowest code). A lesion is
    a 3-D lesion (orCaScore) or a slice fragment (clinical: ``frags.lesion`` numbers each fragment alone)."""
    n_lesions = int(frags.lesion.max()) + 1 if frags.lesion.size else 0
    voxel_label = labels.ravel()[frags.voxel_index]
    return majority_label(frags.lesion[frags.voxel_fragment], voxel_label, n_lesions)


def _scan_record(volume: Volume, kvp: float | None, factor: float) -> dict:
    """What the scores were computed on (result.json ``scan``); the increment, not the slice thickness, is
    the voxel depth (logged when the two differ)."""
    increment = float(volume.spacing_zyx_mm[0])
    thickness = volume.info.slice_thickness_mm
    if thickness is not None and abs(thickness - increment) > 1e-3:
        log.info(
            "slice thickness %.2f mm differs from the increment %.2f mm; using the increment",
            thickness,
            increment,
        )
    return {
        "shape_zyx": list(volume.shape),
        "spacing_zyx_mm": list(volume.spacing_zyx_mm),
        "increment_mm": increment,
        "slice_thickness_mm": thickness,
        "kvp": kvp,
        "agatston_normalisation_factor": factor,
    }


def _bounding_box(mask: np.ndarray) -> tuple[list[int], list[int]]:
    """Lower (inclusive) and upper (exclusive) corner of the mask's bounding box; empty box when empty."""
    if not mask.any():
        return [0, 0, 0], [0, 0, 0]
    lo, hi = [], []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        lo.append(int(hit[0]))
        hi.append(int(hit[-1]) + 1)
    return lo, hi


def _lesions(
    volume: Volume,
    frags: Fragments,
    kept: np.ndarray,
    raw: np.ndarray,
    lesion_artery: np.ndarray,
    box_shape: tuple[int, int, int],
    offset: list[int],
    factor: float,
    voxel_mm3: float,
    c: float | None,
) -> list[Lesion]:
    """Lesions with at least one counted fragment, numbered 1.. in scan order (slice, row, column)."""
    n_lesions = len(lesion_artery)
    if not n_lesions or not kept.any():
        return []
    kept_voxel = kept[frags.voxel_fragment]
    vles = frags.lesion[frags.voxel_fragment[kept_voxel]]
    zyx = np.stack(np.unravel_index(frags.voxel_index[kept_voxel], box_shape), axis=1) + np.asarray(offset)
    n_vox = np.bincount(vles, minlength=n_lesions)
    centroid = np.stack([np.bincount(vles, weights=zyx[:, i], minlength=n_lesions) for i in range(3)], axis=1)
    agat = np.bincount(frags.lesion, weights=raw, minlength=n_lesions)
    sum_hu = np.bincount(frags.lesion, weights=np.where(kept, frags.sum_hu, 0.0), minlength=n_lesions)
    peak = np.full(n_lesions, -np.inf)
    np.maximum.at(peak, frags.lesion[kept], frags.peak_hu[kept])
    slices: dict[int, set[int]] = {}
    kept_z = (frags.slice_index[kept] + offset[0]).tolist()
    for les, z in zip(frags.lesion[kept].tolist(), kept_z, strict=True):
        slices.setdefault(les, set()).add(z)
    order = sorted(slices, key=lambda k: tuple(centroid[k] / n_vox[k]))
    order = sorted(order, key=lambda k: min(slices[k]))
    out = []
    for new_id, k in enumerate(order, start=1):
        centre = volume.index_to_physical(centroid[k] / n_vox[k])
        out.append(
            Lesion(
                id=new_id,
                artery=Artery(int(lesion_artery[k])),
                agatston=float(agat[k] * factor),
                agatston_raw=float(agat[k]),
                volume_mm3=float(n_vox[k] * voxel_mm3),
                mass_mg=None if c is None else float(sum_hu[k] * voxel_mm3 / 1000.0 * c),
                peak_hu=float(peak[k]),
                centroid_mm=tuple(float(x) for x in centre),
                slices=tuple(sorted(slices[k])),
                n_voxels=int(n_vox[k]),
            )
        )
    return out
