"""Fixtures of the batch tests: a 20-case synthetic cohort with heart masks (helpers in tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cohort20(helpers, tmp_path_factory) -> tuple[Path, Path]:
    """(images folder, heart-mask folder) of 20 synthetic 16x64x64 scans."""
    return helpers.write_cohort(tmp_path_factory.mktemp("cohort"), 20)
