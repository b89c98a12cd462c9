"""Shared fixtures: the real QRM phantom scan from ../shared/data, the cohort helpers and a random model,
constructed evaluation cases with known answers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from cacscore.labels import Artery
from cacscore.volume import ScanInfo, Volume

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CACSCORE_SHARED", REPO.parent / "shared"))
QRM_DIR = SHARED / "data" / "qrm-phantom"
REAL_CHEST_DIR = SHARED / "data" / "real-chest-ct"


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


@pytest.fixture(scope="session")
def real_chest_ct():
    """``real_chest_ct(name) -> Volume`` for "lung1" or "lung2": the two real non-contrast chest CTs of
    ../shared/data/real-chest-ct (5 mm slices, not gated; see its README), read once per session."""
    from cacscore.io import read_volume

    cache: dict = {}

    def load(name: str):
        path = REAL_CHEST_DIR / f"{name}_image.nrrd"
        if not path.is_file():
            pytest.skip(f"the real chest CT is not at {path}")
        if name not in cache:
            cache[name] = read_volume(path)
        return cache[name]

    return load


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


#: (z, row, col, height, width, artery) of the three reference lesions, all 300 HU.
LESIONS = ((1, 1, 1, 2, 4, Artery.LAD), (2, 8, 8, 2, 2, Artery.LCX), (1, 12, 2, 1, 2, Artery.RCA))


def _constructed_case(kind: str):
    """(volume, pred, ref) for kind "perfect", "missed" (LCX missed), "fp" (one extra RCA lesion) or
    "swapped" (LAD lesion called LCX). Pixels 1 mm, slices 3 mm."""
    hu = np.zeros((4, 16, 16), dtype=np.float32)
    ref = np.zeros(hu.shape, dtype=np.uint8)
    for z, r, c, h, w, artery in LESIONS:
        hu[z, r : r + h, c : c + w] = 300
        ref[z, r : r + h, c : c + w] = artery
    pred = ref.copy()
    if kind == "missed":
        pred[ref == Artery.LCX] = 0
    elif kind == "fp":
        hu[3, 14, 12:16] = 500
        pred[3, 14, 12:16] = Artery.RCA
    elif kind == "swapped":
        pred[ref == Artery.LAD] = Artery.LCX
    volume = Volume(hu, (3.0, 1.0, 1.0), info=ScanInfo(modality="CT", kvp=120.0))
    return volume, pred, ref


@pytest.fixture
def constructed_case():
    """``constructed_case(kind) -> (volume, pred, ref)``; see ``_constructed_case``."""
    return _constructed_case
