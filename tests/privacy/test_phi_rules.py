"""PHI rules: which values count as identifying, redaction, the output audit."""

from __future__ import annotations

import gzip
import logging
import zlib

from pydicom.dataset import Dataset

from cacscore.privacy import REDACTED, RedactingFilter, find_phi, hashed_id, phi_values, redact


def _dataset() -> Dataset:
    ds = Dataset()
    ds.PatientName = "Zyxwertz^Quilliam^^Dr"
    ds.PatientID = "PID-83417265"
    ds.PatientBirthDate = "19430817"
    ds.AccessionNumber = "ACC99172634"
    ds.OtherPatientIDs = ["OTHER-1", "OTHER-2"]
    ds.PatientSex = "F"
    ds.StudyID = "1"
    ds.Manufacturer = "SIEMENS"
    return ds


def test_phi_values_are_the_identifying_fields_and_name_parts():
    values = phi_values(_dataset())
    assert {"Zyxwertz^Quilliam^^Dr", "Zyxwertz", "Quilliam", "PID-83417265", "19430817", "ACC99172634",
            "OTHER-1", "OTHER-2"} <= values
    # sex and scanner are not identifying; one-character study id is too short to search for
    assert "F" not in values and "SIEMENS" not in values and "1" not in values
    assert "Dr" not in values  # shorter than 3 characters


def test_redact_replaces_every_occurrence_case_insensitively():
    text = "case ZYXWERTZ_scan (PID-83417265) failed; pid-83417265 again"
    assert redact(text, {"Zyxwertz", "PID-83417265"}) == (
        f"case {REDACTED}_scan ({REDACTED}) failed; {REDACTED} again"
    )
    assert redact("nothing here", {"Zyxwertz"}) == "nothing here"


def test_hashed_id_is_stable_and_hides_the_text():
    a = hashed_id("/data/Zyxwertz Quilliam/ct")
    assert a == hashed_id("/data/Zyxwertz Quilliam/ct")
    assert a != hashed_id("/data/other/ct")
    assert len(a) == 12 and "Zyxwertz" not in a and all(c in "0123456789abcdef" for c in a)


def test_find_phi_searches_text_and_binary_files_recursively(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "report.html").write_text("<p>patient zyxwertz</p>")
    (tmp_path / "b.bin").write_bytes(b"\x00\x01PID-83417265\xff")
    (tmp_path / "clean.csv").write_text("case_id,agatston\nc1,0\n")
    hits = find_phi([tmp_path], {"Zyxwertz", "PID-83417265"})
    assert sorted((p.name, v) for p, v in hits) == [("b.bin", "pid-83417265"), ("report.html", "zyxwertz")]


def test_find_phi_searches_inside_compressed_files(tmp_path):
    """A name planted in a NIfTI header's ``descrip`` field of a .nii.gz, and in a zlib-compressed .zraw,
    is found although neither file holds it as plain bytes."""
    header = bytearray(348)  # NIfTI-1 header: sizeof_hdr 348, descrip at bytes 148-227, magic at 344
    header[0:4] = (348).to_bytes(4, "little")
    header[148:148 + 17] = b"Zyxwertz^Quilliam"
    header[344:348] = b"n+1\0"
    nifti = tmp_path / "calcium.nii.gz"
    nifti.write_bytes(gzip.compress(bytes(header) + bytes(4) + bytes(64)))
    zraw = tmp_path / "calcium.zraw"
    zraw.write_bytes(zlib.compress(b"\x00" * 40 + b"PID-83417265" + b"\x00" * 40))
    for file in (nifti, zraw):
        assert b"zyxwertz" not in file.read_bytes().lower() and b"pid-834" not in file.read_bytes().lower()
    hits = find_phi([tmp_path], {"Zyxwertz", "PID-83417265"})
    assert sorted((p.name, v) for p, v in hits) == [
        ("calcium.nii.gz", "zyxwertz"), ("calcium.zraw", "pid-83417265")
    ]


def test_find_phi_reads_a_damaged_compressed_file_as_bytes(tmp_path):
    """A truncated gzip stream cannot be decompressed; its raw bytes are still searched, without an error."""
    damaged = tmp_path / "cut.nii.gz"
    damaged.write_bytes(gzip.compress(b"x" * 1000)[:20] + b"PID-83417265")
    assert find_phi([damaged], {"PID-83417265"}) == [(damaged, "pid-83417265")]


def test_redacting_filter_cleans_log_records():
    logger = logging.getLogger("cacscore.test_privacy")
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactingFilter({"Zyxwertz"}))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("reading %s", "/data/Zyxwertz/ct")
    finally:
        logger.removeHandler(handler)
    assert records == [f"reading /data/{REDACTED}/ct"]
