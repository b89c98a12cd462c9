"""Clinical constants with their sources. Every module reads them from here; none repeats them.

Sources:
- Agatston AS et al. Quantification of coronary artery calcium using ultrafast computed tomography.
  J Am Coll Cardiol 1990;15:827-832 (130 HU threshold, density weights, 3 mm slices).
- Grani C et al. Eur Heart J Cardiovasc Imaging 2018 (kVp-adapted thresholds; 80 kV -> 167 HU,
  100 kVp -> 147 HU as tabulated in ../shared/reference/calcium-scoring.md).
- Hecht HS et al. CAC-DRS. J Cardiovasc Comput Tomogr 2018;12:185-191.
- McCollough CH et al. Radiology 2007;243:527-538 (mass score calibration).
"""

from __future__ import annotations

#: Calcium threshold at 120 kVp (HU); a voxel is calcium when HU >= this value.
THRESHOLD_HU_120KVP: int = 130

#: Slice increment (mm) the Agatston definition assumes; other increments are normalised to it.
AGATSTON_REFERENCE_INCREMENT_MM: float = 3.0

#: Agatston density weights: (lowest peak HU of the band, weight); bands are closed below ("HU >= bound").
AGATSTON_WEIGHT_BANDS: tuple[tuple[int, int], ...] = ((130, 1), (200, 2), (300, 3), (400, 4))

#: kVp -> calcium threshold (HU). 120 kVp is the definition; others from Grani et al. 2018.
KVP_THRESHOLDS_HU: dict[int, int] = {80: 167, 100: 147, 120: 130}
