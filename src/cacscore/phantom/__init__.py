"""Digital thorax phantom: synthetic non-contrast CT (ECG-gated calcium scoring or non-gated chest) with
exact truth: coronary calcium labels, a name for every other bright voxel, a tissue map.

See docs/phantom.md for what is modelled, what is not and how the "canon" preset was calibrated against a
real scan.
"""

from cacscore.phantom.generator import PhantomCase, generate_case
from cacscore.phantom.lookalikes import LookAlike
from cacscore.phantom.presets import (
    ACQUISITION_PRESETS,
    RANDOM_ACQUISITION,
    VENDOR_PRESETS,
    AcquisitionPreset,
    RandomAcquisition,
    get_preset,
)
from cacscore.phantom.tissues import Tissue

__all__ = [
    "ACQUISITION_PRESETS",
    "RANDOM_ACQUISITION",
    "VENDOR_PRESETS",
    "AcquisitionPreset",
    "LookAlike",
    "PhantomCase",
    "RandomAcquisition",
    "Tissue",
    "generate_case",
    "get_preset",
]
