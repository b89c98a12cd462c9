"""Which artery a coronary candidate belongs to, from where it lies in the heart alone.

Which coronary artery a plaque is in is a matter of anatomy, not of how the plaque looks: the LAD runs in
the anterior interventricular groove, the LCX in the left atrioventricular groove behind, the RCA in the
right one (Austen et al., Circulation 1975, the AHA coronary segments). A plaque of the LAD and one of the
RCA look alike in a 19 mm patch; where they lie does not. :class:`ArteryByPosition` names the artery of a
candidate by the arteries of the ``k`` coronary candidates of the training set that lie nearest to it in
the heart-centred frame of the position descriptors (its centroid's offset from the heart ROI's centroid
along the patient's left, posterior and superior axes, :mod:`cacscore.detection.descriptors`), distances
in millimetres.

Why, rather than the network's artery (docs/model.md, "Which artery: where the candidate lies"): on the
phantom's held-out cohorts the position alone names the artery about as well as the network does, and on
the real lung2 the network's appearance cues named the proximal RCA at the aortic root LAD, where its
position says RCA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.detection.descriptors import DESCRIPTOR_NAMES

#: The descriptors that place a candidate in the heart (per 100 mm from the heart ROI's centroid).
POSITION_DESCRIPTORS: tuple[str, ...] = ("offset_left_100mm", "offset_posterior_100mm",
                                         "offset_superior_100mm")
_COLUMNS = [DESCRIPTOR_NAMES.index(name) for name in POSITION_DESCRIPTORS]
#: Class indices of the arteries (the network's columns 1-3: LAD incl. left main, LCX, RCA).
ARTERY_CLASSES: tuple[int, ...] = (1, 2, 3)


@dataclass(frozen=True, eq=False)
class ArteryByPosition:
    """The artery of the nearest training coronary candidates in the heart-centred frame.

    Attributes:
        positions_mm: (M, 3) the training coronary candidates' offsets from their heart ROI's centroid
            (left, posterior, superior; mm).
        classes: (M,) their artery class (1 LAD, 2 LCX, 3 RCA).
        k: neighbours that vote.
        roi: the heart ROI the positions were measured in: "auto" (the automatic ROI) or "mask" (given
            heart masks). A ROI of the other kind has another centroid (four of cohort b's reference masks are
            150-240 ml smaller than the automatic ROI, their centroids 2-5 mm away), so predict names the
            artery by position only on a scan whose ROI is of this kind, and by the network otherwise (on
            cohort b with the reference masks, the position named 0.927 of the lesions' arteries right and
            the network 0.943; docs/results.md, "v11").
    """

    positions_mm: np.ndarray
    classes: np.ndarray
    k: int = 15
    roi: str = "auto"

    def __post_init__(self) -> None:
        if self.roi not in ("auto", "mask"):
            raise ValueError(f"roi must be 'auto' or 'mask', not {self.roi!r}")
        if len(self.positions_mm) != len(self.classes) or len(self.classes) < self.k:
            raise ValueError(f"{len(self.classes)} training candidates for {len(self.positions_mm)} "
                             f"positions and k = {self.k}")

    @classmethod
    def fit(cls, descriptors: np.ndarray, classes: np.ndarray, k: int = 15, roi: str = "auto"
            ) -> ArteryByPosition:
        """From the training samples' (N, len(DESCRIPTOR_NAMES)) descriptors and class indices (0 not
        coronary, 1-3 the arteries), measured in heart ROIs of kind ``roi``; only the coronary ones are
        kept."""
        classes = np.asarray(classes)
        coronary = np.isin(classes, ARTERY_CLASSES)
        return cls(positions_mm(np.asarray(descriptors)[coronary]), classes[coronary].astype(np.int64), k,
                   roi)

    def shares(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shares, artery): per candidate of (N, len(DESCRIPTOR_NAMES)) descriptors, the share of each
        artery (LAD, LCX, RCA) among its ``k`` nearest training coronary candidates, (N, 3), and the
        artery class (1-3) with the largest share; a tie goes to the tied artery of the nearest one."""
        query = positions_mm(np.asarray(descriptors))
        if len(query) == 0:
            return np.zeros((0, 3)), np.zeros(0, np.int64)
        distance = np.linalg.norm(query[:, None, :] - self.positions_mm[None, :, :], axis=2)
        nearest = np.argsort(distance, axis=1, kind="stable")[:, : self.k]
        voted = self.classes[nearest]  # (N, k), nearest first
        arteries = np.asarray(ARTERY_CLASSES)
        counts = (voted[:, :, None] == arteries).sum(axis=1)
        # rank of each artery's nearest voter (k when it has none): among equal counts the nearest wins
        first = np.where(voted[:, :, None] == arteries, np.arange(self.k)[None, :, None], self.k).min(axis=1)
        chosen = arteries[np.argmax(counts * (self.k + 1) - first, axis=1)]
        return counts / self.k, chosen

    def to_dict(self) -> dict:
        """JSON form for a model folder's config.json (positions rounded to 0.01 mm)."""
        return {"method": "the artery of the k nearest coronary candidates of the training set by their "
                          "offset from the heart ROI's centroid (left, posterior, superior; mm)",
                "k": self.k, "roi": self.roi, "descriptors": list(POSITION_DESCRIPTORS),
                "positions_mm": np.round(self.positions_mm, 2).tolist(), "classes": self.classes.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> ArteryByPosition:
        """Inverse of :meth:`to_dict`."""
        if list(data.get("descriptors", POSITION_DESCRIPTORS)) != list(POSITION_DESCRIPTORS):
            raise ValueError(f"artery_by_position uses the descriptors {data['descriptors']}, this version "
                             f"has {list(POSITION_DESCRIPTORS)}")
        return cls(np.asarray(data["positions_mm"], float).reshape(-1, 3),
                   np.asarray(data["classes"], np.int64), int(data["k"]), str(data.get("roi", "auto")))


def positions_mm(descriptors: np.ndarray) -> np.ndarray:
    """(N, 3) offsets (mm; left, posterior, superior) from the heart ROI's centroid of (N, F) descriptors."""
    return np.asarray(descriptors, float).reshape(-1, len(DESCRIPTOR_NAMES))[:, _COLUMNS] * 100.0
