"""A generic manifest: a CSV listing cases, for data in any other layout.

Columns: ``case_id``, ``image`` (required); ``label``, ``heart_mask`` (optional, may be empty per row);
optional ``patient_id`` (default: the case id), ``vendor``, ``subset`` (default "all"); any other column goes
to ``Case.metadata``. Relative paths are relative to the CSV's folder. Images may be files or DICOM folders.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from cacscore.datasets.case import Case
from cacscore.errors import CacscoreError

REQUIRED_COLUMNS = ("case_id", "image")
PATH_COLUMNS = ("image", "label", "heart_mask")
KNOWN_COLUMNS = (*PATH_COLUMNS, "case_id", "patient_id", "vendor", "subset")


def read_manifest(path: str | os.PathLike[str]) -> list[Case]:
    """Cases listed in a manifest CSV, in file order.

    Raises:
        CacscoreError: missing file or column, empty case id, duplicate case id, or a listed file that does
            not exist (naming the row).
    """
    path = Path(path)
    if not path.is_file():
        raise CacscoreError(f"the manifest {path} does not exist")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise CacscoreError(
                    f"the manifest {path.name} lacks column(s) {', '.join(missing)}; "
                    "it needs case_id,image and may have label,heart_mask"
                )
            # cells beyond the header come under the key None (a list): they are ignored
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)}
                    for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CacscoreError(
            f"the manifest {path.name} is not a readable CSV ({type(exc).__name__}); save it as UTF-8 CSV"
        ) from None
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        case_id = row["case_id"]
        if not case_id:
            raise CacscoreError(f"{path.name} line {line}: empty case_id")
        if case_id in seen:
            raise CacscoreError(
                f"{path.name} line {line}: case_id {case_id!r} already on line {seen[case_id]}"
            )
        seen[case_id] = line
        paths: dict[str, Path | None] = {}
        for column in PATH_COLUMNS:
            value = row.get(column, "")
            if not value:
                if column == "image":
                    raise CacscoreError(f"{path.name} line {line}: case {case_id!r} has no image")
                paths[column] = None
                continue
            resolved = Path(value) if Path(value).is_absolute() else path.parent / value
            if not resolved.exists():
                raise CacscoreError(
                    f"{path.name} line {line}: {column} {value!r} of case {case_id!r} does not exist"
                )
            paths[column] = resolved
        metadata = {k: v for k, v in row.items() if k not in KNOWN_COLUMNS}
        metadata["layout"] = "manifest"
        cases.append(
            Case(
                case_id=case_id,
                image_path=paths["image"],  # type: ignore[arg-type]
                label_path=paths["label"],
                heart_mask_path=paths["heart_mask"],
                patient_id=row.get("patient_id") or case_id,
                vendor=row.get("vendor") or None,
                subset=row.get("subset") or "all",
                metadata=metadata,
            )
        )
    if not cases:
        raise CacscoreError(f"the manifest {path.name} lists no case")
    return cases
