"""The out-of-domain check on hand-made training domains."""

from __future__ import annotations

import numpy as np

from cacscore.detection.descriptors import DESCRIPTOR_NAMES
from cacscore.detection.domain import TrainingDomain, check_domain

F = len(DESCRIPTOR_NAMES)


def _scan(increment=3.0, pixel=0.45, noise=25.0, soft=40.0, fat=-90.0) -> dict[str, float]:
    return {"slice_increment_mm": increment, "pixel_mm": pixel, "noise_sd_hu": noise, "soft_hu": soft,
            "fat_hu": fat}


def _domain() -> TrainingDomain:
    """Training scans of 1.5-3 mm and noise 20-40 HU; training candidates whose every descriptor runs from
    0 to 1."""
    scans = [_scan(increment=1.5, noise=20.0), _scan(increment=3.0, noise=40.0)]
    return TrainingDomain.fit(scans, np.linspace(0.0, 1.0, 11)[:, None].repeat(F, axis=1))


def test_fit_and_round_trip():
    domain = _domain()
    assert domain.scan_ranges["slice_increment_mm"] == (1.5, 3.0)
    assert domain.scan_ranges["noise_sd_hu"] == (20.0, 40.0)
    np.testing.assert_array_equal(domain.descriptor_ranges, np.tile([0.0, 1.0], (F, 1)))
    again = TrainingDomain.from_dict(domain.to_dict())
    assert again.scan_ranges == domain.scan_ranges
    np.testing.assert_allclose(again.descriptor_ranges, domain.descriptor_ranges, atol=1e-4)


def test_a_scan_like_the_training_scans_is_in_the_domain():
    check = check_domain(_domain(), _scan(increment=2.5, noise=30.0), np.full((4, F), 0.5), np.ones(4, bool))
    assert check.in_domain and check.warning() is None and check.reasons == ()


def test_slice_spacing_outside_the_range_beyond_its_tolerance():
    """3 mm + 10 % of 3 mm = 3.3 mm is still inside; 5 mm is outside."""
    assert check_domain(_domain(), _scan(increment=3.3), np.zeros((0, F)), np.zeros(0, bool)).in_domain
    check = check_domain(_domain(), _scan(increment=5.0), np.zeros((0, F)), np.zeros(0, bool))
    assert not check.in_domain
    assert check.reasons == ("slice spacing 5 mm, training scans 1.5 to 3 mm",)
    assert "differs from the scans the calcium classifier learned from" in check.warning()


def test_unusual_candidates():
    """A descriptor within 5 % of the range beyond it (1.04) is inside; 1 of 10 candidates outside (1.5)
    is under the 25 % share, unless it is called coronary; 3 of 10 is over it; the reason names the
    descriptor group."""
    d = np.full((10, F), 0.5)
    d[1, DESCRIPTOR_NAMES.index("fat_0_2mm")] = 1.04
    d[0, DESCRIPTOR_NAMES.index("fat_0_2mm")] = 1.5
    calm = check_domain(_domain(), _scan(), d, np.zeros(10, bool))
    assert calm.in_domain and calm.unusual_candidates == (0,)
    coronary = np.zeros(10, bool)
    coronary[0] = True
    flagged = check_domain(_domain(), _scan(), d, coronary)
    assert not flagged.in_domain
    assert flagged.reasons == ("1 of 10 calcium candidates unlike any seen in training (surrounding tissue), "
                               "1 of them called coronary",)
    d[1:3, DESCRIPTOR_NAMES.index("log_volume_mm3")] = -1.0
    many = check_domain(_domain(), _scan(), d, np.zeros(10, bool))
    assert not many.in_domain and "3 of 10" in many.reasons[0] and "size or shape" in many.reasons[0]


def test_a_noisy_scan_is_flagged_whatever_the_training_domain():
    """Noise 36 HU (above the 35 HU limit) warns with the measured figure; 35 HU and a quiet scan do not."""
    from cacscore.detection.descriptors import TissueReference
    from cacscore.detection.domain import NOISY_SCAN_HU, noise_warning

    assert NOISY_SCAN_HU == 35.0
    text = noise_warning(TissueReference(soft_hu=40.0, fat_hu=-90.0, noise_sd_hu=36.0))
    assert text is not None and "noise 36 HU" in text and "too high" in text
    assert noise_warning(TissueReference(40.0, -90.0, 35.0)) is None
    assert noise_warning(TissueReference(40.0, -90.0, 12.0)) is None
