"""Calcium candidates: connected groups of voxels at or above the calcium threshold inside the heart ROI.

A candidate is what the classifier labels as a whole (not coronary, LAD, LCX or RCA). Choices:

- Threshold: ``HU >= threshold_hu`` (130 HU at 120 kVp, Agatston et al. 1990; other kVp from
  :data:`cacscore.constants.KVP_THRESHOLDS_HU`); the pipeline passes the scoring settings' threshold so that
  candidates and scores use one value.
- Connectivity: 3-D, default 26 (faces, edges and corners: ``connectivity=3`` in SciPy's terms). A candidate
  is then a superset of every in-plane 8-connected fragment the clinical Agatston convention scores, so no
  scored fragment is ever split between two candidates with different labels. 6 (faces only, the orCaScore
  lesion definition) and 18 are available.
- Minimum size: a candidate is kept when at least one of its slices holds ``>= min_area_mm2`` of its voxels.
  Agatston scores a fragment only when its in-plane area reaches the minimum area, and a slice's fragments
  are at most the candidate's voxels on that slice, so this never drops a candidate that Agatston would count
  (it may keep a few that it would not; the classifier and the scorer handle those). ``min_area_mm2=0``
  keeps every voxel.

All arrays are (z, y, x). Pure NumPy/SciPy: no torch, so the ONNX inference path can use it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.volume import Volume

log = get_logger(__name__)

#: 3-D connectivity (neighbours per voxel) -> SciPy ``generate_binary_structure`` rank-3 connectivity.
CONNECTIVITY_3D: dict[int, int] = {6: 1, 18: 2, 26: 3}


@dataclass(frozen=True)
class Candidate:
    """One connected group of calcium-threshold voxels.

    Attributes:
        index: its value in :attr:`CandidateSet.label_map` (1-based).
        n_voxels: voxel count.
        volume_mm3: voxel count times voxel volume (mm^3).
        peak_hu: highest HU in the group.
        mean_hu: mean HU of the group.
        centroid_zyx: centre of mass of the group's voxels (voxel index units, float).
        peak_zyx: index of the voxel with the highest HU.
        max_area_mm2: largest in-plane area the group has on one slice (mm^2).
        n_slices: number of slices the group spans.
        bbox_zyx: (z0, y0, x0, z1, y1, x1), half-open voxel bounds.
    """

    index: int
    n_voxels: int
    volume_mm3: float
    peak_hu: float
    mean_hu: float
    centroid_zyx: tuple[float, float, float]
    peak_zyx: tuple[int, int, int]
    max_area_mm2: float
    n_slices: int
    bbox_zyx: tuple[int, int, int, int, int, int]

    def to_dict(self) -> dict:
        """JSON-able dict of the fields."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class CandidateSet:
    """The candidates of one volume and the map of which voxel belongs to which.

    Attributes:
        label_map: int32 array (z, y, x); 0 outside every candidate, ``c.index`` inside candidate ``c``.
        candidates: the kept candidates, ordered by index (1..len).
        threshold_hu: the threshold used.
        connectivity: the 3-D connectivity used (6, 18 or 26).
    """

    label_map: np.ndarray
    candidates: tuple[Candidate, ...]
    threshold_hu: float
    connectivity: int

    def __len__(self) -> int:
        return len(self.candidates)

    def paint(self, classes: np.ndarray, dtype: type = np.uint8) -> np.ndarray:
        """A label volume where every candidate's voxels carry ``classes[i]`` (``i`` = position in the set).

        ``classes`` holds one integer per candidate (e.g. :class:`~cacscore.labels.Artery` codes, 0 for
        "not coronary").
        """
        classes = np.asarray(classes)
        if classes.shape != (len(self.candidates),):
            raise ValueError(f"need one class per candidate ({len(self.candidates)}), got {classes.shape}")
        out = np.zeros(self.label_map.shape, dtype=dtype)
        if not self.candidates:
            return out
        lut = np.zeros(max(c.index for c in self.candidates) + 1, dtype=dtype)
        lut[[c.index for c in self.candidates]] = classes
        box = self.box
        out[box] = lut[self.label_map[box]]
        return out

    @property
    def box(self) -> tuple[slice, slice, slice]:
        """The smallest box (slices z, y, x) holding every candidate voxel."""
        if not self.candidates:
            return (slice(0, 0),) * 3
        b = np.array([c.bbox_zyx for c in self.candidates])
        lo, hi = b[:, :3].min(axis=0), b[:, 3:].max(axis=0)
        return tuple(slice(int(a), int(z)) for a, z in zip(lo, hi, strict=True))  # type: ignore[return-value]


def find_candidates(
    volume: Volume,
    roi_mask: np.ndarray | None,
    *,
    threshold_hu: float = THRESHOLD_HU_120KVP,
    connectivity: int = 26,
    min_area_mm2: float = 1.0,
) -> CandidateSet:
    """Connected groups of voxels with ``HU >= threshold_hu`` inside ``roi_mask``.

    Args:
        volume: the CT volume (HU).
        roi_mask: boolean (z, y, x) heart region on the volume's grid; ``None`` means the whole volume.
        threshold_hu: calcium threshold (HU, inclusive).
        connectivity: 3-D neighbourhood, 6, 18 or 26.
        min_area_mm2: keep a group only when one of its slices holds at least this area (mm^2) of it.

    Returns:
        The kept candidates, renumbered 1..N in order of their first voxel (z, y, x raster order).
    """
    if connectivity not in CONNECTIVITY_3D:
        raise CacscoreError(f"connectivity must be one of {sorted(CONNECTIVITY_3D)}, not {connectivity}")
    hu = volume.hu
    mask = hu >= threshold_hu
    if roi_mask is not None:
        roi_mask = np.asarray(roi_mask)
        if roi_mask.shape != hu.shape:
            raise CacscoreError(
                f"the heart mask has shape {roi_mask.shape} but the scan has {hu.shape} (z, y, x); "
                "give a mask drawn on this scan's grid"
            )
        mask &= roi_mask.astype(bool, copy=False)
    structure = ndimage.generate_binary_structure(3, CONNECTIVITY_3D[connectivity])
    full_shape = hu.shape
    # work inside the bounding box of the calcium voxels (a small part of the scan): same result, faster
    profiles = [mask.any(axis=tuple(a for a in range(3) if a != ax)) for ax in range(3)]
    if not profiles[0].any():
        return CandidateSet(np.zeros(full_shape, np.int32), (), float(threshold_hu), connectivity)
    lo = np.array([np.flatnonzero(p)[0] for p in profiles])
    hi = np.array([np.flatnonzero(p)[-1] + 1 for p in profiles])
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    mask = mask[box]
    hu = hu[box]
    raw, n_raw = ndimage.label(mask, structure=structure)

    nz = hu.shape[0]
    where = np.flatnonzero(raw)
    ids = raw.ravel()[where]
    z_of = where // (hu.shape[1] * hu.shape[2])
    # voxels of each component on each slice -> largest in-plane area
    per_slice = np.bincount(ids.astype(np.int64) * nz + z_of, minlength=(n_raw + 1) * nz)
    per_slice = per_slice.reshape(n_raw + 1, nz)
    max_area = per_slice.max(axis=1) * volume.pixel_area_mm2
    keep = max_area >= min_area_mm2
    keep[0] = False
    kept_ids = np.flatnonzero(keep)
    log.debug("%d components >= %g HU, %d kept with >= %g mm2 on a slice",
              n_raw, threshold_hu, kept_ids.size, min_area_mm2)

    renumber = np.zeros(n_raw + 1, dtype=np.int32)
    renumber[kept_ids] = np.arange(1, kept_ids.size + 1, dtype=np.int32)
    label_map = renumber[raw]
    full_map = np.zeros(full_shape, np.int32)
    full_map[box] = label_map
    if kept_ids.size == 0:
        return CandidateSet(full_map, (), float(threshold_hu), connectivity)

    new_ids = renumber[ids]
    sel = new_ids > 0
    where, new_ids, z_of = where[sel], new_ids[sel], z_of[sel]
    values = hu.ravel()[where].astype(np.float64)
    zz, yy, xx = np.unravel_index(where, hu.shape)
    n = kept_ids.size + 1
    counts = np.bincount(new_ids, minlength=n)
    sums = np.bincount(new_ids, weights=values, minlength=n)
    cz = np.bincount(new_ids, weights=zz, minlength=n) / np.maximum(counts, 1)
    cy = np.bincount(new_ids, weights=yy, minlength=n) / np.maximum(counts, 1)
    cx = np.bincount(new_ids, weights=xx, minlength=n) / np.maximum(counts, 1)
    # voxel of the highest HU of each candidate (first in raster order among equals)
    order = np.lexsort((-values, new_ids))  # by id, then HU descending (stable: raster order among ties)
    first = np.searchsorted(new_ids[order], np.arange(1, n))
    peak_flat = where[order[first]]
    peaks = np.stack(np.unravel_index(peak_flat, hu.shape), axis=1)
    objects = ndimage.find_objects(label_map)
    slices_spanned = (per_slice[kept_ids] > 0).sum(axis=1)
    voxel_mm3 = volume.voxel_volume_mm3
    oz, oy, ox = (int(v) for v in lo)
    candidates = []
    for i in range(1, n):
        sl = objects[i - 1]
        peak = tuple(int(v) for v in peaks[i - 1])
        candidates.append(
            Candidate(
                index=i,
                n_voxels=int(counts[i]),
                volume_mm3=float(counts[i] * voxel_mm3),
                peak_hu=float(hu[peak]),
                mean_hu=float(sums[i] / counts[i]),
                centroid_zyx=(float(cz[i]) + oz, float(cy[i]) + oy, float(cx[i]) + ox),
                peak_zyx=(peak[0] + oz, peak[1] + oy, peak[2] + ox),
                max_area_mm2=float(max_area[kept_ids[i - 1]]),
                n_slices=int(slices_spanned[i - 1]),
                bbox_zyx=(sl[0].start + oz, sl[1].start + oy, sl[2].start + ox,
                          sl[0].stop + oz, sl[1].stop + oy, sl[2].stop + ox),
            )
        )
    return CandidateSet(full_map, tuple(candidates), float(threshold_hu), connectivity)


def reference_classes(candidates: CandidateSet, reference: np.ndarray) -> np.ndarray:
    """Training label of each candidate: the majority reference label of its voxels (0 when none overlap).

    Args:
        candidates: the candidates of a volume.
        reference: (z, y, x) reference label volume (orCaScore codes) on the same grid.

    Returns:
        int64 array with one label per candidate. A candidate whose voxels are mostly background but that
        overlaps a reference lesion takes the lesion's label (majority among its labelled voxels), since the
        reference outlines a lesion more tightly than the threshold does. Ties go to the lower code.
    """
    reference = np.asarray(reference)
    if reference.shape != candidates.label_map.shape:
        raise ValueError(f"reference shape {reference.shape} differs from {candidates.label_map.shape}")
    n = len(candidates)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ids = candidates.label_map.ravel()
    ref = reference.ravel().astype(np.int64)
    sel = (ids > 0) & (ref > 0)
    n_codes = int(ref.max()) + 1 if ref.size else 1
    table = np.bincount(ids[sel].astype(np.int64) * n_codes + ref[sel], minlength=(n + 1) * n_codes)
    table = table.reshape(n + 1, n_codes)[1:]
    out = table.argmax(axis=1)
    out[table.sum(axis=1) == 0] = 0
    return out.astype(np.int64)

