"""Reports of a prediction: result.json, a self-contained report.html per case, summary.csv per run."""

from __future__ import annotations

from cacscore.reporting.html import render_report_html
from cacscore.reporting.results import read_result_json, to_jsonable, write_result_json
from cacscore.reporting.summary import SUMMARY_COLUMNS, summary_row, write_summary_csv

__all__ = [
    "SUMMARY_COLUMNS",
    "read_result_json",
    "render_report_html",
    "summary_row",
    "to_jsonable",
    "write_result_json",
    "write_summary_csv",
]
