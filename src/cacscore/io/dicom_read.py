"""Reading a CT series from DICOM files with pydicom: series choice, geometric sorting, HU, sanity checks.

Choices (see docs/formats.md):

- A folder is searched recursively (:mod:`cacscore.io.dicom_files`): files that are plainly not DICOM images
  are skipped and counted in a warning; a file that is DICOM but cannot be read is an error naming it.
- When several series of one study are present, the CT series with the most slices is taken (ties: lowest
  series UID) and ``ScanInfo.series_note`` says which and what else was there; ``series_uid=`` names one.
  Series of several studies (patients, visits) are never chosen among: that is an error that says how to
  read them (``series_uid=``, or ``cacscore batch``, which scores each study as a case).
- Every slice is checked against the others before its pixels are read (:mod:`cacscore.io.dicom_checks`),
  and the volume against physics after (:func:`cacscore.io.validate.check_volume`).
- Slices are sorted by their position along the slice normal n = row x column direction cosines
  (``ImageOrientationPatient``), i.e. by ``dot(ImagePositionPatient, n)``, never by file name or
  InstanceNumber. The z index axis therefore points along n (a right-handed direction matrix).
- HU = stored value x RescaleSlope + RescaleIntercept, per slice (DICOM PS3.3 C.11.1.1.2, the rule pydicom's
  ``apply_modality_lut`` implements; a Modality LUT Sequence, rare in CT, is handed to pydicom itself).
- Values are kept as read: pixels outside the reconstruction field of view (often -2048 HU or the
  PixelPaddingValue) are not clamped. :func:`cacscore.io.clamp_outside_fov` does it when wanted.

Warnings (kept in ``ScanInfo.warnings``, never printed here): skipped non-DICOM files, several series,
slightly irregular increments, a single-slice series, a kVp or slice thickness that is no number, slices
naming another study, no rescale fields.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.io import dicom_checks as checks
from cacscore.io.dicom_files import DicomHeader, folder_or_files, list_files, read_headers
from cacscore.io.validate import check_declared_size, check_hu, check_volume
from cacscore.volume import ScanInfo, Volume

#: Plausible ranges of the acquisition numbers kept in ScanInfo (a value outside is ignored, with a warning).
KVP_RANGE_KV: tuple[float, float] = (40.0, 200.0)
SLICE_THICKNESS_RANGE_MM: tuple[float, float] = (0.01, 50.0)

#: Header fields read when listing the series of a folder (:func:`study_series`).
_LISTING_TAGS = ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SOPClassUID", "ImagePositionPatient")


def read_dicom_series(
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
        CacscoreError: see the module docstring; a header value that cannot be parsed (a damaged number or
            code string, which pydicom hands on as text) names the source, never a traceback.
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
    series_uid: str | None,
) -> Volume:
    files, strict, source_text = folder_or_files(source)
    headers, skipped = read_headers(files, strict)
    if not headers:
        raise CacscoreError(
            f"no DICOM image found in {source_text} ({len(files)} file(s), none a DICOM image with a "
            "position); give the folder that holds the CT slices"
        )
    warnings: list[str] = []
    if skipped:
        warnings.append(f"skipped {len(skipped)} file(s) that are not DICOM images (e.g. {skipped[0].name})")
    headers, note = choose_series(headers, series_uid)
    if note:
        warnings.append(note)
    warnings.extend(_other_study_note(headers))
    checks.check_modality(headers)
    checks.check_pixel_format(headers)
    rows, columns, (row_spacing, col_spacing) = checks.slice_size(headers)
    row_cos, col_cos, normal = checks.orientation(headers)
    positions = checks.positions(headers)
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    headers = [headers[i] for i in order]
    positions, distance = positions[order], distance[order]
    increment = checks.check_positions(headers, positions, distance, normal, warnings)
    check_declared_size((len(headers), rows, columns), source_text)
    hu = _read_pixels(headers, rows, columns, warnings)
    volume = Volume(
        hu=hu,
        # PixelSpacing is (row spacing = y, column spacing = x), PS3.3 C.7.6.2.1.1
        spacing_zyx_mm=(increment, row_spacing, col_spacing),
        origin_xyz_mm=tuple(positions[0]),
        direction=np.column_stack([row_cos, col_cos, normal]),
        info=_scan_info(headers[0].ds, increment, source_text, note, warnings),
    )
    return check_volume(volume, source_text)


def _read_pixels(headers: list[DicomHeader], rows: int, columns: int, warnings: list[str]) -> np.ndarray:
    """HU of every slice (z, y, x): each slice's pixel data length is checked against its header first, its
    HU (finite, within CT's range) after, then the rescale steps between slices."""
    for h in headers:
        checks.check_pixel_bytes(h)
    hu = np.empty((len(headers), rows, columns), dtype=np.float32)
    rescales: list[tuple[float, float] | None] = []
    for k, h in enumerate(headers):
        hu[k], slice_rescale = _slice_hu(h.path, (rows, columns))
        check_hu(hu[k], str(h.path))  # a damaged rescale names its own slice
        rescales.append(slice_rescale)
    if all(r is None for r in rescales):
        warnings.append("the slices have no RescaleSlope/RescaleIntercept: the stored values are taken as HU")
    checks.check_rescale_steps(hu, rescales, [h.path.name for h in headers])
    return hu


def _number(ds, keyword: str, valid: tuple[float, float], unit: str, warnings: list[str]) -> float | None:
    """A numeric header field, or None (with a warning) when it is no number or outside ``valid``."""
    value = ds.get(keyword)
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and valid[0] <= number <= valid[1]):
        warnings.append(f"{keyword} {str(value)!r} is not a {unit} ({valid[0]:g}-{valid[1]:g}); ignored")
        return None
    return number


def _scan_info(ds, increment: float, source: str, note: str | None, warnings: list[str]) -> ScanInfo:
    """The acquisition metadata of the first slice (no patient-identifying field)."""
    kernel = ds.get("ConvolutionKernel")
    if kernel is not None and not isinstance(kernel, str):
        kernel = "\\".join(str(k) for k in kernel)
    kvp = _number(ds, "KVP", KVP_RANGE_KV, "tube voltage in kV", warnings)
    thickness = _number(ds, "SliceThickness", SLICE_THICKNESS_RANGE_MM, "slice thickness in mm", warnings)
    return ScanInfo(
        modality="CT",
        kvp=kvp,
        slice_thickness_mm=thickness,
        slice_increment_mm=increment,
        manufacturer=_text(ds.get("Manufacturer")),
        model=_text(ds.get("ManufacturerModelName")),
        kernel=_text(kernel),
        series_uid=_text(ds.get("SeriesInstanceUID")),
        study_uid=_text(ds.get("StudyInstanceUID")),
        series_description=_text(ds.get("SeriesDescription")),
        source=source,
        series_note=note,
        warnings=tuple(warnings),
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _study(ds) -> str:
    return str(ds.get("StudyInstanceUID", "") or "")


def pick_series(series: dict[str, tuple[str, int]]) -> str:
    """The series read when none is named: the CT series with most slices (ties: lowest UID), else the
    series with most slices. ``series`` maps series UID -> (modality, number of slices)."""
    ct = {uid: n for uid, (modality, n) in series.items() if modality == "CT"}
    pool = ct or {uid: n for uid, (_, n) in series.items()}
    return min(pool, key=lambda uid: (-pool[uid], uid))


def choose_series(headers: list[DicomHeader], series_uid: str | None) -> tuple[list[DicomHeader], str | None]:
    """The headers of the series to read, and a note when several series were there.

    Raises:
        CacscoreError: ``series_uid`` is not there, or (without one) the series belong to several studies.
    """
    groups: dict[str, list[DicomHeader]] = {}
    for h in headers:
        groups.setdefault(str(h.ds.get("SeriesInstanceUID", "")), []).append(h)
    if series_uid is not None:
        if series_uid not in groups:
            listed = ", ".join(sorted(groups))
            raise CacscoreError(f"series {series_uid} is not there; the series found are: {listed}")
        note = f"series {series_uid} chosen by the user out of {len(groups)}" if len(groups) > 1 else None
        return groups[series_uid], note
    if len(groups) == 1:
        return next(iter(groups.values())), None
    studies = {uid: Counter(_study(h.ds) for h in g).most_common(1)[0][0] for uid, g in groups.items()}
    if len(set(studies.values())) > 1:
        raise CacscoreError(
            f"the folder holds {len(groups)} series of {len(set(studies.values()))} studies (several "
            "patients or visits): give one study's folder, name a series (--series-uid), or run "
            "`cacscore batch` on the folder, which scores each study as a case"
        )
    modality = {uid: (str(g[0].ds.get("Modality", "")), len(g)) for uid, g in groups.items()}
    chosen = pick_series(modality)
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


def _other_study_note(headers: list[DicomHeader]) -> list[str]:
    """A warning when slices of the chosen series name different studies (a damaged or merged export)."""
    studies = Counter(_study(h.ds) for h in headers)
    if len(studies) == 1:
        return []
    main = studies.most_common(1)[0][0]
    odd = [h.path.name for h in headers if _study(h.ds) != main]
    return [f"{len(odd)} slice(s) of the series name another StudyInstanceUID (e.g. {odd[0]}); the series is "
            "read as one"]


def _slice_hu(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[float, float] | None]:
    """HU of one slice (stored values x RescaleSlope + RescaleIntercept, PS3.3 C.11.1.1.2) and its rescale.

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
    slice_rescale = checks.rescale(ds, path.name)
    try:
        stored = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for damaged or undecodable pixel data
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        # a damaged header can hold several values or no UID at all here
        if isinstance(syntax, pydicom.uid.UID) and syntax.is_transfer_syntax and syntax.is_compressed:
            hu = _slice_hu_gdcm(path)
            if hu is not None and hu.shape == shape:
                return hu, slice_rescale
        reason = " ".join(str(exc).split())[:120]  # one line, whatever the message holds
        raise CacscoreError(
            f"cannot read the pixel data of {path} ({type(exc).__name__}: {reason}); the file may be "
            "truncated, or compressed with a codec not installed (pip install pylibjpeg pylibjpeg-libjpeg)"
        ) from None
    if stored.shape != shape:
        raise CacscoreError(f"{path.name} does not hold one {shape[0]} x {shape[1]} grey-level slice "
                            f"(pixel array {stored.shape})")
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut

        return np.asarray(apply_modality_lut(stored, ds), dtype=np.float32), slice_rescale
    hu = stored.astype(np.float32)
    slope, intercept = slice_rescale or (1.0, 0.0)
    if slope != 1.0:
        hu *= np.float32(slope)
    if intercept != 0.0:
        hu += np.float32(intercept)
    return hu, slice_rescale


def _slice_hu_gdcm(path: Path) -> np.ndarray | None:
    """HU of one compressed slice decoded by GDCM (SimpleITK applies RescaleSlope/Intercept), or None."""
    import SimpleITK as sitk  # noqa: N813

    from cacscore.io.images import sitk_path

    try:
        image = sitk.ReadImage(sitk_path(path))
    except RuntimeError:
        return None
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    return array.reshape(array.shape[-2:]) if array.size == array.shape[-1] * array.shape[-2] else None


def series_files(source: str | os.PathLike[str], series_uid: str | None = None) -> list[Path]:
    """The files of the series :func:`read_dicom_series` reads from ``source``, in its slice order.

    For derived objects that must follow the volume's slices (the DICOM SEG of :mod:`cacscore.io.seg`): the
    same recursive search, series choice and sort along the slice normal as :func:`read_dicom_series`.
    """
    folder = Path(source)
    if not folder.is_dir():
        raise CacscoreError(f"{folder} is not a DICOM folder")
    headers, _ = read_headers(list_files(folder), strict=False)
    if not headers:
        raise CacscoreError(f"no DICOM image found in {folder}")
    headers, _ = choose_series(headers, series_uid)
    _, _, normal = checks.orientation(headers)
    distance = checks.positions(headers) @ normal
    return [headers[i].path for i in np.argsort(distance, kind="stable")]


def study_series(folder: str | os.PathLike[str]) -> dict[str, dict[str, tuple[str, int]]]:
    """The DICOM images under ``folder`` by study and series: study UID -> series UID -> (modality, slices).

    A quick listing for cohort discovery (a few header fields per file); files that are not DICOM images
    are left out here, and any damage is reported when the series is read.
    """
    import pydicom

    studies: dict[str, dict[str, list]] = {}
    for f in list_files(Path(folder)):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=list(_LISTING_TAGS))
        except Exception:  # not DICOM, or damaged: read_volume says which
            continue
        if "ImagePositionPatient" not in ds:
            continue
        entry = studies.setdefault(_study(ds), {}).setdefault(str(ds.get("SeriesInstanceUID", "")),
                                                              [str(ds.get("Modality", "")), 0])
        entry[1] += 1
    return {study: {uid: (m, n) for uid, (m, n) in series.items()} for study, series in studies.items()}
