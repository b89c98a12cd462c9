"""Fixtures of the io tests: small volumes with anisotropic spacing and a rotated, right-handed direction."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.volume import ScanInfo, Volume


def rotation(angle_deg: float, axis: tuple[float, float, float]) -> np.ndarray:
    """Rotation matrix (right-handed, det +1) of ``angle_deg`` about ``axis`` (Rodrigues' formula)."""
    k = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    a = np.radians(angle_deg)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * kx @ kx


@pytest.fixture
def oblique_volume() -> Volume:
    """7 x 9 x 11 integer HU (distinct per voxel), spacing (2.5, 0.7, 0.9) mm, rotated 20 deg, shifted."""
    rng = np.random.default_rng(7)
    hu = rng.integers(-1024, 1500, size=(7, 9, 11)).astype(np.float32)
    return Volume(
        hu=hu,
        spacing_zyx_mm=(2.5, 0.7, 0.9),
        origin_xyz_mm=(-120.25, 33.5, 410.0),
        direction=rotation(20.0, (0.3, 0.2, 1.0)),
        info=ScanInfo(modality="CT", kvp=120.0, slice_thickness_mm=3.0, manufacturer="Siemens",
                      model="SOMATOM Force", kernel="Qr36d", series_description="Ca score 3.0"),
    )
