"""Mass-score calibration factor measured on a calibration insert (McCollough et al., Radiology 2007)."""

from __future__ import annotations

import numpy as np

from cacscore.errors import CacscoreError
from cacscore.volume import Volume


def calibration_factor(
    volume: Volume,
    roi_mask: np.ndarray,
    density_mgHA_per_ml: float,  # noqa: N803 (unit in the name)
    water_hu: float = 0.0,
) -> float:
    """Mass calibration factor c (mg HA per HU*ml) from a hydroxyapatite insert of known density.

    c = rho_HA / (HU_HA - HU_water) (McCollough et al. 2007), where HU_HA is the mean HU inside ``roi_mask``
    (place the ROI well inside the rod, away from its edge) and HU_water the mean HU of water (0 by
    definition; pass the measured value of a water rod when there is one). The mass of a lesion is then
    c x mean HU x volume (ml).
    """
    mask = np.asarray(roi_mask, dtype=bool)
    if mask.shape != volume.shape:
        raise CacscoreError(f"the calibration ROI has shape {mask.shape}, the scan {volume.shape}")
    if not mask.any():
        raise CacscoreError("the calibration ROI is empty; draw it inside the calibration rod")
    if not density_mgHA_per_ml > 0:
        raise CacscoreError(f"the insert density must be > 0 mgHA/ml, not {density_mgHA_per_ml}")
    mean_hu = float(volume.hu[mask].mean(dtype=np.float64))
    if mean_hu - water_hu <= 0:
        raise CacscoreError(
            f"the calibration ROI's mean ({mean_hu:.1f} HU) is not above water ({water_hu:.1f} HU); "
            "is the ROI on the rod?"
        )
    return float(density_mgHA_per_ml) / (mean_hu - water_hu)
