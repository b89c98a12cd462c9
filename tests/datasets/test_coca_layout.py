"""COCA gated release: a generated DICOM patient folder and a hand-written OsiriX plist with known areas."""

from __future__ import annotations

import logging
import plistlib

import numpy as np
import pytest

from cacscore.datasets import labels_from_outlines, open_dataset, read_coca
from cacscore.errors import CacscoreError
from cacscore.io import write_dicom_series
from cacscore.labels import Artery
from cacscore.volume import Volume

ORIGIN = (-10.0, -20.0, 100.0)
SPACING = (3.0, 0.5, 0.5)  # z, y, x


def _roi(name: str, xy: list[tuple[float, float]], k: int) -> dict:
    mm = [(ORIGIN[0] + x * SPACING[2], ORIGIN[1] + y * SPACING[1], ORIGIN[2] + k * SPACING[0]) for x, y in xy]
    return {
        "Name": name,
        "Area": 0.0,
        "Mean": 0.0,
        "Point_px": [f"({x:.6f}, {y:.6f})" for x, y in xy],
        "Point_mm": [f"({x:.6f}, {y:.6f}, {z:.6f})" for x, y, z in mm],
    }


def make_coca(root):
    hu = np.full((5, 16, 16), -50.0, np.float32)
    hu[2, 2:7, 2:7] = 400.0  # under the LAD square
    hu[2, 4, 4] = 100.0  # below 130 HU: outlined but not calcium
    hu[2, 8, 8] = 500.0  # bright but outside every outline
    hu[3, 10:15, 10:15] = 300.0  # under the left-main triangle
    hu[1, 0:3, 0:2] = 250.0  # under the RCA rectangle
    vol = Volume(hu, SPACING, ORIGIN)
    release = root / "cocacoronarycalciumandchestcts-2" / "Gated_release_final"
    write_dicom_series(vol, release / "patient" / "7" / "Pro_Gated_CS_3.0_I30f_3_70%")
    write_dicom_series(vol, release / "patient" / "12" / "series")
    plist = {
        "Images": [
            # square with corners (2,2)-(6,6): 5 x 5 = 25 pixels including its outline
            {"ImageIndex": 2, "NumberOfROIs": 2, "ROIs": [
                _roi("Left Anterior Descending Artery", [(2, 2), (6, 2), (6, 6), (2, 6)], 2),
                {"Name": "Left Circumflex Artery", "Area": 0.0, "Point_px": [], "Point_mm": []},  # empty
            ]},
            # right triangle x >= 10, y >= 10, x + y <= 24: 5 + 4 + 3 + 2 + 1 = 15 pixels
            {"ImageIndex": 3, "NumberOfROIs": 1, "ROIs": [
                _roi("Left Coronary Artery", [(10, 10), (14, 10), (10, 14)], 3),
            ]},
            # rectangle columns 0-1, rows 0-2 = 6 pixels, on slice 1 but filed under ImageIndex 0
            {"ImageIndex": 0, "NumberOfROIs": 1, "ROIs": [
                _roi("Right Coronary Artery", [(0, 0), (1, 0), (1, 2), (0, 2)], 1),
            ]},
        ]
    }
    (release / "calcium_xml").mkdir()
    (release / "calcium_xml" / "7.xml").write_bytes(plistlib.dumps(plist))
    return root / "cocacoronarycalciumandchestcts-2", vol


def test_coca_cases_and_labels(tmp_path, caplog):
    root, _ = make_coca(tmp_path)
    cases = read_coca(root)
    assert [c.case_id for c in cases] == ["7", "12"]  # numeric order
    seven, twelve = cases
    assert seven.outlines_path.name == "7.xml" and twelve.outlines_path is None
    assert twelve.metadata["no_outlines_means_no_calcium"] is True
    vol = seven.load_volume()
    with caplog.at_level(logging.WARNING, logger="cacscore"):
        labels = seven.load_labels(vol)
    assert "1 outline(s) whose ImageIndex disagrees with Point_mm" in caplog.text
    assert int(np.count_nonzero(labels[2] == Artery.LAD)) == 25 - 1
    assert labels[2, 4, 4] == 0 and labels[2, 8, 8] == 0
    assert int(np.count_nonzero(labels[3] == Artery.LAD)) == 15  # left main folded into LAD
    assert int(np.count_nonzero(labels[1] == Artery.RCA)) == 6
    assert int(np.count_nonzero(labels)) == 24 + 15 + 6
    assert not np.any(labels == Artery.LCX)  # the empty ROI is skipped
    kept = seven.load_labels(vol, keep_lm=True)
    assert int(np.count_nonzero(kept == Artery.LM)) == 15 and int(np.count_nonzero(kept == Artery.LAD)) == 24
    assert not twelve.load_labels(twelve.load_volume()).any()
    assert [c.case_id for c in open_dataset(root)] == ["7", "12"]
    assert [c.case_id for c in open_dataset(root / "Gated_release_final")] == ["7", "12"]


def test_outline_off_the_volume_is_an_error(tmp_path):
    _root, vol = make_coca(tmp_path)
    xml = tmp_path / "off.xml"
    roi = _roi("Right Coronary Artery", [(0, 0), (1, 0), (1, 1)], 1)
    roi["Point_mm"] = [s.replace("103.000000", "104.500000") for s in roi["Point_mm"]]  # half a slice off
    xml.write_bytes(plistlib.dumps({"Images": [{"ImageIndex": 1, "ROIs": [roi]}]}))
    with pytest.raises(CacscoreError, match=r"lies at slice position 1\.50, not on a slice"):
        labels_from_outlines(xml, vol)


def test_not_a_coca_release_and_bad_plist(tmp_path):
    with pytest.raises(CacscoreError, match="no COCA gated release"):
        read_coca(tmp_path)
    _root, vol = make_coca(tmp_path)
    bad = tmp_path / "bad.xml"
    bad.write_text("<html>not a plist</html>")
    with pytest.raises(CacscoreError, match="is not a readable OsiriX plist"):
        labels_from_outlines(bad, vol)
