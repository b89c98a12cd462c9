"""The HTML report, result.json and summary.csv on a constructed scan and result."""

from __future__ import annotations

import base64
import csv
import html.parser
import io
import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from cacscore.labels import Artery
from cacscore.reporting import render_report_html, write_result_json, write_summary_csv
from cacscore.reporting.figures import RULED_OUT_COLOUR, choose_slices, render_slice
from cacscore.volume import ScanInfo, Volume


def _scan():
    hu = np.full((10, 128, 128), 40.0, np.float32)
    labels = np.zeros(hu.shape, np.uint8)
    hu[3, 40:46, 40:46] = 500.0
    labels[3, 40:46, 40:46] = Artery.LAD
    hu[6:8, 80:83, 70:73] = 300.0
    labels[6:8, 80:83, 70:73] = Artery.RCA
    info = ScanInfo(modality="CT", kvp=120.0, manufacturer="ACME", slice_increment_mm=3.0)
    return Volume(hu, (3.0, 0.5, 0.5), info=info), labels


RESULT = {
    "case_id": "case<01>",
    "agatston": {"total": 12.5, "LAD": 9.0, "LCX": 0.0, "RCA": 3.5},
    "volume_mm3": {"total": 40.0, "LAD": 27.0, "LCX": 0.0, "RCA": 13.0},
    "mass_mg": {"total": None, "LAD": None, "LCX": None, "RCA": None},
    "risk_category": {"index": 2, "label": "11-100"},
    "cac_drs": "A1/N2",
    "lesions": [
        {"id": 1, "artery": "LAD", "agatston": 9.0, "volume_mm3": 27.0, "peak_hu": 500, "slices": [3],
         "probability_coronary": 0.97},
        {"id": 2, "artery": "RCA", "agatston": 3.5, "volume_mm3": 13.0, "peak_hu": 300, "slices": [6, 7],
         "probability_coronary": 0.91},
    ],
    "scan": {"kvp": 120.0, "manufacturer": "ACME", "slice_increment_mm": 3.0},
    "settings": {"threshold_hu": 130},
    "software": {"name": "cacscore", "version": "0.1.0"},
    "model": {"id": "test-model"},
}


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.tables: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "table":
            self.tables.append(attrs.get("id"))
        if tag in ("link", "script") and (attrs.get("href") or attrs.get("src")):
            self.links.append(attrs.get("href") or attrs.get("src"))


def test_report_is_self_contained_with_tables_and_images():
    volume, labels = _scan()
    page = render_report_html(RESULT, volume, labels)
    parser = _Collector()
    parser.feed(page)
    assert {"per-artery", "lesions", "scan"} <= set(parser.tables)
    assert parser.links == []  # no external stylesheet or script
    assert len(parser.images) == 2  # the largest slice of each of the two lesions
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()
    assert "case&lt;01&gt;" in page  # autoescaped
    assert "11-100" in page and "A1/N2" in page and "ACME" in page
    assert "12.5" in page
    assert "named by where" not in page  # the network named the arteries


def test_the_header_says_when_the_arteries_were_named_by_position():
    volume, labels = _scan()
    result = {**RESULT, "model": {"id": "test-model", "artery_from": "position"}}
    assert "test-model (arteries named by where each calcification lies in the heart)" in render_report_html(
        result, volume, labels)


def test_lesions_outlined_in_artery_colour():
    volume, labels = _scan()
    crop = (slice(0, 128), slice(0, 128))
    image = np.asarray(render_slice(volume, labels, 3, crop))
    colours = {tuple(p) for p in image.reshape(-1, 3)}
    assert Artery.LAD.colour in colours
    assert Artery.RCA.colour not in colours
    image = np.asarray(render_slice(volume, labels, 6, crop))
    assert Artery.RCA.colour in {tuple(p) for p in image.reshape(-1, 3)}


def test_calls_ruled_out_by_anatomy_are_listed_for_checking():
    """Three candidates the network called coronary and the decision rule's anatomy did not (two in the
    chest wall, one without fat around), one it did not call: the report names the three by slice and
    reason; without any, there is no such note."""
    candidates = [{"index": 1, "slices": [18, 19], "overruled": "in front of the rib cage (chest wall)"},
                  {"index": 2, "slices": [20, 20], "overruled": "in front of the rib cage (chest wall)"},
                  {"index": 3, "slices": [22, 22], "overruled": "no fat within 10 mm"},
                  {"index": 4, "slices": [5, 5]}]
    page = render_report_html({**RESULT, "candidates": candidates}, *_scan())
    note = page.split('id="overruled">')[1].split("</p>")[0]
    assert note == ("Not scored: 3 calcifications the classifier called coronary that anatomy rules out: "
                    "slices 18-19, 20 (in front of the rib cage (chest wall)); slice 22 (no fat within "
                    "10 mm).")
    assert 'id="overruled"' not in render_report_html({**RESULT, "candidates": candidates[3:]}, *_scan())


def _images(page: str) -> list[np.ndarray]:
    parser = _Collector()
    parser.feed(page)
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))
            for src in parser.images]


def test_calls_ruled_out_by_anatomy_are_drawn_dashed_on_their_own_slice():
    """A calcification ruled out by anatomy on slice 8 (no lesion there): its slice is shown too, outlined in
    the ruled-out colour in dashes (part of its ring only), with a legend and a caption saying so; the
    lesions' slices carry no such outline; without it the report is as before."""
    volume, labels = _scan()
    ruled_out = np.zeros(labels.shape, bool)
    ruled_out[8, 20:30, 100:110] = True
    page = render_report_html(RESULT, volume, labels, ruled_out=ruled_out)
    images = _images(page)
    assert len(images) == 3  # slices 3, 6 and 8
    yellow = [(im == RULED_OUT_COLOUR).all(axis=2) for im in images]
    assert not yellow[0].any() and not yellow[1].any() and yellow[2].any()
    box = np.zeros(yellow[2].shape, bool)  # the dashes lie on the 2-px ring round the calcification
    rows, cols = np.nonzero(yellow[2])
    box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
    ring = box & ~ndimage.binary_erosion(box, iterations=2)
    assert yellow[2][~ring].sum() == 0 and yellow[2].sum() < 0.75 * ring.sum()  # dashed, not a full ring
    assert 'id="ruled-out-legend"' in page
    assert "slice 8 (z = 24.0 mm): ruled out by anatomy (dashed)" in page
    plain = render_report_html(RESULT, volume, labels)
    assert len(_images(plain)) == 2 and 'id="ruled-out-legend"' not in plain
    assert 'id="ruled-out-legend"' not in render_report_html(RESULT, volume, labels,
                                                             ruled_out=np.zeros(labels.shape, bool))
    ruled_out[8] = False
    ruled_out[6, 20:30, 100:110] = True  # on a lesion's slice: drawn there, no slice of its own
    page = render_report_html(RESULT, volume, labels, ruled_out=ruled_out)
    assert len(_images(page)) == 2 and "slice 6 (z = 18.0 mm): RCA; ruled out by anatomy (dashed)" in page


def test_a_category_resting_on_unsure_calls_says_so_under_it():
    """result.json's category_certainty: when leaving the unsure calls out changes the category, the card
    says what it would be; otherwise nothing is added."""
    doubt = {"unsure_below": 0.8, "category": "11-100", "category_without_unsure": "1-10",
             "rests_on_unsure": True, "unsure_lesions": []}
    page = render_report_html({**RESULT, "category_certainty": doubt}, *_scan())
    assert page.split('id="category-doubt">')[1].split("</strong>")[0] == (
        "rests on unsure calls; 1-10 without them")
    sure = {**doubt, "category_without_unsure": "11-100", "rests_on_unsure": False}
    assert 'id="category-doubt"' not in render_report_html({**RESULT, "category_certainty": sure}, *_scan())


def test_choose_slices():
    _, labels = _scan()
    assert choose_slices(labels) == ([3, 6], 0)  # the RCA's slices 6-7 are equal: the first
    assert choose_slices(np.zeros((9, 4, 4), np.uint8)) == ([4], 0)
    assert choose_slices(np.zeros((9, 4, 4), np.uint8), shown=(2,)) == ([], 0)


def test_every_lesion_gets_a_slice_unless_it_lies_on_one_shown():
    """Twelve specks on twelve slices: twelve slices (the old page showed 8); over the cap, the biggest are
    shown and the rest counted. A speck on the slice shown for a bigger lesion adds no slice; one on
    another slice does."""
    labels = np.zeros((30, 40, 40), np.uint8)
    for i, z in enumerate(range(0, 24, 2)):
        labels[z, 2:4 + i, 2:4] = Artery.LAD  # sizes 4, 6, ..., 26 voxels
    assert choose_slices(labels) == (list(range(0, 24, 2)), 0)
    assert choose_slices(labels, max_slices=3) == ([18, 20, 22], 9)
    big = np.zeros((10, 40, 40), np.uint8)
    big[2:5, 5:15, 5:15] = Artery.RCA
    big[3, 9:12, 9:12] = 0  # its slices 2 and 4 (100 voxels) beat 3 (91): slice 2 is shown
    assert choose_slices(big) == ([2], 0)
    big[2, 30:32, 30:32] = Artery.LCX  # on the slice shown: pictured with it
    assert choose_slices(big) == ([2], 0)
    big[2, 30:32, 30:32] = 0
    big[3, 30:32, 30:32] = Artery.LCX  # on another of the big lesion's slices: that slice is shown too
    assert choose_slices(big) == ([2, 3], 0)
    big[3, 30:32, 30:32] = 0  # a lesion of one slice each: the big one's slices 2-4 are three lesions
    assert choose_slices(big, per_slice=True) == ([2, 3, 4], 0)


def test_lesions_left_without_a_picture_are_counted_under_the_slices():
    """The unit is the lesion table's: RESULT's RCA lesion spans slices 6-7 (one picture); listed as a
    region per slice (the clinical convention), each slice gets its own."""
    volume, labels = _scan()
    rca = RESULT["lesions"][1]
    per_slice = dict(RESULT, lesions=[RESULT["lesions"][0], dict(rca, slices=[6]),
                                      dict(rca, id=3, slices=[7])])
    assert len(_images(render_report_html(RESULT, volume, labels))) == 2
    assert len(_images(render_report_html(per_slice, volume, labels))) == 3
    assert 'id="unpictured"' not in render_report_html(RESULT, volume, labels)
    page = render_report_html(RESULT, volume, labels, max_slices=1)
    assert len(_images(page)) == 1
    assert page.split('id="unpictured">')[1].split("</p>")[0] == (
        "1 more lesion is not pictured: the page shows at most 1 slices of lesions; see the lesion table "
        "for their slices.")


def test_empty_result_renders():
    volume, _ = _scan()
    empty = dict(RESULT, lesions=[], agatston={"total": 0.0, "LAD": 0.0, "LCX": 0.0, "RCA": 0.0})
    page = render_report_html(empty, volume, np.zeros(volume.shape, np.uint8))
    assert "no coronary calcium" in page
    with pytest.raises(ValueError):
        render_report_html(empty, volume, np.zeros((1, 2, 3), np.uint8))


def test_result_json_and_summary_csv(tmp_path):
    result = dict(RESULT, extra=np.float32(1.5), arr=np.arange(3), nan=float("nan"))
    path = write_result_json(result, tmp_path / "r" / "result.json")
    data = json.loads(path.read_text())
    assert data["extra"] == 1.5 and data["arr"] == [0, 1, 2] and data["nan"] is None
    outcomes = [
        {"case_id": "a", "status": "ok", "result": RESULT, "error": None, "seconds": 1.234},
        {"case_id": "b", "status": "error", "result": None, "error": "cannot read", "seconds": 0.1},
    ]
    csv_path = write_summary_csv(outcomes, tmp_path / "summary.csv")
    rows = list(csv.DictReader(csv_path.open()))
    assert rows[0]["case_id"] == "a" and rows[0]["agatston_total"] == "12.5"
    assert rows[0]["agatston_RCA"] == "3.5" and rows[0]["risk_category"] == "11-100"
    assert rows[0]["cac_drs"] == "A1/N2" and rows[0]["n_lesions"] == "2" and rows[0]["seconds"] == "1.23"
    assert rows[1]["status"] == "error" and rows[1]["error"] == "cannot read"
    assert rows[1]["agatston_total"] == ""
