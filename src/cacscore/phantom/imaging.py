"""Image formation: in-plane PSF and slice profile (blur), supersampled small objects, correlated noise.

The scanner is modelled as a linear shift-invariant system followed by additive noise:
image = PSF * object + n. The PSF is separable: an in-plane Gaussian (sigma per kernel) and a slice
sensitivity profile (SSP) along z that is a box of the nominal slice thickness with Gaussian-softened
edges, sampled at the slice increment. Large anatomy is painted on the scan grid and blurred there; small
dense objects (calcifications, wires) are rendered on a supersampled box (~0.12 mm in-plane, ~0.3 mm in z),
blurred with the same PSF and SSP and sampled at the voxel centres, so that their partial-volume loss is
that of a real acquisition. By linearity the two parts add.

Noise is white Gaussian noise filtered in-plane (FFT) to a kernel-like noise power spectrum
NPS(f) ~ (f + f_0) exp(-(f/f_c)^2): ramp times apodisation plus a low-frequency floor f_0 (Boedeker et al.,
Med Phys 2007; Solomon et al., Med Phys 2012, which show NPS peaks near 0.2-0.4 mm^-1 for soft-tissue
kernels), and along z by the overlap of the slices when the increment is smaller than the thickness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage
from scipy.special import erf

from cacscore.phantom.grid import Grid
from cacscore.phantom.presets import AcquisitionPreset


@dataclass
class Ellipsoid:
    """A solid ellipsoid of intrinsic HU ``density_hu``; ``axes`` rows are unit axis vectors (x, y, z)."""

    centre: np.ndarray
    axes: np.ndarray
    semi_mm: np.ndarray
    density_hu: float
    #: Density falls by this fraction from the core to the rim (calcified plaque is densest inside).
    core_falloff: float = 0.25
    #: "ellipsoid", or "cylinder" (axis along ``axes[0]``, half-length ``semi_mm[0]``, radii the others).
    shape: str = "ellipsoid"


@dataclass
class Rendered:
    """A blurred object sampled on the scan grid: its box and its HU contribution there."""

    box: tuple[slice, slice, slice]
    contribution: np.ndarray


def ssp_weights(step_mm: float, thickness_mm: float, edge_sigma_mm: float) -> np.ndarray:
    """Slice sensitivity profile sampled every ``step_mm`` (odd length, sums to 1)."""
    half = thickness_mm / 2 + 3 * edge_sigma_mm
    n = int(np.ceil(half / step_mm))
    z = np.arange(-n, n + 1) * step_mm
    s = max(edge_sigma_mm, 1e-3) * np.sqrt(2)
    w = 0.5 * (erf((z + thickness_mm / 2) / s) - erf((z - thickness_mm / 2) / s))
    return (w / w.sum()).astype(np.float32)


def blur_anatomy(hu: np.ndarray, grid: Grid, preset: AcquisitionPreset) -> np.ndarray:
    """Blur the grid-painted anatomy: in-plane Gaussian PSF, Gaussian approximation of the SSP in z."""
    dz, dy, dx = grid.spacing_zyx_mm
    sigma_z = np.sqrt(max(preset.slice_thickness_mm**2 / 12 + preset.slice_edge_sigma_mm**2 - dz**2 / 12, 0))
    return ndimage.gaussian_filter(
        hu,
        sigma=(sigma_z / dz, preset.psf_sigma_mm / dy, preset.psf_sigma_mm / dx),
        mode="nearest",
        truncate=3.0,
    )


def render_object(
    grid: Grid, ellipsoids: list[Ellipsoid], background_hu: float, preset: AcquisitionPreset
) -> Rendered | None:
    """Render a small dense object supersampled, blur it with PSF and SSP, sample it on the grid.

    The contribution is (object HU - ``background_hu``) x occupancy, blurred, i.e. what the object adds to
    the blurred anatomy. Returns None when the object misses the grid.
    """
    dz, dy, dx = grid.spacing_zyx_mm
    lo = np.min([e.centre - _half_extent(e) for e in ellipsoids], axis=0)
    hi = np.max([e.centre + _half_extent(e) for e in ellipsoids], axis=0)
    m_xy = 3.5 * preset.psf_sigma_mm + max(dx, dy)
    m_z = preset.slice_thickness_mm / 2 + 3 * preset.slice_edge_sigma_mm + dz
    box = grid.box(lo - np.array([m_xy, m_xy, m_z]), hi + np.array([m_xy, m_xy, m_z]))
    if box is None:
        return None
    f_xy = max(int(np.ceil(max(dx, dy) / 0.12)), 1)
    f_z = max(int(np.ceil(dz / 0.3)), 1)
    factors = (f_z, f_xy, f_xy)
    axes_hr = []
    for axis in range(3):
        n = box[axis].stop - box[axis].start
        g = grid.axis_mm(axis)[box[axis]].astype(np.float64)
        step = grid.spacing_zyx_mm[axis] / factors[axis]
        axes_hr.append(g[0] + np.arange((n - 1) * factors[axis] + 1) * step)
    hr = np.zeros(tuple(a.size for a in axes_hr), np.float32)
    zc, yc, xc = axes_hr
    for e in ellipsoids:
        elo = e.centre - _half_extent(e)
        ehi = e.centre + _half_extent(e)
        sl = []
        for arr, k in ((zc, 2), (yc, 1), (xc, 0)):
            sl.append(slice(np.searchsorted(arr, elo[k]), np.searchsorted(arr, ehi[k], side="right")))
        if any(s.stop <= s.start for s in sl):
            continue
        z = (zc[sl[0]] - e.centre[2]).astype(np.float32)[:, None, None]
        y = (yc[sl[1]] - e.centre[1]).astype(np.float32)[None, :, None]
        x = (xc[sl[2]] - e.centre[0]).astype(np.float32)[None, None, :]
        t2 = []
        for k in range(3):
            a = (e.axes[k] / e.semi_mm[k]).astype(np.float32)
            t = x * a[0] + y * a[1] + z * a[2]
            t2.append(t * t)
        if e.shape == "cylinder":
            q = t2[1] + t2[2]
            inside = (q <= 1) & (t2[0] <= 1)
        else:
            q = t2[0] + t2[1] + t2[2]
            inside = q <= 1
        val = np.where(inside, (e.density_hu - background_hu) * (1 - e.core_falloff * q), 0).astype(
            np.float32
        )
        sub = hr[tuple(sl)]
        np.maximum(sub, val, out=sub)
    # Separable filters: filter along one axis, then keep only the samples at voxel centres of that axis
    # before filtering the next (exactly the same result, far less work).
    w = ssp_weights(dz / f_z, preset.slice_thickness_mm, preset.slice_edge_sigma_mm)
    hr = ndimage.convolve1d(hr, w, axis=0, mode="constant")[::f_z]
    hr = ndimage.gaussian_filter1d(hr, preset.psf_sigma_mm * f_xy / dy, axis=1, mode="constant", truncate=3.5)
    hr = ndimage.gaussian_filter1d(
        hr[:, ::f_xy], preset.psf_sigma_mm * f_xy / dx, axis=2, mode="constant", truncate=3.5
    )
    out = hr[:, :, ::f_xy]
    return Rendered(box=box, contribution=np.ascontiguousarray(out))


def _half_extent(e: Ellipsoid) -> np.ndarray:
    return np.sqrt(((np.asarray(e.axes) * np.asarray(e.semi_mm)[:, None]) ** 2).sum(axis=0))


def correlated_noise(
    rng: np.random.Generator, grid: Grid, preset: AcquisitionPreset, sd_hu: float
) -> np.ndarray:
    """Stationary CT-like noise of standard deviation ``sd_hu`` (float32, grid shape).

    In-plane texture: NPS(f) ~ (f + f_0) exp(-(f/f_c)^2), f_c = sqrt(2) x the preset's
    ``nps_peak_per_mm``, f_0 its ``nps_floor_per_mm``. Along z: overlapping slices (increment < thickness)
    average m = thickness/increment independent sub-slices, so neighbours correlate as real overlapping
    reconstructions do.
    """
    nz, ny, nx = grid.shape
    dz, dy, dx = grid.spacing_zyx_mm
    m = max(round(preset.slice_thickness_mm / dz), 1)
    white = rng.standard_normal((nz + m - 1, ny, nx), dtype=np.float32)
    fy = np.fft.fftfreq(ny, d=dy).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(nx, d=dx).astype(np.float32)[None, :]
    f = np.sqrt(fy**2 + fx**2)
    fc = preset.nps_peak_per_mm * np.sqrt(2.0)
    h = np.sqrt((f + preset.nps_floor_per_mm) * np.exp(-((f / fc) ** 2))).astype(np.float32)
    # Normalise so that the filtered noise has unit variance (Parseval over the full 2-D spectrum).
    full_power = (h**2).sum() * 2 - (h[:, 0] ** 2).sum() - (h[:, -1] ** 2).sum() * (nx % 2 == 0)
    h *= np.float32(np.sqrt(ny * nx / full_power))
    spec = scipy.fft.rfft2(white, axes=(1, 2), workers=2)
    spec *= h[None]
    noise = scipy.fft.irfft2(spec, s=(ny, nx), axes=(1, 2), workers=2).astype(np.float32, copy=False)
    if m > 1:
        c = np.cumsum(noise, axis=0, dtype=np.float32)
        c = np.concatenate([np.zeros((1, ny, nx), np.float32), c])
        noise = (c[m:] - c[:-m]) / np.float32(np.sqrt(m))
    noise *= np.float32(sd_hu)
    return noise
