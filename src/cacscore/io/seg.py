"""DICOM SEG output: the calcium label volume as a Segmentation object that references its source CT series.

One segment per artery present in the labels, coded with SNOMED CT: property category "Morphologically
abnormal structure" (SCT 49755003), property type "Pathologic calcification" (SCT 18115005, the calcified
plaque structure of DICOM CID 3802), anatomic region the artery (SCT 59438005 LAD, 57396003 circumflex,
13647002 RCA, 3227004 left main stem, 41801008 coronary artery for "not identified"). Built with highdicom
(``highdicom.seg.Segmentation``), BINARY, empty frames omitted.

Frames are matched to source images by geometry, not by file order: every slice k of the Volume is paired with
the source image whose ImagePositionPatient lies at the slice's position (origin + k * spacing along the slice
normal), so the SEG is right whatever order the files were listed in. The SEG keeps the patient and study
attributes the standard requires and nothing more (:data:`cacscore.privacy.DERIVED_PATIENT_STUDY_KEYWORDS`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.charset import python_encoding

from cacscore.errors import CacscoreError
from cacscore.io.atomic import atomic_path
from cacscore.labels import Artery
from cacscore.log import get_logger
from cacscore.privacy import DERIVED_PATIENT_STUDY_KEYWORDS
from cacscore.volume import Volume

log = get_logger(__name__)

#: SNOMED CT codes (value, meaning) of the anatomic region of each artery's segment.
ARTERY_SCT_CODES: dict[Artery, tuple[str, str]] = {
    Artery.LAD: ("59438005", "Left anterior descending coronary artery"),
    Artery.LCX: ("57396003", "Circumflex branch of left coronary artery"),
    Artery.RCA: ("13647002", "Right coronary artery structure"),
    Artery.UNKNOWN: ("41801008", "Coronary artery structure"),
    Artery.LM: ("3227004", "Left coronary artery main stem"),
}
PROPERTY_CATEGORY_SCT = ("49755003", "Morphologically abnormal structure")
PROPERTY_TYPE_SCT = ("18115005", "Pathologic calcification")

#: Largest distance (mm) between a slice's position and its source image's ImagePositionPatient.
POSITION_TOLERANCE_MM = 0.05

# Attributes of the modules whose root attributes highdicom copies from the source image into a SEG
# (Patient, General Study, Patient Study, Clinical Trial Subject/Study; PS3.3 C.7.1.1, C.7.2.1, C.7.2.2,
# C.7.1.3, C.7.2.3). Everything in them that is not in DERIVED_PATIENT_STUDY_KEYWORDS is removed.
_PATIENT_STUDY_MODULES = (
    "patient",
    "general-study",
    "patient-study",
    "clinical-trial-subject",
    "clinical-trial-study",
)

#: SpecificCharacterSet values a SEG may name (the defined terms of PS3.3 C.12.1.1.2 that pydicom knows).
_KNOWN_CHARSETS = frozenset(python_encoding)

_EQUIPMENT_LOCATION_KEYWORDS = (
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "DeviceSerialNumber",
    "OperatorsName",
)


def write_dicom_seg(
    labels: np.ndarray,
    volume: Volume,
    path: str | os.PathLike[str],
    source_files: Sequence[str | os.PathLike[str]] | None = None,
    *,
    series_description: str = "Coronary calcium (cacscore)",
    series_number: int = 9001,
    notes: list[str] | None = None,
) -> Path | None:
    """Write ``labels`` as a DICOM SEG referencing the series ``volume`` was read from.

    Args:
        labels: (z, y, x) label volume on ``volume``'s grid with :class:`~cacscore.labels.Artery` codes.
        volume: the CT volume read from a DICOM series (its ``info.source`` is the folder read and its
            ``info.series_uid`` the series chosen there).
        path: the .dcm file to write (atomically).
        source_files: the source series' files; by default those of ``info.series_uid`` under
            ``info.source``, found and sorted by :func:`cacscore.io.dicom_read.series_files` (the reader's
            own series discovery).
        series_description, series_number: of the new SEG series.
        notes: where to append what the SEG had to make up because the source lacks it (a generated
            StudyInstanceUID) and slices without a source image; for result.json.

    Returns:
        The path written, or ``None`` when ``labels`` holds no calcium (a SEG needs at least one segment).

    Raises:
        CacscoreError: the source series cannot be found, does not match the volume's geometry, lacks what
            a SEG must reference (a SeriesInstanceUID), or highdicom cannot build a SEG from it.
    """
    notes = [] if notes is None else notes
    labels = np.asarray(labels)
    if labels.shape != volume.shape:
        raise ValueError(f"labels of shape {labels.shape} do not match the volume's {volume.shape}")
    present = [Artery(int(v)) for v in np.unique(labels) if v != Artery.BACKGROUND]
    unknown = [int(v) for v in present if v not in ARTERY_SCT_CODES]
    if unknown:
        raise ValueError(f"labels contain codes with no artery: {unknown}")
    if not present:
        log.info("no calcium: no DICOM SEG written")
        return None

    datasets = _source_datasets(volume, source_files)
    ordered, positions = _match_slices(volume, datasets, notes)
    sources = _referenceable(ordered, notes)
    stacked = np.stack([labels == artery for artery in present], axis=-1).astype(np.uint8)
    seg = _segmentation(volume, sources, positions, stacked, present, series_description, series_number)
    _keep_required_patient_study(seg)
    target = Path(path)
    with atomic_path(target) as tmp:
        seg.save_as(tmp, enforce_file_format=True)
    log.info("DICOM SEG with %d segment(s) written to %s", len(present), target.name)
    return target


def _segment_descriptions(present: Sequence[Artery]) -> list:
    """One highdicom segment description per artery present, coded with SNOMED CT."""
    import highdicom as hd
    from pydicom.sr.coding import Code

    import cacscore

    algorithm = hd.AlgorithmIdentificationSequence(
        name="cacscore",
        family=Code("123110", "DCM", "Artificial Intelligence"),
        version=cacscore.__version__,
    )
    return [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=f"{artery.name} calcium",
            segmented_property_category=Code(PROPERTY_CATEGORY_SCT[0], "SCT", PROPERTY_CATEGORY_SCT[1]),
            segmented_property_type=Code(PROPERTY_TYPE_SCT[0], "SCT", PROPERTY_TYPE_SCT[1]),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            anatomic_regions=[Code(ARTERY_SCT_CODES[artery][0], "SCT", ARTERY_SCT_CODES[artery][1])],
            display_color=hd.color.CIELabColor.from_rgb(*artery.colour),
        )
        for number, artery in enumerate(present, start=1)
    ]


def _referenceable(ordered: list, notes: list[str]) -> list:
    """The source images the SEG references, repaired where a de-identified export left them unusable.

    A SEG belongs to its source's study: an export without a StudyInstanceUID gets one generated (the SEG
    then opens a study of its own), slices naming other studies follow the main one, and an unknown
    SpecificCharacterSet (whose text pydicom has already decoded with its default) is written as UTF-8.
    Each repair is recorded in ``notes`` and made on the headers read for the SEG, never in the files. A
    source without a SeriesInstanceUID cannot be referenced at all.
    """
    from pydicom.uid import generate_uid

    sources = [ds for ds in ordered if ds is not None]
    if any(not str(ds.get("SeriesInstanceUID", "") or "") for ds in sources):
        raise CacscoreError("the source images have no SeriesInstanceUID, which a DICOM SEG must reference")
    studies = [str(ds.get("StudyInstanceUID", "") or "") for ds in sources]
    named = [s for s in studies if s]
    study = max(sorted(set(named)), key=named.count) if named else generate_uid()
    if not named:
        notes.append(f"the source series has no StudyInstanceUID: the DICOM SEG names a generated study "
                     f"{study}")
    elif len(set(studies)) > 1:
        notes.append(f"the source images name {len(set(studies))} studies: the DICOM SEG names the main one, "
                     f"{study}")
    charsets = {cs for ds in sources for cs in _charsets(ds) if cs not in _KNOWN_CHARSETS}
    if charsets:
        notes.append(f"the source's SpecificCharacterSet {', '.join(sorted(charsets))} is unknown: the DICOM "
                     "SEG is written in UTF-8 (ISO_IR 192)")
    for ds in sources:
        ds.StudyInstanceUID = study
        if charsets:
            ds.SpecificCharacterSet = "ISO_IR 192"
    return sources


def _charsets(ds) -> list[str]:
    value = ds.get("SpecificCharacterSet") or []
    return [str(v).strip() for v in ([value] if isinstance(value, str) else value) if str(v).strip()]


def _segmentation(volume: Volume, sources: list, positions: np.ndarray, stacked: np.ndarray,
                  present: Sequence[Artery], series_description: str, series_number: int):
    """The highdicom Segmentation object (BINARY, empty frames omitted)."""
    import highdicom as hd

    import cacscore

    spacing_z, spacing_y, spacing_x = volume.spacing_zyx_mm
    iop = [*volume.direction[:, 0], *volume.direction[:, 1]]
    try:
        with warnings.catch_warnings():
            # highdicom warns on the terminal about the format of the source's PatientName, which the SEG
            # must copy as it is (a required attribute): nothing the user can act on here
            warnings.filterwarnings("ignore", message=".*person name.*", category=UserWarning)
            return hd.seg.Segmentation(
                source_images=sources,
                pixel_array=stacked,
                segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                segment_descriptions=_segment_descriptions(present),
                series_instance_uid=hd.UID(),
                series_number=series_number,
                sop_instance_uid=hd.UID(),
                instance_number=1,
                manufacturer="cacscore",
                manufacturer_model_name="cacscore",
                software_versions=cacscore.__version__,
                device_serial_number="0",
                series_description=series_description,
                content_label="CALCIUM",
                content_description="Coronary artery calcium by artery",
                pixel_measures=hd.PixelMeasuresSequence(
                    pixel_spacing=(spacing_y, spacing_x),
                    slice_thickness=float(sources[0].get("SliceThickness") or spacing_z),
                    spacing_between_slices=spacing_z,
                ),
                plane_orientation=hd.PlaneOrientationSequence(coordinate_system="PATIENT",
                                                              image_orientation=iop),
                plane_positions=[
                    hd.PlanePositionSequence(coordinate_system="PATIENT", image_position=tuple(p))
                    for p in positions
                ],
                omit_empty_frames=True,
            )
    except (ValueError, TypeError, AttributeError, KeyError, LookupError) as exc:
        # highdicom checks the source's attributes as it copies them: a header it refuses is not the user's
        # doing, and the other outputs stand without a SEG
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise CacscoreError(f"highdicom cannot build a DICOM SEG from this series ({reason})") from None


def _source_datasets(volume: Volume, source_files: Sequence[str | os.PathLike[str]] | None) -> list:
    """Headers (no pixel data) of the source series' images."""
    import pydicom

    if source_files is None:
        from cacscore.io.dicom_read import series_files

        source = volume.info.source
        if not source or not Path(source).is_dir():
            raise CacscoreError(
                "a DICOM SEG needs the DICOM series the volume was read from; "
                "read the scan from its DICOM folder (or pass the source files)"
            )
        source_files = series_files(source, volume.info.series_uid)
    datasets = []
    for file in source_files:
        try:
            ds = pydicom.dcmread(file, stop_before_pixels=True)
        except Exception:  # read moments ago by the reader; a file changed since is left out
            continue
        if "ImagePositionPatient" not in ds or "SOPInstanceUID" not in ds:
            continue
        if volume.info.series_uid and ds.get("SeriesInstanceUID") != volume.info.series_uid:
            continue
        datasets.append(ds)
    if not datasets:
        raise CacscoreError(
            f"no DICOM image of series {volume.info.series_uid or '(any)'} found for the SEG; "
            "check that the DICOM folder is unchanged since it was read"
        )
    series = {ds.get("SeriesInstanceUID") for ds in datasets}
    if len(series) > 1:
        raise CacscoreError(
            f"the DICOM folder holds {len(series)} series and the volume names none; "
            "read the volume with a series UID"
        )
    return datasets


def _match_slices(volume: Volume, datasets: list, notes: list[str]) -> tuple[list, np.ndarray]:
    """For each slice k: its source dataset (or None) and its plane position (LPS mm).

    Raises CacscoreError when the images' orientation or matrix differs from the volume's, or when no
    source image lies on any slice (the volume is not this series on its own grid).
    """
    nz, ny, nx = volume.shape
    slice_index = np.arange(nz)
    positions = volume.index_to_physical(np.stack([slice_index, 0 * slice_index, 0 * slice_index], axis=-1))
    ordered: list = [None] * nz
    for ds in datasets:
        iop = np.asarray([float(v) for v in ds.ImageOrientationPatient])
        if not (
            np.allclose(iop[:3], volume.direction[:, 0], atol=1e-3)
            and np.allclose(iop[3:], volume.direction[:, 1], atol=1e-3)
            and int(ds.Rows) == ny
            and int(ds.Columns) == nx
        ):
            raise CacscoreError(
                "the DICOM series does not have the volume's orientation or matrix size; "
                "a SEG can only be written for a volume on its source series' grid"
            )
        ipp = np.asarray([float(v) for v in ds.ImagePositionPatient])
        distances = np.linalg.norm(positions - ipp, axis=1)
        k = int(np.argmin(distances))
        if distances[k] > POSITION_TOLERANCE_MM:
            continue
        if ordered[k] is not None:
            raise CacscoreError(
                f"two images of the series lie at slice {k}'s position (several phases or duplicates); "
                "split the series before scoring it"
            )
        ordered[k] = ds
        positions[k] = ipp  # the source's own value, so highdicom pairs frame and image exactly
    if all(ds is None for ds in ordered):
        raise CacscoreError("no image of the DICOM series lies on the volume's slices; cannot write a SEG")
    missing = [k for k, ds in enumerate(ordered) if ds is None]
    if missing:
        notes.append(f"{len(missing)} slice(s) have no source image (interpolated); their DICOM SEG frames "
                     "reference none")
    return ordered, positions


def _keep_required_patient_study(seg) -> None:
    """Remove every Patient/Study module attribute that the standard does not require (privacy)."""
    from highdicom._standard_utils import get_module_attribute_map

    module_map = get_module_attribute_map()
    for module in _PATIENT_STUDY_MODULES:
        for item in module_map[module]:
            keyword = str(item["keyword"])
            if len(item["path"]) == 0 and keyword not in DERIVED_PATIENT_STUDY_KEYWORDS and keyword in seg:
                delattr(seg, keyword)
    # highdicom records the scanner as contributing equipment; keep its make and model, not where it stands.
    for item in seg.get("ContributingEquipmentSequence", []):
        for keyword in _EQUIPMENT_LOCATION_KEYWORDS:
            if keyword in item:
                delattr(item, keyword)
