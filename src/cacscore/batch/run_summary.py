"""The summary files of a batch output folder: summary.csv, a risk-category histogram and an HTML index.

Built from what is on disk (``<id>/result.json`` for done cases, ``<id>/error.json`` for failed ones), so the
summary is the same whichever process, worker or job-array part ran a case, and the last part to finish
writes the complete one. No patient-identifying field is read or written: rows hold case ids and scores.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cacscore.batch.discovery import DONE_MARKER, BatchCase
from cacscore.case_ids import OUTPUT_FOLDER_FILES
from cacscore.io.atomic import atomic_path, write_text_atomic

#: The summary files' names (the names no case id may take).
SUMMARY_CSV, INDEX_HTML, HISTOGRAM_PNG = OUTPUT_FOLDER_FILES


@dataclass(frozen=True)
class CohortSummary:
    """Paths of the cohort summary files and the case counts by status."""

    summary_csv: Path
    histogram_png: Path
    index_html: Path
    counts: dict[str, int]


def load_outcomes(cases: Sequence[BatchCase], out_dir: Path) -> list[Any]:
    """One :class:`cacscore.case_folder.CaseOutcome` per case from the files in ``out_dir``.

    Status "ok" (result.json present), "error" (error.json present) or "pending" (not run yet).
    """
    from cacscore.case_folder import CaseOutcome

    outcomes = []
    for case in cases:
        folder = out_dir / case.case_id
        done, error = folder / DONE_MARKER, folder / "error.json"
        if done.is_file():
            result = json.loads(done.read_text(encoding="utf-8"))
            timings = result.get("timings_s") or {}
            # result.json is written before the case's total is known: the steps' sum stands for it
            steps = sum(v for v in timings.values() if isinstance(v, int | float))
            seconds = float(timings.get("total") or steps)
            outcomes.append(CaseOutcome(case.case_id, "ok", result, None, seconds))
        elif error.is_file():
            record = json.loads(error.read_text(encoding="utf-8"))
            seconds = float(record.get("seconds", 0))
            outcomes.append(CaseOutcome(case.case_id, "error", None, record.get("error"), seconds))
        else:
            outcomes.append(CaseOutcome(case.case_id, "pending", None, None, 0.0))
    return outcomes


def category_label(result: dict) -> str | None:
    """The risk category of a result.json as display text (as the case report shows it)."""
    from cacscore.reporting.html import category_text

    category = result.get("risk_category")
    return None if category is None else category_text(category)


def _agatston(result: dict) -> float | None:
    from cacscore.reporting.html import total_of

    value = total_of(result.get("agatston"))
    return float(value) if isinstance(value, int | float) else None


def write_cohort_summary(cases: Sequence[BatchCase], out_dir: Path) -> CohortSummary:
    """Write summary.csv, risk_categories.png and index.html for ``cases`` into ``out_dir`` (atomically)."""
    from cacscore.reporting import write_summary_csv

    outcomes = load_outcomes(cases, out_dir)
    summary_csv = out_dir / SUMMARY_CSV
    write_summary_csv(outcomes, summary_csv)
    histogram = _write_histogram([o for o in outcomes if o.status == "ok"], out_dir / HISTOGRAM_PNG,
                                 failed=sum(o.status == "error" for o in outcomes))
    index = out_dir / INDEX_HTML
    write_text_atomic(index, _index_html(outcomes, out_dir))
    counts = dict(Counter(o.status for o in outcomes))
    return CohortSummary(summary_csv=summary_csv, histogram_png=histogram, index_html=index, counts=counts)


def _category_order(done: Sequence[Any]) -> list[str]:
    """Every category of the results' scheme in order (empty ones too); without a named scheme, the
    categories seen, ordered by the lowest Agatston score in each (so 0 < 1-10 < 11-100 < ...)."""
    categories = [o.result.get("risk_category") for o in done]
    schemes = Counter(c.get("scheme") for c in categories if isinstance(c, dict))
    scheme = schemes.most_common(1)[0][0] if schemes else None
    if scheme:
        from cacscore.errors import CacscoreError
        from cacscore.scoring.categories import category_labels

        try:
            labels = list(category_labels(scheme))
        except CacscoreError:
            labels = []
        seen = {category_label(o.result) for o in done} - {None}
        if labels and seen <= set(labels):
            return labels
    lowest: dict[str, float] = {}
    for outcome in done:
        label = category_label(outcome.result)
        if label is None:
            continue
        score = _agatston(outcome.result)
        lowest[label] = min(lowest.get(label, float("inf")), score if score is not None else float("inf"))
    return sorted(lowest, key=lambda label: (lowest[label], label))


def _write_histogram(done: Sequence[Any], path: Path, failed: int = 0) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    counts = Counter(category_label(o.result) for o in done)
    order = _category_order(done)
    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.add_subplot()
    axes.bar(range(len(order)), [counts[c] for c in order], color="#3c78d8")
    axes.set_xticks(range(len(order)), order)
    axes.set_xlabel("risk category (Agatston)")
    axes.set_ylabel("scans")
    axes.set_title(f"{len(done)} scored scan(s)" + (f", {failed} failed" if failed else ""))
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def _index_html(outcomes: Sequence[Any], out_dir: Path) -> str:
    rows = []
    for o in outcomes:
        report = out_dir / o.case_id / "report.html"
        name = html.escape(o.case_id)
        link = f'<a href="{html.escape(o.case_id)}/report.html">{name}</a>' if report.is_file() else name
        score = _agatston(o.result) if o.result else None
        category = category_label(o.result) if o.result else None
        rows.append(
            f"<tr class='{o.status}'><td>{link}</td><td>{o.status}</td>"
            f"<td>{'' if score is None else f'{score:.1f}'}</td><td>{html.escape(category or '')}</td>"
            f"<td>{html.escape(o.error or '')}</td></tr>"
        )
    counts = Counter(o.status for o in outcomes)
    status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cacscore cohort</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}} tr.error{{background:#fdd}} tr.pending{{color:#888}}</style>
</head><body>
<h1>Coronary calcium: cohort of {len(outcomes)} scan(s)</h1>
<p>{html.escape(status)}. Per-scan table: <a href="{SUMMARY_CSV}">{SUMMARY_CSV}</a>.</p>
<img src="{HISTOGRAM_PNG}" alt="histogram of risk categories">
<table><thead>
<tr><th>case</th><th>status</th><th>Agatston</th><th>risk category</th><th>error</th></tr>
</thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
