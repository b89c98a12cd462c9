"""MetaImage (.mhd + .raw/.zraw, .mha) headers checked against their data before ITK reads them.

ITK's MetaImage reader fills with zeros what it cannot read: compressed data that does not decompress, a
``CompressedDataSize`` that is wrong, data shorter than ``DimSize``, a ``LIST`` of slice files. A zero-filled
volume scores "Agatston 0": so the header is parsed here, the declared size is checked against the memory
budget, and the data is measured (decompressed, for compressed data) before ITK allocates anything.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path

from cacscore.errors import CacscoreError
from cacscore.io.validate import SPACING_LIMITS_MM, declared_size

#: Bytes per element of each MetaImage ElementType.
ELEMENT_BYTES: dict[str, int] = {
    "MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
    "MET_LONG": 8, "MET_ULONG": 8, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4, "MET_DOUBLE": 8,
}

#: Most header bytes read while looking for ElementDataFile (an .mha's data follows that line).
_MAX_HEADER_BYTES = 1 << 16

_CHUNK = 1 << 22


@dataclass(frozen=True)
class MetaImageHeader:
    """The fields of a MetaImage header that say where its data is and how long it must be."""

    path: Path
    fields: dict[str, str]
    #: Byte offset of the data in an .mha (``ElementDataFile = LOCAL``); 0 for a separate data file.
    data_offset: int

    @property
    def data_file(self) -> Path:
        """The file holding the data: the header itself (LOCAL) or the named file beside it."""
        name = self.fields["ElementDataFile"]
        return self.path if name == "LOCAL" else self.path.parent / name

    @property
    def compressed(self) -> bool:
        return self.fields.get("CompressedData", "False").strip().lower() == "true"


def read_header(path: Path) -> MetaImageHeader:
    """Parse a MetaImage header (.mhd or the text part of an .mha)."""
    with open(path, "rb") as fh:
        head = fh.read(_MAX_HEADER_BYTES)
    fields: dict[str, str] = {}
    offset = 0
    for raw in head.splitlines(keepends=True):
        offset += len(raw)
        line = raw.decode("latin-1").strip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        fields[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            break
    if "ElementDataFile" not in fields:
        raise CacscoreError(f"{path} is not a MetaImage header (no ElementDataFile line)")
    return MetaImageHeader(path, fields, offset if fields["ElementDataFile"] == "LOCAL" else 0)


def _check_spacing(header: MetaImageHeader) -> None:
    """ElementSpacing must be finite and within :data:`SPACING_LIMITS_MM` (ITK reads -1 as 1 mm)."""
    text = header.fields.get("ElementSpacing")
    if text is None:
        return
    try:
        spacing = [float(v) for v in text.split()]
    except ValueError:
        spacing = [math.nan]
    low, high = SPACING_LIMITS_MM
    if not all(math.isfinite(v) and low <= v <= high for v in spacing):
        raise CacscoreError(f"{header.path} has ElementSpacing {text!r} (x, y, z): a CT voxel is {low:g} to "
                            f"{high:g} mm; the header is damaged")


def _expected_bytes(header: MetaImageHeader, dims: list[int]) -> int:
    element = header.fields.get("ElementType", "")
    if element not in ELEMENT_BYTES:
        raise CacscoreError(f"{header.path} has ElementType {element!r}, not a MetaImage element type "
                            f"({', '.join(sorted(ELEMENT_BYTES))})")
    try:
        channels = int(header.fields.get("ElementNumberOfChannels", "1"))
    except ValueError:
        channels = 0
    if channels < 1:
        raise CacscoreError(f"{header.path} has ElementNumberOfChannels "
                            f"{header.fields.get('ElementNumberOfChannels')!r}; the header is damaged")
    total = ELEMENT_BYTES[element] * channels
    for d in dims:
        total *= d
    return total


def _data_file(header: MetaImageHeader) -> Path:
    name = header.fields["ElementDataFile"]
    if name.upper().startswith("LIST") or "%" in name:
        raise CacscoreError(
            f"{header.path} spreads its data over several files (ElementDataFile = {name}); cacscore reads "
            "one data file per image: convert it to .mha or .nii.gz"
        )
    data = header.data_file
    if not data.exists():
        raise CacscoreError(
            f"the data file {data.name} named by {header.path.name} is missing; copy it beside the header"
        )
    if not data.is_file():
        raise CacscoreError(f"{header.path.name} names {data} as its data file, which is not a regular file")
    return data


def _inflated_size(data: Path, start: int, length: int, limit: int) -> int:
    """Bytes that ``length`` bytes of zlib/gzip data at ``start`` decompress to (stops past ``limit``)."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header, as ITK's MetaIO accepts
    size = 0
    with open(data, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0 and size <= limit:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            size += len(inflater.decompress(chunk, limit + 1 - size))
            while inflater.unconsumed_tail and size <= limit:
                size += len(inflater.decompress(inflater.unconsumed_tail, limit + 1 - size))
        if size <= limit:
            size += len(inflater.flush())
    return size


def check_metaimage(path: Path) -> None:
    """Refuse a MetaImage whose data ITK would read short, zero-filled or not at all.

    Raises:
        CacscoreError: not a header; damaged DimSize/ElementType/ElementSpacing; a size of 0 or beyond the
            memory budget;
            a missing, non-regular or multi-file data file; data shorter than DimSize x element size; a
            ``CompressedDataSize`` beyond the data; compressed data that does not decompress to that size.
    """
    header = read_header(path)
    dims = declared_size(header.fields.get("DimSize"), "DimSize", "MetaImage", str(path))
    _check_spacing(header)
    expected = _expected_bytes(header, dims)
    data = _data_file(header)
    available = data.stat().st_size - header.data_offset
    if not header.compressed:
        skip = header.fields.get("HeaderSize", "0").strip()
        skip_bytes = int(skip) if skip.lstrip("-").isdigit() and int(skip) > 0 else 0
        if available - skip_bytes < expected:
            raise CacscoreError(
                f"{data.name} holds {available - skip_bytes} bytes where {path.name} needs {expected}; "
                "the data file is truncated"
            )
        return
    declared = header.fields.get("CompressedDataSize")
    length = available
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise CacscoreError(f"{path.name} has CompressedDataSize {declared!r}; the header is damaged"
                                ) from None
        if not 0 < length <= available:
            raise CacscoreError(
                f"{path.name} says its compressed data is {length} bytes, but {data.name} holds {available}; "
                "the file is truncated or the header is damaged"
            )
    try:
        size = _inflated_size(data, header.data_offset, length, expected)
    except zlib.error as exc:
        raise CacscoreError(
            f"the compressed data of {path.name} cannot be decompressed ({exc}); the file is damaged, or its "
            "header says CompressedData = True for data that is not compressed"
        ) from None
    if size != expected:
        said = "less" if size < expected else "more"
        raise CacscoreError(
            f"the compressed data of {path.name} decompresses to {said} than the {expected} bytes DimSize "
            "and ElementType need; the file is truncated or the header is damaged"
        )
