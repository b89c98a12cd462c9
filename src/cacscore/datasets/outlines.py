"""Reference outlines rasterised into label volumes: OsiriX ROI plists, as the COCA release gives them.

Outline conversion (:func:`labels_from_outlines`) into an orCaScore-convention label volume:

- each ROI's points ``Point_px`` "(x, y)" are x = column, y = row on its slice;
- the slice is found from ``Point_mm`` (patient mm): the mean point is projected on the volume's slice axis
  and rounded to the nearest slice index. ``ImageIndex`` is only checked against it: when it equals the
  index counted in ascending position nothing is said; when it counts from the other end (descending) that
  is noted once; otherwise a warning is logged and Point_mm is trusted. Without Point_mm, ImageIndex
  (ascending) is used, with a warning;
- fill rule: a pixel belongs to the outline when its centre is inside the polygon or on the polygon's
  rasterised outline (``skimage.draw.polygon`` + ``skimage.draw.polygon_perimeter``): OsiriX outlines run
  through the edge pixels of the lesion, so boundary pixels are included;
- the filled outline is ANDed with HU >= 130 (:data:`cacscore.constants.THRESHOLD_HU_120KVP`; COCA is a 120
  kVp release);
- names: "Left Anterior Descending Artery" -> LAD, "Left Circumflex Artery" -> LCX, "Right Coronary Artery"
  -> RCA, "Left Coronary Artery" (the left main) -> LAD as in orCaScore, or LM with ``keep_lm=True``; other
  names -> UNKNOWN with a warning. Empty ROIs (no points) are skipped. Where ROIs overlap, the later one wins
  (counted in a warning).
"""

from __future__ import annotations

import os
import plistlib
import re
from dataclasses import dataclass
from pathlib import Path
from xml.parsers.expat import ExpatError

import numpy as np

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.errors import CacscoreError
from cacscore.labels import Artery
from cacscore.log import get_logger
from cacscore.volume import Volume

log = get_logger(__name__)

#: OsiriX ROI names of the COCA outlines and their artery (the left main is handled by ``keep_lm``).
ROI_NAMES: dict[str, Artery] = {
    "left anterior descending artery": Artery.LAD,
    "left circumflex artery": Artery.LCX,
    "right coronary artery": Artery.RCA,
    "left coronary artery": Artery.LM,
    "lad": Artery.LAD,
    "lcx": Artery.LCX,
    "rca": Artery.RCA,
    "lm": Artery.LM,
}

#: Largest distance (slice fractions) between an outline's projected position and a slice centre.
SLICE_MATCH_TOLERANCE = 0.25

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Outline:
    """One OsiriX ROI: artery name, points in pixels (x=column, y=row) and in patient mm, its ImageIndex."""

    name: str
    image_index: int
    points_px: np.ndarray  # (n, 2) x, y
    points_mm: np.ndarray  # (n, 3) x, y, z or (0, 3)


def _points(values, dims: int, where: str) -> np.ndarray:
    rows = []
    for text in values or []:
        numbers = [float(n) for n in _NUMBER.findall(str(text))]
        if len(numbers) != dims:
            raise CacscoreError(f"{where}: point {text!r} does not hold {dims} numbers")
        rows.append(numbers)
    return np.array(rows, dtype=float).reshape(-1, dims)


def read_osirix_outlines(path: str | os.PathLike[str]) -> list[Outline]:
    """The non-empty ROIs of an OsiriX ROI plist (``Images`` -> ``ImageIndex``, ``ROIs``)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            plist = plistlib.load(fh)
    except (plistlib.InvalidFileException, ValueError, OSError, ExpatError) as exc:
        raise CacscoreError(f"{path} is not a readable OsiriX plist ({type(exc).__name__})") from None
    images = plist.get("Images") if isinstance(plist, dict) else None
    if not isinstance(images, list):
        raise CacscoreError(f"{path.name} has no 'Images' array; is it an OsiriX ROI export?")
    outlines = []
    try:
        for image in images:
            index = int(image.get("ImageIndex", -1))
            for roi in image.get("ROIs", []) or []:
                where = f"{path.name}, ImageIndex {index}"
                px = _points(roi.get("Point_px"), 2, where)
                if len(px) == 0:
                    continue  # empty ROI (no points, zero area)
                mm = _points(roi.get("Point_mm"), 3, where)
                outlines.append(Outline(str(roi.get("Name", "")), index, px, mm))
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:  # an entry of the wrong shape
        raise CacscoreError(
            f"{path.name} is not a well-formed OsiriX ROI export ({type(exc).__name__}: {str(exc)[:80]})"
        ) from None
    return outlines


def artery_of(name: str, keep_lm: bool = False) -> Artery:
    """The artery of a COCA ROI name; the left main folds into LAD unless ``keep_lm``."""
    artery = ROI_NAMES.get(name.strip().lower(), Artery.UNKNOWN)
    if artery == Artery.LM and not keep_lm:
        return Artery.LAD
    return artery


def fill_outline(points_px: np.ndarray, shape_yx: tuple[int, int]) -> np.ndarray:
    """Bool mask of the pixels whose centre lies inside the polygon or on its rasterised outline."""
    from skimage.draw import polygon, polygon_perimeter

    cols, rows = points_px[:, 0], points_px[:, 1]
    mask = np.zeros(shape_yx, dtype=bool)
    rr, cc = polygon(rows, cols, shape=shape_yx)
    mask[rr, cc] = True
    rr, cc = polygon_perimeter(np.round(rows).astype(int), np.round(cols).astype(int))
    keep = (rr >= 0) & (rr < shape_yx[0]) & (cc >= 0) & (cc < shape_yx[1])
    mask[rr[keep], cc[keep]] = True
    return mask


def labels_from_outlines(
    xml_path: str | os.PathLike[str],
    volume: Volume,
    *,
    keep_lm: bool = False,
    threshold_hu: float = THRESHOLD_HU_120KVP,
) -> np.ndarray:
    """Rasterise a COCA OsiriX outline file on ``volume``: uint8 Artery codes (outline fill AND HU >= 130).

    See the module docstring for the slice matching, fill rule and name mapping.
    """
    outlines = read_osirix_outlines(xml_path)
    n_slices = volume.shape[0]
    labels = np.zeros(volume.shape, dtype=np.uint8)
    filled = np.zeros(volume.shape, dtype=bool)
    origin = np.asarray(volume.origin_xyz_mm)
    z_axis = np.asarray(volume.direction)[:, 2]
    mismatches = descending = overlaps = unknown = 0
    name = Path(xml_path).name
    for outline in outlines:
        if len(outline.points_mm):
            position = float((outline.points_mm.mean(axis=0) - origin) @ z_axis) / volume.spacing_zyx_mm[0]
            k = round(position)
            if abs(position - k) > SLICE_MATCH_TOLERANCE or not 0 <= k < n_slices:
                raise CacscoreError(
                    f"{name}: an outline (ImageIndex {outline.image_index}) lies at slice position "
                    f"{position:.2f}, not on a slice of this {n_slices}-slice volume; is it the right scan?"
                )
            if outline.image_index == n_slices - 1 - k and outline.image_index != k:
                descending += 1
            elif outline.image_index != k:
                mismatches += 1
        else:
            k = outline.image_index
            if not 0 <= k < n_slices:
                raise CacscoreError(f"{name}: ImageIndex {k} is outside the volume's {n_slices} slices")
            log.warning("%s: an outline has no Point_mm; placed by ImageIndex %d (ascending z)", name, k)
        artery = artery_of(outline.name, keep_lm)
        if artery == Artery.UNKNOWN:
            unknown += 1
        region = fill_outline(outline.points_px, volume.shape[1:]) & (volume.hu[k] >= threshold_hu)
        overlaps += int(np.count_nonzero(region & filled[k] & (labels[k] != artery)))
        labels[k][region] = artery
        filled[k] |= region
    if descending:
        log.info("%s: ImageIndex counts slices in descending position (%d outline(s))", name, descending)
    if mismatches:
        log.warning("%s: %d outline(s) whose ImageIndex disagrees with Point_mm; Point_mm used",
                    name, mismatches)
    if unknown:
        log.warning("%s: %d outline(s) with an unknown artery name labelled UNKNOWN", name, unknown)
    if overlaps:
        log.warning("%s: %d voxel(s) outlined for two arteries; the later outline kept", name, overlaps)
    return labels
