"""An ensemble of candidate classifiers: several :class:`~cacscore.models.candidate_net.CandidateNet`, trained
alike from different random starts, whose class probabilities are averaged.

Why: retrainings of one setup that differ only in their seed score the held-out phantom alike, yet label
the real chest CTs' arteries very differently (docs/results.md, "variance between retrainings"): outside
the training domain each network extrapolates its own way. Averaging the probabilities of independently
initialised networks is the standard remedy for that variance (Lakshminarayanan et al., "Simple and
scalable predictive uncertainty estimation using deep ensembles", NeurIPS 2017).

Inputs are those of one CandidateNet. Output: the log of the members' mean probabilities (N, n_classes),
so that the engines' softmax gives the mean probabilities back exactly; each member's calibration
temperature is folded into its own last layer before it joins. ``forward`` has no data-dependent control
flow, so the ensemble exports to ONNX as one graph.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cacscore.models.candidate_net import CandidateNet

#: Smallest mean probability taken to the log (a class no member gives any probability stays finite).
_PROBABILITY_FLOOR = 1e-12


class CandidateEnsemble(nn.Module):
    """``n_members`` CandidateNets built with the same keyword arguments; probabilities averaged.

    Args:
        n_members: number of member networks (>= 1).
        **member_kwargs: the arguments of every member's :class:`CandidateNet`.
    """

    input_names = CandidateNet.input_names

    def __init__(self, n_members: int = 5, **member_kwargs: Any) -> None:
        super().__init__()
        if n_members < 1:
            raise ValueError(f"an ensemble needs at least one member, not {n_members}")
        self.members = nn.ModuleList(CandidateNet(**member_kwargs) for _ in range(n_members))

    def member_probabilities(self, patches: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Each member's class probabilities, (n_members, N, n_classes)."""
        return torch.stack([torch.softmax(m(patches, features), dim=1) for m in self.members])

    def forward(self, patches: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Log mean probabilities (N, n_classes): softmax of them is the members' mean probabilities."""
        mean = self.member_probabilities(patches, features).mean(dim=0)
        return torch.log(mean.clamp_min(_PROBABILITY_FLOOR))
