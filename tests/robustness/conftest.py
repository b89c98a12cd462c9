"""Fixtures of the robustness tests: the batch tests' helpers (random model folder, synthetic scans)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).parents[1] / "batch" / "cohort_helpers.py"
_spec = importlib.util.spec_from_file_location("cohort_helpers", _path)
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


@pytest.fixture(scope="session", name="helpers")
def helpers_fixture():
    return helpers


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory) -> Path:
    return helpers.random_candidate_model(tmp_path_factory.mktemp("model") / "random-candidates")
