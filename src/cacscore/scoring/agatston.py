"""Agatston density weights and the slice fragments every score is built from.

A *fragment* is a 2-D connected region (in-plane 4- or 8-connectivity) of calcium voxels on one axial
slice (Agatston et al., JACC 1990). Calcium voxels are voxels with HU >= threshold that carry a non-zero
label. In the "orcascore" convention fragments are additionally split by 3-D lesion (6-connected), so a
fragment never joins two lesions. Everything is computed for all fragments at once with
:func:`scipy.ndimage.label` and ``numpy.bincount``, so scoring a full scan takes a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cacscore.constants import AGATSTON_WEIGHT_BANDS


def agatston_weight(peak_hu: float | np.ndarray) -> np.ndarray:
    """Agatston density weight of a fragment from its peak HU (integer HU, bands closed below).

    130-199 -> 1, 200-299 -> 2, 300-399 -> 3, >= 400 -> 4; below 130 -> 0. A fractional HU is floored first
    (199.7 HU is 199 HU, weight 1), so 199 never gets weight 2 and 129 never counts.
    """
    peak = np.floor(np.asarray(peak_hu, dtype=np.float64))
    weight = np.zeros(peak.shape, dtype=np.int64)
    for lower, w in AGATSTON_WEIGHT_BANDS:
        weight[peak >= lower] = w
    return weight


@dataclass(frozen=True)
class Fragments:
    """Per-fragment measurements (arrays of equal length, one entry per fragment).

    ``voxel_fragment`` maps each calcium voxel (in ``voxel_index`` order, flat indices into the volume) to
    its fragment; ``lesion`` gives each fragment's lesion id (the fragment itself in the clinical
    convention, the 3-D lesion in the orCaScore convention).
    """

    slice_index: np.ndarray
    n_voxels: np.ndarray
    peak_hu: np.ndarray
    sum_hu: np.ndarray
    lesion: np.ndarray
    voxel_index: np.ndarray
    voxel_fragment: np.ndarray


def _in_plane_structure(connectivity: int) -> np.ndarray:
    """3x3x3 structuring element joining neighbours within a slice only (4- or 8-connected)."""
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = ndi.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    return structure


def find_fragments(hu: np.ndarray, calcium: np.ndarray, connectivity: int, convention: str) -> Fragments:
    """Label the slice fragments of the boolean ``calcium`` mask (z, y, x) and measure them on ``hu``."""
    plane, _ = ndi.label(calcium, structure=_in_plane_structure(connectivity))
    flat = np.flatnonzero(calcium)
    frag2d = plane.ravel()[flat]
    if convention == "orcascore":
        lesion3d, _ = ndi.label(calcium, structure=ndi.generate_binary_structure(3, 1))
        les = lesion3d.ravel()[flat]
        # a fragment is one (2-D region, 3-D lesion) pair
        pairs = frag2d.astype(np.int64) * (int(les.max()) + 1) + les
        _, voxel_fragment = np.unique(pairs, return_inverse=True)
    else:
        les = None
        _, voxel_fragment = np.unique(frag2d, return_inverse=True)
    voxel_fragment = voxel_fragment.ravel()
    n = int(voxel_fragment.max()) + 1 if voxel_fragment.size else 0
    values = hu.ravel()[flat].astype(np.float64)
    n_voxels = np.bincount(voxel_fragment, minlength=n)
    sum_hu = np.bincount(voxel_fragment, weights=values, minlength=n)
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, voxel_fragment, values)
    z = flat // (hu.shape[1] * hu.shape[2])
    slice_index = np.zeros(n, dtype=np.int64)
    slice_index[voxel_fragment] = z
    if les is None:
        lesion = np.arange(n)
    else:
        lesion_of = np.zeros(n, dtype=np.int64)
        lesion_of[voxel_fragment] = les
        _, lesion = np.unique(lesion_of, return_inverse=True)
    return Fragments(
        slice_index=slice_index,
        n_voxels=n_voxels,
        peak_hu=peak,
        sum_hu=sum_hu,
        lesion=lesion.ravel(),
        voxel_index=flat,
        voxel_fragment=voxel_fragment,
    )


def majority_label(group_of_voxel: np.ndarray, label_of_voxel: np.ndarray, n_groups: int) -> np.ndarray:
    """The most frequent label of each group; ties go to the lowest label code."""
    if n_groups == 0:
        return np.zeros(0, dtype=np.int64)
    n_codes = int(label_of_voxel.max()) + 1
    counts = np.bincount(group_of_voxel * n_codes + label_of_voxel, minlength=n_groups * n_codes)
    return counts.reshape(n_groups, n_codes).argmax(axis=1)  # argmax returns the first (lowest) maximum
