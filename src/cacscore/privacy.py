"""Patient privacy rules: which DICOM fields identify a patient, and how cacscore keeps them out of outputs.

cacscore's rule (issue 7): logs, reports and summary files never show a patient-identifying DICOM field (name,
ID, birth date, accession number, ...); case ids come from file/folder names or a hash. A file or folder name
can still hold such a value: ``cacscore batch`` replaces the source's values by ``[redacted]``
(:func:`redact`) in a failed case's error message, and ``--include-phi`` keeps them (the flag's only effect
today; the error line logged for a failed case is not redacted yet, see the README). Derived DICOM objects
(the SEG) are the exception that the DICOM standard requires: they carry the Patient and General Study module
attributes of type 1 and 2 so that a PACS files them with the source study, and nothing more (DICOM PS3.3
C.7.1.1 Patient Module, C.7.2.1 General Study Module; the attribute types are those of those tables).

The list of identifying attributes follows the DICOM basic de-identification profile (PS3.15 Annex E,
Table E.1-1), restricted to the attributes a CT series commonly carries at its root.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import zlib
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

#: Root-level DICOM attributes that identify a patient (PS3.15 Table E.1-1, basic profile "X"/"Z"/"D").
PHI_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "AccessionNumber",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "MedicalRecordLocator",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "InstitutionName",
    "InstitutionAddress",
    "StudyID",
    "AdmissionID",
    "IssuerOfPatientID",
)

#: The patient and study attributes a derived object (SEG) keeps: the type 1 and type 2 attributes of the
#: Patient module (PS3.3 C.7.1.1) and the General Study module (PS3.3 C.7.2.1). Everything else of those
#: modules (and of Patient Study, Clinical Trial Subject/Study) is dropped from derived objects.
DERIVED_PATIENT_STUDY_KEYWORDS: frozenset[str] = frozenset(
    {
        # Patient module, type 2
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        # General Study module, type 1 and 2
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "ReferringPhysicianName",
        "StudyID",
        "AccessionNumber",
    }
)

#: Shortest field value searched for in outputs; shorter strings ("M", "1") match everywhere by chance.
MIN_PHI_LENGTH = 3

REDACTED = "[redacted]"


def phi_values(dataset: Dataset) -> set[str]:
    """The identifying strings a DICOM dataset holds (values of :data:`PHI_KEYWORDS`).

    Person names are returned whole (``Doe^Jane``) and also by component (``Doe``, ``Jane``) so that a name
    formatted another way is still found. Values shorter than :data:`MIN_PHI_LENGTH` are left out.
    """
    found: set[str] = set()
    for keyword in PHI_KEYWORDS:
        value = dataset.get(keyword)
        if value is None or value == "":
            continue
        values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
        for item in values:
            text = str(item).strip()
            found.add(text)
            if isinstance(item, PersonName) or "^" in text:
                found.update(part.strip() for part in re.split(r"[\^=]", text))
    return {v for v in found if len(v) >= MIN_PHI_LENGTH}


def redact(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of any of ``values`` (case-insensitive) replaced by ``[redacted]``."""
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= MIN_PHI_LENGTH:
            text = re.sub(re.escape(value), REDACTED, text, flags=re.IGNORECASE)
    return text


def hashed_id(text: str, length: int = 12) -> str:
    """A stable, non-reversible id for ``text`` (SHA-256 hex prefix), for case ids that must not show it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def find_phi(paths: Iterable[str | os.PathLike[str]], values: Iterable[str]) -> list[tuple[Path, str]]:
    """Every (file, value) where a file under ``paths`` contains one of ``values`` (case-insensitive).

    A compressed file (gzip, e.g. ``calcium.nii.gz``; zlib, e.g. a MetaImage ``.zraw``) is searched after
    decompression as well as byte for byte. The bytes are decoded as UTF-8 and Latin-1, so text, HTML, JSON,
    CSV and the headers of binary formats are all covered. Folders are searched recursively. Used by the
    privacy tests and for auditing an output folder before it leaves the hospital.
    """
    needles = [v.lower() for v in set(values) if len(v) >= MIN_PHI_LENGTH]
    hits: list[tuple[Path, str]] = []
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    for file in files:
        haystacks = set()
        for data in _contents(file.read_bytes()):
            haystacks |= {data.decode("utf-8", errors="ignore").lower(), data.decode("latin-1").lower()}
        for needle in needles:
            if any(needle in h for h in haystacks):
                hits.append((file, needle))
    return hits


def _contents(data: bytes) -> list[bytes]:
    """``data`` itself and, when it is a gzip or zlib stream that decompresses, its decompressed bytes."""
    if data[:2] == b"\x1f\x8b":  # gzip magic (RFC 1952)
        decompress = gzip.decompress
    elif _zlib_header(data):
        decompress = zlib.decompress
    else:
        return [data]
    try:
        return [data, decompress(data)]
    except (OSError, EOFError, zlib.error):  # not a complete stream after all: the raw bytes are searched
        return [data]


def _zlib_header(data: bytes) -> bool:
    """True when ``data`` starts with an RFC 1950 header: deflate (CM 8), window <= 32 KiB, check bits."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0


class RedactingFilter(logging.Filter):
    """A logging filter that replaces known identifying values in every record's message.

    Defence in depth: cacscore never logs DICOM patient fields, but a folder or file name may contain them.
    Attach to a handler and register the values of the case being processed with :meth:`add`.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__()
        self.values: set[str] = set(values)

    def add(self, values: Iterable[str]) -> None:
        """Also redact ``values`` from now on."""
        self.values.update(values)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            message = record.getMessage()
            cleaned = redact(message, self.values)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True
