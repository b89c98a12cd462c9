"""MetaImage (.mhd/.mha, .raw or compressed .zraw), NIfTI (.nii/.nii.gz) and NRRD through SimpleITK.

Each format's header is checked against its data before ITK reads it (ITK fills with zeros, or with 1 mm,
what it cannot read), and every volume read is checked by :func:`cacscore.io.validate.check_volume`.
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
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.io.metaimage import check_metaimage
from cacscore.io.nifti import check_nifti
from cacscore.io.nrrd import check_nrrd
from cacscore.io.validate import check_volume
from cacscore.log import printable
from cacscore.volume import ScanInfo, Volume

#: File endings read and written through SimpleITK.
IMAGE_SUFFIXES: tuple[str, ...] = (".mhd", ".mha", ".nii", ".nii.gz", ".nrrd", ".nhdr")


def image_suffix(path: str | os.PathLike[str]) -> str | None:
    """The image-format ending of ``path`` (lower case, ``.nii.gz`` as one), or None."""
    name = Path(path).name.lower()
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def sitk_path(path: str | os.PathLike[str]) -> str:
    """``path`` as the text SimpleITK takes; a path that is not valid UTF-8 is refused here, because
    SimpleITK aborts the whole process on one (a C++ ``std::logic_error``)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CacscoreError(
            f"{printable(text)}: the path holds bytes that are not UTF-8, which the image library cannot "
            "open; rename the file or folder"
        ) from None
    return text


def itk_message(exc: BaseException) -> str:
    """The reason in an ITK exception, on one line, without ITK's source paths and object addresses."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [_ITK_ERROR.sub("", line) for line in lines if _ITK_ERROR.search(line)]
    details = [line for line in lines if line.startswith("[")]
    text = reasons[0] if reasons else (lines[-1] if lines else type(exc).__name__)
    if details:
        text = f"{text} {details[-1]}"
    text = _ITK_SOURCE.sub("", _ITK_ADDRESS.sub("", text)).strip(" :")
    return text[:200]


_ITK_ERROR = re.compile(r"^.*?\b(?:sitk|itk)::ERROR:\s*")
_ITK_ADDRESS = re.compile(r"\(0x[0-9a-fA-F]+\)")
_ITK_SOURCE = re.compile(r"\S+\.(?:cxx|cpp|hxx|h|txx)(?::\d+)?:?")


def read_sitk(path: str | os.PathLike[str]):
    """``sitk.ReadImage`` after the format's own header checks, with a one-line :class:`CacscoreError`
    for missing, damaged or wrongly declared files (see :mod:`cacscore.io.metaimage`,
    :mod:`cacscore.io.nifti`, :mod:`cacscore.io.nrrd`)."""
    import SimpleITK as sitk  # noqa: N813

    p = Path(path)
    text = sitk_path(p)
    if not p.is_file():
        raise CacscoreError(f"{p} does not exist; give an existing image file or DICOM folder")
    suffix = image_suffix(p)
    if suffix in (".mhd", ".mha"):
        check_metaimage(p)
    elif suffix in (".nii", ".nii.gz"):
        check_nifti(p)
    elif suffix in (".nrrd", ".nhdr"):
        check_nrrd(p)
    try:
        image = sitk.ReadImage(text)
    except RuntimeError as exc:
        raise CacscoreError(
            f"cannot read {p}: the file is damaged or not an image ({itk_message(exc)})"
        ) from None
    if image.GetDimension() != 3:
        raise CacscoreError(f"{p} is a {image.GetDimension()}-D image; cacscore needs a 3-D volume")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise CacscoreError(f"{p} has {image.GetNumberOfComponentsPerPixel()} components per voxel; need 1")
    return image


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
    volume = Volume(hu=hu, spacing_zyx_mm=spacing, origin_xyz_mm=origin, direction=direction, info=info)
    return check_volume(volume, str(path))


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
        sitk.WriteImage(image, sitk_path(staged), use_compression)
        written = sorted(p for p in staging.iterdir() if p != staged)
        # Data files (.raw/.zraw of a MetaImage) go in first, the header last.
        for data in written:
            os.replace(data, target.parent / data.name)
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
