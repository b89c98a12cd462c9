"""The candidate classifier: an MLP over physical descriptors plus a small CNN over the local patch.

Inputs (named float32 arrays, see :class:`cacscore.detection.classifier.CandidateInputSpec`):

- ``patches`` (N, 2, 32, 32): the candidate's largest slice at 0.6 mm/px, HU normalised by the scan's own
  tissue contrast, and the candidate's own voxels;
- ``features`` (N, F): the candidate's descriptors (:mod:`cacscore.detection.descriptors`), standardised
  inside the network by the training set's mean and SD (buffers saved with the weights, so the ONNX export
  carries them too).

Output: logits (N, 4) over (not coronary, LAD incl. left main, LCX, RCA); :data:`CLASS_CODES` maps the
class index to :class:`~cacscore.labels.Artery` codes. ``branches`` switches the patch CNN or the
descriptor MLP off (ablations, docs/model.md); ``feature_mask`` zeroes descriptor columns that a model
must not use; ``feature_max`` caps descriptor columns from above, so that a model cannot tell apart values
beyond the cap (a peak HU above the densest noise says only "mineral", docs/model.md). ``forward`` is a
pure function of the two arrays (no data-dependent Python control flow), so it exports to ONNX unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cacscore.labels import Artery

#: Class index -> Artery code of the label painted for candidates of that class (0 = not coronary).
CLASS_CODES: tuple[int, ...] = (int(Artery.BACKGROUND), int(Artery.LAD), int(Artery.LCX), int(Artery.RCA))
CLASS_NAMES: tuple[str, ...] = ("not coronary", "LAD", "LCX", "RCA")
BRANCHES: tuple[str, ...] = ("patch", "features")


def _patch_branch(in_channels: int, width: int) -> nn.Sequential:
    """Three 3x3 conv blocks (conv, batch norm, ReLU, 2x2 max-pool): 32 -> 4 px, then global average
    pooling to a ``4 * width`` vector."""
    layers: list[nn.Module] = []
    channels = in_channels
    for out in (width, 2 * width, 4 * width):
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


class CandidateNet(nn.Module):
    """Descriptor MLP + local-patch CNN, fused by a small classifier head.

    Args:
        n_features: length of the ``features`` vector.
        n_classes: number of output classes (4).
        width: channels of the first conv block (doubled twice) and a quarter of the MLP's width.
        dropout: dropout before the last layer.
        n_channels: channels of ``patches``.
        branches: which of "patch" and "features" the network uses (at least one).
        feature_mask: 1 for each descriptor column the network may use, 0 for one it must ignore.
        feature_max: for each descriptor column, the largest value the network sees (larger ones are cut to
            it; ``None`` for an uncapped column, so that the model's config stays plain JSON); ``None`` caps
            none.
    """

    input_names = ("patches", "features")

    def __init__(
        self,
        n_features: int = 24,
        n_classes: int = 4,
        width: int = 16,
        dropout: float = 0.3,
        n_channels: int = 2,
        branches: Sequence[str] = BRANCHES,
        feature_mask: Sequence[float] | None = None,
        feature_max: Sequence[float | None] | None = None,
    ):
        super().__init__()
        unknown = set(branches) - set(BRANCHES)
        if unknown or not branches:
            raise ValueError(f"branches must be a non-empty subset of {BRANCHES}, not {list(branches)}")
        self.use_patch = "patch" in branches
        self.use_features = "features" in branches
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_scale", torch.ones(n_features))
        mask = torch.ones(n_features) if feature_mask is None else torch.tensor(feature_mask)
        self.register_buffer("feature_mask", mask.float())
        # Only a capped model has the buffer, so that the weights of earlier models load unchanged.
        self.capped = feature_max is not None
        if self.capped:
            cap = [float("inf") if c is None else float(c) for c in feature_max]
            self.register_buffer("feature_max", torch.tensor(cap, dtype=torch.float32))
        fused = 0
        if self.use_patch:
            self.patch = _patch_branch(n_channels, width)
            fused += 4 * width
        if self.use_features:
            self.mlp = nn.Sequential(nn.Linear(n_features, 4 * width), nn.ReLU(inplace=True),
                                     nn.Linear(4 * width, 4 * width), nn.ReLU(inplace=True))
            fused += 4 * width
        self.head = nn.Sequential(nn.Linear(fused, 4 * width), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(4 * width, n_classes))

    def set_feature_scaling(self, mean: torch.Tensor, sd: torch.Tensor) -> None:
        """Standardise the descriptors by the training set's ``mean`` and ``sd`` (a zero SD counts as 1)."""
        self.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        sd = torch.as_tensor(sd, dtype=torch.float32)
        self.feature_scale.copy_(1.0 / torch.where(sd > 1e-6, sd, torch.ones_like(sd)))

    def forward(self, patches: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) from ``patches`` (N, C, H, W) and ``features`` (N, F)."""
        parts = []
        if self.use_patch:
            parts.append(self.patch(patches))
        if self.use_features:
            if self.capped:
                features = torch.minimum(features, self.feature_max)
            parts.append(self.mlp((features - self.feature_mean) * self.feature_scale * self.feature_mask))
        return self.head(torch.cat(parts, dim=1))
