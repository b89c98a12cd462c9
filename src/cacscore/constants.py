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

# --- Scoring (added by the scoring module; issue 4) -------------------------------------------------------

#: Agatston risk-category schemes: name -> (upper bounds of each non-zero category, labels). A score s falls
#: in category 0 only when s == 0 (a score of 0 < s <= 1 is NOT zero), else in the first category whose upper
#: bound is >= s; the last category is open. "agatston5" is the scheme of the calcium-scoring literature
#: used for the linearly weighted kappa (0 / 1-10 / 11-100 / 101-400 / >400, e.g. Rumberger et al., Mayo
#: Clin Proc 1999; Wolterink et al., Med Phys 2016); "agatston4" the coarser 0 / 1-100 / 101-400 / >400.
RISK_CATEGORY_SCHEMES: dict[str, tuple[tuple[float, ...], tuple[str, ...]]] = {
    "agatston5": ((10.0, 100.0, 400.0), ("0", "1-10", "11-100", "101-400", ">400")),
    "agatston4": ((100.0, 400.0), ("0", "1-100", "101-400", ">400")),
}

#: CAC-DRS Agatston groups (Hecht et al. 2018): A0 = 0, A1 = 1-99, A2 = 100-299, A3 >= 300. Lower bounds of
#: A2 and A3 (a non-zero score below 100 is A1).
CAC_DRS_A_LOWER_BOUNDS: tuple[float, float] = (100.0, 300.0)
