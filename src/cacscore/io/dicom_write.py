"""Writing a Volume as a CT Image Storage DICOM series (one file per slice) with pydicom.

Stored values are int16 with RescaleSlope 1 and RescaleIntercept -1024 (stored = round(HU) + 1024, clipped to
int16), so HU are rounded to integers. Geometry: ImageOrientationPatient = the direction's first two columns,
ImagePositionPatient of slice k = origin + k x spacing_z x direction[:, 2], PixelSpacing = (y, x) spacing.
A volume whose direction is left-handed (z axis against row x column) reads back with its slices reversed
(same voxels in space), because the reader sorts along the slice normal.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.volume import Volume

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
RESCALE_INTERCEPT = -1024.0
_INT16 = np.iinfo(np.int16)


@dataclass(frozen=True)
class _SeriesFields:
    """The attributes every slice of the written series shares."""

    series_uid: str
    study_uid: str
    frame_uid: str
    patient_name: str
    patient_id: str
    description: str | None
    series_number: int
    manufacturer: str | None
    model: str | None
    kvp: float | None
    thickness_mm: float
    kernel: str | None
    study_date: str


def write_dicom_series(
    volume: Volume,
    folder: str | os.PathLike[str],
    *,
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    patient_name: str = "ANONYMOUS",
    patient_id: str = "ANON",
    series_description: str | None = None,
    series_number: int = 1,
    manufacturer: str | None = None,
    model: str | None = None,
    kvp: float | None = None,
    slice_thickness_mm: float | None = None,
    kernel: str | None = None,
    study_date: str = "20000101",
    file_prefix: str = "CT",
) -> list[Path]:
    """Write ``volume`` as a CT series into ``folder`` (created; must be absent or empty); return the files.

    Metadata not given as arguments is taken from ``volume.info`` where set (kVp, thickness, kernel,
    manufacturer, model, series description, UIDs); UIDs not known are generated. The folder appears whole
    or not at all: the files are written in a private folder beside it that is then renamed.
    """
    from pydicom.uid import generate_uid

    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CacscoreError(f"{target} already exists and is not an empty folder; choose a new folder")
    info = volume.info
    thickness = slice_thickness_mm if slice_thickness_mm is not None else info.slice_thickness_mm
    fields = _SeriesFields(
        series_uid=series_uid or info.series_uid or generate_uid(),
        study_uid=study_uid or info.study_uid or generate_uid(),
        frame_uid=frame_of_reference_uid or generate_uid(),
        patient_name=patient_name,
        patient_id=patient_id,
        description=series_description if series_description is not None else info.series_description,
        series_number=series_number,
        manufacturer=manufacturer if manufacturer is not None else info.manufacturer,
        model=model if model is not None else info.model,
        kvp=kvp if kvp is not None else info.kvp,
        thickness_mm=thickness if thickness is not None else volume.spacing_zyx_mm[0],
        kernel=kernel if kernel is not None else info.kernel,
        study_date=study_date,
    )
    stored = _stored_values(volume)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    names: list[str] = []
    try:
        for k in range(stored.shape[0]):
            name = f"{file_prefix}{k + 1:05d}.dcm"
            _slice_dataset(volume, stored[k], k, fields).save_as(staging / name, enforce_file_format=True)
            names.append(name)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [target / n for n in names]


def _stored_values(volume: Volume) -> np.ndarray:
    """int16 stored values: round(HU) - RESCALE_INTERCEPT, clipped to the int16 range."""
    hu = np.asarray(volume.hu, dtype=np.float64)
    if not np.all(np.isfinite(hu)):
        raise CacscoreError("the volume holds NaN or infinite values; they cannot be stored in DICOM")
    return np.clip(np.round(hu) - RESCALE_INTERCEPT, _INT16.min, _INT16.max).astype(np.int16)


def _slice_dataset(volume: Volume, stored: np.ndarray, k: int, fields: _SeriesFields):
    """The dataset (file meta, patient, study, series, geometry, pixels) of slice ``k``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

    direction = np.asarray(volume.direction, dtype=float)
    row_cos, col_cos, z_axis = direction[:, 0], direction[:, 1], direction[:, 2]
    dz, dy, dx = volume.spacing_zyx_mm
    position = np.asarray(volume.origin_xyz_mm, dtype=float) + k * dz * z_axis
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Modality = "CT"
    ds.PatientName = fields.patient_name
    ds.PatientID = fields.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = fields.study_uid
    ds.SeriesInstanceUID = fields.series_uid
    ds.FrameOfReferenceUID = fields.frame_uid
    ds.StudyDate = fields.study_date
    ds.SeriesDate = fields.study_date
    ds.StudyTime = "120000"
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesNumber = fields.series_number
    ds.InstanceNumber = k + 1
    ds.AcquisitionNumber = 1
    ds.Manufacturer = fields.manufacturer or ""
    if fields.model:
        ds.ManufacturerModelName = fields.model
    if fields.description:
        ds.SeriesDescription = fields.description
    if fields.kvp is not None:
        ds.KVP = f"{float(fields.kvp):g}"
    if fields.kernel:
        ds.ConvolutionKernel = fields.kernel
    ds.SliceThickness = f"{float(fields.thickness_mm):.6g}"
    ds.PositionReferenceIndicator = ""
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row_cos, *col_cos)]
    ds.SliceLocation = f"{float(position @ np.cross(row_cos, col_cos)):.6f}"
    ds.PixelSpacing = [f"{dy:.8g}", f"{dx:.8g}"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = f"{RESCALE_INTERCEPT:g}"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.PixelData = np.ascontiguousarray(stored).astype("<i2").tobytes()
    return ds
