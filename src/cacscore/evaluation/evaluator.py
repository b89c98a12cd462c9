"""Accumulating evaluation over cases (MONAI's ``compute_dice`` / ``DiceMetric`` pattern).

``Evaluator.add(case_id, pred_labels, ref_labels, volume)`` scores both label volumes with the same
:class:`~cacscore.scoring.ScoringSettings`, counts lesions by the orCaScore rules
(:mod:`cacscore.evaluation.lesions`) and keeps one row per case; ``summary()`` pools the lesion counts
(per artery and overall) and computes the patient-level agreement (ICC(2,1), Bland-Altman, risk-category
confusion matrix and linearly weighted kappa).
"""

from __future__ import annotations

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.evaluation.agreement import bland_altman, category_agreement, icc_2_1
from cacscore.evaluation.lesions import LesionCounts, lesion_counts
from cacscore.log import get_logger
from cacscore.scoring import ScoringSettings, category_labels, score_volume
from cacscore.volume import Volume

log = get_logger(__name__)


class Evaluator:
    """Collects cases and summarises them.

    Args:
        settings: how both prediction and reference are scored (threshold, minimum area, ...). The
            lesion rules use the same threshold.
        keep_lm: count the left main (5) apart from LAD; default False folds it into LAD as orCaScore does.
    """

    def __init__(self, settings: ScoringSettings | None = None, keep_lm: bool = False) -> None:
        self.settings = (settings or ScoringSettings()).with_(keep_lm=keep_lm)
        self.keep_lm = keep_lm
        self.rows: list[dict] = []
        self._counts: dict[str, LesionCounts] = {}

    def add(self, case_id: str, pred_labels: np.ndarray, ref_labels: np.ndarray, volume: Volume) -> dict:
        """Evaluate one case; returns its row (also kept in ``rows``)."""
        if any(row["case_id"] == case_id for row in self.rows):
            raise CacscoreError(f"case {case_id!r} was added twice")
        pred_score = score_volume(volume, pred_labels, self.settings)
        # the same threshold for the reference (resolved once, so a kVp warning is logged once)
        ref_score = score_volume(
            volume, ref_labels, self.settings.with_(threshold_hu=pred_score.threshold_hu)
        )
        counts = lesion_counts(
            np.asarray(pred_labels),
            np.asarray(ref_labels),
            volume.hu,
            pred_score.threshold_hu,
            volume.voxel_volume_mm3,
            keep_lm=self.keep_lm,
        )
        for key, c in counts.items():
            self._counts.setdefault(key, LesionCounts())
            self._counts[key] += c
        overall = counts["overall"]
        row = {
            "case_id": case_id,
            "agatston_pred": pred_score.agatston["total"],
            "agatston_ref": ref_score.agatston["total"],
            "volume_mm3_pred": pred_score.volume_mm3["total"],
            "volume_mm3_ref": ref_score.volume_mm3["total"],
            "category_pred": pred_score.risk_category.label,
            "category_ref": ref_score.risk_category.label,
            "category_index_pred": pred_score.risk_category.index,
            "category_index_ref": ref_score.risk_category.index,
            "tp": overall.tp,
            "fn": overall.fn,
            "fp": overall.fp,
            "tp_mm3": overall.tp_mm3,
            "fn_mm3": overall.fn_mm3,
            "fp_mm3": overall.fp_mm3,
            "threshold_hu": pred_score.threshold_hu,
            "warnings": "; ".join(pred_score.warnings),
            "lesions_by_artery": {k: vars(v).copy() for k, v in counts.items()},
        }
        self.rows.append(row)
        return row

    def summary(self) -> dict:
        """Pooled lesion metrics and patient-level agreement over every case added."""
        n = len(self.rows)
        lesion = {k: c.metrics(n_scans=n) for k, c in self._counts.items()}
        patient: dict = {}
        for key in ("agatston", "volume_mm3"):
            pred = [r[f"{key}_pred"] for r in self.rows]
            ref = [r[f"{key}_ref"] for r in self.rows]
            patient[key] = {
                "icc_2_1": icc_2_1(np.column_stack([ref, pred])).to_dict() if n else None,
                "bland_altman": bland_altman(pred, ref).to_dict(),
            }
        labels = category_labels(self.settings.category_scheme)
        agreement = category_agreement(
            [r["category_index_pred"] for r in self.rows],
            [r["category_index_ref"] for r in self.rows],
            labels,
        )
        patient["risk_category"] = dict(agreement.to_dict(), scheme=self.settings.category_scheme)
        settings = self.settings.to_dict()
        return {
            "n_cases": n,
            "lesion": lesion,
            "patient": patient,
            "settings": settings,
            "rules": "orCaScore lesion rules as documented in cacscore.evaluation.lesions / docs/scoring.md",
        }
