"""Reading a CT series from DICOM files with pydicom: series choice, geometric sorting, HU, sanity checks.

Choices (see docs/formats.md):

- A folder is searched recursively; every regular file is tried as DICOM. Files that are not DICOM (no
  ``DICM`` preamble, e.g. a README or a DICOMDIR-less viewer's index) and DICOM objects without pixel data or
  position (DICOMDIR, SR, presentation states) are skipped and counted in a warning. A file that *is* DICOM
  but cannot be read (truncated) is an error naming the file.
- When several series are present, the CT series with the most slices is taken (ties: lowest series UID)
  and ``ScanInfo.series_note`` says which and what else was there; ``series_uid=`` names one instead.
- Slices are sorted by their position along the slice normal n = row x column direction cosines
  (``ImageOrientationPatient``), i.e. by ``dot(ImagePositionPatient, n)``, never by file name or
  InstanceNumber. The z index axis therefore points along n (a right-handed direction matrix).
- HU = stored value x RescaleSlope + RescaleIntercept, per slice (DICOM PS3.3 C.11.1.1.2, the rule pydicom's
  ``apply_modality_lut`` implements; a Modality LUT Sequence, rare in CT, is handed to pydicom itself).
- Values are kept as read: pixels outside the reconstruction field of view (often -2048 HU or the
  PixelPaddingValue) are not clamped. :func:`cacscore.io.clamp_outside_fov` does it when wanted.

Errors (one :class:`~cacscore.errors.CacscoreError` each): wrong path, empty folder, no DICOM image, truncated
file, unknown series UID, non-CT modality, mixed rows/columns/pixel spacing/orientation, gantry tilt (the
slices progress off the normal), duplicated positions, missing slices (a gap > 1.5 x the median increment),
multi-frame images. Warnings (kept in ``ScanInfo.warnings`` and logged): skipped non-DICOM files, several
series, slightly irregular increments, a single-slice series.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.volume import ScanInfo, Volume

log = get_logger(__name__)

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

_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

#: Pixel spacing and orientation values agreeing within this are the same.
_GEOMETRY_TOLERANCE = 1e-4


@dataclass
class _Header:
    path: Path
    ds: object  # pydicom Dataset without pixel data


def read_dicom_series(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    series_uid: str | None = None,
) -> Volume:
    """Read one CT series from a folder (searched recursively) or from a list of DICOM files.

    See :func:`_read_dicom_series`; a header value that cannot be parsed (a damaged number or code string,
    which pydicom hands on as text) is a :class:`CacscoreError` naming the source, never a traceback.
    """
    try:
        return _read_dicom_series(source, series_uid)
    except (ValueError, TypeError, OverflowError) as exc:
        where = source if isinstance(source, str | os.PathLike) else "the DICOM files"
        raise CacscoreError(
            f"{where}: a DICOM header value is damaged ({type(exc).__name__}: {str(exc)[:100]!r}); "
            "re-export the series"
        ) from None


def _read_dicom_series(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    series_uid: str | None = None,
) -> Volume:
    """Read one CT series from a folder (searched recursively) or from a list of DICOM files.

    Args:
        source: a folder, or a list of DICOM files of one series.
        series_uid: the SeriesInstanceUID to read when several series are present.

    Returns:
        A :class:`~cacscore.volume.Volume` in HU (float32, z y x), spacing (z, y, x) in mm with z the slice
        increment measured from the positions, origin = ImagePositionPatient of the first sorted slice,
        direction columns = row cosines, column cosines, slice normal (LPS).

    Raises:
        CacscoreError: see the module docstring for the list.
    """
    warnings: list[str] = []
    if isinstance(source, str | os.PathLike):
        folder = Path(source)
        if not folder.exists():
            raise CacscoreError(f"{folder} does not exist; give a DICOM folder or an image file")
        if not folder.is_dir():
            raise CacscoreError(f"{folder} is not a folder")
        files = sorted(f for f in folder.rglob("*") if f.is_file())
        if not files:
            raise CacscoreError(f"the folder {folder} is empty; give the folder that holds the DICOM slices")
        headers, skipped = _read_headers(files, strict=False)
        source_text = str(folder)
        if not headers:
            raise CacscoreError(
                f"no DICOM image found in {folder} ({len(files)} file(s), none a DICOM image with a "
                "position); "
                "give the folder that holds the CT slices"
            )
    else:
        files = [Path(f) for f in source]
        if not files:
            raise CacscoreError("the list of DICOM files is empty")
        for f in files:
            if not f.is_file():
                raise CacscoreError(f"{f} does not exist or is not a file")
        headers, skipped = _read_headers(files, strict=True)
        source_text = str(files[0].parent)
    if skipped:
        warnings.append(f"skipped {len(skipped)} file(s) that are not DICOM images (e.g. {skipped[0].name})")

    headers, note = _choose_series(headers, series_uid)
    if note:
        warnings.append(note)
    first = headers[0].ds
    modality = str(first.get("Modality", "") or "")
    if modality != "CT":
        raise CacscoreError(
            f"series {first.get('SeriesInstanceUID', '?')} has modality {modality or 'unknown'}, not CT; "
            "cacscore scores CT scans only"
        )
    for h in headers:
        if int(h.ds.get("NumberOfFrames", 1) or 1) > 1:
            raise CacscoreError(
                f"{h.path.name} is a multi-frame image (enhanced CT); export the series as single-frame "
                "CT Image Storage slices"
            )
    _check_same_size(headers)
    row_cos, col_cos, normal = _orientation(headers)
    positions = np.array([[float(v) for v in h.ds.ImagePositionPatient] for h in headers])
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    headers = [headers[i] for i in order]
    positions, distance = positions[order], distance[order]
    increment = _check_positions(headers, positions, distance, normal, warnings)

    hu = np.empty((len(headers), int(first.Rows), int(first.Columns)), dtype=np.float32)
    for k, h in enumerate(headers):
        hu[k] = _slice_hu(h.path)

    row_spacing, col_spacing = (float(v) for v in first.PixelSpacing)
    direction = np.column_stack([row_cos, col_cos, normal])
    thickness = first.get("SliceThickness")
    kvp = first.get("KVP")
    kernel = first.get("ConvolutionKernel")
    if kernel is not None and not isinstance(kernel, str):
        kernel = "\\".join(str(k) for k in kernel)
    info = ScanInfo(
        modality=modality,
        kvp=float(kvp) if kvp not in (None, "") else None,
        slice_thickness_mm=float(thickness) if thickness not in (None, "") else None,
        slice_increment_mm=increment,
        manufacturer=_text(first.get("Manufacturer")),
        model=_text(first.get("ManufacturerModelName")),
        kernel=_text(kernel),
        series_uid=_text(first.get("SeriesInstanceUID")),
        study_uid=_text(first.get("StudyInstanceUID")),
        series_description=_text(first.get("SeriesDescription")),
        source=source_text,
        series_note=note,
        warnings=tuple(warnings),
    )
    for w in warnings:
        log.warning("%s", w)
    return Volume(
        hu=hu,
        # PixelSpacing is (row spacing = y, column spacing = x), PS3.3 C.7.6.2.1.1
        spacing_zyx_mm=(increment, row_spacing, col_spacing),
        origin_xyz_mm=tuple(positions[0]),
        direction=direction,
        info=info,
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _read_headers(files: Sequence[Path], strict: bool) -> tuple[list[_Header], list[Path]]:
    """Headers of the DICOM images among ``files``; the others are skipped (or raise if ``strict``)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    headers: list[_Header] = []
    skipped: list[Path] = []
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except InvalidDicomError:
            if strict:
                raise CacscoreError(
                    f"{f} is not a DICOM file; give only the slices of one CT series"
                ) from None
            skipped.append(f)
            continue
        except Exception as exc:  # pydicom raises many types for damaged files
            raise CacscoreError(
                f"{f} is a damaged or truncated DICOM file ({type(exc).__name__}); "
                "re-export or remove it"
            ) from None
        try:
            # pydicom decodes values lazily: decode every public element now, so that damage shows here
            # (private elements are never used, and vendors' are often odd: they are left alone)
            for element in ds:
                if not element.tag.is_private:
                    _ = element.value
        except Exception as exc:
            raise CacscoreError(
                f"{f} is a damaged DICOM file (an unreadable element: {type(exc).__name__}); "
                "re-export or remove it"
            ) from None
        if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds or "Rows" not in ds:
            meta = getattr(ds, "file_meta", None)
            meta_class = meta.get("MediaStorageSOPClassUID", "") if meta else ""
            sop_class = str(ds.get("SOPClassUID", "") or meta_class)
            if sop_class == _CT_IMAGE_STORAGE:
                raise CacscoreError(
                    f"{f} is a damaged or truncated DICOM file (a CT image without position, orientation or "
                    "size); re-export or remove it"
                )
            if strict:
                raise CacscoreError(
                    f"{f} is not a DICOM image with a position; give only the slices of one series"
                )
            skipped.append(f)
            continue
        if not _geometry_readable(ds):
            if str(ds.get("SOPClassUID", "")) != _CT_IMAGE_STORAGE and not strict:
                skipped.append(f)  # e.g. a secondary capture without pixel spacing
                continue
            raise CacscoreError(
                f"{f} is a damaged DICOM file (unreadable size, spacing, position or orientation); "
                "re-export or remove it"
            )
        headers.append(_Header(f, ds))
    return headers, skipped


def _geometry_readable(ds: object) -> bool:
    """True when the fields the reader uses parse (pydicom decodes values lazily, so damage shows here)."""
    try:
        ok = len([float(v) for v in ds.ImagePositionPatient]) == 3  # type: ignore[attr-defined]
        ok &= len([float(v) for v in ds.ImageOrientationPatient]) == 6  # type: ignore[attr-defined]
        ok &= len([float(v) for v in ds.PixelSpacing]) == 2  # type: ignore[attr-defined]
        return ok and int(ds.Rows) > 0 and int(ds.Columns) > 0  # type: ignore[attr-defined]
    except Exception:  # any decoding failure of a damaged header
        return False


def _choose_series(headers: list[_Header], series_uid: str | None) -> tuple[list[_Header], str | None]:
    groups: dict[str, list[_Header]] = {}
    for h in headers:
        groups.setdefault(str(h.ds.get("SeriesInstanceUID", "")), []).append(h)
    if series_uid is not None:
        if series_uid not in groups:
            listed = ", ".join(sorted(groups))
            raise CacscoreError(f"series {series_uid} is not there; the series found are: {listed}")
        chosen = series_uid
        note = f"series {chosen} chosen by the user out of {len(groups)}" if len(groups) > 1 else None
        return groups[chosen], note
    if len(groups) == 1:
        return next(iter(groups.values())), None
    ct = {uid: g for uid, g in groups.items() if str(g[0].ds.get("Modality", "")) == "CT"}
    pool = ct or groups
    chosen = min(pool, key=lambda uid: (-len(pool[uid]), uid))
    others = ", ".join(
        f"{uid} ({len(g)} {g[0].ds.get('Modality', '?')} slices)"
        for uid, g in sorted(groups.items())
        if uid != chosen
    )
    note = (
        f"{len(groups)} series found; read series {chosen} ({len(groups[chosen])} slices, the CT series with "
        f"most slices); the others: {others}; name one with series_uid / --series-uid"
    )
    return groups[chosen], note


def _check_same_size(headers: list[_Header]) -> None:
    first = headers[0]
    ref_size = (int(first.ds.Rows), int(first.ds.Columns))
    ref_spacing = np.array([float(v) for v in first.ds.PixelSpacing])
    for h in headers[1:]:
        size = (int(h.ds.Rows), int(h.ds.Columns))
        if size != ref_size:
            raise CacscoreError(
                f"the series mixes slice sizes: {first.path.name} is {ref_size[0]}x{ref_size[1]}, "
                f"{h.path.name} is {size[0]}x{size[1]}; the files do not form one volume"
            )
        spacing = np.array([float(v) for v in h.ds.PixelSpacing])
        if not np.allclose(spacing, ref_spacing, atol=_GEOMETRY_TOLERANCE):
            raise CacscoreError(
                f"the series mixes pixel spacings: {first.path.name} has {ref_spacing.tolist()} mm, "
                f"{h.path.name} has {spacing.tolist()} mm; the files do not form one volume"
            )


def _orientation(headers: list[_Header]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    iop = np.array([float(v) for v in headers[0].ds.ImageOrientationPatient])
    for h in headers[1:]:
        other = np.array([float(v) for v in h.ds.ImageOrientationPatient])
        if not np.allclose(other, iop, atol=_GEOMETRY_TOLERANCE):
            raise CacscoreError(
                f"the series mixes slice orientations ({headers[0].path.name} and {h.path.name}); "
                "the files do not form one volume"
            )
    row_cos, col_cos = iop[:3], iop[3:]
    row_cos = row_cos / np.linalg.norm(row_cos)
    col_cos = col_cos / np.linalg.norm(col_cos)
    normal = np.cross(row_cos, col_cos)
    return row_cos, col_cos, normal / np.linalg.norm(normal)


def _check_positions(
    headers: list[_Header],
    positions: np.ndarray,
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
    progression = positions[-1] - positions[0]
    cos_angle = abs(float(progression @ normal)) / float(np.linalg.norm(progression))
    angle = float(np.degrees(np.arccos(min(1.0, cos_angle))))
    drift_mm = float(np.linalg.norm(progression - (progression @ normal) * normal))
    half_pixel_mm = 0.5 * min(float(v) for v in headers[0].ds.PixelSpacing)
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


def _slice_hu(path: Path) -> np.ndarray:
    """HU of one slice: stored values x RescaleSlope + RescaleIntercept (PS3.3 C.11.1.1.2).

    Pixel data that pydicom cannot decode for want of a codec (JPEG Lossless, common in PACS exports, needs
    pylibjpeg) is decoded by GDCM through SimpleITK, which applies the same rescale.
    """
    import pydicom

    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise CacscoreError(
            f"{path} is a damaged or truncated DICOM file ({type(exc).__name__}); re-export or remove it"
        ) from None
    try:
        stored = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for damaged or undecodable pixel data
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        if syntax is not None and syntax.is_transfer_syntax and syntax.is_compressed:
            hu = _slice_hu_gdcm(path)
            if hu is not None and hu.shape == (int(ds.Rows), int(ds.Columns)):
                return hu
        raise CacscoreError(
            f"cannot read the pixel data of {path} ({type(exc).__name__}: {str(exc)[:120]}); the file may be "
            "truncated, or compressed with a codec not installed (pip install pylibjpeg pylibjpeg-libjpeg)"
        ) from None
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut

        return np.asarray(apply_modality_lut(stored, ds), dtype=np.float32)
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    hu = stored.astype(np.float32)
    if hu.ndim != 2:
        raise CacscoreError(f"{path.name} does not hold one grey-level slice (pixel array {stored.shape})")
    if slope != 1.0:
        hu *= np.float32(slope)
    if intercept != 0.0:
        hu += np.float32(intercept)
    return hu


def series_files(source: str | os.PathLike[str], series_uid: str | None = None) -> list[Path]:
    """The files of the series :func:`read_dicom_series` reads from ``source``, in its slice order.

    For derived objects that must follow the volume's slices (the DICOM SEG of :mod:`cacscore.io.seg`): the
    same recursive search, series choice and sort along the slice normal as :func:`read_dicom_series`.
    """
    folder = Path(source)
    if not folder.is_dir():
        raise CacscoreError(f"{folder} is not a DICOM folder")
    headers, _ = _read_headers(sorted(f for f in folder.rglob("*") if f.is_file()), strict=False)
    if not headers:
        raise CacscoreError(f"no DICOM image found in {folder}")
    headers, _ = _choose_series(headers, series_uid)
    _, _, normal = _orientation(headers)
    distance = [float(np.dot([float(v) for v in h.ds.ImagePositionPatient], normal)) for h in headers]
    return [headers[i].path for i in np.argsort(distance, kind="stable")]


def _slice_hu_gdcm(path: Path) -> np.ndarray | None:
    """HU of one compressed slice decoded by GDCM (SimpleITK applies RescaleSlope/Intercept), or None."""
    import SimpleITK as sitk  # noqa: N813

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError:
        return None
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    return array.reshape(array.shape[-2:]) if array.size == array.shape[-1] * array.shape[-2] else None
