"""MetaImage (.mhd/.mha, .raw or compressed .zraw), NIfTI (.nii/.nii.gz) and NRRD through SimpleITK.

Geometry is taken exactly as SimpleITK reports it: origin and direction in LPS (x, y, z); only the spacing is
reversed to (z, y, x). The array is ``sitk.GetArrayFromImage`` (already z, y, x). Values are taken as stored:
an orCaScore MetaImage (``ElementType = MET_SHORT``) stores HU directly, so no rescale is applied; NIfTI
scaling (scl_slope/scl_inter) is applied by ITK on reading.

Writing goes through a private folder created beside the target, with the final file names, so that a
MetaImage header's ``ElementDataFile`` names the final data file; the data file is renamed into place first
and the header last, so a reader never finds a header whose data is incomplete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.volume import ScanInfo, Volume

log = get_logger(__name__)

#: File endings read and written through SimpleITK.
IMAGE_SUFFIXES: tuple[str, ...] = (".mhd", ".mha", ".nii", ".nii.gz", ".nrrd", ".nhdr")


def image_suffix(path: str | os.PathLike[str]) -> str | None:
    """The image-format ending of ``path`` (lower case, ``.nii.gz`` as one), or None."""
    name = Path(path).name.lower()
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def read_sitk(path: str | os.PathLike[str]):
    """``sitk.ReadImage`` with a one-line :class:`CacscoreError` for missing or damaged files."""
    import SimpleITK as sitk  # noqa: N813

    p = Path(path)
    if not p.is_file():
        raise CacscoreError(f"{p} does not exist; give an existing image file or DICOM folder")
    if image_suffix(p) == ".mhd":
        _check_mhd_data_file(p)
    if image_suffix(p) in (".nii", ".nii.gz"):
        _check_nifti_complete(p)
    try:
        image = sitk.ReadImage(str(p))
    except RuntimeError as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        raise CacscoreError(
            f"cannot read {p}: the file is damaged or not an image ({first.strip()[:160]})"
        ) from None
    if image.GetDimension() != 3:
        raise CacscoreError(f"{p} is a {image.GetDimension()}-D image; cacscore needs a 3-D volume")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise CacscoreError(f"{p} has {image.GetNumberOfComponentsPerPixel()} components per voxel; need 1")
    return image


def _check_mhd_data_file(header: Path) -> None:
    """A MetaImage header whose data file is missing or too short gives an error naming it."""
    fields: dict[str, str] = {}
    for line in header.read_text(encoding="latin-1", errors="replace").splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip()
    data_name = fields.get("ElementDataFile")
    if data_name is None:
        raise CacscoreError(f"{header} is not a MetaImage header (no ElementDataFile line)")
    if data_name == "LOCAL" or data_name.startswith("LIST") or "%" in data_name:
        return
    data = header.parent / data_name
    if not data.is_file():
        raise CacscoreError(
            f"the data file {data.name} named by {header.name} is missing; copy it beside the header"
        )
    compressed = fields.get("CompressedData", "False").lower() == "true"
    if not compressed and "DimSize" in fields and "ElementType" in fields:
        sizes = {"MET_UCHAR": 1, "MET_CHAR": 1, "MET_USHORT": 2, "MET_SHORT": 2, "MET_UINT": 4, "MET_INT": 4,
                 "MET_FLOAT": 4, "MET_DOUBLE": 8, "MET_LONG": 8, "MET_ULONG": 8}
        item = sizes.get(fields["ElementType"])
        if item is not None:
            try:
                dims = [int(v) for v in fields["DimSize"].split()]
            except ValueError:
                raise CacscoreError(
                    f"{header} is a damaged MetaImage header (DimSize {fields['DimSize']!r} is not a list of "
                    "integers); re-export the image"
                ) from None
            expected = int(np.prod(dims)) * item
            if data.stat().st_size < expected:
                raise CacscoreError(
                    f"{data.name} holds {data.stat().st_size} bytes where {header.name} needs {expected}; "
                    "the data file is truncated"
                )


def _check_nifti_complete(path: Path) -> None:
    """A truncated or corrupted NIfTI file is an error (ITK's NIfTI reader fills missing voxels silently).

    The gzip stream of a .nii.gz is read to its end (its CRC and length are checked by :mod:`gzip`), and the
    data must be as long as the header says: vox_offset + voxels x bitpix / 8 bytes (NIfTI-1 and NIfTI-2).
    """
    import gzip
    import struct
    import zlib

    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                header = fh.read(540)
                size = len(header)
                while chunk := fh.read(1 << 24):
                    size += len(chunk)
        else:
            with open(path, "rb") as fh:
                header = fh.read(540)
            size = path.stat().st_size
    except (OSError, EOFError, zlib.error) as exc:
        raise CacscoreError(
            f"cannot read {path}: the file is damaged or not an image (compressed data truncated or "
            f"corrupt: {type(exc).__name__}); copy or export it again"
        ) from None
    expected = None
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(f"{endian}i", header[:4])[0] == 348:  # NIfTI-1
            dims = struct.unpack(f"{endian}8h", header[40:56])
            bitpix = struct.unpack(f"{endian}h", header[72:74])[0]
            offset = int(struct.unpack(f"{endian}f", header[108:112])[0])
        elif len(header) >= 540 and struct.unpack(f"{endian}i", header[:4])[0] == 540:  # NIfTI-2
            bitpix = struct.unpack(f"{endian}h", header[14:16])[0]
            dims = struct.unpack(f"{endian}8q", header[16:80])
            offset = int(struct.unpack(f"{endian}q", header[168:176])[0])
        else:
            continue
        if 1 <= dims[0] <= 7 and bitpix > 0:
            expected = offset + int(np.prod([max(int(d), 1) for d in dims[1 : dims[0] + 1]])) * bitpix // 8
        break
    if expected is not None and size < expected:
        raise CacscoreError(
            f"cannot read {path}: the file is damaged or not an image (truncated: {size} bytes where its "
            f"header needs {expected}); copy or export it again"
        )


def geometry_of(image) -> tuple[tuple[float, float, float], tuple[float, float, float], np.ndarray]:
    """(spacing z y x, origin x y z, direction 3x3 with columns = index axes) of a SimpleITK image."""
    spacing_zyx = tuple(float(s) for s in reversed(image.GetSpacing()))
    origin = tuple(float(o) for o in image.GetOrigin())
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    return spacing_zyx, origin, direction  # type: ignore[return-value]


def read_image_volume(path: str | os.PathLike[str]) -> Volume:
    """Read a 3-D CT image file as a :class:`Volume` (HU as stored, float32)."""
    import SimpleITK as sitk  # noqa: N813

    image = read_sitk(path)
    hu = sitk.GetArrayFromImage(image).astype(np.float32, copy=False)
    spacing, origin, direction = geometry_of(image)
    info = ScanInfo(slice_increment_mm=spacing[0], source=str(path))
    return Volume(hu=hu, spacing_zyx_mm=spacing, origin_xyz_mm=origin, direction=direction, info=info)


def to_sitk(array: np.ndarray, like: Volume):
    """A SimpleITK image of ``array`` (z, y, x) with exactly ``like``'s geometry."""
    import SimpleITK as sitk  # noqa: N813

    image = sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=False)
    image.SetSpacing(tuple(float(s) for s in reversed(like.spacing_zyx_mm)))
    image.SetOrigin(tuple(float(o) for o in like.origin_xyz_mm))
    image.SetDirection(tuple(float(d) for d in np.asarray(like.direction).reshape(-1)))
    return image


def write_sitk_atomic(image, path: str | os.PathLike[str], compress: bool = False) -> Path:
    """Write a SimpleITK image to ``path`` atomically (MetaImage: data file first, header last).

    ``compress`` writes a MetaImage's data as .zraw (zlib) and compresses .mha/.nrrd; .nii.gz is always
    compressed and .nii never.
    """
    import SimpleITK as sitk  # noqa: N813

    target = Path(path)
    suffix = image_suffix(target)
    if suffix is None:
        raise CacscoreError(
            f"cannot write {target.name}: use one of {', '.join(IMAGE_SUFFIXES)} (or a folder for DICOM)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staged = staging / target.name
        use_compression = compress or suffix == ".nii.gz"
        sitk.WriteImage(image, str(staged), use_compression)
        written = sorted(p for p in staging.iterdir() if p != staged)
        # Data files (.raw/.zraw of a MetaImage) go in first, the header last.
        for data in written:
            os.replace(data, target.parent / data.name)
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
