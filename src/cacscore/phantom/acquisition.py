"""One case's acquisition: drawn from a vendor preset or from the random ranges, then the scan grid
(field of view and z coverage) it implies for the patient.

Protocols: "gated" is an ECG-triggered calcium-scoring scan, field of view centred on the heart, from below
the heart to about the carina; "chest" is a non-gated chest CT, field of view on the whole chest, from the
lung apices to the upper abdomen (the heart moves during it: see :mod:`cacscore.phantom.imaging`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.phantom.anatomy import Thorax
from cacscore.phantom.grid import Grid
from cacscore.phantom.presets import RANDOM_ACQUISITION, AcquisitionPreset, RandomAcquisition

PROTOCOLS = ("gated", "chest")
#: Slices of a vendor-preset (calcium-scoring) scan, as in the orCaScore protocols.
PRESET_SLICES: tuple[int, int] = (40, 80)
#: Most slices of any case: thin-slice scans cover less in z rather than growing without bound.
MAX_SLICES: dict[str, int] = {"gated": 320, "chest": 160}
MATRIX: int = 512


@dataclass(frozen=True)
class Acquisition:
    """How this case was scanned (what :mod:`cacscore.phantom.imaging` needs, and what the truth records)."""

    preset: str
    vendor_code: int
    protocol: str
    gated: bool
    manufacturer: str
    model: str
    kernel: str
    kvp: float
    slice_thickness_mm: float
    slice_increment_mm: float
    slice_edge_sigma_mm: float
    fov_mm: float
    psf_sigma_mm: float
    nps_peak_per_mm: float
    nps_floor_per_mm: float
    noise_sd_hu: float  # blood-pool noise SD of an average-sized patient
    motion_mm: float  # cardiac motion during the acquisition (0 when gated)
    outside_fov_hu: float

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def draw_acquisition(
    rng: np.random.Generator, preset: AcquisitionPreset | RandomAcquisition, overrides: dict
) -> Acquisition:
    """The acquisition of one case; ``overrides`` (``protocol``, ``gated``, ``slice_thickness_mm``,
    ``slice_increment_mm``, ``fov_mm``, ``noise_sd_hu``) win over the preset's draws."""
    if isinstance(preset, AcquisitionPreset):
        drawn = _from_vendor(rng, preset, overrides)
    else:
        drawn = _from_ranges(rng, preset, overrides)
    if drawn["slice_increment_mm"] > drawn["slice_thickness_mm"] + 1e-6:
        raise CacscoreError(
            f"slice increment {drawn['slice_increment_mm']} mm is larger than the thickness "
            f"{drawn['slice_thickness_mm']} mm (gaps between slices are not modelled); give an increment "
            "<= the thickness"
        )
    gated = bool(overrides.get("gated", drawn["protocol"] == "gated"))
    motion = 0.0 if gated else float(rng.uniform(*RANDOM_ACQUISITION.motion_mm))
    return Acquisition(
        preset=preset.name,
        vendor_code=preset.vendor_code,
        gated=gated,
        kvp=preset.kvp,
        motion_mm=motion,
        outside_fov_hu=preset.outside_fov_hu,
        **drawn,
    )


def _from_vendor(rng, preset: AcquisitionPreset, overrides: dict) -> dict:
    """A vendor preset: its kernel, thickness and noise range; a chest protocol gets a chest field of view."""
    protocol = overrides.get("protocol") or "gated"
    _check_protocol(protocol)
    fov = float(
        overrides.get("fov_mm") or rng.uniform(*(preset.fov_mm if protocol == "gated" else (300.0, 420.0)))
    )
    thick = float(overrides.get("slice_thickness_mm") or preset.slice_thickness_mm)
    default_inc = preset.slice_increment_mm if thick == preset.slice_thickness_mm else thick
    return {
        "protocol": protocol,
        "fov_mm": fov,
        "slice_thickness_mm": thick,
        "slice_increment_mm": float(overrides.get("slice_increment_mm") or default_inc),
        "noise_sd_hu": float(overrides.get("noise_sd_hu") or rng.uniform(*preset.noise_sd_hu)),
        "psf_sigma_mm": preset.psf_sigma_mm,
        "slice_edge_sigma_mm": preset.slice_edge_sigma_mm,
        "nps_peak_per_mm": preset.nps_peak_per_mm,
        "nps_floor_per_mm": preset.nps_floor_per_mm,
        "manufacturer": preset.manufacturer,
        "model": preset.model,
        "kernel": preset.kernel,
    }


def _from_ranges(rng, preset: RandomAcquisition, overrides: dict) -> dict:
    """Every parameter drawn from the random ranges (overrides win)."""
    protocol = overrides.get("protocol") or ("gated" if rng.random() < preset.gated_probability else "chest")
    _check_protocol(protocol)
    gated = protocol == "gated"
    choices = preset.gated_thickness_mm if gated else preset.chest_thickness_mm
    weights = np.array(preset.gated_thickness_weights if gated else preset.chest_thickness_weights, float)
    thick = float(overrides.get("slice_thickness_mm") or rng.choice(choices, p=weights / weights.sum()))
    inc = thick if rng.random() >= preset.overlap_probability else round(thick * rng.uniform(0.5, 0.8), 2)
    fov = float(
        overrides.get("fov_mm") or rng.uniform(*(preset.gated_fov_mm if gated else preset.chest_fov_mm))
    )
    noise_range = preset.gated_noise_sd_hu if gated else preset.chest_noise_sd_hu
    noise = float(overrides.get("noise_sd_hu") or rng.uniform(*noise_range))
    psf = float(rng.uniform(*preset.psf_sigma_mm))
    # Sharper kernels pass more high-frequency noise: the NPS peak moves up with the PSF's cut-off.
    sharp = (preset.psf_sigma_mm[1] - psf) / (preset.psf_sigma_mm[1] - preset.psf_sigma_mm[0])
    lo, hi = preset.nps_peak_per_mm
    return {
        "protocol": protocol,
        "fov_mm": fov,
        "slice_thickness_mm": thick,
        "slice_increment_mm": float(overrides.get("slice_increment_mm") or inc),
        "noise_sd_hu": noise,
        "psf_sigma_mm": psf,
        "slice_edge_sigma_mm": float(rng.uniform(*preset.slice_edge_sigma_mm)),
        "nps_peak_per_mm": float(np.clip(lo + (hi - lo) * sharp + rng.normal(0, 0.03), lo, hi)),
        "nps_floor_per_mm": float(rng.uniform(*preset.nps_floor_per_mm)),
        "manufacturer": preset.manufacturer,
        "model": preset.model,
        "kernel": f"sigma {psf:.2f} mm",
    }


def make_grid(
    rng: np.random.Generator, acq: Acquisition, thorax: Thorax, n_slices: int | None, vendor_preset: bool
) -> Grid:
    """Field of view and z coverage: cardiac (centred on the heart, below the heart to above the carina)
    or chest (centred on the body, lung apices to the upper abdomen). A vendor preset's gated scan keeps
    the orCaScore protocols' 40-80 slices."""
    p, heart = thorax.patient, thorax.heart
    px = acq.fov_mm / MATRIX
    inc = acq.slice_increment_mm
    if acq.protocol == "gated":
        z_bottom = heart.floor_z - rng.uniform(6, 20)
        z_top = heart.root_centre[2] + rng.uniform(45, 65)
        cloud = heart.surface_cloud()
        middle = 0.5 * (cloud.min(axis=0) + cloud.max(axis=0))  # of the whole heart, not of the LV
        cx = middle[0] + rng.uniform(-10, 10)
        cy = middle[1] + rng.uniform(-10, 10)
    else:
        z_bottom = thorax.abdomen.right_dome[2] - rng.uniform(60, 110)
        z_top = float(p.z_at(rng.uniform(0.3, 1.2)))
        cx, cy = rng.uniform(-10, 10), rng.uniform(-15, 15)
    n = int(np.ceil((z_top - z_bottom) / inc)) + 1
    if vendor_preset and acq.protocol == "gated":
        n = int(np.clip(n, *PRESET_SLICES))
    if n > MAX_SLICES[acq.protocol]:
        n = MAX_SLICES[acq.protocol]
        span = inc * (n - 1)
        z_bottom = float(np.clip(-span / 2, z_bottom, z_top - span))
    n = int(n_slices or n)
    origin = (cx - (MATRIX / 2 - 0.5) * px, cy - (MATRIX / 2 - 0.5) * px, float(z_bottom))
    return Grid(shape=(n, MATRIX, MATRIX), spacing_zyx_mm=(inc, px, px), origin_xyz_mm=origin)


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise CacscoreError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
