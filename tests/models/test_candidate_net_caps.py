"""A capped descriptor column: the network cannot tell apart values at or beyond its cap."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cacscore.models.candidate_net import CandidateNet

CAPS = [0.6, None, None, 0.3, None]  # columns 0 and 3 capped


def _net(feature_max=CAPS) -> CandidateNet:
    torch.manual_seed(0)
    return CandidateNet(n_features=5, width=4, feature_max=feature_max).eval()


def _logits(net: CandidateNet, features: list[list[float]]) -> np.ndarray:
    with torch.no_grad():
        return net(torch.zeros(len(features), 2, 32, 32), torch.tensor(features)).numpy()


def test_values_beyond_the_cap_read_as_the_cap():
    out = _logits(_net(), [[0.6, 0.1, 0.2, 0.3, 0.4],   # both capped columns at their caps
                           [1.5, 0.1, 0.2, 2.0, 0.4],   # far beyond them: the same input after the cap
                           [0.5, 0.1, 0.2, 0.3, 0.4]])  # below the cap in column 0: a different input
    np.testing.assert_array_equal(out[0], out[1])
    assert np.abs(out[0] - out[2]).max() > 1e-6


def test_uncapped_columns_are_not_cut():
    out = _logits(_net(), [[0.6, 0.1, 0.2, 0.3, 0.4], [0.6, 5.0, 0.2, 0.3, 0.4]])
    assert np.abs(out[0] - out[1]).max() > 1e-6


def test_an_uncapped_net_keeps_the_state_of_earlier_models():
    """Models trained before caps existed (v6) have no cap buffer; their weights must load strictly."""
    plain = CandidateNet(n_features=5, width=4)
    assert "feature_max" not in plain.state_dict()
    CandidateNet(n_features=5, width=4).load_state_dict(plain.state_dict(), strict=True)
    capped = _net().state_dict()
    assert capped["feature_max"][0] == pytest.approx(0.6) and torch.isinf(capped["feature_max"][1])


@pytest.mark.parametrize("recipe", ["capped-intensity", "ensemble-capped-intensity",
                                    "ensemble10-capped-intensity"])
def test_the_caps_are_plain_json(recipe: str):
    """An uncapped column is null in the model's config, not the non-standard Infinity."""
    from cacscore.training.candidate_task import CANDIDATE_RECIPES, INTENSITY_CAP

    kwargs = CANDIDATE_RECIPES[recipe][0].architecture_kwargs
    text = json.dumps(kwargs, allow_nan=False)
    caps = json.loads(text)["feature_max"]
    assert caps[0] == INTENSITY_CAP["peak_hu_1000"] and caps[1] == INTENSITY_CAP["mean_hu_1000"]
    assert caps[2:] == [None] * (len(caps) - 2)
