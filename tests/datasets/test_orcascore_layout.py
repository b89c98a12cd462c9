"""orCaScore layout: 2 vendors x 2 training patients (+ a CTA, a heart mask), a TE and a VA test case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cacscore.datasets import open_dataset, read_orcascore
from cacscore.errors import CacscoreError
from cacscore.io import write_mask, write_volume
from cacscore.labels import Artery
from cacscore.volume import Volume


def _ct(seed: int) -> Volume:
    rng = np.random.default_rng(seed)
    hu = rng.integers(-1000, 600, size=(4, 6, 5)).astype(np.float32)
    return Volume(hu, (3.0, 0.7, 0.7), (0.0, 0.0, float(seed)))


def make_orcascore(root: Path) -> dict[str, Volume]:
    images = root / "Training Set" / "Images"
    refs = root / "Training Set" / "Reference standard"
    hearts = root / "Training Set" / "Heart masks"
    volumes = {}
    for v in (1, 2):
        for p in (1, 2):
            vol = _ct(10 * v + p)
            volumes[f"TRV{v}P{p}"] = vol
            write_volume(vol, images / f"TRV{v}P{p}CTI.mhd", compress=(v == 2))
            labels = np.zeros(vol.shape, np.int16)
            labels[1, 2, 3] = Artery.LCX
            labels[2, 1, 1] = Artery.RCA
            write_mask(labels, vol, refs / f"TRV{v}P{p}R.mhd", dtype=np.int16)
    write_volume(_ct(99), images / "TRV1P1CTAI.mhd")  # CTA of patient V1P1: listed, never the CT
    write_mask(np.ones((4, 6, 5), np.uint8), volumes["TRV2P2"], hearts / "TRV2P2H.mhd")
    volumes["TEV1P3"] = _ct(5)
    write_volume(volumes["TEV1P3"], root / "Test Set" / "Images" / "TEV1P3CTI.mhd")
    volumes["VAV2P1"] = _ct(6)
    write_volume(volumes["VAV2P1"], root / "Test Set" / "Images" / "VAV2P1CTI.mhd")
    return volumes


def test_reads_cases_with_ids_vendors_and_references(tmp_path):
    volumes = make_orcascore(tmp_path)
    cases = read_orcascore(tmp_path)
    assert [c.case_id for c in cases] == ["TRV1P1", "TRV1P2", "TRV2P1", "TRV2P2", "TEV1P3", "VAV2P1"]
    assert [c.patient_id for c in cases] == ["V1P1", "V1P2", "V2P1", "V2P2", "TEV1P3", "VAV2P1"]
    assert [c.vendor for c in cases] == ["1", "1", "2", "2", "1", "2"]
    assert [c.subset for c in cases] == ["train"] * 4 + ["test", "validation"]
    assert [c.has_reference for c in cases] == [True] * 4 + [False, False]
    by_id = {c.case_id: c for c in cases}
    v1p1 = by_id["TRV1P1"]
    assert v1p1.image_path.name == "TRV1P1CTI.mhd"  # never the CTA
    assert Path(v1p1.metadata["cta_path"]).name == "TRV1P1CTAI.mhd"
    assert "cta_path" not in by_id["TRV1P2"].metadata
    assert by_id["TRV2P2"].heart_mask_path.name == "TRV2P2H.mhd"
    assert by_id["TRV1P1"].heart_mask_path is None

    vol = v1p1.load_volume()
    np.testing.assert_array_equal(vol.hu, volumes["TRV1P1"].hu)
    labels = v1p1.load_labels(vol)
    assert labels.dtype == np.uint8 and labels[1, 2, 3] == Artery.LCX and labels[2, 1, 1] == Artery.RCA
    assert int(labels.sum()) == Artery.LCX + Artery.RCA
    compressed = by_id["TRV2P1"].load_volume()  # .zraw
    np.testing.assert_array_equal(compressed.hu, volumes["TRV2P1"].hu)
    heart = by_id["TRV2P2"].load_heart_mask(by_id["TRV2P2"].load_volume())
    assert heart.dtype == bool and heart.all()
    test_case = by_id["TEV1P3"]
    assert test_case.load_labels(test_case.load_volume()) is None
    assert [c.case_id for c in open_dataset(tmp_path)] == [c.case_id for c in cases]


def test_hidden_entries_are_not_cases(tmp_path):
    """A half-written copy in a hidden staging folder (an interrupted atomic write) and a macOS "._" file
    next to the real images are ignored, not reported as a second copy of the case."""
    make_orcascore(tmp_path)
    images = tmp_path / "Training Set" / "Images"
    write_volume(_ct(11), images / ".TRV1P1CTI.mhd.tmp1234" / "TRV1P1CTI.mhd")
    (images / "._TRV1P2CTI.mhd").write_bytes(b"\x00\x05\x16\x07")
    assert [c.case_id for c in read_orcascore(tmp_path)][:2] == ["TRV1P1", "TRV1P2"]
    assert read_orcascore(tmp_path)[0].image_path == images / "TRV1P1CTI.mhd"


def test_reference_with_codes_outside_0_to_3_is_rejected(tmp_path):
    vol = _ct(1)
    write_volume(vol, tmp_path / "Training Set" / "Images" / "TRV1P1CTI.mhd")
    labels = np.zeros(vol.shape, np.int16)
    labels[0, 0, 0] = 4
    labels[0, 0, 1] = 7
    write_mask(labels, vol, tmp_path / "Training Set" / "Reference standard" / "TRV1P1R.mhd", dtype=np.int16)
    case = read_orcascore(tmp_path)[0]
    pattern = r"TRV1P1R\.mhd holds label value\(s\) \[4, 7\]; only \[0, 1, 2, 3\]"
    with pytest.raises(CacscoreError, match=pattern):
        case.load_labels(case.load_volume())


def test_reference_on_other_grid_is_rejected(tmp_path):
    vol = _ct(1)
    write_volume(vol, tmp_path / "Training Set" / "Images" / "TRV1P1CTI.mhd")
    other = Volume(vol.hu, (2.5, 0.7, 0.7))
    reference = tmp_path / "Training Set" / "Reference standard" / "TRV1P1R.mhd"
    write_mask(np.zeros(vol.shape, np.uint8), other, reference)
    case = read_orcascore(tmp_path)[0]
    with pytest.raises(CacscoreError, match="not on the image's grid"):
        case.load_labels(case.load_volume())


def test_errors(tmp_path):
    with pytest.raises(CacscoreError, match="is not a folder"):
        read_orcascore(tmp_path / "absent")
    (tmp_path / "Training Set" / "Images").mkdir(parents=True)
    with pytest.raises(CacscoreError, match=r"no orCaScore image \(TRV\{v\}P\{p\}CTI\.mhd"):
        read_orcascore(tmp_path)
    write_volume(_ct(1), tmp_path / "Training Set" / "Images" / "TRV1P1CTI.mhd")
    write_volume(_ct(1), tmp_path / "copy" / "TRV1P1CTI.mhd")
    with pytest.raises(CacscoreError, match="TRV1P1CTI is there twice"):
        read_orcascore(tmp_path)
