"""Evaluation against a reference: orCaScore lesion rules and patient-level agreement.

Lesion level (:mod:`~cacscore.evaluation.lesions`): TP/FN/FP by count and volume, sensitivity, PPV, F1,
false positives per scan, per artery and overall. Patient level (:mod:`~cacscore.evaluation.agreement`):
ICC(2,1), Bland-Altman, risk-category confusion matrix and linearly weighted kappa. The accumulating
:class:`Evaluator` combines them; :mod:`~cacscore.evaluation.report` writes what ``cacscore evaluate`` gives.
"""

from cacscore.evaluation.agreement import (
    BlandAltman,
    CategoryAgreement,
    ICCResult,
    bland_altman,
    category_agreement,
    icc_2_1,
)
from cacscore.evaluation.evaluator import Evaluator
from cacscore.evaluation.lesions import LesionCounts, detection_metrics, lesion_counts, reference_lesions

__all__ = [
    "BlandAltman",
    "CategoryAgreement",
    "Evaluator",
    "ICCResult",
    "LesionCounts",
    "bland_altman",
    "category_agreement",
    "detection_metrics",
    "icc_2_1",
    "lesion_counts",
    "reference_lesions",
]
