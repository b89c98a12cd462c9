"""Fixtures of the batch tests: a random model folder and a 20-case synthetic cohort with heart masks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).with_name("cohort_helpers.py")
_spec = importlib.util.spec_from_file_location("cohort_helpers", _path)
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


@pytest.fixture(scope="session", name="helpers")
def helpers_fixture():
    """tests/batch/cohort_helpers.py as a module."""
    return helpers


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory) -> Path:
    return helpers.random_candidate_model(tmp_path_factory.mktemp("model") / "random-candidates")


@pytest.fixture(scope="session")
def cohort20(tmp_path_factory) -> tuple[Path, Path]:
    """(images folder, heart-mask folder) of 20 synthetic 16x64x64 scans."""
    return helpers.write_cohort(tmp_path_factory.mktemp("cohort"), 20)
