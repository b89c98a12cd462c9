"""AlexNet as the paper uses it: 5 convolutional, 3 max-pooling and 3 fully connected layers, 2-class output.

Layer list (Krizhevsky, Sutskever & Hinton, "ImageNet classification with deep convolutional neural
networks", 2012/2017, as a single-tower network; the paper's Figure 2), for a 227x227 single-channel input:

    conv1 96 11x11 stride 4 (valid) + ReLU  -> 96x55x55
    max-pool 3x3 stride 2                   -> 96x27x27
    conv2 256 5x5 pad 2 + ReLU              -> 256x27x27
    max-pool 3x3 stride 2                   -> 256x13x13
    conv3 384 3x3 pad 1 + ReLU              -> 384x13x13
    conv4 384 3x3 pad 1 + ReLU              -> 384x13x13
    conv5 256 3x3 pad 1 + ReLU              -> 256x13x13
    max-pool 3x3 stride 2                   -> 256x6x6
    flatten                                 -> 9216
    FC6 4096 + ReLU, dropout 0.5
    FC7 4096 + ReLU, dropout 0.5
    FC8 2 (logits; softmax in the loss and at inference)

The paper counts "13 layers": the 5 conv + 3 pool + 3 FC layers above plus the two dropout layers of
Krizhevsky's FC6/FC7. Local response normalisation (Krizhevsky's, not mentioned by the paper) is left out.
Kernels are initialised as Keras does by default (Glorot uniform, zero biases), since the paper used Keras.
The network returns logits; categorical cross-entropy on softmax outputs equals ``F.cross_entropy`` on them.
"""

from __future__ import annotations

import torch
from torch import nn

#: Input side the paper resizes patches to (pixels).
ALEXNET_INPUT_PX = 227


class AlexNet(nn.Module):
    """The paper's AlexNet (see module docstring for the layer list).

    Args:
        in_channels: image channels (1: a CT patch).
        n_classes: output classes (2: calcium / no calcium).
        dropout: dropout probability before FC7 and FC8 (Krizhevsky: 0.5).
        input_px: input side; 227 in the paper (other sizes work if >= 67 px).
    """

    def __init__(
        self, in_channels: int = 1, n_classes: int = 2, dropout: float = 0.5, input_px: int = ALEXNET_INPUT_PX
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, kernel_size=11, stride=4),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        side = _alexnet_feature_side(input_px)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(256 * side * side, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, n_classes),
        )
        keras_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) for images (N, in_channels, input_px, input_px)."""
        return self.classifier(self.features(x))


def _alexnet_feature_side(input_px: int) -> int:
    side = (input_px - 11) // 4 + 1
    for _ in range(3):
        side = (side - 3) // 2 + 1
    if side < 1:
        raise ValueError(f"AlexNet needs inputs of at least 67 px, got {input_px}")
    return side


def keras_init(module: nn.Module) -> None:
    """Keras defaults: Glorot (Xavier) uniform kernels and zero biases for conv and dense layers."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
