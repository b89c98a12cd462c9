"""The COCA gated release (Stanford AIMI "Coronary Calcium and chest CT") and its OsiriX calcium outlines.

Layout assumed (from public code reading the release; the data itself needs registration and is not here):

    <root>/Gated_release_final/patient/<id>/<series folder>/*.dcm   one CT series per patient
    <root>/Gated_release_final/calcium_xml/<id>.xml                 OsiriX ROI plist, one per patient

``root`` may be the release folder itself (holding ``patient/`` and ``calcium_xml/``) or any folder above it
that holds ``Gated_release_final``. Patients without an xml file are taken to have no coronary calcium (the
release gives outlines for calcium only); ``Case.metadata["no_outlines_means_no_calcium"]`` records this.

Each case's outlines are rasterised into a label volume by :mod:`cacscore.datasets.outlines` when
:meth:`Case.load_labels <cacscore.datasets.case.Case.load_labels>` asks for them.
"""

from __future__ import annotations

import os
from pathlib import Path

from cacscore.datasets.case import Case
from cacscore.errors import CacscoreError
from cacscore.log import get_logger

log = get_logger(__name__)

RELEASE_FOLDER = "Gated_release_final"


def release_folder(root: str | os.PathLike[str]) -> Path | None:
    """The folder holding ``patient/`` and ``calcium_xml/`` at or below ``root`` (one level), or None."""
    root = Path(root)
    for candidate in (root, root / RELEASE_FOLDER, *sorted(root.glob(f"*/{RELEASE_FOLDER}"))):
        if (candidate / "patient").is_dir() and (candidate / "calcium_xml").is_dir():
            return candidate
    return None


def read_coca(root: str | os.PathLike[str]) -> list[Case]:
    """Cases of the COCA gated release, one per patient folder, sorted by id (numerically where numeric)."""
    base = release_folder(root)
    if base is None:
        raise CacscoreError(
            f"no COCA gated release under {root}: expected {RELEASE_FOLDER}/patient/<id>/ and "
            f"{RELEASE_FOLDER}/calcium_xml/<id>.xml"
        )
    patients = [p for p in (base / "patient").iterdir() if p.is_dir() and not p.name.startswith(".")]
    if not patients:
        raise CacscoreError(f"{base / 'patient'} holds no patient folder")
    xml_dir = base / "calcium_xml"
    known = {p.name for p in patients}
    for orphan in sorted(x.stem for x in xml_dir.glob("*.xml") if x.stem not in known):
        log.warning("COCA outlines %s.xml have no patient folder; ignored", orphan)
    cases = []
    def order(p: Path) -> tuple:
        return (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)

    for folder in sorted(patients, key=order):
        xml = xml_dir / f"{folder.name}.xml"
        has_xml = xml.is_file()
        cases.append(
            Case(
                case_id=folder.name,
                image_path=folder,
                outlines_path=xml if has_xml else None,
                patient_id=folder.name,
                subset="all",
                metadata={"layout": "coca", "no_outlines_means_no_calcium": not has_xml},
            )
        )
    with_outlines = sum(c.outlines_path is not None for c in cases)
    log.info("COCA: %d patient(s), %d with outlines", len(cases), with_outlines)
    return cases
