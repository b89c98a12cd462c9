"""The reference standard of a phantom case: coronary labels, what every other bright voxel is, and the
truth record.

- Label of a lesion = the voxels of its footprint (where its own blurred contribution is >= 15 HU, i.e. its
  shape dilated by the blur) whose final HU is >= 130, that no look-alike object claims; code = the
  lesion's artery (left main lesions are LAD, as in orCaScore). This is what an expert marks. The heart
  mask is widened to hold them (coronary calcium is part of the coronaries).
- Every other voxel >= 130 HU gets a :class:`LookAlike` code: the look-alike object whose footprint it is
  in; else the bone or cartilage it belongs to in the tissue map, or lies within ~2 mm of (the blur halo);
  else NOISE_SPIKE (soft tissue or blood above 130 HU only through noise).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.phantom.lookalikes import LookAlike
from cacscore.phantom.tissues import Tissue

#: Look-alike code of each skeletal tissue.
SKELETAL_CODES: dict[Tissue, LookAlike] = {
    Tissue.COSTAL_CARTILAGE: LookAlike.COSTAL_CARTILAGE,
    Tissue.RIB: LookAlike.RIB,
    Tissue.STERNUM: LookAlike.STERNUM,
    Tissue.VERTEBRA: LookAlike.VERTEBRA,
    Tissue.OTHER_BONE: LookAlike.BONE_EDGE,
}
#: How far (mm, in-plane, within the slice) the blur halo of a bone counts as that bone.
HALO_MM: float = 2.0


def name_bright_voxels(
    image: np.ndarray, tissue: np.ndarray, objects: np.ndarray, coronary: np.ndarray, pixel_mm: float
) -> np.ndarray:
    """Look-alike codes (uint8) of every voxel >= 130 HU outside ``coronary``.

    ``objects``: codes of the rendered look-alike objects' footprints (0 elsewhere).
    """
    calcium = image >= THRESHOLD_HU_120KVP
    look = np.where(calcium & ~coronary, objects, 0).astype(np.uint8)
    rest = calcium & ~coronary & (look == 0)
    if not rest.any():
        return look
    lut = np.zeros(256, np.uint8)
    for t, code in SKELETAL_CODES.items():
        lut[int(t)] = int(code)
    skeletal = lut[tissue]
    look[rest] = skeletal[rest]
    rest &= look == 0
    if rest.any():
        r = max(round(HALO_MM / pixel_mm), 1)
        near = ndimage.maximum_filter(skeletal, size=(1, 2 * r + 1, 2 * r + 1))
        look[rest] = near[rest]
        rest &= look == 0
    look[rest] = LookAlike.NOISE_SPIKE
    return look


def label_codes() -> dict:
    """The code tables written into every truth record."""
    from cacscore.labels import Artery

    return {
        "label_codes": {a.name: int(a) for a in (Artery.BACKGROUND, Artery.LAD, Artery.LCX, Artery.RCA)},
        "lookalike_codes": {c.name: int(c) for c in LookAlike},
        "tissue_codes": {t.name: int(t) for t in Tissue},
    }
