"""The same patient as another scanner or protocol would store it: what changes the image, not the anatomy.

Used to test that a reading of a real scan depends on the patient, not on the scanner
(benchmarks/real_ct_stability.py, tests/detection/test_real_chest_ct.py): added noise, in-plane
resampling, a softer kernel and a mirrored storage order. Each returns a new :class:`Volume` (the input is
not modified); geometry and metadata follow the change.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage as ndi

from cacscore.volume import Volume


def add_noise(volume: Volume, sd_hu: float, seed: int = 0) -> Volume:
    """``volume`` plus Gaussian noise of SD ``sd_hu`` (HU), correlated in-plane over about a pixel (a
    Gaussian of 0.8 px: CT noise is correlated over about a millimetre by the reconstruction kernel)."""
    rng = np.random.default_rng(seed)
    noise = ndi.gaussian_filter(rng.standard_normal(volume.shape).astype(np.float32), (0, 0.8, 0.8))
    return volume.with_hu(volume.hu + noise * np.float32(sd_hu / noise.std()))


def resample_in_plane(volume: Volume, pixel_mm: float) -> Volume:
    """``volume`` resampled (linear) to square pixels of ``pixel_mm``; voxel (0, 0, 0) keeps its position."""
    factor = (volume.spacing_zyx_mm[1] / pixel_mm, volume.spacing_zyx_mm[2] / pixel_mm)
    hu = ndi.zoom(volume.hu, (1.0, *factor), order=1).astype(np.float32)
    return replace(volume, hu=hu, spacing_zyx_mm=(volume.spacing_zyx_mm[0], pixel_mm, pixel_mm))


def soften(volume: Volume, sigma_mm: float) -> Volume:
    """``volume`` blurred in-plane by a Gaussian of ``sigma_mm`` (a softer reconstruction kernel)."""
    sigma = (0.0, sigma_mm / volume.spacing_zyx_mm[1], sigma_mm / volume.spacing_zyx_mm[2])
    return volume.with_hu(ndi.gaussian_filter(volume.hu, sigma))


def mirror_x(volume: Volume) -> Volume:
    """The same patient stored with the column order reversed: the header's x axis and origin are reversed
    with it, so every voxel keeps its patient position."""
    direction = volume.direction.copy()
    direction[:, 0] *= -1.0
    origin = volume.index_to_physical(np.array([0.0, 0.0, volume.shape[2] - 1.0]))
    return replace(volume, hu=volume.hu[:, :, ::-1].copy(), direction=direction, origin_xyz_mm=tuple(origin))
