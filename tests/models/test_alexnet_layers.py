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


def test_alexnet_gives_one_logit_per_class_for_any_input_of_67_px_or_more():
    """The smallest input the layer list takes, by hand: 67 px -> conv1 (67 - 11) // 4 + 1 = 15 -> pools
    7, 3, 1: FC6 takes 256 * 1 * 1 inputs. 66 px -> 14 -> 6, 2, 0: no feature left, refused."""
    model = build_model("alexnet", n_classes=3, input_px=67).eval()
    assert model.classifier[1].in_features == 256
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 67, 67)).shape == (2, 3)
    with pytest.raises(ValueError, match="at least 67 px"):
        build_model("alexnet", input_px=66)


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
