"""Fuzz the dataset readers: manifest CSVs, OsiriX ROI plists (COCA) and dataset auto-detection.

Damaged, nonsense or wrongly shaped files give CacscoreError (or a valid result), never another exception.
"""

from __future__ import annotations

import plistlib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cacscore.datasets import open_dataset, read_manifest
from cacscore.datasets.outlines import read_osirix_outlines
from cacscore.errors import CacscoreError

FUZZ = settings(max_examples=50, deadline=None)

_VALID_PLIST = plistlib.dumps({"Images": [{"ImageIndex": 3, "ROIs": [{
    "Name": "Left Anterior Descending Artery", "Area": 0.02, "Max": 512.0, "Mean": 300.0, "Min": 131.0,
    "Point_px": ["(10.0, 12.0)", "(11.0, 12.0)", "(11.0, 13.0)"],
    "Point_mm": ["(1.0, 2.0, 30.0)", "(1.7, 2.0, 30.0)", "(1.7, 2.7, 30.0)"]}]}]})

# plist values of any shape: what a damaged or foreign export may hold where the reader expects its keys
_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)  # plist-storable
_leaf = st.one_of(st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False), _text,
                  st.booleans(), st.sampled_from(["(1, 2)", "(1.0, 2.0, 3.0)", "(x, y)", "()"]))
_value = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["Images", "ImageIndex", "ROIs", "Name", "Point_px", "Point_mm", "Area"]),
                    inner, max_size=4)), max_leaves=12)


def _expect_clean(call) -> None:
    try:
        call()
    except CacscoreError as exc:
        assert str(exc)


@FUZZ
@given(structure=_value)
def test_osirix_reader_on_wrongly_shaped_plists(structure):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p1.xml"
        top = structure if isinstance(structure, dict) else {"Images": structure}
        path.write_bytes(plistlib.dumps(top))
        _expect_clean(lambda: read_osirix_outlines(path))


@FUZZ
@given(cut=st.floats(0, 1), junk=st.binary(max_size=40))
def test_osirix_reader_on_damaged_files(cut, junk):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p1.xml"
        path.write_bytes(_VALID_PLIST[: int(cut * len(_VALID_PLIST))] + junk)
        _expect_clean(lambda: read_osirix_outlines(path))


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("case_id,image,label,heart_mask\n\"x.nii.gz;\x00\r ")),
                    max_size=120),
       raw=st.binary(max_size=80), use_raw=st.booleans())
def test_manifest_reader_and_detection_on_nonsense(text, raw, use_raw):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "x.nii.gz").write_bytes(b"")
        path = folder / "manifest.csv"
        if use_raw:
            path.write_bytes(raw)
        else:
            path.write_text(text, encoding="utf-8")
        before = sorted(p.name for p in folder.iterdir())
        _expect_clean(lambda: read_manifest(path))
        _expect_clean(lambda: open_dataset(folder))
        assert sorted(p.name for p in folder.iterdir()) == before
