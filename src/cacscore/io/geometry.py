"""Small geometry helpers: an orientation code for a direction matrix, and the outside-FOV clamp."""

from __future__ import annotations

import numpy as np

from cacscore.volume import Volume

#: HU that many tools give pixels outside the reconstruction field of view (DICOM padding, often -2048 or
#: -3024 as stored); air is -1000, so -1024 is the usual floor.
OUTSIDE_FOV_FLOOR_HU: float = -1024.0

_POSITIVE = ("L", "P", "S")  # LPS: +x left, +y posterior, +z superior
_NEGATIVE = ("R", "A", "I")


def orientation_code(direction: np.ndarray) -> str:
    """Three letters naming where the x, y and z index axes point, in LPS terms (identity -> "LPS").

    Each axis is named by the patient axis its direction cosine is largest along (e.g. a standard axial
    DICOM series with z ascending toward the head is "LPS"; one with rows flipped left-right is "RPS").
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    letters = []
    for axis in range(3):
        column = d[:, axis]
        k = int(np.argmax(np.abs(column)))
        letters.append(_POSITIVE[k] if column[k] > 0 else _NEGATIVE[k])
    return "".join(letters)


def clamp_outside_fov(volume: Volume, floor_hu: float = OUTSIDE_FOV_FLOOR_HU) -> Volume:
    """A copy of ``volume`` with every HU below ``floor_hu`` raised to it (outside-FOV padding -> air).

    cacscore's readers keep values as stored (-2048 outside the field of view in the QRM scan); call this
    where a method needs a physical value everywhere (e.g. image statistics, intensity normalisation).
    It does not change any calcium score: all scoring thresholds are far above -1024 HU.
    """
    return volume.with_hu(np.maximum(volume.hu, np.float32(floor_hu)))
