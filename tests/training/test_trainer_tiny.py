"""The trainer: a tiny run lowers the loss and is bitwise reproducible for a seed; calibration helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cacscore.training.patch_task import PatchTransform
from cacscore.training.preprocess import Preprocessing
from cacscore.training.recipes import RECIPES, Recipe
from cacscore.training.trainer import (
    ArrayData,
    best_f1_threshold,
    fit_temperature,
    seeded_model,
    train_classifier,
)


def _data(n: int, seed: int) -> ArrayData:
    """Soft-tissue noise patches; positives hold a 3x3 spot of 400 HU (calcium)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(40, 15, (n, 52, 52))
    y = np.arange(n) % 4 == 0
    for i in np.flatnonzero(y):
        cy, cx = rng.integers(4, 46, 2)
        x[i, cy : cy + 3, cx : cx + 3] = 400
    return ArrayData({"patches": x.astype(np.int16)}, y.astype(np.int64))


RECIPE = Recipe(name="tiny", description="test", architecture="patchnet",
                architecture_kwargs={"width": 4, "dropout": 0.0},
                preprocessing=Preprocessing(-300, 1200, 0.0, 200.0), epochs=3, batch_size=16, lr=3e-3,
                class_balance="sampler", samples_per_epoch=96)


def _train(seed: int, recipe: Recipe = RECIPE):
    model = seeded_model(recipe.architecture, recipe.architecture_kwargs, seed)
    transform = PatchTransform(recipe.preprocessing, recipe.augmentation)
    return train_classifier(model, _data(96, 1), _data(32, 2), recipe, transform, seed=seed, num_threads=1)


def test_tiny_run_lowers_the_loss_and_is_reproducible():
    a = _train(7)
    losses = [r["train_loss"] for r in a.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert {"val_loss", "val_accuracy", "val_sensitivity", "val_specificity"} <= set(a.history[-1])
    b = _train(7)
    for (k, wa), (_, wb) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert torch.equal(wa, wb), k
    c = _train(8)
    assert any(not torch.equal(wa, wc) for wa, wc in zip(a.model.state_dict().values(),
                                                          c.model.state_dict().values(), strict=True))


def test_augmentation_and_early_stopping_run_reproducibly():
    from dataclasses import replace

    recipe = replace(RECIPE, augmentation=RECIPES["default"].augmentation, early_stopping_patience=1,
                     calibrate=True, threshold="val_f1", epochs=4)
    a, b = _train(3, recipe), _train(3, recipe)
    assert a.epochs_run == b.epochs_run and a.best_epoch == b.best_epoch >= 1
    assert a.temperature == b.temperature > 0 and a.threshold == b.threshold
    for wa, wb in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
        assert torch.equal(wa, wb)


def test_fit_temperature_recovers_a_known_temperature():
    # Labels drawn from softmax(z), logits given as 3 z: the NLL-optimal temperature is about 3.
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (20000, 2))
    p1 = np.exp(z[:, 1]) / np.exp(z).sum(1)
    labels = (rng.random(20000) < p1).astype(int)
    assert fit_temperature(3 * z, labels) == pytest.approx(3.0, rel=0.05)


def test_best_f1_threshold_by_hand():
    p = np.array([0.9, 0.8, 0.7, 0.4, 0.2])
    y = np.array([1, 1, 0, 1, 0])
    # Cut after 0.9: F1 = 2*1/(1+3) = 0.5; after 0.8: 4/5 = 0.8; after 0.7: 4/6; after 0.4: 6/7 = 0.857;
    # after 0.2: 6/8. Best: keep p >= 0.4 -> threshold midway between 0.4 and 0.2.
    assert best_f1_threshold(p, y) == pytest.approx(0.3)


def test_sampling_weights_by_hand():
    from cacscore.training.trainer import sampling_weights

    labels = np.array([1, 1, 0, 0, 0, 0])
    hard = np.array([False, False, True, False, False, False])
    w = sampling_weights(labels, None, 0.0)
    assert np.allclose(w, [0.5, 0.5, 0.25, 0.25, 0.25, 0.25])  # each class half of the draws
    w = sampling_weights(labels, hard, 0.4)
    # Negatives: the hard one gets 0.4 of the class share, the three easy ones 0.6 / 3 each.
    assert np.allclose(w, [0.5, 0.5, 0.4, 0.2, 0.2, 0.2])
    assert w[labels == 1].sum() == pytest.approx(w[labels == 0].sum())
