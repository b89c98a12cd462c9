"""Scoring settings (one frozen dataclass) and the named vendor presets.

Sources for the presets: ../shared/reference/calcium-scoring.md (vendor minimum lesion sizes: Siemens 0,
Philips 0.5 mm2, Canon 3 voxels, GE 1 mm2) and Wolterink et al., Med Phys 2016 (orCaScore lesions:
3-D 6-connected groups of voxels above 130 HU). Vendors do not publish their in-plane connectivity; every
vendor preset uses 8-connectivity, the choice that reproduces the published FQM scores of the real QRM
phantom scan exactly (docs/scoring.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from cacscore.constants import RISK_CATEGORY_SCHEMES
from cacscore.errors import CacscoreError

Convention = Literal["clinical", "orcascore"]
CONVENTIONS: tuple[str, ...] = ("clinical", "orcascore")


@dataclass(frozen=True)
class ScoringSettings:
    """How calcium is scored.

    Attributes:
        kvp: tube voltage (kV) to choose the threshold for; ``None`` reads it from the scan
            (``volume.info.kvp``) and warns when it is not 120 kVp.
        threshold_hu: calcium threshold (HU, a voxel is calcium when HU >= it); ``None`` takes it from the
            kVp table (``constants.KVP_THRESHOLDS_HU``; 130 HU at 120 kVp).
        min_area_mm2: a slice fragment smaller than this area (mm^2) is not counted (not in any score).
        min_voxels: a slice fragment with fewer pixels than this is not counted (Canon's "3 voxels" rule);
            both minimums apply.
        connectivity: in-plane connectivity of slice fragments, 4 or 8.
        convention: "clinical" (2-D regions per slice are the lesions, each assigned whole to its majority
            artery) or "orcascore" (3-D 6-connected lesions with the majority artery label; each of their
            per-slice fragments is weighted by its own peak).
        normalise_to_3mm: report Agatston scaled by increment / 3 mm (the raw score is reported too).
        keep_lm: report the left main (label LM) on its own when the labels hold it; False folds it into LAD.
        category_scheme: name in ``constants.RISK_CATEGORY_SCHEMES``.
        calibration_factor: mass calibration factor c (mg HA per HU*ml); ``None`` leaves the mass score null.
    """

    kvp: float | None = None
    threshold_hu: int | None = None
    min_area_mm2: float = 1.0
    min_voxels: int = 0
    connectivity: int = 8
    convention: Convention = "clinical"
    normalise_to_3mm: bool = True
    keep_lm: bool = True
    category_scheme: str = "agatston5"
    calibration_factor: float | None = None

    def __post_init__(self) -> None:
        if self.connectivity not in (4, 8):
            raise CacscoreError(f"connectivity must be 4 or 8, not {self.connectivity}")
        if self.convention not in CONVENTIONS:
            choices = ", ".join(CONVENTIONS)
            raise CacscoreError(f"convention must be one of {choices}, not {self.convention!r}")
        if self.min_area_mm2 < 0 or self.min_voxels < 0:
            raise CacscoreError("min_area_mm2 and min_voxels must be >= 0")
        if self.category_scheme not in RISK_CATEGORY_SCHEMES:
            raise CacscoreError(
                f"unknown category scheme {self.category_scheme!r}; "
                f"choose one of {', '.join(RISK_CATEGORY_SCHEMES)}"
            )
        if self.calibration_factor is not None and not self.calibration_factor > 0:
            raise CacscoreError(
                f"the calibration factor must be > 0 mg/(HU*ml), not {self.calibration_factor}"
            )
        if self.kvp is not None and not self.kvp > 0:
            raise CacscoreError(f"kVp must be > 0, not {self.kvp}")

    def with_(self, **changes: object) -> ScoringSettings:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        """The settings as a JSON-able dict."""
        return asdict(self)


#: Named presets. "default" = Agatston's definition with a 1 mm^2 minimum area and 8-connectivity.
SCORING_PRESETS: dict[str, ScoringSettings] = {
    "default": ScoringSettings(),
    "siemens": ScoringSettings(min_area_mm2=0.0),
    "philips": ScoringSettings(min_area_mm2=0.5),
    "canon": ScoringSettings(min_area_mm2=0.0, min_voxels=3),
    "ge": ScoringSettings(min_area_mm2=1.0),
    "orcascore": ScoringSettings(min_area_mm2=0.0, connectivity=4, convention="orcascore", keep_lm=False),
}


def get_preset(name: str) -> ScoringSettings:
    """The preset called ``name``; a :class:`CacscoreError` lists the choices otherwise."""
    try:
        return SCORING_PRESETS[name]
    except KeyError:
        choices = ", ".join(SCORING_PRESETS)
        raise CacscoreError(f"unknown scoring preset {name!r}; choose one of {choices}") from None
