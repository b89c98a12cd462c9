"""Digital cardiac CT phantom: synthetic ECG-gated non-contrast calcium-scoring scans with exact truth.

See docs/phantom.md for what is modelled, what is not and how the "canon" preset was calibrated against a
real scan.
"""

from cacscore.phantom.generator import PhantomCase, generate_case
from cacscore.phantom.lesions import LookAlike
from cacscore.phantom.presets import VENDOR_PRESETS, AcquisitionPreset, get_preset

__all__ = ["VENDOR_PRESETS", "AcquisitionPreset", "LookAlike", "PhantomCase", "generate_case", "get_preset"]
