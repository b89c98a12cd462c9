"""Shared fixtures: the real scans from ../shared/data (QRM phantom, chest CT), the shared helpers
(tests/helpers.py) and a random model, constructed evaluation cases with known answers.

Without the shared data folder the real-scan tests cannot run: in CI (``CI=true``) that fails the run at
once; elsewhere they skip, and the run ends with one line naming what was not tested.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from cacscore.labels import Artery
from cacscore.volume import ScanInfo, Volume

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CACSCORE_SHARED", REPO.parent / "shared"))
QRM_DIR = SHARED / "data" / "qrm-phantom"
CHEST_CT_DIR = SHARED / "data" / "real-chest-ct"

sys.path.insert(0, str(Path(__file__).resolve().parent))
import helpers as _helpers  # noqa: E402  (tests/helpers.py, after its folder is on the path)

#: Start of the skip reason of every test that needs the shared data (how the summary finds them).
_MISSING = "shared data missing:"

#: Tests that skipped for want of the shared data (reported at the end of the run).
_NOT_TESTED: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [str(p) for p in (QRM_DIR, CHEST_CT_DIR) if not p.is_dir()]
    if _in_ci() and missing:
        raise pytest.UsageError(
            f"CI=true but the shared data is missing ({', '.join(missing)}): the real-scan tests (the QRM "
            "phantom's published scores among them) cannot run; set CACSCORE_SHARED or check out ../shared"
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple) and _MISSING in str(report.longrepr[-1]):
        _NOT_TESTED.append(report.nodeid.split("::")[-1])


def pytest_terminal_summary(terminalreporter) -> None:
    if _NOT_TESTED:
        terminalreporter.write_line(
            f"NOT TESTED: {len(_NOT_TESTED)} real-scan test(s) skipped for want of {SHARED} (set "
            f"CACSCORE_SHARED): {', '.join(sorted(set(_NOT_TESTED)))}", yellow=True, bold=True)


def _shared(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{_MISSING} {what} is not at {path}")
    return path


@pytest.fixture(scope="session")
def qrm_dicom_dir() -> Path:
    """Folder of the real QRM phantom DICOM series (47 slices, Canon Aquilion ONE, 120 kVp)."""
    return _shared(QRM_DIR / "dicom", "the real phantom scan")


@pytest.fixture(scope="session")
def qrm_reference() -> dict:
    """The published reference values of the QRM phantom scan (reference.json)."""
    return json.loads(_shared(QRM_DIR / "reference.json", "the real phantom reference").read_text())


@pytest.fixture(scope="session")
def chest_ct_dir() -> Path:
    """Folder of the two real chest CT scans (lung1_image.nrrd, lung2_image.nrrd; int16 HU, LPS)."""
    return _shared(CHEST_CT_DIR, "the real chest CT scans")


@pytest.fixture(scope="session")
def real_chest_ct(chest_ct_dir):
    """``real_chest_ct(name) -> Volume`` for "lung1" or "lung2": the two real non-contrast chest CTs (5 mm
    slices, not gated; see their README), each read once per session."""
    from cacscore.io import read_volume

    cache: dict = {}

    def load(name: str):
        if name not in cache:
            path = _shared(chest_ct_dir / f"{name}_image.nrrd", f"the real chest CT {name}")
            cache[name] = read_volume(path)
        return cache[name]

    return load


@pytest.fixture(scope="session")
def helpers():
    """tests/helpers.py as a module (random model folder, synthetic scans, listings, the CLI in-process)."""
    return _helpers


@pytest.fixture(scope="session")
def random_model_dir(helpers, tmp_path_factory) -> Path:
    """A randomly initialised candidate model folder, built once per test session."""
    return helpers.random_candidate_model(tmp_path_factory.mktemp("model") / "random-candidates")


@pytest.fixture(scope="session")
def tiny_phantom_cases(helpers, tmp_path_factory) -> list:
    """Three phantom cases of 30 slices with reference labels and heart masks (``helpers.TINY_PHANTOM``)."""
    return helpers.tiny_phantom_cohort(tmp_path_factory.mktemp("tiny-phantom"))


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
