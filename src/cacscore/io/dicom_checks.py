"""Checks of one DICOM CT series' headers, slice by slice: each slice must agree with the others and with
physics before its pixels are read.

Every check raises one :class:`~cacscore.errors.CacscoreError` naming the file and the field: modality (on
every slice, not only the first), pixel format, declared matrix against the bytes the file holds, pixel
spacing, orientation (two perpendicular unit vectors), positions (finite; no duplicates, gaps or gantry
tilt), rescale slope and intercept (finite, slope > 0), and a slice whose rescale differs from its
neighbours' must give HU that continue theirs (a damaged intercept on one slice shifts it by hundreds of HU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.io.dicom_files import DicomHeader, floats

#: A gap between consecutive slice positions larger than this multiple of the median increment is taken as
#: missing slices.
MISSING_SLICE_GAP_FACTOR = 1.5

#: Positions closer than this (mm) along the normal are the same position.
DUPLICATE_POSITION_TOLERANCE_MM = 1e-3

#: Largest angle (degrees) between the slice normal and the line through the slice positions before the
#: series is called tilted.
MAX_TILT_DEGREES = 0.5

#: Relative spread of the increments (max - min) / median above which a warning is recorded.
IRREGULAR_INCREMENT_TOLERANCE = 0.01

#: Pixel spacing and orientation values agreeing within this are the same.
GEOMETRY_TOLERANCE = 1e-4

#: Largest deviation of an orientation cosine vector's length from 1, and of the two vectors' dot product
#: from 0 (DICOM writes them with 5-6 decimals).
ORIENTATION_TOLERANCE = 1e-3

#: A slice whose rescale differs from a neighbour's is damaged when it differs from each neighbour this many
#: times more than the neighbours differ from each other (median absolute HU difference), plus
#: :data:`RESCALE_JUMP_MARGIN_HU`.
RESCALE_JUMP_FACTOR = 4.0
RESCALE_JUMP_MARGIN_HU = 50.0

#: Transfer syntaxes whose pixel data is stored uncompressed (its length is Rows x Columns x bytes).
UNCOMPRESSED_SYNTAXES = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"})

#: Header fields that fix how stored pixels are decoded; every slice of a series must agree on them.
PIXEL_FORMAT_FIELDS = ("BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel",
                       "PhotometricInterpretation")


def check_modality(headers: Sequence[DicomHeader]) -> str:
    """Every slice must be CT (not only the first); returns "CT"."""
    for h in headers:
        modality = str(h.ds.get("Modality", "") or "")
        if modality != "CT":
            series = f"series {h.ds.get('SeriesInstanceUID', '?')}"
            where = series if h is headers[0] else f"{h.path.name} of {series}"
            raise CacscoreError(f"{where} has modality {modality or 'unknown'}, not CT; cacscore scores CT "
                                "scans only")
    return "CT"


def check_pixel_format(headers: Sequence[DicomHeader]) -> None:
    """Single-frame, one sample per pixel, and the same bit depth and signedness on every slice."""
    first = headers[0]
    for h in headers:
        if int(h.ds.get("NumberOfFrames", 1) or 1) > 1:
            raise CacscoreError(f"{h.path.name} is a multi-frame image (enhanced CT); export the series as "
                                "single-frame CT Image Storage slices")
        if int(h.ds.get("SamplesPerPixel", 1) or 1) != 1:
            raise CacscoreError(f"{h.path.name} has {h.ds.SamplesPerPixel} samples per pixel; a CT image "
                                "has one (grey levels)")
        for keyword in PIXEL_FORMAT_FIELDS:
            if h.ds.get(keyword) != first.ds.get(keyword):
                raise CacscoreError(
                    f"the slices disagree on {keyword} ({first.path.name}: {first.ds.get(keyword)}, "
                    f"{h.path.name}: {h.ds.get(keyword)}): a damaged header; re-export the series"
                )


def check_pixel_bytes(header: DicomHeader) -> None:
    """Uncompressed pixel data must be as long as Rows x Columns x BitsAllocated / 8 says."""
    ds = header.ds
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if syntax not in UNCOMPRESSED_SYNTAXES:
        return
    need = int(ds.Rows) * int(ds.Columns) * max(1, int(ds.get("BitsAllocated", 16) or 16) // 8)
    size = header.path.stat().st_size
    if size < need:
        raise CacscoreError(
            f"{header.path.name} declares {int(ds.Rows)} x {int(ds.Columns)} pixels ({need} bytes) but the "
            f"file holds {size} bytes: a damaged header or a truncated file; re-export the series"
        )


def slice_size(headers: Sequence[DicomHeader]) -> tuple[int, int, tuple[float, float]]:
    """(rows, columns, (row spacing, column spacing) mm), the same on every slice, spacing finite > 0."""
    first = headers[0]
    ref_size = (int(first.ds.Rows), int(first.ds.Columns))
    ref_spacing = floats(first.ds, "PixelSpacing", 2)
    for h in headers:
        size = (int(h.ds.Rows), int(h.ds.Columns))
        if size != ref_size:
            raise CacscoreError(
                f"the series mixes slice sizes: {first.path.name} is {ref_size[0]}x{ref_size[1]}, "
                f"{h.path.name} is {size[0]}x{size[1]}; the files do not form one volume"
            )
        spacing = floats(h.ds, "PixelSpacing", 2)
        if spacing is None or not np.all(np.isfinite(spacing)) or spacing.min() <= 0:
            raise CacscoreError(f"{h.path.name} has PixelSpacing {h.ds.get('PixelSpacing')}: a spacing is a "
                                "positive number of mm; the header is damaged")
        if not np.allclose(spacing, ref_spacing, atol=GEOMETRY_TOLERANCE):
            raise CacscoreError(
                f"the series mixes pixel spacings: {first.path.name} has {ref_spacing.tolist()} mm, "
                f"{h.path.name} has {spacing.tolist()} mm; the files do not form one volume"
            )
    return ref_size[0], ref_size[1], (float(ref_spacing[0]), float(ref_spacing[1]))


def orientation(headers: Sequence[DicomHeader]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row cosines, column cosines, slice normal), the same on every slice: perpendicular unit vectors."""
    iop = floats(headers[0].ds, "ImageOrientationPatient", 6)
    for h in headers:
        other = floats(h.ds, "ImageOrientationPatient", 6)
        if other is None or not np.all(np.isfinite(other)):
            raise CacscoreError(f"{h.path.name} has ImageOrientationPatient "
                                f"{h.ds.get('ImageOrientationPatient')}; the header is damaged")
        if not np.allclose(other, iop, atol=GEOMETRY_TOLERANCE):
            raise CacscoreError(
                f"the series mixes slice orientations ({headers[0].path.name} and {h.path.name}); "
                "the files do not form one volume"
            )
    row_cos, col_cos = iop[:3], iop[3:]
    lengths = np.linalg.norm(row_cos), np.linalg.norm(col_cos)
    unit = max(abs(n - 1.0) for n in lengths) <= ORIENTATION_TOLERANCE
    if not unit or abs(row_cos @ col_cos) > ORIENTATION_TOLERANCE:
        raise CacscoreError(
            f"{headers[0].path.name} has ImageOrientationPatient {iop.tolist()}: not two perpendicular unit "
            "vectors (row and column directions); the header is damaged"
        )
    row_cos, col_cos = row_cos / lengths[0], col_cos / lengths[1]
    normal = np.cross(row_cos, col_cos)
    return row_cos, col_cos, normal / np.linalg.norm(normal)


def positions(headers: Sequence[DicomHeader]) -> np.ndarray:
    """(n, 3) ImagePositionPatient of every slice (LPS mm), all finite."""
    out = np.empty((len(headers), 3))
    for k, h in enumerate(headers):
        ipp = floats(h.ds, "ImagePositionPatient", 3)
        if ipp is None or not np.all(np.isfinite(ipp)):
            raise CacscoreError(f"{h.path.name} has ImagePositionPatient {h.ds.get('ImagePositionPatient')}; "
                                "the header is damaged")
        out[k] = ipp
    return out


def check_positions(
    headers: Sequence[DicomHeader],
    positions_mm: np.ndarray,
    distance: np.ndarray,
    normal: np.ndarray,
    warnings: list[str],
) -> float:
    """Check sorted slice positions; return the slice increment (median step along the normal, mm)."""
    if len(headers) == 1:
        h = headers[0].ds
        step = h.get("SpacingBetweenSlices") or h.get("SliceThickness") or 1.0
        warnings.append(f"the series has a single slice; its depth is taken as {float(step)} mm")
        return float(step)
    steps = np.diff(distance)
    duplicates = np.flatnonzero(steps < DUPLICATE_POSITION_TOLERANCE_MM)
    if duplicates.size:
        k = int(duplicates[0])
        raise CacscoreError(
            f"{duplicates.size} duplicated slice position(s), e.g. {headers[k].path.name} and "
            f"{headers[k + 1].path.name} both at {distance[k]:.3f} mm along the normal; the folder may hold "
            "two reconstructions of one series: keep one"
        )
    # Gantry tilt: the line through the slice positions must run along the slice normal.
    # Rounding of the stored positions is no tilt: the in-plane drift over the whole stack must also reach
    # half the smallest pixel spacing.
    progression = positions_mm[-1] - positions_mm[0]
    cos_angle = abs(float(progression @ normal)) / float(np.linalg.norm(progression))
    angle = float(np.degrees(np.arccos(min(1.0, cos_angle))))
    drift_mm = float(np.linalg.norm(progression - (progression @ normal) * normal))
    half_pixel_mm = 0.5 * float(floats(headers[0].ds, "PixelSpacing", 2).min())
    if angle > MAX_TILT_DEGREES and drift_mm > half_pixel_mm:
        raise CacscoreError(
            f"the slices progress at {angle:.1f} degrees to their normal (gantry tilt or a sheared series); "
            "resample the series to an orthogonal grid before scoring"
        )
    increment = float(np.median(steps))
    gaps = np.flatnonzero(steps > MISSING_SLICE_GAP_FACTOR * increment)
    if gaps.size:
        k = int(gaps[0])
        raise CacscoreError(
            f"missing slices: a gap of {steps[k]:.2f} mm between {headers[k].path.name} and "
            f"{headers[k + 1].path.name} where the slices are {increment:.2f} mm apart "
            f"({gaps.size} gap(s) in all); re-export the complete series"
        )
    spread = (float(steps.max()) - float(steps.min())) / increment
    if spread > IRREGULAR_INCREMENT_TOLERANCE:
        warnings.append(
            f"slice increments vary from {steps.min():.3f} to {steps.max():.3f} mm; "
            f"the median {increment:.3f} mm is used"
        )
    return increment


def rescale(ds, name: str) -> tuple[float, float] | None:
    """(RescaleSlope, RescaleIntercept) of a slice, or None when it has neither; slope finite > 0 and
    intercept finite (a slope of 0 would make every pixel the intercept)."""
    if "RescaleSlope" not in ds and "RescaleIntercept" not in ds:
        return None
    slope = ds.get("RescaleSlope")
    intercept = ds.get("RescaleIntercept")
    slope = 1.0 if slope in (None, "") else float(slope)
    intercept = 0.0 if intercept in (None, "") else float(intercept)
    if not (math.isfinite(slope) and slope > 0 and math.isfinite(intercept)):
        raise CacscoreError(
            f"{name} has RescaleSlope {slope:g} and RescaleIntercept {intercept:g}: HU = stored x slope + "
            "intercept needs a finite slope > 0 and a finite intercept; the header is damaged"
        )
    return slope, intercept


def _median_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median(np.abs(a - b)))


def check_rescale_steps(hu: np.ndarray, rescales: Sequence[object], names: Sequence[str]) -> None:
    """A slice whose rescale differs from a neighbour's must continue its neighbours' HU.

    Scanners that rescale slice by slice store values so that HU run on smoothly; a damaged slope or
    intercept on one slice makes that slice jump away from both neighbours while they agree with each other.
    """
    n = hu.shape[0]
    if n < 3 or len(set(rescales)) == 1:
        return
    for k in range(n):
        if all(rescales[j] == rescales[k] for j in (k - 1, k + 1) if 0 <= j < n):
            continue
        if 0 < k < n - 1:
            near = (hu[k - 1], hu[k + 1])
            between = _median_difference(hu[k - 1], hu[k + 1])
        else:
            step = 1 if k == 0 else -1
            near = (hu[k + step],)
            between = _median_difference(hu[k + step], hu[k + 2 * step])
        jump = min(_median_difference(hu[k], other) for other in near)
        if jump > RESCALE_JUMP_FACTOR * between + RESCALE_JUMP_MARGIN_HU:
            raise CacscoreError(
                f"{names[k]} has a rescale (slope, intercept) {rescales[k]} that makes its HU jump by "
                f"{jump:.0f} HU from the neighbouring slices: a damaged header; re-export the series"
            )
