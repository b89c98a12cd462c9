"""Randomised acquisitions: protocol, thickness, field of view, kernel, noise and motion; overrides; truth."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.errors import CacscoreError
from cacscore.phantom import RANDOM_ACQUISITION, VENDOR_PRESETS, generate_case
from cacscore.phantom.acquisition import draw_acquisition


def test_random_acquisitions_span_the_clinical_ranges():
    rng = np.random.default_rng(0)
    acqs = [draw_acquisition(rng, RANDOM_ACQUISITION, {}) for _ in range(200)]
    gated = [a for a in acqs if a.protocol == "gated"]
    chest = [a for a in acqs if a.protocol == "chest"]
    assert 0.45 < len(gated) / len(acqs) < 0.75 and chest
    for a in acqs:
        assert 0.5 <= a.slice_thickness_mm <= 5.0 and 0 < a.slice_increment_mm <= a.slice_thickness_mm
        assert 0.35 <= a.psf_sigma_mm <= 0.9 and 0.15 <= a.nps_peak_per_mm <= 0.45
        assert 10 <= a.noise_sd_hu <= 60 and a.kvp == 120
        assert a.gated == (a.protocol == "gated")
        assert (a.motion_mm == 0) if a.gated else (1 <= a.motion_mm <= 5)
    assert all(160 <= a.fov_mm <= 260 for a in gated) and all(300 <= a.fov_mm <= 420 for a in chest)
    # Thin and thick slices, overlapping reconstructions, smooth and sharp kernels all occur.
    thick = [a.slice_thickness_mm for a in acqs]
    assert min(thick) <= 1.0 and max(thick) == 5.0
    assert any(a.slice_increment_mm < a.slice_thickness_mm for a in acqs)
    psf = [a.psf_sigma_mm for a in acqs]
    assert min(psf) < 0.45 and max(psf) > 0.8
    # Sharper kernels pass higher noise frequencies: the NPS peak falls as the PSF widens.
    assert np.corrcoef(psf, [a.nps_peak_per_mm for a in acqs])[0, 1] < -0.5


def test_vendor_presets_keep_their_protocol():
    rng = np.random.default_rng(1)
    for name, preset in VENDOR_PRESETS.items():
        a = draw_acquisition(rng, preset, {})
        assert a.protocol == "gated" and a.gated and a.motion_mm == 0
        assert a.slice_thickness_mm == preset.slice_thickness_mm
        assert a.slice_increment_mm == preset.slice_increment_mm
        assert preset.fov_mm[0] <= a.fov_mm <= preset.fov_mm[1]
        assert (a.psf_sigma_mm, a.kernel) == (preset.psf_sigma_mm, preset.kernel), name


def test_overrides_reach_the_volume_and_the_truth():
    case = generate_case(
        4,
        "random",
        protocol="gated",
        slice_thickness_mm=1.0,
        slice_increment_mm=0.8,
        fov_mm=200.0,
        n_slices=12,
        score=False,
    )
    vol, acq = case.volume, case.truth["acquisition"]
    assert vol.shape == (12, 512, 512)
    assert vol.spacing_zyx_mm[0] == pytest.approx(0.8) and vol.spacing_zyx_mm[1] == pytest.approx(200 / 512)
    assert vol.info.slice_thickness_mm == 1.0 and vol.info.slice_increment_mm == 0.8
    assert acq["protocol"] == "gated" and acq["gated"] and acq["fov_mm"] == 200.0
    assert acq["slice_thickness_mm"] == 1.0 and acq["shape_zyx"] == [12, 512, 512]
    chest = generate_case(4, "ge", protocol="chest", n_slices=6, score=False)
    assert chest.truth["acquisition"]["protocol"] == "chest" and not chest.truth["acquisition"]["gated"]
    assert chest.truth["acquisition"]["fov_mm"] >= 300 and chest.volume.info.kernel == "STANDARD"


def test_same_seed_same_patient_whatever_the_scanner():
    """The anatomy has its own random stream: another acquisition images the same patient."""
    a = generate_case(9, "siemens", n_slices=4, score=False)
    b = generate_case(9, "random", protocol="chest", n_slices=4, score=False)
    assert a.truth["patient"] == b.truth["patient"]
    assert a.truth["acquisition"] != b.truth["acquisition"]
    c = generate_case(9, "random", protocol="chest", n_slices=4, score=False)
    assert np.array_equal(b.volume.hu, c.volume.hu) and b.truth == c.truth


def test_non_gated_scans_smear_coronary_calcium():
    """Cardiac motion during a non-gated acquisition spreads each plaque over a few mm: the same
    calcium, spread out, peaks lower (a blur conserves the integral, not the maximum)."""
    peaks = {}
    for gated in (True, False):
        c = generate_case(
            31, "siemens", category=4, noise_sd_hu=1.0, lookalikes=False, gated=gated, score=False
        )
        assert (c.truth["acquisition"]["motion_mm"] > 0) != gated
        peaks[gated] = np.mean([les["peak_image_hu"] for les in c.truth["lesions"]])
    assert peaks[False] < 0.9 * peaks[True]


def test_bad_acquisition_options():
    with pytest.raises(CacscoreError, match="protocol"):
        generate_case(1, "random", protocol="mri")
    with pytest.raises(CacscoreError, match="increment"):
        generate_case(1, "random", slice_thickness_mm=1.0, slice_increment_mm=2.0)
