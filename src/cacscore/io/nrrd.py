"""NRRD headers (.nrrd, .nhdr) checked before ITK reads them: the declared size and the data file.

ITK allocates the size an NRRD header declares before it reads a byte of data, so a damaged ``sizes:`` line
(0, or a size far beyond the data) is refused here; a detached header's data file must exist. Values and
geometry are checked after reading, with every other format (:func:`cacscore.io.validate.check_volume`).
"""

from __future__ import annotations

from pathlib import Path

from cacscore.errors import CacscoreError
from cacscore.io.validate import declared_size

_MAX_HEADER_BYTES = 1 << 16


def read_fields(path: Path) -> dict[str, str]:
    """The ``key: value`` fields of an NRRD header (up to the blank line that ends it)."""
    with open(path, "rb") as fh:
        head = fh.read(_MAX_HEADER_BYTES)
    if not head.startswith(b"NRRD"):
        raise CacscoreError(f"cannot read {path}: the file is damaged or not an image (no NRRD magic)")
    fields: dict[str, str] = {}
    for raw in head.split(b"\n")[1:]:
        line = raw.decode("latin-1").strip()
        if not line:
            break
        if line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.lstrip("=").strip()
    return fields


def check_nrrd(path: Path) -> None:
    """Refuse an NRRD whose ``sizes`` are damaged, 0 or beyond the memory budget, or whose data file is
    missing."""
    fields = read_fields(path)
    declared_size(fields.get("sizes"), "sizes", "NRRD", str(path))
    data = fields.get("data file") or fields.get("datafile")
    if data and not data.upper().startswith("LIST") and "%" not in data:
        file = Path(data) if Path(data).is_absolute() else path.parent / data
        if not file.is_file():
            raise CacscoreError(f"the data file {file.name} named by {path.name} is missing or not a file; "
                                "copy it beside the header")
