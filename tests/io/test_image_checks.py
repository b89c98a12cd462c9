"""MetaImage, NIfTI and NRRD files that ITK would read wrongly (zeros, 1 mm, one slice) or not at all: each
is one CacscoreError naming what is wrong, and nothing is written (issue 13, sections 1 and 4)."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from cacscore.errors import CacscoreError
from cacscore.io import read_mask, read_volume, write_mask, write_volume
from cacscore.io.images import itk_message
from cacscore.io.validate import MEMORY_BUDGET_ENV
from cacscore.volume import Volume
from helpers import assert_read_error


def _volume(shape=(4, 6, 5)) -> Volume:
    hu = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) - 1000.0
    return Volume(hu, (3.0, 0.7, 0.6), (1.0, 2.0, 3.0))


def _field(header, key: str, value: str) -> None:
    """Replace one ``key = value`` line of a MetaImage header (.mhd, or the text part of an .mha)."""
    data = header.read_bytes()
    start = data.index(key.encode() + b" = ")
    end = data.index(b"\n", start)
    header.write_bytes(data[:start] + f"{key} = {value}".encode() + data[end:])


# ----- MetaImage ------------------------------------------------------------------------------------------


def test_compressed_flag_on_raw_data(tmp_path):
    header = write_volume(_volume(), tmp_path / "ct.mhd")
    text = header.read_text().replace("ElementDataFile", "CompressedData = True\nElementDataFile")
    header.write_text(text)
    assert_read_error(tmp_path, header, r"compressed data of ct\.mhd cannot be decompressed")


def test_wrong_compressed_data_size(tmp_path):
    header = write_volume(_volume(), tmp_path / "ct.mhd", compress=True)
    size = (tmp_path / "ct.zraw").stat().st_size
    _field(header, "CompressedDataSize", str(size * 2))
    pattern = rf"says its compressed data is {size * 2} bytes, but ct\.zraw holds {size}"
    assert_read_error(tmp_path, header, pattern)
    _field(header, "CompressedDataSize", str(size // 2))  # ITK would zero-fill what the first half lacks
    assert_read_error(tmp_path, header, r"decompresses to less than the 240 bytes")  # 120 int16 voxels


def test_compressed_data_shorter_than_dim_size(tmp_path):
    """A .zraw holding 4 x 6 x 5 int16 voxels under a header declaring 4 x 6 x 6: ITK zero-fills the rest."""
    header = write_volume(_volume(), tmp_path / "ct.mhd", compress=True)
    _field(header, "DimSize", "6 6 4")
    assert_read_error(tmp_path, header, r"decompresses to less than the 288 bytes")  # 6 x 6 x 4 x 2


def test_truncated_compressed_mha(tmp_path):
    path = write_volume(_volume(), tmp_path / "ct.mha", compress=True)
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    assert_read_error(tmp_path, path, r"ct\.mha|compressed data")


@pytest.mark.parametrize("name", ["LIST", "LIST 2D", "slice%03d.raw 1 4 1"])
def test_element_data_file_list_is_refused(tmp_path, name):
    header = write_volume(_volume(), tmp_path / "ct.mhd")
    _field(header, "ElementDataFile", name)
    assert_read_error(tmp_path, header, r"spreads its data over several files")


def test_element_data_file_that_is_not_a_regular_file(tmp_path):
    header = write_volume(_volume(), tmp_path / "ct.mhd")
    _field(header, "ElementDataFile", "/dev/zero")
    assert_read_error(tmp_path, header, r"names /dev/zero as its data file, which is not a regular file")


@pytest.mark.parametrize(("dims", "pattern"), [
    ("5 6 0", r"declares an image of size 5 x 6 x 0"),
    ("64 64 64", r"ct\.raw holds 240 bytes where ct\.mhd needs 524288"),  # 64^3 int16 on 120 voxels' data
])
def test_dim_size_zero_or_far_beyond_the_data(tmp_path, dims, pattern):
    header = write_volume(_volume(), tmp_path / "ct.mhd")
    _field(header, "DimSize", dims)
    assert_read_error(tmp_path, header, pattern)


def test_declared_size_beyond_the_memory_budget_before_any_allocation(tmp_path, monkeypatch):
    """4096 x 4096 x 256 voxels at 8 bytes each in use: 32 GiB, over a 1 GiB budget."""
    monkeypatch.setenv(MEMORY_BUDGET_ENV, str(1 << 30))
    header = write_volume(_volume(), tmp_path / "ct.mhd", compress=True)
    _field(header, "DimSize", "4096 4096 256")
    pattern = r"declares 4096 x 4096 x 256 voxels, 32\.0 GiB to score, more than the 1\.0 GiB allowed"
    assert_read_error(tmp_path, header, pattern)


@pytest.mark.parametrize("spacing", ["1e6 1e6 3", "0 0 3", "nan 0.7 3", "-1 0.7 3", "1e-9 1e-9 1e-9"])
def test_element_spacing_outside_ct(tmp_path, spacing):
    path = write_volume(_volume(), tmp_path / "ct.mha")
    _field(path, "ElementSpacing", spacing)
    assert_read_error(tmp_path, path, r"has ElementSpacing .* a CT voxel is 0\.01 to 20 mm")


@pytest.mark.parametrize("suffix", [".mha", ".mhd", ".nrrd", ".nii.gz", ".nii"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_voxels_are_refused(tmp_path, suffix, value):
    """ITK reads them as NaN (MetaImage, NRRD) or 0 (NIfTI); either way the score would be wrong."""
    volume = _volume()
    hu = volume.hu.copy()
    hu[2, 3, 1] = value
    path = write_volume(volume.with_hu(hu), tmp_path / f"ct{suffix}")
    assert_read_error(tmp_path, path, r"holds 1 NaN or infinite voxel")


# ----- NIfTI ------------------------------------------------------------------------------------------------


def _nifti_edit(path, offset: int, fmt: str, value) -> None:
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    path.write_bytes(gzip.compress(bytes(data)))


@pytest.mark.parametrize("value", [0.0, float("nan"), 1e-9, float("inf")])
def test_nifti_pixdim_that_itk_would_read_as_1_mm(tmp_path, value):
    """pixdim[1] (x spacing) at byte 80 of the NIfTI-1 header."""
    path = write_volume(_volume(), tmp_path / "ct.nii.gz")
    _nifti_edit(path, 80, "<f", value)
    assert_read_error(tmp_path, path, r"has pixdim .* \(ITK would read 0 or NaN as 1 mm\)")


def test_nifti_dim_zero_that_itk_would_read_as_one_slice(tmp_path):
    """dim[3] (z size) at byte 46 of the NIfTI-1 header."""
    path = write_volume(_volume(), tmp_path / "ct.nii.gz")
    _nifti_edit(path, 46, "<h", 0)
    assert_read_error(tmp_path, path, r"declares an image of size 5 x 6 x 0")


def test_nifti_mask_whose_only_labels_are_nan(tmp_path):
    """Read as 0 by ITK, such a mask scored 0 instead of failing; it must be refused as wrong labels."""
    volume = _volume()
    labels = np.full(volume.shape, np.nan, np.float32)
    path = write_volume(volume.with_hu(labels), tmp_path / "mask.nii.gz")
    with pytest.raises(CacscoreError, match=r"holds 120 NaN or infinite voxel"):
        read_mask(path, like=volume)
    path = write_volume(volume.with_hu(labels), tmp_path / "mask.mha")
    with pytest.raises(CacscoreError, match=r"mask\.mha holds NaN or infinite values"):
        read_mask(path, like=volume)


def test_score_cli_on_a_nan_mask_is_one_line(tmp_path):
    from helpers import run_cli

    volume = _volume()
    image = write_volume(volume, tmp_path / "ct.nii.gz")
    mask = write_volume(volume.with_hu(np.full(volume.shape, np.nan, np.float32)), tmp_path / "m.nii.gz")
    code, out, err = run_cli(["score", str(image), "--mask", str(mask)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("cacscore score: error: ") and "NaN" in err


# ----- NRRD, geometry, paths, messages ----------------------------------------------------------------


@pytest.mark.parametrize("sizes", [b"sizes: 5 6 0", b"sizes: 99999 99999 99999"])
def test_nrrd_sizes_zero_or_beyond_the_budget(tmp_path, sizes):
    path = write_volume(_volume(), tmp_path / "ct.nrrd")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"sizes: 5 6 4", sizes, 1))
    assert_read_error(tmp_path, path, r"declares")


def test_spacing_far_outside_ct_is_refused_after_reading(tmp_path):
    """PixelSpacing 1e6 gave Agatston 2.9e15: a spacing outside 0.01-20 mm is no CT."""
    image = sitk.GetImageFromArray(np.zeros((4, 6, 5), np.int16))
    image.SetSpacing((1e6, 1e6, 3.0))
    sitk.WriteImage(image, str(tmp_path / "ct.nrrd"))
    assert_read_error(tmp_path, tmp_path / "ct.nrrd", r"voxel spacing of \(3, 1e\+06, 1e\+06\) mm")


def test_path_that_is_not_utf8_is_refused_before_simpleitk(tmp_path):
    """SimpleITK aborts the process (std::logic_error, exit 134) on such a path."""
    path = write_volume(_volume(), tmp_path / "ct.nii.gz")
    odd = tmp_path / os.fsdecode(b"scan\xff.nii.gz")
    path.rename(odd)
    assert_read_error(tmp_path, odd, r"scan\\udcff\.nii\.gz: the path holds bytes that are not UTF-8")


def test_itk_messages_lose_their_build_paths(tmp_path):
    header = b"NRRD0004\ntype: short\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n\nxx"  # no endian
    (tmp_path / "ct.nrrd").write_bytes(header)
    with pytest.raises(RuntimeError) as itk:
        sitk.ReadImage(str(tmp_path / "ct.nrrd"))
    assert ".cxx" in str(itk.value)  # ITK names its own source file ...
    message = itk_message(itk.value)
    assert ".cxx" not in message and "0x" not in message and "\n" not in message  # ... cacscore does not
    assert "require endian info" in message
    error = assert_read_error(tmp_path, tmp_path / "ct.nrrd", r"cannot read .*ct\.nrrd")
    assert ".cxx" not in str(error)


def test_mask_on_another_grid_names_what_differs(tmp_path):
    volume = _volume()
    other = Volume(volume.hu, (3.0, 0.7, 0.6), (1.0, 2.0, 9.0))
    path = write_mask(np.zeros(volume.shape, np.uint8), other, tmp_path / "m.nii.gz")
    with pytest.raises(CacscoreError, match=r"not on the image's grid \(origin \(1\.0, 2\.0, 9\.0\) vs "
                                            r"\(1\.0, 2\.0, 3\.0\) mm\)"):
        read_mask(path, like=read_volume(write_volume(volume, tmp_path / "ct.nii.gz")))


@pytest.mark.parametrize("offset", [1e30, -352.0, 6.1e28])
def test_nifti_vox_offset_that_is_no_offset(tmp_path, offset):
    """vox_offset (byte 108) damaged to a huge or negative float: found by the reader fuzz as an
    OverflowError/MemoryError while skipping to the data."""
    path = write_volume(_volume(), tmp_path / "ct.nii.gz")
    _nifti_edit(path, 108, "<f", offset)
    assert_read_error(tmp_path, path, r"is a damaged NIfTI file \(.*vox_offset")
