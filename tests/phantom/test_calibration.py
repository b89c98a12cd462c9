"""The canon preset against the real QRM phantom scan: same ROI code and scoring code on both scans."""

from __future__ import annotations

import pytest

from cacscore.io import read_volume
from cacscore.phantom.qrm import generate_qrm_replica, measure_inserts, measure_noise_sd

CALIBRATED = ("Large_HD", "Medium_HD", "Large_MD", "Medium_MD", "Large_LD", "Medium_LD")


@pytest.fixture(scope="module")
def real(qrm_dicom_dir):
    return read_volume(qrm_dicom_dir)


@pytest.fixture(scope="module")
def replicas():
    # The replica is a model of the scan's expectation; the real scan is one noise realisation. Scores
    # are compared as the mean over three noise seeds.
    return [generate_qrm_replica("canon", seed=s).volume for s in (0, 1, 2)]


@pytest.fixture(scope="module")
def replica(replicas):
    return replicas[0]


def test_measurement_reproduces_published_scores_on_the_real_scan(real, qrm_reference):
    # The measuring code itself is checked against the independent published FQM numbers.
    measured = measure_inserts(real, CALIBRATED)
    for name in CALIBRATED:
        published = qrm_reference["published_scores"]["agatston"][name]
        assert measured[name]["agatston"] == pytest.approx(published, rel=0.02), name


def test_noise_sd_within_20_percent_of_the_real_scan(real, replica, qrm_reference):
    real_sd = measure_noise_sd(real)
    assert real_sd == pytest.approx(qrm_reference["insert_background_hu"]["sd"], rel=0.1)
    assert measure_noise_sd(replica) == pytest.approx(real_sd, rel=0.2)


@pytest.mark.parametrize("name", CALIBRATED)
def test_insert_agatston_within_15_percent_of_the_real_scan(real, replicas, name):
    real_score = measure_inserts(real, (name,))[name]["agatston"]
    replica_score = sum(measure_inserts(v, (name,))[name]["agatston"] for v in replicas) / len(replicas)
    assert real_score > 0
    assert replica_score == pytest.approx(real_score, rel=0.15)


def test_replica_has_the_real_geometry(real, replica):
    assert replica.shape == real.shape
    assert replica.spacing_zyx_mm == pytest.approx(real.spacing_zyx_mm, abs=1e-3)
