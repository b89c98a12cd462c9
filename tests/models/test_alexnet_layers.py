"""The paper's AlexNet: layer list (Krizhevsky et al.; the paper's Figure 2) and output shape."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cacscore.errors import CacscoreError
from cacscore.models import MODELS, build_model


def test_alexnet_layer_list_matches_the_paper():
    model = build_model("alexnet")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    # 5 convolutional, 3 max-pooling, 3 fully connected layers (+ 2 dropout: the paper's 13 layers).
    assert len(convs) == 5 and len(pools) == 3 and len(fcs) == 3 and len(dropouts) == 2
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (1, 96, (11, 11), (4, 4), (0, 0)),
        (96, 256, (5, 5), (1, 1), (2, 2)),
        (256, 384, (3, 3), (1, 1), (1, 1)),
        (384, 384, (3, 3), (1, 1), (1, 1)),
        (384, 256, (3, 3), (1, 1), (1, 1)),
    ]
    assert all(p.kernel_size == 3 and p.stride == 2 for p in pools)
    # 227 -> conv 55 -> pool 27 -> pool 13 -> pool 6: 256 * 6 * 6 = 9216 inputs to FC6.
    assert [(f.in_features, f.out_features) for f in fcs] == [(9216, 4096), (4096, 4096), (4096, 2)]
    # Order: conv, pool, conv, pool, conv, conv, conv, pool.
    kinds = [type(m).__name__ for m in model.features if isinstance(m, nn.Conv2d | nn.MaxPool2d)]
    assert kinds == ["Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d", "Conv2d", "Conv2d", "Conv2d", "MaxPool2d"]


def test_alexnet_output_is_two_class_and_softmax_sums_to_one():
    model = build_model("alexnet").eval()
    with torch.no_grad():
        logits = model(torch.zeros(2, 1, 227, 227))
    assert logits.shape == (2, 2)
    assert torch.allclose(torch.softmax(logits, 1).sum(1), torch.ones(2))


def test_alexnet_keras_initialisation():
    model = build_model("alexnet")
    fc8 = model.classifier[-1]
    assert torch.count_nonzero(fc8.bias) == 0
    # Glorot uniform bound sqrt(6 / (fan_in + fan_out)).
    bound = (6 / (4096 + 2)) ** 0.5
    assert float(fc8.weight.detach().abs().max()) <= bound


def test_patchnet_takes_52_pixel_patches():
    model = build_model("patchnet").eval()
    with torch.no_grad():
        assert model(torch.zeros(3, 1, 52, 52)).shape == (3, 2)


def test_registry():
    assert {"alexnet", "patchnet"} <= set(MODELS)
    with pytest.raises(CacscoreError, match="unknown model"):
        build_model("vgg99")
