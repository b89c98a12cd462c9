"""Manifest CSV: paths relative to the CSV, optional columns, and one clear error per mistake."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.datasets import open_dataset, read_manifest
from cacscore.errors import CacscoreError
from cacscore.io import write_dicom_series, write_mask, write_volume
from cacscore.volume import Volume


@pytest.fixture
def files(tmp_path):
    vol = Volume(np.zeros((3, 4, 5), np.float32), (2.0, 0.5, 0.5))
    write_volume(vol, tmp_path / "img" / "a.nii.gz")
    write_mask(np.ones(vol.shape, np.uint8), vol, tmp_path / "lab" / "a.nii.gz")
    write_dicom_series(vol, tmp_path / "dicom" / "b")
    return tmp_path


def test_manifest_cases(files):
    (files / "cases.csv").write_text(
        "case_id,image,label,heart_mask,patient_id,site\n"
        "a,img/a.nii.gz,lab/a.nii.gz,,p1,north\n"
        "b,dicom/b,,,,south\n"
    )
    cases = read_manifest(files / "cases.csv")
    assert [c.case_id for c in cases] == ["a", "b"]
    assert cases[0].image_path == files / "img" / "a.nii.gz"
    assert cases[0].label_path == files / "lab" / "a.nii.gz" and cases[0].heart_mask_path is None
    assert cases[0].patient_id == "p1" and cases[1].patient_id == "b"
    assert cases[0].metadata["site"] == "north"
    vol = cases[1].load_volume()
    assert vol.shape == (3, 4, 5)
    assert cases[1].load_labels(vol) is None
    assert cases[0].load_labels(cases[0].load_volume()).sum() == 60
    assert [c.case_id for c in open_dataset(files)] == ["a", "b"]  # the folder's only .csv
    assert [c.case_id for c in open_dataset(files / "cases.csv")] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,image\nx,img/a.nii.gz\n", r"lacks column\(s\) case_id"),
        ("case_id,label\nx,lab/a.nii.gz\n", r"lacks column\(s\) image"),
        ("case_id,image\na,img/a.nii.gz\na,img/a.nii.gz\n", r"line 3: case_id 'a' already on line 2"),
        ("case_id,image\na,img/missing.nii.gz\n", r"line 2: image 'img/missing.nii.gz' of case 'a' does not"),
        ("case_id,image,label\na,img/a.nii.gz,lab/none.mhd\n", r"line 2: label 'lab/none.mhd'"),
        ("case_id,image\n,img/a.nii.gz\n", r"line 2: empty case_id"),
        ("case_id,image\n", r"lists no case"),
    ],
)
def test_manifest_errors(files, text, message):
    (files / "m.csv").write_text(text)
    with pytest.raises(CacscoreError, match=message):
        read_manifest(files / "m.csv")


def test_open_dataset_errors(tmp_path):
    with pytest.raises(CacscoreError, match="does not exist"):
        open_dataset(tmp_path / "nothing")
    with pytest.raises(CacscoreError, match="cannot tell the layout"):
        open_dataset(tmp_path)
    (tmp_path / "a.csv").write_text("case_id,image\n")
    (tmp_path / "b.csv").write_text("case_id,image\n")
    with pytest.raises(CacscoreError, match=r"found 2 \.csv files"):
        open_dataset(tmp_path)
    (tmp_path / "manifest.csv").write_text("case_id,image\n")
    with pytest.raises(CacscoreError, match=r"the manifest manifest\.csv lists no case"):
        open_dataset(tmp_path)  # manifest.csv is taken among several .csv files
