"""The ensemble of candidate networks averages its members' probabilities (hand-computed case)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cacscore.models import build_model


def _constant_member(member: torch.nn.Module, probabilities: list[float]) -> None:
    """Make a member answer ``probabilities`` for every input: zero last layer, bias = log p."""
    last = member.head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.log(torch.tensor(probabilities)))


def test_mean_of_member_probabilities_by_hand():
    ensemble = build_model("candidate_ensemble", n_members=2, n_features=5, width=4).eval()
    _constant_member(ensemble.members[0], [0.7, 0.1, 0.1, 0.1])
    _constant_member(ensemble.members[1], [0.1, 0.1, 0.1, 0.7])
    patches, features = torch.randn(3, 2, 32, 32), torch.randn(3, 5)
    with torch.no_grad():
        p = torch.softmax(ensemble(patches, features), dim=1).numpy()
        members = ensemble.member_probabilities(patches, features).numpy()
    assert members.shape == (2, 3, 4)
    np.testing.assert_allclose(p, np.tile([0.4, 0.1, 0.1, 0.4], (3, 1)), atol=1e-6)


def test_a_class_no_member_gives_stays_finite():
    ensemble = build_model("candidate_ensemble", n_members=1, n_features=5, width=4).eval()
    with torch.no_grad():
        ensemble.members[0].head[-1].weight.zero_()
        ensemble.members[0].head[-1].bias.copy_(torch.tensor([200.0, 0.0, 0.0, 0.0]))
        out = ensemble(torch.randn(2, 2, 32, 32), torch.randn(2, 5))
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(torch.softmax(out, dim=1)[:, 0].numpy(), 1.0, atol=1e-6)


def test_an_empty_ensemble_is_refused():
    with pytest.raises(ValueError, match="at least one member"):
        build_model("candidate_ensemble", n_members=0)
