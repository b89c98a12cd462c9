"""Fixtures of the robustness tests: small inputs made from real data, quick to predict on.

- ``qrm_small_series``: 8 slices of the real QRM phantom scan (the insert slices 21-23 among them) with
  every header as the Canon scanner wrote it, pixels subsampled 4 x in-plane (128 x 128 at 1.952 mm).
- ``phantom_small_volume``: a synthetic cardiac CT with coronary calcium (the cacscore phantom), subsampled
  the same way, and its heart mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from cacscore.volume import Volume
from helpers import dicom_files_in_slice_order

#: In-plane subsampling of the small inputs (512 -> 128 pixels).
STEP = 4


def write_small_qrm_series(qrm_dicom_dir: Path, folder: Path, slices: range = range(18, 26)) -> list[Path]:
    """Slices ``slices`` of the QRM scan, subsampled by :data:`STEP`, written to ``folder`` under their own
    names; the headers are the scanner's except Rows, Columns and PixelSpacing."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in [dicom_files_in_slice_order(qrm_dicom_dir)[k] for k in slices]:
        ds = pydicom.dcmread(source)
        pixels = np.ascontiguousarray(ds.pixel_array[::STEP, ::STEP])
        ds.PixelData = pixels.tobytes()
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelSpacing = [f"{float(v) * STEP:.6f}" for v in ds.PixelSpacing]
        ds.save_as(folder / source.name)
        written.append(folder / source.name)
    return written


@pytest.fixture(scope="session")
def qrm_small_series(qrm_dicom_dir, tmp_path_factory) -> list[Path]:
    """The small QRM series (files in slice order); copy it before damaging it."""
    return write_small_qrm_series(qrm_dicom_dir, tmp_path_factory.mktemp("qrm-small") / "series")


@pytest.fixture(scope="session")
def phantom_small_volume() -> tuple[Volume, np.ndarray]:
    """(volume, heart mask) of :func:`small_phantom_case`."""
    return small_phantom_case()


def small_phantom_case() -> tuple[Volume, np.ndarray]:
    """(volume, heart mask) of phantom case 9501 (Canon preset, calcium category 2), 12 slices around its
    calcium, subsampled by :data:`STEP` in-plane."""
    from cacscore.phantom import generate_case

    case = generate_case(9501, "canon", category=2)
    z = np.flatnonzero(case.labels.any(axis=(1, 2)))
    start = max(0, int(np.median(z)) - 6)
    window = (slice(start, start + 12), slice(None, None, STEP), slice(None, None, STEP))
    v = case.volume
    dz, dy, dx = v.spacing_zyx_mm
    origin = v.index_to_physical(np.array([start, 0, 0]))
    small = Volume(np.ascontiguousarray(v.hu[window]), (dz, dy * STEP, dx * STEP), tuple(origin), v.direction,
                   v.info)
    return small, np.ascontiguousarray(case.heart_mask[window])
