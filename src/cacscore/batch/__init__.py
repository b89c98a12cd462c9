"""Cohorts: every case of a folder or manifest through the pipeline, locally or on Dask, resumable."""

from cacscore.batch.discovery import BatchCase, discover_cases, is_done, select_part
from cacscore.batch.run_summary import CohortSummary, write_cohort_summary
from cacscore.batch.runner import BatchReport, run_batch, run_case

__all__ = [
    "BatchCase",
    "BatchReport",
    "CohortSummary",
    "discover_cases",
    "is_done",
    "run_batch",
    "run_case",
    "select_part",
    "write_cohort_summary",
]
