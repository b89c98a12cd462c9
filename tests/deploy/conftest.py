"""Fixtures for the deployment tests: a small CT series written as DICOM files with pydicom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from helpers import PATIENT_ID, PATIENT_NAME


def write_ct_series(
    hu: np.ndarray,
    folder: Path,
    spacing_zyx_mm=(3.0, 0.7, 0.7),
    origin_xyz_mm=(-120.0, -110.0, 40.0),
    slice_step_sign: float = -1.0,
    file_order_seed: int = 0,
    patient_name: str = PATIENT_NAME,
    patient_id: str = PATIENT_ID,
) -> list[Path]:
    """Write ``hu`` (z, y, x) as single-frame CT images; slice k lies at origin + k * sign * dz along z.

    Files are named in a shuffled order so that nothing can rely on file names being slice order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    order = np.random.default_rng(file_order_seed).permutation(hu.shape[0])
    paths = []
    for k in range(hu.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"IM{order[k]:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = "19430817"
        ds.PatientSex = "O"
        ds.PatientAge = "081Y"
        ds.PatientWeight = "71"
        ds.OtherPatientIDs = "OTHER-55120987"
        ds.AccessionNumber = "ACC99172634"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyID, ds.StudyDate, ds.StudyTime = "S4471", "20240102", "101500"
        ds.StudyDescription = "Calcium score Zyxwertz"
        ds.ReferringPhysicianName = "Referrer^Ophelia"
        ds.InstitutionName = "Hospital of Nowhere"
        ds.SeriesNumber, ds.InstanceNumber = 3, k + 1
        ds.Manufacturer = "SIEMENS"
        ds.KVP = "120"
        ds.SliceThickness = str(spacing_zyx_mm[0])
        ds.PixelSpacing = [str(spacing_zyx_mm[1]), str(spacing_zyx_mm[2])]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        z = origin_xyz_mm[2] + slice_step_sign * k * spacing_zyx_mm[0]
        ds.ImagePositionPatient = [str(origin_xyz_mm[0]), str(origin_xyz_mm[1]), f"{z:.4f}"]
        ds.SliceLocation = f"{z:.4f}"
        ds.Rows, ds.Columns = hu.shape[1], hu.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
        ds.PixelData = (np.asarray(hu[k]) + 1024).astype("<i2").tobytes()
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@pytest.fixture
def ct_series_writer():
    """The function that writes a small DICOM CT series (see :func:`write_ct_series`)."""
    return write_ct_series
