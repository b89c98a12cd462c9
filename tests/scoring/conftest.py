"""Fixtures of the scoring tests: small hand-built volumes."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.volume import ScanInfo, Volume


def _blank(
    shape=(3, 12, 12), spacing=(3.0, 1.0, 1.0), hu=0.0, kvp=120.0, thickness=None, origin=(0.0, 0.0, 0.0)
) -> tuple[Volume, np.ndarray]:
    info = ScanInfo(modality="CT", kvp=kvp, slice_thickness_mm=thickness if thickness else spacing[0])
    volume = Volume(np.full(shape, hu, dtype=np.float32), spacing, origin, info=info)
    return volume, np.zeros(shape, dtype=np.uint8)


@pytest.fixture
def blank():
    """``blank(shape, spacing, hu, kvp, thickness, origin) -> (volume, labels)``: constant HU, no labels."""
    return _blank
