"""The candidate classifier: a two-branch CNN over multi-scale 2.5-D patches plus position features.

Inputs (named float32 arrays, see :class:`cacscore.detection.classifier.CandidateInputSpec`):

- ``patches`` (N, 7, 32, 32): channels 0-3 are the local branch (the candidate's slice and its two
  neighbours at 0.6 mm/px, and the candidate's own voxels), channels 4-6 the context branch (the slice at
  4 mm/px in two HU windows, and the heart ROI);
- ``features`` (N, 12): position in the heart ROI and the candidate's size and density.

Output: logits (N, 4) over (not coronary, LAD incl. left main, LCX, RCA); :data:`CLASS_CODES` maps the
class index to :class:`~cacscore.labels.Artery` codes. ``forward`` is a pure function of the two arrays
(no data-dependent Python control flow) so that it exports to ONNX unchanged. Why this design:
docs/model.md.
"""

from __future__ import annotations

import torch
from torch import nn

from cacscore.labels import Artery

#: Class index -> Artery code of the label painted for candidates of that class (0 = not coronary).
CLASS_CODES: tuple[int, ...] = (int(Artery.BACKGROUND), int(Artery.LAD), int(Artery.LCX), int(Artery.RCA))
CLASS_NAMES: tuple[str, ...] = ("not coronary", "LAD", "LCX", "RCA")

#: Channels of ``patches`` that feed each branch.
LOCAL_CHANNELS = 4
CONTEXT_CHANNELS = 3


def _branch(in_channels: int, width: int) -> nn.Sequential:
    """Four 3x3 conv blocks (conv, batch norm, ReLU; 2x2 max-pool after the first three): 32 -> 4 px,
    then global average pooling to a ``4 * width`` vector."""
    layers: list[nn.Module] = []
    channels = in_channels
    for i, out in enumerate((width, 2 * width, 4 * width, 4 * width)):
        layers += [
            nn.Conv2d(channels, out, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out),
            nn.ReLU(inplace=True),
        ]
        if i < 3:
            layers.append(nn.MaxPool2d(2))
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


class CandidateNet(nn.Module):
    """Local-patch CNN + context-patch CNN + feature MLP, fused by a small classifier head.

    Args:
        n_features: length of the ``features`` vector.
        n_classes: number of output classes (4).
        width: channels of the first conv block of each branch (doubled twice).
        dropout: dropout before the last layer.
    """

    input_names = ("patches", "features")

    def __init__(self, n_features: int = 12, n_classes: int = 4, width: int = 16, dropout: float = 0.2):
        super().__init__()
        self.local = _branch(LOCAL_CHANNELS, width)
        self.context = _branch(CONTEXT_CHANNELS, width)
        self.features = nn.Sequential(nn.Linear(n_features, 32), nn.ReLU(inplace=True))
        fused = 2 * 4 * width + 32
        self.head = nn.Sequential(
            nn.Linear(fused, 64),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(64, n_classes),
        )

    def forward(self, patches: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) from ``patches`` (N, 7, H, W) and ``features`` (N, F)."""
        local = self.local(patches[:, :LOCAL_CHANNELS])
        context = self.context(patches[:, LOCAL_CHANNELS:])
        return self.head(torch.cat([local, context, self.features(features)], dim=1))
