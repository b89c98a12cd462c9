"""NIfTI-1/-2 files (.nii, .nii.gz) checked before ITK reads them.

ITK's NIfTI reader repairs what it should refuse, without a word: a pixdim of 0 or NaN becomes 1 mm, a dim
of 0 becomes one slice, NaN and infinite voxels become 0, and a truncated file is zero-filled. So the header
is parsed here (dims, pixdim, scaling, datatype), the declared size is checked against the memory budget,
and the data is read once to its end: its length must match the header, a .nii.gz's gzip stream must be
complete (CRC and length are checked by :mod:`gzip`), and floating-point voxels must be finite.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.io.validate import SPACING_LIMITS_MM, check_declared_size

#: NIfTI datatype codes of floating-point voxels and their numpy types (NIfTI-1 header, datatype field).
FLOAT_DATATYPES: dict[int, str] = {16: "f4", 64: "f8", 32: "c8", 1792: "c16"}

_CHUNK = 1 << 24

#: Largest vox_offset taken as a header's (a damaged one can hold any float).
_MAX_OFFSET = 1 << 30


@dataclass(frozen=True)
class NiftiHeader:
    """The NIfTI header fields cacscore checks (dims and pixdim in NIfTI order: x, y, z, t, ...)."""

    endian: str
    dims: tuple[int, ...]
    pixdim: tuple[float, ...]
    datatype: int
    bitpix: int
    vox_offset: int
    scl_slope: float
    scl_inter: float

    @property
    def data_bytes(self) -> int:
        """Bytes of voxel data the header declares."""
        return math.prod(self.dims) * self.bitpix // 8


def parse_header(header: bytes, source: str) -> NiftiHeader:
    """The header of a NIfTI-1 (348 bytes) or NIfTI-2 (540 bytes) file, either byte order."""
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(f"{endian}i", header[:4])[0] == 348:
            dim = struct.unpack(f"{endian}8h", header[40:56])
            datatype, bitpix = struct.unpack(f"{endian}2h", header[70:74])
            pixdim = struct.unpack(f"{endian}8f", header[76:108])
            offset = struct.unpack(f"{endian}f", header[108:112])[0]
            slope, inter = struct.unpack(f"{endian}2f", header[112:120])
        elif len(header) >= 540 and struct.unpack(f"{endian}i", header[:4])[0] == 540:
            datatype, bitpix = struct.unpack(f"{endian}2h", header[12:16])
            dim = struct.unpack(f"{endian}8q", header[16:80])
            pixdim = struct.unpack(f"{endian}8d", header[104:168])
            offset = struct.unpack(f"{endian}q", header[168:176])[0]
            slope, inter = struct.unpack(f"{endian}2d", header[176:192])
        else:
            continue
        n = int(dim[0])
        if not 1 <= n <= 7 or bitpix <= 0 or not (math.isfinite(offset) and 0 <= offset <= _MAX_OFFSET):
            raise CacscoreError(f"{source} is a damaged NIfTI file (dim[0] = {n}, bitpix = {bitpix}, "
                                f"vox_offset = {offset}); copy or export it again")
        return NiftiHeader(endian, tuple(int(d) for d in dim[1 : n + 1]), tuple(pixdim[1 : n + 1]),
                           int(datatype), int(bitpix), int(offset), float(slope), float(inter))
    raise CacscoreError(f"cannot read {source}: the file is damaged or not an image (no NIfTI header)")


def check_header(header: NiftiHeader, source: str) -> None:
    """Refuse sizes of 0, a spacing ITK would replace by 1 mm, and a scaling that is not finite."""
    check_declared_size(header.dims, source)
    spacing = header.pixdim[:3]
    low, high = SPACING_LIMITS_MM
    if not all(math.isfinite(p) and low <= abs(p) <= high for p in spacing):
        shown = ", ".join(f"{p:g}" for p in spacing)
        raise CacscoreError(
            f"{source} has pixdim ({shown}) mm (x, y, z): a CT voxel is {low:g} to {high:g} mm (ITK would "
            "read 0 or NaN as 1 mm); the header is damaged"
        )
    if not (math.isfinite(header.scl_slope) and math.isfinite(header.scl_inter)):
        raise CacscoreError(f"{source} has scl_slope {header.scl_slope} and scl_inter {header.scl_inter}; "
                            "the header's intensity scaling is damaged")


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _scan_data(fh, header: NiftiHeader, first: bytes, source: str) -> None:
    """Read the voxel data to its end: its length must match and float voxels must be finite."""
    dtype = FLOAT_DATATYPES.get(header.datatype)
    item = np.dtype(dtype).newbyteorder(header.endian) if dtype else None
    skip = header.vox_offset - len(first)
    while skip > 0 and (skipped := len(fh.read(min(skip, _CHUNK)))):  # extensions before the data
        skip -= skipped
    chunk = first[header.vox_offset :] if skip <= 0 else b""
    size, non_finite, carry = 0, 0, b""
    while chunk:
        if item is not None and size < header.data_bytes:
            data = carry + chunk[: header.data_bytes - size]
            usable = len(data) - len(data) % item.itemsize
            values = np.frombuffer(data[:usable], dtype=item)
            non_finite += int(values.size - np.count_nonzero(np.isfinite(values)))
            carry = data[usable:]
        size += len(chunk)
        chunk = fh.read(_CHUNK)
    if size < header.data_bytes:
        raise CacscoreError(
            f"cannot read {source}: the file is damaged or not an image (truncated: "
            f"{header.vox_offset + size} bytes where its header needs "
            f"{header.vox_offset + header.data_bytes}); "
            "copy or export it again"
        )
    if non_finite:
        raise CacscoreError(
            f"{source} holds {non_finite} NaN or infinite voxel(s) (ITK would read them as 0): an image "
            "holds finite values; fill them (e.g. with -1024 in a CT) or re-export it"
        )


def check_nifti(path: Path) -> None:
    """Refuse a NIfTI file that ITK would read wrongly (see the module docstring)."""
    source = str(path)
    try:
        with _open(path) as fh:
            first = fh.read(540)
            header = parse_header(first, source)
            check_header(header, source)
            _scan_data(fh, header, first, source)
    except (OSError, EOFError, zlib.error) as exc:
        raise CacscoreError(
            f"cannot read {path}: the file is damaged or not an image (compressed data truncated or "
            f"corrupt: {type(exc).__name__}); copy or export it again"
        ) from None
