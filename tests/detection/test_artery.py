"""The artery by position (:mod:`cacscore.detection.artery`) on hand-placed training candidates."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.detection.artery import POSITION_DESCRIPTORS, ArteryByPosition, positions_mm
from cacscore.detection.descriptors import DESCRIPTOR_NAMES


def descriptors_at(*offsets_mm: tuple[float, float, float]) -> np.ndarray:
    """Descriptor rows whose position descriptors put the candidates at ``offsets_mm`` (left, posterior,
    superior, mm from the heart ROI's centroid); every other descriptor 7 (it must not matter)."""
    d = np.full((len(offsets_mm), len(DESCRIPTOR_NAMES)), 7.0)
    for name, column in zip(POSITION_DESCRIPTORS, np.asarray(offsets_mm, float).T, strict=True):
        d[:, DESCRIPTOR_NAMES.index(name)] = column / 100.0  # the descriptors are per 100 mm
    return d


# LAD in front on the left, LCX behind on the left, RCA on the right (mm)
TRAINING = descriptors_at((40, -40, 0), (45, -35, 10), (50, -45, -10),
                          (40, 40, 0), (45, 35, 10),
                          (-50, 0, 0), (-55, 5, 10))
CLASSES = np.array([1, 1, 1, 2, 2, 3, 3])


def test_positions_are_the_offsets_in_mm():
    assert positions_mm(descriptors_at((12.5, -3, 40))).tolist() == [[12.5, -3.0, 40.0]]


def test_the_nearest_training_candidates_vote():
    head = ArteryByPosition.fit(TRAINING, CLASSES, k=3)
    shares, artery = head.shares(descriptors_at((42, -38, 2), (-52, 2, 4), (43, 30, 0)))
    # 1: the three LADs (3.5, 9.1, 16.0 mm); 2: the two RCAs (4.9, 7.3 mm), then the LCX at (40, 40, 0)
    # (sqrt(92^2 + 38^2 + 4^2) = 99.6 mm) before the LAD at (40, -40, 0) (sqrt(92^2 + 42^2 + 4^2) = 101.2);
    # 3: the two LCXs (10.4, 11.4 mm), then the LAD at (45, -35, 10) (65.8 mm)
    assert artery.tolist() == [1, 3, 2]
    np.testing.assert_allclose(shares, [[1, 0, 0], [0, 1 / 3, 2 / 3], [1 / 3, 2 / 3, 0]])


def test_a_tie_goes_to_the_artery_of_the_nearest_candidate():
    head = ArteryByPosition.fit(descriptors_at((10, 0, 0), (-20, 0, 0)), np.array([1, 3]), k=2)
    shares, artery = head.shares(descriptors_at((1, 0, 0), (-8, 0, 0)))
    np.testing.assert_allclose(shares, [[0.5, 0, 0.5], [0.5, 0, 0.5]])
    # 9 mm from the LAD and 21 from the RCA; then 18 from the LAD and 12 from the RCA
    assert artery.tolist() == [1, 3]


def test_fit_keeps_the_coronary_candidates_only():
    head = ArteryByPosition.fit(np.concatenate([TRAINING, descriptors_at((0, 0, 0))]),
                                np.append(CLASSES, 0), k=1)
    assert len(head.classes) == 7
    assert head.shares(descriptors_at((1, 0, 0)))[1].tolist() == [3]  # (0, 0, 0) was not coronary


def test_config_round_trip_and_refusals():
    head = ArteryByPosition.fit(TRAINING, CLASSES, k=3)
    again = ArteryByPosition.from_dict(head.to_dict())
    np.testing.assert_allclose(again.positions_mm, head.positions_mm, atol=0.005)  # kept to 0.01 mm
    np.testing.assert_array_equal(again.classes, CLASSES)
    assert again.k == 3
    with pytest.raises(ValueError, match="descriptors"):
        ArteryByPosition.from_dict({**head.to_dict(), "descriptors": ["x", "y", "z"]})
    assert again.roi == "auto"
    assert ArteryByPosition.from_dict({k: v for k, v in head.to_dict().items() if k != "roi"}).roi == "auto"
    assert ArteryByPosition.fit(TRAINING, CLASSES, k=3, roi="mask").to_dict()["roi"] == "mask"
    with pytest.raises(ValueError, match="roi"):
        ArteryByPosition.fit(TRAINING, CLASSES, k=3, roi="reference")
    with pytest.raises(ValueError, match="k = 9"):
        ArteryByPosition.fit(TRAINING, CLASSES, k=9)
    assert ArteryByPosition.fit(TRAINING, CLASSES, k=3).shares(np.zeros((0, len(DESCRIPTOR_NAMES))))[
        1].shape == (0,)
