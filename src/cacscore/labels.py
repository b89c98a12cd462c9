"""Artery label codes: the single source of truth for codes, names and colours.

Codes follow the orCaScore reference standard (Wolterink et al., Med Phys 2016): 0 background, 1 LAD
(left main counted as LAD), 2 LCX, 3 RCA; orCaScore submissions may use 4 for "coronary calcium, artery
unknown". cacscore adds 5 for the left main (LM) when a user asks to keep it apart from the LAD (COCA
outlines name it separately); by default LM is folded into LAD as orCaScore does.
"""

from __future__ import annotations

from enum import IntEnum


class Artery(IntEnum):
    """Label value of a voxel in a calcium label volume."""

    BACKGROUND = 0
    LAD = 1
    LCX = 2
    RCA = 3
    UNKNOWN = 4
    LM = 5

    @property
    def colour(self) -> tuple[int, int, int]:
        """RGB colour (0-255) used for this artery in every figure and overlay."""
        return _COLOURS[self]


#: The arteries a calcium label may name (every code but background), in reporting order.
CORONARY_LABELS: tuple[Artery, ...] = (Artery.LM, Artery.LAD, Artery.LCX, Artery.RCA, Artery.UNKNOWN)

#: Codes that an orCaScore reference standard may contain.
ORCASCORE_REFERENCE_CODES: frozenset[int] = frozenset({0, 1, 2, 3})

#: Codes that an orCaScore submission may contain.
ORCASCORE_SUBMISSION_CODES: frozenset[int] = frozenset({0, 1, 2, 3, 4})

_COLOURS = {
    Artery.BACKGROUND: (0, 0, 0),
    Artery.LAD: (230, 60, 60),
    Artery.LCX: (60, 120, 230),
    Artery.RCA: (40, 180, 80),
    Artery.UNKNOWN: (230, 180, 30),
    Artery.LM: (200, 80, 200),
}
