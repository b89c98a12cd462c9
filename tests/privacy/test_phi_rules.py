"""PHI rules: which values count as identifying, redaction, the output audit."""

from __future__ import annotations

import logging

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
