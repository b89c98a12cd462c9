"""Shared fixtures: the real QRM phantom scan from ../shared/data, temporary folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CACSCORE_SHARED", REPO.parent / "shared"))
QRM_DIR = SHARED / "data" / "qrm-phantom"


@pytest.fixture(scope="session")
def qrm_dicom_dir() -> Path:
    """Folder of the real QRM phantom DICOM series (47 slices, Canon Aquilion ONE, 120 kVp)."""
    path = QRM_DIR / "dicom"
    if not path.is_dir():
        pytest.skip(f"the real phantom scan is not at {path}")
    return path


@pytest.fixture(scope="session")
def qrm_reference() -> dict:
    """The published reference values of the QRM phantom scan (reference.json)."""
    path = QRM_DIR / "reference.json"
    if not path.is_file():
        pytest.skip(f"the real phantom reference is not at {path}")
    return json.loads(path.read_text())


def _load_cohort_helpers():
    import importlib.util

    path = REPO / "tests" / "batch" / "cohort_helpers.py"
    spec = importlib.util.spec_from_file_location("cohort_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def helpers():
    """tests/batch/cohort_helpers.py as a module (random model folder, synthetic scans)."""
    return _load_cohort_helpers()


@pytest.fixture(scope="session")
def random_model_dir(helpers, tmp_path_factory) -> Path:
    """A randomly initialised candidate model folder, built once per test session."""
    return helpers.random_candidate_model(tmp_path_factory.mktemp("model") / "random-candidates")
