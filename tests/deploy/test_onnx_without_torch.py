"""With an exported model.onnx, predicting needs no PyTorch: the ONNX Runtime path never imports it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest


@pytest.mark.parametrize("engine", ["onnx", "auto"])
def test_predict_with_onnx_engine_runs_where_torch_cannot_be_imported(tmp_path, engine, helpers):
    """Without PyTorch, engine "onnx" runs, and "auto" (the default) picks it."""
    from cacscore.cli.main import main
    from cacscore.io import write_mask, write_volume

    model = helpers.random_candidate_model(tmp_path / "model")
    assert main(["export", str(model)]) == 0  # writes model/model.onnx (needs torch, once)
    volume, heart = helpers.synthetic_scan(3)
    image = write_volume(volume, tmp_path / "in" / "scan.nii.gz")
    write_mask(heart.astype(np.uint8), volume, tmp_path / "masks" / "scan.nii.gz")
    code = f"""
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError, as if it were not installed
from cacscore.detection.pipeline import PredictOptions
from cacscore.case_folder import predict_to_folder
options = PredictOptions(model_dir={str(model)!r}, heart_mask={str(tmp_path / 'masks')!r}, engine={engine!r})
outcome = predict_to_folder({str(image)!r}, {str(tmp_path / 'out')!r}, options)
print(outcome.status, outcome.error)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[0] == "ok", run.stdout + run.stderr[-2000:]
    result = json.loads((tmp_path / "out" / "scan" / "result.json").read_text())
    assert result["model"]["engine"] == "onnx"
