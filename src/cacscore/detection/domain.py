"""Out-of-domain check: does a scan look like the scans the model was trained on?

A classifier trained on one kind of scan can be confidently wrong on another. The model folder records,
from its training scans, the range of each scan measure (slice increment, pixel size, noise, soft-tissue
and fat HU) and of each candidate descriptor (smallest and largest over all training candidates).
:func:`check_domain` compares a new scan with them and says in words a clinician reads what is unusual:
a scan measure outside its range (with a tolerance), more than :data:`MAX_UNUSUAL_SHARE` of the
candidates with a descriptor outside its range (by more than :data:`DESCRIPTOR_MARGIN` of the range), or
any such candidate called coronary. With thousands of training candidates a candidate like them falls
outside one of the 24 ranges about once in a hundred. It never changes a label; it warns.

Apart from the training domain, :func:`noise_warning` says when a scan is too noisy for a fixed-threshold
score, whatever the model learned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cacscore.detection.descriptors import DESCRIPTOR_NAMES, TissueReference
from cacscore.volume import Volume

#: Scan measures: key -> (words for a reader, unit, how far outside the training range still counts as
#: inside, as a fraction of that range's upper end).
SCAN_MEASURES: dict[str, tuple[str, str, float]] = {
    "slice_increment_mm": ("slice spacing", "mm", 0.1),
    "pixel_mm": ("pixel size", "mm", 0.1),
    "noise_sd_hu": ("image noise", "HU", 0.15),
    "soft_hu": ("soft-tissue density", "HU", 0.25),
    "fat_hu": ("fat density", "HU", 0.25),
}

#: Descriptor groups named for a reader (the column prefixes of DESCRIPTOR_NAMES they cover).
DESCRIPTOR_GROUPS: dict[str, tuple[str, ...]] = {
    "density": ("peak_hu", "mean_hu", "peak_over_noise"),
    "size or shape": ("log_volume", "log_max_area", "z_extent", "log_length", "log_elongation"),
    "nearness to bone": ("log_structure", "structure_outside", "bone_distance", "in_bone", "rib_cage"),
    "surrounding tissue": ("air_", "fat_", "bright_"),
    "position in the heart": ("offset_",),
}

#: Image noise (HU; :class:`TissueReference` noise_sd_hu, measured in the heart region) above which a
#: scan's score is flagged. At the 130 HU threshold noise of this size makes calcium-like specks by the
#: hundred: on the phantom cohort of 40 random acquisitions (docs/results.md, cohort c; model v3) the
#: 25 scans measuring up to 35 HU had 0.32 false-positive lesions per scan, the 15 above 10;
#: the phantom's gated vendor presets draw 16-42 HU, the two real chest CTs measure 7 and 11 HU.
#: The measure reads low on very noisy scans (it takes pixels of -30..130 HU, which truncates the noise:
#: 60 HU reads about 41).
NOISY_SCAN_HU = 35.0

#: Share of candidates with a descriptor outside the training range above which the scan is flagged.
MAX_UNUSUAL_SHARE = 0.25
#: How far (a fraction of the training range) a descriptor may lie beyond it before it counts as outside.
DESCRIPTOR_MARGIN = 0.05


def scan_measures(volume: Volume, reference: TissueReference) -> dict[str, float]:
    """The scan measures of :data:`SCAN_MEASURES` for one scan."""
    sz, sy, sx = volume.spacing_zyx_mm
    return {"slice_increment_mm": float(sz), "pixel_mm": float(np.sqrt(sy * sx)),
            "noise_sd_hu": reference.noise_sd_hu, "soft_hu": reference.soft_hu, "fat_hu": reference.fat_hu}


@dataclass(frozen=True)
class TrainingDomain:
    """What the training scans covered (recorded in the model folder's config.json as ``domain``).

    Attributes:
        scan_ranges: scan measure -> (min, max) over the training scans.
        descriptor_ranges: (F, 2) smallest and largest value of each descriptor over the training
            candidates.
        descriptor_names: the descriptor columns.
    """

    scan_ranges: dict[str, tuple[float, float]]
    descriptor_ranges: np.ndarray
    descriptor_names: tuple[str, ...] = DESCRIPTOR_NAMES

    @classmethod
    def fit(cls, scans: Sequence[dict[str, float]], descriptors: np.ndarray) -> TrainingDomain:
        """The domain of training ``scans`` (their :func:`scan_measures`) and candidate ``descriptors``."""
        ranges = {key: (float(min(s[key] for s in scans)), float(max(s[key] for s in scans)))
                  for key in SCAN_MEASURES}
        d = np.asarray(descriptors, float)
        empty = np.zeros((len(DESCRIPTOR_NAMES), 2))
        bounds = np.stack([d.min(axis=0), d.max(axis=0)], axis=1) if len(d) else empty
        return cls(ranges, bounds)

    def to_dict(self) -> dict[str, Any]:
        return {"scan_ranges": {k: [round(v, 4) for v in r] for k, r in self.scan_ranges.items()},
                "descriptor_ranges": {n: [round(float(a), 4), round(float(b), 4)]
                                      for n, (a, b) in zip(self.descriptor_names, self.descriptor_ranges,
                                                           strict=True)}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingDomain:
        names = tuple(data["descriptor_ranges"])
        return cls({k: (float(a), float(b)) for k, (a, b) in data["scan_ranges"].items()},
                   np.array([data["descriptor_ranges"][n] for n in names], float), names)


@dataclass(frozen=True)
class DomainCheck:
    """The verdict on one scan.

    Attributes:
        in_domain: False when a scan measure lies outside the training range or too many candidates are
            unlike the training candidates.
        reasons: one phrase per finding, for the warning.
        unusual_candidates: indices (into the candidate set) of candidates with a descriptor outside the
            training range.
        measures: the scan's own measures.
    """

    in_domain: bool
    reasons: tuple[str, ...]
    unusual_candidates: tuple[int, ...] = ()
    measures: dict[str, float] = field(default_factory=dict)

    def warning(self) -> str | None:
        """The warning for result.json and the report, or None when the scan is in the domain."""
        if self.in_domain:
            return None
        return ("This scan differs from the scans the calcium classifier learned from ("
                + "; ".join(self.reasons) + "). Its automatic result may be wrong: check every "
                "calcification marked in the report, and the ones not marked, before using the score.")

    def to_dict(self) -> dict[str, Any]:
        return {"in_domain": self.in_domain, "reasons": list(self.reasons),
                "unusual_candidates": len(self.unusual_candidates),
                "measures": {k: round(v, 2) for k, v in self.measures.items()}}


def check_domain(
    domain: TrainingDomain, measures: dict[str, float], descriptors: np.ndarray, coronary: np.ndarray
) -> DomainCheck:
    """Compare one scan (its :func:`scan_measures` and candidate ``descriptors``; ``coronary`` marks the
    candidates called coronary) with the training domain."""
    reasons = []
    for key, (words, unit, tolerance) in SCAN_MEASURES.items():
        lo, hi = domain.scan_ranges[key]
        slack = tolerance * max(abs(lo), abs(hi))
        value = measures[key]
        if not lo - slack <= value <= hi + slack:
            reasons.append(f"{words} {value:.3g} {unit}, training scans {lo:.3g} to {hi:.3g} {unit}")
    d = np.asarray(descriptors, float)
    unusual: tuple[int, ...] = ()
    if len(d):
        lo, hi = domain.descriptor_ranges[:, 0], domain.descriptor_ranges[:, 1]
        margin = DESCRIPTOR_MARGIN * (hi - lo)
        outside = (d < lo - margin) | (d > hi + margin)
        unusual = tuple(int(i) for i in np.flatnonzero(outside.any(axis=1)))
        share = len(unusual) / len(d)
        unusual_coronary = [i for i in unusual if coronary[i]]
        if share > MAX_UNUSUAL_SHARE or unusual_coronary:
            groups = _groups(outside[list(unusual)].any(axis=0), domain.descriptor_names)
            what = f"{len(unusual)} of {len(d)} calcium candidates unlike any seen in training ({groups})"
            if unusual_coronary:
                what += f", {len(unusual_coronary)} of them called coronary"
            reasons.append(what)
    return DomainCheck(not reasons, tuple(reasons), unusual, dict(measures))


def noise_warning(reference: TissueReference) -> str | None:
    """The warning for a scan whose image noise exceeds :data:`NOISY_SCAN_HU`, or None."""
    if reference.noise_sd_hu <= NOISY_SCAN_HU:
        return None
    return (f"The image is noisy (noise {reference.noise_sd_hu:.0f} HU in the heart region; calcium scoring "
            f"is reliable up to about {NOISY_SCAN_HU:.0f} HU): at the 130 HU threshold noise forms specks "
            "that look like small calcifications, so small lesions may be noise and the score may be too "
            "high. Check the small marked calcifications, or use a smoother (softer kernel or thicker) "
            "reconstruction.")


def _groups(columns: np.ndarray, names: Sequence[str]) -> str:
    """The reader's names of the descriptor groups that ``columns`` (bool per descriptor) touch."""
    hit = [group for group, prefixes in DESCRIPTOR_GROUPS.items()
           if any(c and n.startswith(prefixes) for c, n in zip(columns, names, strict=True))]
    return ", ".join(hit) or "their measures"
