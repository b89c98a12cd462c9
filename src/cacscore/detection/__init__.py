"""The main job's detection steps, one module each, in the order data flows through them:

1. :mod:`~cacscore.detection.heart_roi`: the heart region of a CT volume (automatic, or a given mask);
2. :mod:`~cacscore.detection.candidates`: connected groups of calcium-threshold voxels inside it;
3. :mod:`~cacscore.detection.classifier`: what the candidate classifier sees of each candidate;
4. :mod:`~cacscore.detection.pipeline`: the steps joined with the model and the scorer
   (:class:`~cacscore.detection.pipeline.Predictor`).

Writing the results of one scan to a case folder on disk is :mod:`cacscore.case_folder`.
"""
