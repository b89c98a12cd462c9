"""Constructed evaluation cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.labels import Artery
from cacscore.volume import ScanInfo, Volume

#: (z, row, col, height, width, artery) of the three reference lesions, all 300 HU.
LESIONS = ((1, 1, 1, 2, 4, Artery.LAD), (2, 8, 8, 2, 2, Artery.LCX), (1, 12, 2, 1, 2, Artery.RCA))


def _build(kind: str):
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
    """``constructed_case(kind) -> (volume, pred, ref)``; see ``_build``."""
    return _build
