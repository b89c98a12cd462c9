"""DICOM SEG output: written with highdicom, read back by highdicom and by plain pydicom."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from cacscore.errors import CacscoreError
from cacscore.io.seg import ARTERY_SCT_CODES, write_dicom_seg
from cacscore.labels import Artery
from cacscore.volume import ScanInfo, Volume
from helpers import PATIENT_ID, edit_dicom

SHAPE = (6, 24, 20)
SPACING = (3.0, 0.7, 0.7)
ORIGIN = (-120.0, -110.0, 40.0)


def _series(tmp_path, writer, name="series", **kw):
    hu = np.random.default_rng(1).normal(0, 20, SHAPE).astype(np.float32)
    folder = tmp_path / name
    paths = writer(hu, folder, spacing_zyx_mm=SPACING, origin_xyz_mm=ORIGIN, **kw)
    uid = pydicom.dcmread(paths[0], stop_before_pixels=True).SeriesInstanceUID
    # The volume a correct reader returns: slice k at z = 40 - 3k, so the z index axis points to -z (LPS).
    volume = Volume(
        hu=hu,
        spacing_zyx_mm=SPACING,
        origin_xyz_mm=ORIGIN,
        direction=np.diag([1.0, 1.0, -1.0]),
        info=ScanInfo(modality="CT", source=str(folder), series_uid=uid),
    )
    return volume, folder


def _labels() -> np.ndarray:
    labels = np.zeros(SHAPE, np.uint8)
    labels[1, 3:6, 4:8] = Artery.LAD
    labels[1, 10:12, 10:12] = Artery.RCA
    labels[4, 15:20, 2:5] = Artery.RCA
    labels[5, 0:2, 0:3] = Artery.LM
    return labels


def _uids_in_slice_order(folder) -> list[str]:
    datasets = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.iterdir())]
    datasets.sort(key=lambda ds: -float(ds.ImagePositionPatient[2]))  # slice 0 is the highest z
    return [ds.SOPInstanceUID for ds in datasets]


def test_seg_reads_back_per_segment_in_source_order(tmp_path, ct_series_writer):
    import highdicom as hd

    volume, folder = _series(tmp_path, ct_series_writer)
    labels = _labels()
    out = write_dicom_seg(labels, volume, tmp_path / "out" / "calcium.seg.dcm")
    assert out is not None and out.is_file()

    seg = hd.seg.segread(out)
    assert seg.Modality == "SEG"
    src = pydicom.dcmread(next(folder.iterdir()), stop_before_pixels=True)
    assert seg.StudyInstanceUID == src.StudyInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == src.SeriesInstanceUID
    # one segment per artery present, in code order, coded with the artery's SNOMED CT code
    present = [Artery.LAD, Artery.RCA, Artery.LM]
    assert [int(n) for n in seg.segment_numbers] == [1, 2, 3]
    for number, artery in enumerate(present, start=1):
        desc = seg.get_segment_description(number)
        assert desc.SegmentLabel == f"{artery.name} calcium"
        assert desc.AnatomicRegionSequence[0].CodeValue == ARTERY_SCT_CODES[artery][0]
        assert desc.AnatomicRegionSequence[0].CodingSchemeDesignator == "SCT"
        assert desc.SegmentedPropertyTypeCodeSequence[0].CodeValue == "18115005"
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=_uids_in_slice_order(folder), segment_numbers=[1, 2, 3]
    )
    assert pixels.shape == (*SHAPE, 3)
    for i, artery in enumerate(present):
        np.testing.assert_array_equal(pixels[..., i], labels == artery)


def test_seg_frames_decoded_with_pydicom_alone(tmp_path, ct_series_writer):
    volume, folder = _series(tmp_path, ct_series_writer)
    labels = _labels()
    out = write_dicom_seg(labels, volume, tmp_path / "seg.dcm")
    ds = pydicom.dcmread(out)
    frames = ds.pixel_array.reshape(-1, SHAPE[1], SHAPE[2])
    segment_artery = {
        int(item.SegmentNumber): Artery[item.SegmentLabel.split()[0]] for item in ds.SegmentSequence
    }
    rebuilt = np.zeros(SHAPE, np.uint8)
    for frame, item in zip(frames, ds.PerFrameFunctionalGroupsSequence, strict=True):
        z = float(item.PlanePositionSequence[0].ImagePositionPatient[2])
        k = round((ORIGIN[2] - z) / SPACING[0])
        assert abs(ORIGIN[2] - k * SPACING[0] - z) < 1e-3
        artery = segment_artery[int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)]
        rebuilt[k][frame.astype(bool)] = artery
        # each frame names the source image at its own position
        ref = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        assert ref == _uids_in_slice_order(folder)[k]
    np.testing.assert_array_equal(rebuilt, labels)


def test_seg_keeps_required_patient_and_study_fields_only(tmp_path, ct_series_writer):
    volume, _ = _series(tmp_path, ct_series_writer)
    ds = pydicom.dcmread(write_dicom_seg(_labels(), volume, tmp_path / "seg.dcm"))
    # required (type 1/2) so that PACS files the SEG with the study
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                    "StudyDate", "StudyTime", "StudyID", "AccessionNumber"):
        assert keyword in ds, keyword
    assert str(ds.PatientID) == PATIENT_ID
    # optional identifying or clinical fields of the source are not carried over
    for keyword in ("PatientAge", "PatientWeight", "OtherPatientIDs", "StudyDescription", "InstitutionName"):
        assert keyword not in ds, keyword
    assert "Hospital of Nowhere" not in str(ds)


def test_no_calcium_writes_no_seg(tmp_path, ct_series_writer):
    volume, _ = _series(tmp_path, ct_series_writer)
    assert write_dicom_seg(np.zeros(SHAPE, np.uint8), volume, tmp_path / "seg.dcm") is None
    assert not (tmp_path / "seg.dcm").exists()


def test_series_is_chosen_by_uid_among_several(tmp_path, ct_series_writer):
    volume, folder = _series(tmp_path, ct_series_writer)
    # a second series in the same folder, same geometry: must be ignored
    ct_series_writer(np.zeros(SHAPE, np.float32), folder / "other", spacing_zyx_mm=SPACING,
                     origin_xyz_mm=ORIGIN, file_order_seed=5)
    out = write_dicom_seg(_labels(), volume, tmp_path / "seg.dcm")
    ds = pydicom.dcmread(out)
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == volume.info.series_uid
    assert len(ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence) == SHAPE[0]


def test_grid_mismatch_is_a_user_error_and_writes_nothing(tmp_path, ct_series_writer):
    volume, _ = _series(tmp_path, ct_series_writer)
    transposed = Volume(hu=np.zeros((6, 20, 24), np.float32), spacing_zyx_mm=SPACING, origin_xyz_mm=ORIGIN,
                        direction=volume.direction, info=volume.info)
    labels = np.zeros(transposed.shape, np.uint8)
    labels[0, 0, 0] = Artery.LAD
    with pytest.raises(CacscoreError):
        write_dicom_seg(labels, transposed, tmp_path / "seg.dcm")
    shifted = Volume(hu=volume.hu, spacing_zyx_mm=SPACING, origin_xyz_mm=(0.0, 0.0, 500.0),
                     direction=volume.direction, info=volume.info)
    with pytest.raises(CacscoreError):
        write_dicom_seg(_labels(), shifted, tmp_path / "seg.dcm")
    assert not list(tmp_path.glob("*seg*"))


def test_seg_of_a_volume_read_by_the_reader(tmp_path, ct_series_writer):
    """End to end with cacscore's own reader and writer: read_volume, then the SEG matches its slices."""
    import highdicom as hd

    from cacscore.io import read_volume, write_dicom_series
    from cacscore.io.dicom_read import series_files

    volume, folder = _series(tmp_path, ct_series_writer)
    read = read_volume(folder)
    # the reader sorts along the normal (+z here), so its slice 0 is our slice 5
    np.testing.assert_allclose(read.hu, volume.hu[::-1], atol=1.0)  # stored as int16
    labels = _labels()[::-1].copy()
    out = write_dicom_seg(labels, read, tmp_path / "seg.dcm")
    files = series_files(folder, read.info.series_uid)
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files]
    seg = hd.seg.segread(out)
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1, 2, 3])
    for i, artery in enumerate([Artery.LAD, Artery.RCA, Artery.LM]):
        np.testing.assert_array_equal(pixels[..., i], labels == artery)
    # and a series written by cacscore's DICOM writer
    written = tmp_path / "written"
    write_dicom_series(read, written, patient_name="Doe^John", patient_id="X1")
    again = read_volume(written)
    assert write_dicom_seg(labels, again, tmp_path / "seg2.dcm").is_file()


# ----- sources as real de-identified exports leave them (issue 13, section 3) ------------------------------


def _damage_source(folder, **changes) -> None:
    edit_dicom(sorted(folder.iterdir()), **changes)


def test_seg_of_a_source_without_study_uid_names_a_generated_study(tmp_path, ct_series_writer):
    """highdicom raised AttributeError ... StudyInstanceUID, and the case lost every output."""
    from cacscore.io import read_volume
    from helpers import checksums

    _, folder = _series(tmp_path, ct_series_writer)
    _damage_source(folder, StudyInstanceUID=None)
    volume = read_volume(folder)
    before = checksums(folder)
    notes: list[str] = []
    out = write_dicom_seg(_labels()[::-1].copy(), volume, tmp_path / "seg.dcm", notes=notes)
    seg = pydicom.dcmread(out)
    assert pydicom.uid.UID(seg.StudyInstanceUID).is_valid
    assert notes == [f"the source series has no StudyInstanceUID: the DICOM SEG names a generated study "
                     f"{seg.StudyInstanceUID}"]
    assert checksums(folder) == before  # the repair is made on the headers read, never in the files


def test_seg_of_a_source_without_series_uid_is_refused_in_one_line(tmp_path, ct_series_writer):
    from cacscore.io import read_volume

    _, folder = _series(tmp_path, ct_series_writer)
    _damage_source(folder, SeriesInstanceUID=None)
    with pytest.raises(CacscoreError, match="no SeriesInstanceUID, which a DICOM SEG must reference"):
        write_dicom_seg(_labels()[::-1].copy(), read_volume(folder), tmp_path / "seg.dcm")
    assert not (tmp_path / "seg.dcm").exists()


def test_seg_of_a_source_with_an_unknown_character_set_is_written_in_utf8(tmp_path, ct_series_writer):
    from cacscore.io import read_volume

    _, folder = _series(tmp_path, ct_series_writer)
    _damage_source(folder, SpecificCharacterSet="ISO_IR 999")
    notes: list[str] = []
    seg = pydicom.dcmread(write_dicom_seg(_labels()[::-1].copy(), read_volume(folder), tmp_path / "seg.dcm",
                                          notes=notes))
    assert seg.SpecificCharacterSet == "ISO_IR 192" and str(seg.PatientID) == PATIENT_ID
    assert notes == ["the source's SpecificCharacterSet ISO_IR 999 is unknown: the DICOM SEG is written in "
                     "UTF-8 (ISO_IR 192)"]


def test_seg_of_a_series_with_one_slice_of_another_study(tmp_path, ct_series_writer):
    from cacscore.io import read_volume

    _, folder = _series(tmp_path, ct_series_writer)
    files = sorted(folder.iterdir())
    main_study = pydicom.dcmread(files[0]).StudyInstanceUID
    odd = pydicom.dcmread(files[2])
    odd.StudyInstanceUID = "1.2.826.0.1.999"
    odd.save_as(files[2])
    notes: list[str] = []
    seg = pydicom.dcmread(write_dicom_seg(_labels()[::-1].copy(), read_volume(folder), tmp_path / "seg.dcm",
                                          notes=notes))
    assert seg.StudyInstanceUID == main_study
    assert notes == [f"the source images name 2 studies: the DICOM SEG names the main one, {main_study}"]
