"""The shipped model on the two real chest CTs (../shared/data/real-chest-ct): nothing in bone or in the
abdomen is labelled coronary.

The scans carry no calcium annotation, so the checks come from anatomy, measured here without the
classifier's own descriptors:

- bone: the ribs, vertebrae, sternum and the costal cartilage joined to them are bright (>= 130 HU)
  structures of tens of millilitres, 3-D connected through the whole scan; the largest coronary plaques
  are about 1-2 ml. No coronary label may touch a bright structure of 5 ml or more.
- abdomen: lung2's slices 0-14 hold only the liver, stomach, spleen and kidneys (its heart begins at slice
  16; test_heart_roi_real.py); no coronary label may lie there.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from cacscore.detection.pipeline import PredictOptions, load_predictor

BONE_ML = 5.0


@pytest.fixture(scope="module")
def predictor():
    return load_predictor(PredictOptions(kvp=120.0))


@pytest.fixture(scope="module")
def predicted(real_chest_ct, predictor):
    """``predicted(name) -> (volume, prediction)``, each scan predicted once."""
    cache: dict = {}

    def run(name: str):
        if name not in cache:
            volume = real_chest_ct(name)
            cache[name] = (volume, predictor.predict_volume(volume))
        return cache[name]

    return run


@pytest.mark.parametrize("name", ["lung1", "lung2"])
def test_no_coronary_label_in_bone(predicted, name):
    volume, prediction = predicted(name)
    bright, _ = ndi.label(volume.hu >= 130.0, structure=ndi.generate_binary_structure(3, 3))
    size_ml = np.bincount(bright.ravel()) * volume.voxel_volume_mm3 / 1000.0
    size_ml[0] = 0.0
    touched = np.unique(bright[prediction.labels > 0])
    assert size_ml[touched].max(initial=0.0) < BONE_ML, (
        f"{name}: a coronary label lies on a bright structure of {size_ml[touched].max():.1f} ml (bone)")


def test_no_coronary_label_in_the_abdomen(predicted):
    _, prediction = predicted("lung2")
    assert not prediction.labels[:15].any(), "lung2: a coronary label in the abdomen (slices 0-14)"
