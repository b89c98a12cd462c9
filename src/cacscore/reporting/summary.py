"""summary.csv: one row per case (id, status, total and per-artery Agatston, category, CAC-DRS, error)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cacscore.io.atomic import write_text_atomic
from cacscore.labels import Artery
from cacscore.reporting.html import category_text, total_of

#: Columns of summary.csv, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "case_id",
    "status",
    "agatston_total",
    "agatston_LM",
    "agatston_LAD",
    "agatston_LCX",
    "agatston_RCA",
    "volume_mm3_total",
    "mass_mg_total",
    "risk_category",
    "cac_drs",
    "n_lesions",
    "seconds",
    "error",
)


def _get(outcome: Any, name: str) -> Any:
    return outcome.get(name) if isinstance(outcome, dict) else getattr(outcome, name, None)


def summary_row(outcome: Any) -> dict[str, Any]:
    """The summary.csv row of one case outcome (a :class:`cacscore.case_folder.CaseOutcome` or a dict)."""
    result = _get(outcome, "result") or {}
    agatston = result.get("agatston") if isinstance(result, dict) else None
    seconds = _get(outcome, "seconds")

    def artery(name: str) -> Any:
        return agatston.get(name, "") if isinstance(agatston, dict) else ""

    return {
        "case_id": _get(outcome, "case_id"),
        "status": _get(outcome, "status"),
        "agatston_total": total_of(agatston) if result else "",
        "agatston_LM": artery(Artery.LM.name),
        "agatston_LAD": artery(Artery.LAD.name),
        "agatston_LCX": artery(Artery.LCX.name),
        "agatston_RCA": artery(Artery.RCA.name),
        "volume_mm3_total": total_of(result.get("volume_mm3")) if result else "",
        "mass_mg_total": total_of(result.get("mass_mg")) if result else "",
        "risk_category": category_text(result.get("risk_category")) if result else "",
        "cac_drs": category_text(result.get("cac_drs")) if result else "",
        "n_lesions": len(result.get("lesions") or []) if result else "",
        "seconds": f"{seconds:.2f}" if isinstance(seconds, int | float) else "",
        "error": _get(outcome, "error") or "",
    }


def write_summary_csv(outcomes: Iterable[Any], path: str | os.PathLike[str]) -> Path:
    """Write summary.csv (atomically) with one row per outcome, in the order given; returns the path."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(SUMMARY_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for outcome in outcomes:
        row = summary_row(outcome)
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    target = Path(path)
    write_text_atomic(target, buffer.getvalue())
    return target
