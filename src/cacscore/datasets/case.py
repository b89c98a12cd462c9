"""One case of a dataset: where its image, reference labels, heart mask or outlines are; how to load them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cacscore.datasets.outlines import labels_from_outlines
from cacscore.errors import CacscoreError
from cacscore.labels import Artery
from cacscore.volume import Volume

#: Every code a cacscore label volume may hold.
ALL_ARTERY_CODES: frozenset[int] = frozenset(int(a) for a in Artery)


@dataclass(frozen=True)
class Case:
    """A case of a dataset (paths only; nothing is read until asked).

    Attributes:
        case_id: unique within the dataset (e.g. "TRV1P3", a COCA patient folder name, a manifest id).
        image_path: the CT: an image file or a DICOM folder.
        label_path: reference label volume on the image's grid (orCaScore codes), or None.
        heart_mask_path: heart mask on the image's grid, or None.
        outlines_path: reference outlines to be rasterised (COCA OsiriX plist), or None.
        patient_id: what splits group by (several cases of one patient share it).
        vendor: scanner vendor or vendor index as the layout gives it ("1".."4" for orCaScore), or None.
        subset: "train", "test", "validation" or "all".
        metadata: anything else the layout says (e.g. the CTA image of an orCaScore case).
    """

    case_id: str
    image_path: Path
    label_path: Path | None = None
    heart_mask_path: Path | None = None
    outlines_path: Path | None = None
    patient_id: str = ""
    vendor: str | None = None
    subset: str = "all"
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: Label codes a reference of this layout may contain (orCaScore: 0..3).
    allowed_codes: frozenset[int] = ALL_ARTERY_CODES

    @property
    def has_reference(self) -> bool:
        """True when the case has reference labels or outlines."""
        return self.label_path is not None or self.outlines_path is not None

    def load_volume(self, series_uid: str | None = None) -> Volume:
        """The CT volume (HU) of this case."""
        from cacscore.io import read_volume

        return read_volume(self.image_path, series_uid=series_uid)

    def load_labels(self, volume: Volume, *, keep_lm: bool = False) -> np.ndarray | None:
        """The reference label volume (uint8, Artery codes) on ``volume``'s grid, or None without reference.

        A label file must lie on exactly ``volume``'s grid and hold only :attr:`allowed_codes`; outlines
        (COCA) are rasterised on ``volume`` (``keep_lm`` keeps the left main apart as Artery.LM).

        Raises:
            CacscoreError: a label file on another grid or holding codes that are not allowed.
        """
        if self.label_path is not None:
            from cacscore.io import read_mask

            labels = read_mask(self.label_path, like=volume)
            check_codes(labels, self.allowed_codes, self.label_path.name)
            return labels.astype(np.uint8)
        if self.outlines_path is not None:
            return labels_from_outlines(self.outlines_path, volume, keep_lm=keep_lm)
        if self.metadata.get("no_outlines_means_no_calcium"):
            return np.zeros(volume.shape, dtype=np.uint8)
        return None

    def load_heart_mask(self, volume: Volume) -> np.ndarray | None:
        """The heart mask (bool) on ``volume``'s grid, or None when the case has none."""
        if self.heart_mask_path is None:
            return None
        from cacscore.io import read_mask

        return read_mask(self.heart_mask_path, like=volume) > 0


def check_codes(labels: np.ndarray, allowed: Iterable[int], name: str) -> None:
    """Raise a CacscoreError naming the values of ``labels`` that are not in ``allowed``."""
    allowed = set(int(a) for a in allowed)
    bad = sorted(int(v) for v in np.unique(labels) if int(v) not in allowed)
    if bad:
        raise CacscoreError(
            f"{name} holds label value(s) {bad}; only {sorted(allowed)} are allowed here "
            "(0 background, 1 LAD, 2 LCX, 3 RCA); fix the reference file"
        )
