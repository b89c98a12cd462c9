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
from typing import Protocol

import numpy as np
import scipy.fft
from scipy import ndimage
from scipy.special import erf

from cacscore.phantom.grid import Grid


class Imaging(Protocol):
    """What image formation needs of an acquisition (a vendor preset or a case's drawn acquisition)."""

    slice_thickness_mm: float
    slice_edge_sigma_mm: float
    psf_sigma_mm: float
    nps_peak_per_mm: float
    nps_floor_per_mm: float


#: Slices of noise generated at a time.
_NOISE_SLAB = 24


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


def blur_anatomy(hu: np.ndarray, grid: Grid, preset: Imaging) -> np.ndarray:
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
    grid: Grid,
    ellipsoids: list[Ellipsoid],
    background_hu: float,
    preset: Imaging,
    motion: list[tuple[np.ndarray, float]] | None = None,
    sample_mm: tuple[float, float] = (0.12, 0.3),
) -> Rendered | None:
    """Render a small dense object supersampled, blur it with PSF and SSP, sample it on the grid.

    The contribution is (object HU - ``background_hu``) x occupancy, blurred, i.e. what the object adds to
    the blurred anatomy. ``motion``: (offset xyz mm, weight) pairs, weights summing to 1: the object as
    the weighted sum of its copies at those offsets (an object that moved during the acquisition: blurred
    or doubled). ``sample_mm``: the supersampling (in-plane, z); coarser for objects whose partial volume
    needs no precision (metal). Returns None when the object misses the grid.
    """
    dz, dy, dx = grid.spacing_zyx_mm
    reach = max((float(np.abs(o).max()) for o, _ in motion), default=0.0) if motion else 0.0
    lo = np.min([e.centre - _half_extent(e) for e in ellipsoids], axis=0) - reach
    hi = np.max([e.centre + _half_extent(e) for e in ellipsoids], axis=0) + reach
    m_xy = 3.5 * preset.psf_sigma_mm + max(dx, dy)
    m_z = preset.slice_thickness_mm / 2 + 3 * preset.slice_edge_sigma_mm + dz
    box = grid.box(lo - np.array([m_xy, m_xy, m_z]), hi + np.array([m_xy, m_xy, m_z]))
    if box is None:
        return None
    f_xy = max(int(np.ceil(max(dx, dy) / sample_mm[0])), 1)
    f_z = max(int(np.ceil(dz / sample_mm[1])), 1)
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
    if motion:
        steps = (dz / f_z, dy / f_xy, dx / f_xy)
        moved = np.zeros_like(hr)
        for offset, weight in motion:
            shift = [round(offset[w] / st) for w, st in zip((2, 1, 0), steps, strict=True)]
            moved += np.float32(weight) * _shifted(hr, shift)
        hr = moved
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


def _shifted(a: np.ndarray, shift: list[int]) -> np.ndarray:
    """``a`` moved by whole samples along each axis, zero-filled."""
    out = np.zeros_like(a)
    src, dst = [], []
    for s, n in zip(shift, a.shape, strict=True):
        s = max(min(s, n), -n)
        src.append(slice(max(-s, 0), n - max(s, 0)))
        dst.append(slice(max(s, 0), n - max(-s, 0)))
    out[tuple(dst)] = a[tuple(src)]
    return out


def motion_blur_region(image: np.ndarray, grid: Grid, mask: np.ndarray, motion_mm: float) -> None:
    """Blur ``image`` in place where the heart is (``mask``, softened by 4 mm): a non-gated scan sees the
    heart's edges smeared over about ``motion_mm`` (Gaussian, sigma = motion / 2)."""
    if motion_mm <= 0 or not mask.any():
        return
    nz = np.nonzero(mask.any(axis=(1, 2)))[0]
    ny = np.nonzero(mask.any(axis=(0, 2)))[0]
    nx = np.nonzero(mask.any(axis=(0, 1)))[0]
    dz, dy, dx = grid.spacing_zyx_mm
    pad = (int(np.ceil(8 / dz)), int(np.ceil(8 / dy)), int(np.ceil(8 / dx)))
    box = tuple(
        slice(max(int(a[0]) - p, 0), min(int(a[-1]) + p + 1, n))
        for a, p, n in zip((nz, ny, nx), pad, image.shape, strict=True)
    )
    sigma = motion_mm / 2
    sub = image[box]
    blurred = ndimage.gaussian_filter(sub, sigma=(sigma / dz, sigma / dy, sigma / dx), mode="nearest")
    weight = ndimage.gaussian_filter(mask[box].astype(np.float32), sigma=(2 / dz, 4 / dy, 4 / dx))
    weight = np.clip(weight * 2, 0, 1)
    sub += weight * (blurred - sub)


def _half_extent(e: Ellipsoid) -> np.ndarray:
    return np.sqrt(((np.asarray(e.axes) * np.asarray(e.semi_mm)[:, None]) ** 2).sum(axis=0))


def correlated_noise(rng: np.random.Generator, grid: Grid, preset: Imaging, sd_hu: float) -> np.ndarray:
    """Stationary CT-like noise of standard deviation ``sd_hu`` (float32, grid shape).

    In-plane texture: NPS(f) ~ (f + f_0) exp(-(f/f_c)^2), f_c = sqrt(2) x the preset's
    ``nps_peak_per_mm``, f_0 its ``nps_floor_per_mm``. Along z: overlapping slices (increment < thickness)
    average m = thickness/increment independent sub-slices, so neighbours correlate as real overlapping
    reconstructions do.
    """
    nz, ny, nx = grid.shape
    dz, dy, dx = grid.spacing_zyx_mm
    m = max(round(preset.slice_thickness_mm / dz), 1)
    fy = np.fft.fftfreq(ny, d=dy).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(nx, d=dx).astype(np.float32)[None, :]
    f = np.sqrt(fy**2 + fx**2)
    fc = preset.nps_peak_per_mm * np.sqrt(2.0)
    h = np.sqrt((f + preset.nps_floor_per_mm) * np.exp(-((f / fc) ** 2))).astype(np.float32)
    # Normalise so that the filtered noise has unit variance (Parseval over the full 2-D spectrum).
    full_power = (h**2).sum() * 2 - (h[:, 0] ** 2).sum() - (h[:, -1] ** 2).sum() * (nx % 2 == 0)
    h *= np.float32(np.sqrt(ny * nx / full_power))
    # Slab by slab (bounded memory for thin-slice scans); the white noise is drawn in the same order.
    noise = np.empty((nz, ny, nx), np.float32)
    carry = np.zeros((0, ny, nx), np.float32)
    done = 0
    total = nz + m - 1
    for start in range(0, total, _NOISE_SLAB):
        white = rng.standard_normal((min(_NOISE_SLAB, total - start), ny, nx), dtype=np.float32)
        spec = scipy.fft.rfft2(white, axes=(1, 2), workers=2)
        spec *= h[None]
        filt = scipy.fft.irfft2(spec, s=(ny, nx), axes=(1, 2), workers=2).astype(np.float32, copy=False)
        filt = np.concatenate([carry, filt]) if carry.size else filt
        ready = filt.shape[0] - (m - 1)
        if ready > 0:
            acc = filt[:ready].copy()
            for j in range(1, m):
                acc += filt[j : j + ready]
            noise[done : done + ready] = acc * np.float32(sd_hu / np.sqrt(m))
            done += ready
        carry = filt[ready:] if ready > 0 else filt
    return noise
