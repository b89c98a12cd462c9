"""PatchNet: a small CNN sized for the paper's 52x52 windows, used by the "default" recipe.

No resize to 227 px: three blocks of 3x3 convolutions (one, two, two; each with batch norm and ReLU)
and 2x2 max-pooling (52 -> 26 -> 13 -> 6 px), global average and max pooling (a small bright
lesion must not be averaged away) and a linear layer to the class logits: about 0.07 M parameters
and 19 M multiply-adds per patch (AlexNet at 227 px: 58 M parameters, 1.1 G multiply-adds), so it
trains on CPU in minutes.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int, n_convs: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [
            nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]
    return [*layers, nn.MaxPool2d(2)]


class PatchNet(nn.Module):
    """Small patch classifier.

    Args:
        in_channels: image channels (1).
        n_classes: output classes (2).
        width: channels of the first block (doubled in each of the next two).
        dropout: dropout before the last layer.
    """

    def __init__(
        self, in_channels: int = 1, n_classes: int = 2, width: int = 16, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(in_channels, width, 1),
            *_block(width, 2 * width, 2),
            *_block(2 * width, 4 * width, 2),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) for images (N, in_channels, H, W)."""
        f = self.features(x)
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)
