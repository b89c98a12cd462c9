"""The public import path of the heart ROI (kept stable); the code is :mod:`cacscore.detection.heart_roi`."""

from cacscore.detection.heart_roi import RoiSettings, heart_roi, load_heart_mask, whole_body_roi

__all__ = ["RoiSettings", "heart_roi", "load_heart_mask", "whole_body_roi"]
