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
