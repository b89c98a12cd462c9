"""Does the risk category rest on calls the model is unsure of?

The classifier gives each candidate a probability of being coronary calcium. A category set by lesions
called at, say, 60 % is a different result for a clinician from one set by lesions called at 99 %, and on
scans unlike the training data the unsure calls are where the errors gather (on lung1 of ../shared the
calcified aortic root and valve, called RCA at 55-70 % by model v6, lift the category from 11-100 to >400;
docs/results.md).
:func:`category_certainty` takes the scored lesions with their probabilities (result.json's ``lesions``)
and says whether the category would change without the unsure ones; it never changes a label or a score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cacscore.scoring.categories import risk_category

#: A lesion called coronary with a probability below this (1 - p(not coronary)) is an unsure call. Of the
#: candidates model v6 calls coronary on the phantom's held-out cohorts (docs/results.md, v6, "Unsure
#: calls"), 4.8 % (gated cohort b) and 5.9 % (random acquisitions, c) of the right calls lie below it, and
#: 3 of b's 5 and 68 of c's 101 false calls.
UNSURE_BELOW: float = 0.8


@dataclass(frozen=True)
class CategoryCertainty:
    """The category with and without the unsure calls.

    Attributes:
        category: the scan's risk category label (all calls).
        category_without_unsure: the category of the score without the unsure calls.
        unsure: the unsure lesions (id, artery, slices, Agatston, probability of being coronary).
        threshold: :data:`UNSURE_BELOW` as used.
    """

    category: str
    category_without_unsure: str
    unsure: tuple[dict[str, Any], ...]
    threshold: float

    @property
    def rests_on_unsure(self) -> bool:
        """True when leaving the unsure calls out changes the category."""
        return self.category != self.category_without_unsure

    def to_dict(self) -> dict[str, Any]:
        return {
            "unsure_below": self.threshold,
            "category": self.category,
            "category_without_unsure": self.category_without_unsure,
            "rests_on_unsure": self.rests_on_unsure,
            "unsure_lesions": [dict(u) for u in self.unsure],
        }

    def warning(self) -> str | None:
        """One line for the reader when the category rests on unsure calls, else None."""
        if not self.rests_on_unsure:
            return None
        total = sum(u["agatston"] for u in self.unsure)
        shown = [f"lesion {u['id']} ({u['artery']}, {_slices_text(u['slices'])}, "
                 f"{u['agatston']:.0f} Agatston, {100 * u['probability_coronary']:.0f} % sure)"
                 for u in self.unsure[:3]]
        more = f" and {len(self.unsure) - 3} more" if len(self.unsure) > 3 else ""
        return (f"the risk category {self.category} rests on calls the model is unsure are coronary "
                f"calcium ({total:.0f} Agatston): {', '.join(shown)}{more}; without them it would be "
                f"{self.category_without_unsure}. Check these lesions on the images before using the "
                "category")


def category_certainty(
    lesions: Sequence[Mapping[str, Any]],
    total_agatston: float,
    scheme: str = "agatston5",
    threshold: float = UNSURE_BELOW,
) -> CategoryCertainty:
    """The category of the total Agatston score with and without the calls below ``threshold``.

    Args:
        lesions: scored lesions as in result.json (``agatston``, ``artery``, ``id``, ``slices``: the
            slice indices it lies on, and ``probability_coronary``; a lesion without a probability, e.g.
            from a reference mask, counts as sure).
        total_agatston: the scan's total Agatston score (the lesions' sum).
        scheme: the risk category scheme (:func:`cacscore.scoring.categories.risk_category`).
        threshold: the probability of being coronary below which a call is unsure.
    """
    unsure = tuple(
        {"id": les.get("id"), "artery": les.get("artery"),
         "slices": [int(z) for z in les.get("slices") or []],
         "agatston": round(float(les["agatston"]), 2),
         "probability_coronary": float(les["probability_coronary"])}
        for les in lesions
        if les.get("probability_coronary") is not None and float(les["probability_coronary"]) < threshold
    )
    without = max(float(total_agatston) - sum(u["agatston"] for u in unsure), 0.0)
    if without < 0.01:  # what is left is the rounding of the lesions' scores
        without = 0.0
    return CategoryCertainty(
        category=risk_category(float(total_agatston), scheme).label,
        category_without_unsure=risk_category(without, scheme).label,
        unsure=tuple(sorted(unsure, key=lambda u: -u["agatston"])),
        threshold=threshold,
    )


def _slices_text(slices: Sequence[int]) -> str:
    """"slice 12", "slices 12-14" or "slices unknown" for a lesion's slice indices."""
    if not slices:
        return "slices unknown"
    lo, hi = min(slices), max(slices)
    return f"slice {lo}" if lo == hi else f"slices {lo}-{hi}"
