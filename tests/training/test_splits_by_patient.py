"""Splits: by patient (never one patient in two splits), k-fold by patient, the paper's random split."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.errors import CacscoreError
from cacscore.training.splits import (
    indices_by_patient,
    kfold_by_patient,
    random_split,
    split_by_patient,
    split_sizes,
)

PATIENTS = [f"TRV{v}P{p}" for v in range(1, 5) for p in range(1, 9)]
VENDORS = [p[3] for p in PATIENTS]


def test_split_sizes_by_hand():
    assert split_sizes(32) == (19, 6, 7)  # 19.2 -> 19, 6.4 -> 6, rest 7
    assert split_sizes(37610) == (22566, 7522, 7522)
    assert split_sizes(10, (0.5, 0.5, 0.0)) == (5, 5, 0)
    with pytest.raises(CacscoreError):
        split_sizes(10, (0.5, 0.4, 0.4))


@pytest.mark.parametrize("seed", range(5))
def test_patient_split_is_a_partition(seed):
    groups = split_by_patient(PATIENTS, seed=seed, strata=VENDORS)
    sets = [set(groups[k]) for k in ("train", "val", "test")]
    assert [len(s) for s in sets] == [19, 6, 7]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sets[0] | sets[1] | sets[2] == set(PATIENTS)
    # Stratified: each vendor's 8 patients spread over the splits (at most 2 per vendor in val/test of 6-7).
    for name in ("val", "test"):
        counts = np.bincount([int(p[3]) for p in groups[name]], minlength=5)[1:]
        assert counts.max() <= 2 and counts.min() >= 1


def test_patches_of_one_patient_stay_together():
    rng = np.random.default_rng(0)
    item_patients = rng.choice(PATIENTS, size=2000)
    index = indices_by_patient(item_patients, split_by_patient(PATIENTS, seed=1))
    seen = {name: set(item_patients[idx]) for name, idx in index.items()}
    assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["val"])
    assert not (seen["val"] & seen["test"])
    assert sum(len(i) for i in index.values()) == 2000


def test_kfold_tests_every_patient_once():
    folds = kfold_by_patient(PATIENTS, 5, seed=3, strata=VENDORS)
    tested = [p for f in folds for p in f["test"]]
    assert sorted(tested) == sorted(PATIENTS)
    for f in folds:
        assert not (set(f["train"]) & set(f["test"])) and not (set(f["val"]) & set(f["test"]))
        assert not (set(f["train"]) & set(f["val"]))
        assert len(f["train"]) + len(f["val"]) + len(f["test"]) == 32
    with pytest.raises(CacscoreError):
        kfold_by_patient(PATIENTS, 2)


def test_random_split_is_seeded_and_complete():
    a, b = random_split(100, seed=4), random_split(100, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [len(a[k]) for k in ("train", "val", "test")] == [60, 20, 20]
    assert sorted(np.concatenate(list(a.values())).tolist()) == list(range(100))
    assert not np.array_equal(random_split(100, seed=5)["test"], a["test"])
