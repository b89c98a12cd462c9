"""The public import path of the main job (kept stable): predict options, the predictor, predict to a folder.

The code lives in :mod:`cacscore.detection.pipeline` (a volume in memory) and :mod:`cacscore.case_folder`
(a scan on disk to ``OUTDIR/<case id>/``).
"""

from cacscore.case_folder import CaseOutcome, case_id_for, predict_to_folder
from cacscore.detection.pipeline import (
           Prediction,
           PredictOptions,
           Predictor,
           load_predictor,
           shipped_model_dir,
)

__all__ = ["CaseOutcome", "PredictOptions", "Prediction", "Predictor", "case_id_for", "load_predictor",
           "predict_to_folder", "shipped_model_dir"]
