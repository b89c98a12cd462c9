"""Risk categories of the Agatston score and CAC-DRS (Hecht et al., J Cardiovasc Comput Tomogr 2018)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cacscore.constants import CAC_DRS_A_LOWER_BOUNDS, RISK_CATEGORY_SCHEMES
from cacscore.errors import CacscoreError
from cacscore.labels import Artery

#: Vessels CAC-DRS counts for N (Hecht 2018): left main, LAD, LCX, RCA. "Unknown artery" is not a vessel.
CAC_DRS_VESSELS: tuple[Artery, ...] = (Artery.LM, Artery.LAD, Artery.LCX, Artery.RCA)


@dataclass(frozen=True)
class RiskCategory:
    """A risk category: its 0-based ``index`` in the scheme, its ``label`` and the ``scheme`` name."""

    index: int
    label: str
    scheme: str

    def to_dict(self) -> dict:
        return {"index": self.index, "label": self.label, "scheme": self.scheme}


def category_labels(scheme: str = "agatston5") -> tuple[str, ...]:
    """The category labels of ``scheme`` in order."""
    return _scheme(scheme)[1]


def risk_category(agatston: float, scheme: str = "agatston5") -> RiskCategory:
    """The risk category of a (3 mm-normalised) Agatston score.

    Category 0 holds only a score of exactly 0: 0 < score <= 1 is a non-zero score (category "1-10").
    Upper bounds are inclusive: 10 is "1-10", 10.5 is "11-100", 400 is "101-400".
    """
    if agatston < 0 or agatston != agatston:
        raise CacscoreError(f"an Agatston score must be >= 0, not {agatston}")
    bounds, labels = _scheme(scheme)
    index = 0 if agatston == 0 else 1 + sum(1 for b in bounds if agatston > b)
    return RiskCategory(index=index, label=labels[index], scheme=scheme)


def cac_drs(agatston_total: float, per_artery: Mapping[Artery | str, float]) -> str:
    """The CAC-DRS string, e.g. ``"CAC-DRS A2/N2"``; ``"CAC-DRS 0"`` for a zero score (Hecht et al. 2018).

    Args:
        agatston_total: total Agatston score (3 mm-normalised). A0 = 0, A1 = (0, 100), A2 = [100, 300),
            A3 >= 300.
        per_artery: Agatston per artery (keys ``Artery`` members or their names); N counts the vessels
            LM, LAD, LCX and RCA with a score > 0 (calcium of unknown artery adds to A, not to N).
    """
    if agatston_total == 0:
        return "CAC-DRS 0"
    a = 1 + sum(1 for b in CAC_DRS_A_LOWER_BOUNDS if agatston_total >= b)
    names = {v.name for v in CAC_DRS_VESSELS}
    keys = {(k.name if isinstance(k, Artery) else str(k)): s for k, s in per_artery.items()}
    n = sum(1 for k, s in keys.items() if k in names and s > 0)
    return f"CAC-DRS A{a}/N{n}"


def _scheme(scheme: str) -> tuple[tuple[float, ...], tuple[str, ...]]:
    try:
        return RISK_CATEGORY_SCHEMES[scheme]
    except KeyError:
        raise CacscoreError(
            f"unknown category scheme {scheme!r}; choose one of {', '.join(RISK_CATEGORY_SCHEMES)}"
        ) from None
