"""Calcium scoring: Agatston (per slice fragment), volume and mass scores per lesion, artery and total;
risk categories and CAC-DRS. See docs/scoring.md for every definition and choice.
"""

from cacscore.scoring.agatston import agatston_weight
from cacscore.scoring.calibration import calibration_factor
from cacscore.scoring.categories import CAC_DRS_VESSELS, RiskCategory, cac_drs, category_labels, risk_category
from cacscore.scoring.score import Lesion, ScoreResult, resolve_threshold, score_volume
from cacscore.scoring.settings import CONVENTIONS, SCORING_PRESETS, ScoringSettings, get_preset
from cacscore.scoring.table import score_table

__all__ = [
    "CAC_DRS_VESSELS",
    "CONVENTIONS",
    "SCORING_PRESETS",
    "Lesion",
    "RiskCategory",
    "ScoreResult",
    "ScoringSettings",
    "agatston_weight",
    "cac_drs",
    "calibration_factor",
    "category_labels",
    "get_preset",
    "resolve_threshold",
    "risk_category",
    "score_table",
    "score_volume",
]
