"""The orCaScore challenge layout (Wolterink et al., Med Phys 2016), plus cacscore's heart-mask extension.

    <root>/Training Set/Images/TRV{v}P{p}CTI.mhd            non-contrast calcium-scoring CT (+ .raw/.zraw)
    <root>/Training Set/Images/TRV{v}P{p}CTAI.mhd           CTA of the same patient (listed, never scored)
    <root>/Training Set/Reference standard/TRV{v}P{p}R.mhd  reference labels 0/1 LAD(+LM)/2 LCX/3 RCA
    <root>/Training Set/Heart masks/TRV{v}P{p}H.mhd         cacscore extension (phantom cohorts), optional
    <root>/Test Set/Images/TEV{v}P{p}CTI.mhd, VAV{v}P{p}CTI.mhd   test cases, no public reference

Files are found by name anywhere under the root (folder names differ between copies of the data), so the
names above decide, not the folders. ``.mha`` is accepted as well as ``.mhd``. Case ids are the name prefix
("TRV1P3"); the patient id is "V{v}P{p}" for training cases and keeps the prefix for test and validation cases
("TEV1P3"), because TRV1P3 and TEV1P3 are different patients. The vendor is the index v as a string.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cacscore.datasets.case import Case
from cacscore.errors import CacscoreError
from cacscore.labels import ORCASCORE_REFERENCE_CODES
from cacscore.log import get_logger

log = get_logger(__name__)

NAME_PATTERN = re.compile(r"^(TR|TE|VA)V(\d+)P(\d+)(CTAI|CTI|R|H)\.(mhd|mha)$", re.IGNORECASE)
SUBSETS = {"TR": "train", "TE": "test", "VA": "validation"}


def is_orcascore(root: str | os.PathLike[str]) -> bool:
    """True when ``root`` holds at least one orCaScore CTI image (by name)."""
    return any(_match(p) and _match(p)[3] == "CTI" for p in _candidates(Path(root)))


def _candidates(root: Path):
    """MetaImage files below ``root``, hidden entries excluded: a name starting with "." is never a case
    (macOS "._" resource files, and the staging folders of a write in progress or interrupted)."""
    for p in root.rglob("*"):
        hidden = any(part.startswith(".") for part in p.relative_to(root).parts)
        if not hidden and p.suffix.lower() in (".mhd", ".mha") and p.is_file():
            yield p


def _match(path: Path) -> tuple[str, int, int, str] | None:
    m = NAME_PATTERN.match(path.name)
    if not m:
        return None
    return m.group(1).upper(), int(m.group(2)), int(m.group(3)), m.group(4).upper()


def read_orcascore(root: str | os.PathLike[str]) -> list[Case]:
    """Cases of an orCaScore-layout folder, training cases first, each sorted by vendor then patient.

    Raises:
        CacscoreError: the folder does not exist, holds no CTI image, or holds one name twice.
    """
    root = Path(root)
    if not root.is_dir():
        raise CacscoreError(f"{root} is not a folder; give the orCaScore folder (holding 'Training Set')")
    found: dict[tuple[str, int, int], dict[str, Path]] = {}
    for path in sorted(_candidates(root)):
        key = _match(path)
        if key is None:
            continue
        prefix, v, p, kind = key
        slot = found.setdefault((prefix, v, p), {})
        if kind in slot:
            raise CacscoreError(
                f"{prefix}V{v}P{p}{kind} is there twice ({slot[kind]} and {path}); keep one copy"
            )
        slot[kind] = path
    cases: list[Case] = []
    order = {"TR": 0, "TE": 1, "VA": 2}
    for (prefix, v, p), files in sorted(found.items(), key=lambda kv: (order[kv[0][0]], kv[0][1], kv[0][2])):
        case_id = f"{prefix}V{v}P{p}"
        if "CTI" not in files:
            others = ", ".join(sorted(files))
            log.warning("%s has %s but no CTI image; skipped", case_id, others)
            continue
        label = files.get("R")
        if prefix == "TR" and label is None:
            log.warning("training case %s has no reference standard (%sR.mhd)", case_id, case_id)
        metadata: dict = {"layout": "orcascore", "vendor_index": v, "patient_number": p}
        if "CTAI" in files:
            metadata["cta_path"] = str(files["CTAI"])
        cases.append(
            Case(
                case_id=case_id,
                image_path=files["CTI"],
                label_path=label,
                heart_mask_path=files.get("H"),
                patient_id=f"V{v}P{p}" if prefix == "TR" else case_id,
                vendor=str(v),
                subset=SUBSETS[prefix],
                metadata=metadata,
                allowed_codes=ORCASCORE_REFERENCE_CODES,
            )
        )
    if not cases:
        raise CacscoreError(
            f"no orCaScore image (TRV{{v}}P{{p}}CTI.mhd, TEV..., VAV...) found under {root}; "
            "give the folder holding 'Training Set' / 'Test Set'"
        )
    log.info("orCaScore: %d case(s) under %s", len(cases), root)
    return cases
