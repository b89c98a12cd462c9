"""The main job's detection steps, one module each, in the order data flows through them:

1. :mod:`~cacscore.detection.thorax`: body, lungs and bone of the whole scan;
2. :mod:`~cacscore.detection.heart_roi`: the heart region of a CT volume (automatic, or a given mask);
3. :mod:`~cacscore.detection.candidates`: connected groups of calcium-threshold voxels inside it;
4. :mod:`~cacscore.detection.descriptors`: what each candidate physically is, measured on the whole scan;
5. :mod:`~cacscore.detection.classifier`: what the candidate classifier sees of each candidate, and the
   decision rule;
6. :mod:`~cacscore.detection.artery`: which artery, from the candidate's place in the heart;
7. :mod:`~cacscore.detection.domain`: is the scan like the training scans (a warning);
8. :mod:`~cacscore.detection.pipeline`: the steps joined with the model and the scorer
   (:class:`~cacscore.detection.pipeline.Predictor`); :mod:`~cacscore.detection.certainty` says where a
   risk category rests on unsure calls.

Writing the results of one scan to a case folder on disk is :mod:`cacscore.case_folder`.
"""
