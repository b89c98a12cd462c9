"""Train / validation / test splits: by patient (honest), random over items (the paper's), k-fold by patient.

The paper split its 37,610 patches at random, 60/20/20. Windows of one patient (and overlapping windows of
one lesion) then land in training and test sets alike, so its test figures measure recall of seen patients,
not generalisation: :func:`random_split` exists only to reproduce that protocol. :func:`split_by_patient`
and :func:`kfold_by_patient` keep every patient in exactly one split.

Patients are ordered for cutting by a seeded, optionally stratified shuffle: within each stratum (e.g.
vendor) patients are shuffled, then all are interleaved by their relative rank in their stratum, so that
every split gets each vendor in about its share.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cacscore.errors import CacscoreError

SPLIT_NAMES = ("train", "val", "test")
#: The paper's fractions (60 % training, 20 % validation, 20 % test).
PAPER_FRACTIONS = (0.6, 0.2, 0.2)


def split_sizes(n: int, fractions: Sequence[float] = PAPER_FRACTIONS) -> tuple[int, int, int]:
    """Item counts of (train, val, test): train and val rounded to nearest, test gets the rest.

    >>> split_sizes(32)
    (19, 6, 7)
    """
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or np.any(f < 0) or not np.isclose(f.sum(), 1.0):
        raise CacscoreError(
            f"split fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    n_train = round(float(n * f[0]))
    n_val = min(round(float(n * f[1])), n - n_train)
    return n_train, n_val, n - n_train - n_val


def _ordered(items: Sequence[str], seed: int, strata: Sequence[str] | None) -> list[str]:
    rng = np.random.default_rng(seed)
    items = list(items)
    if strata is None:
        return [items[i] for i in rng.permutation(len(items))]
    if len(strata) != len(items):
        raise ValueError("strata must give one stratum per patient")
    keys: list[tuple[float, float, str]] = []
    for stratum in sorted(set(strata), key=str):
        members = [p for p, s in zip(items, strata, strict=True) if s == stratum]
        order = rng.permutation(len(members))
        offset = rng.random()
        for rank, j in enumerate(order):
            keys.append(((rank + offset) / len(members), rng.random(), members[j]))
    keys.sort()
    return [k[2] for k in keys]


def _unique_patients(patient_ids: Sequence[str]) -> list[str]:
    return sorted(set(str(p) for p in patient_ids))


def split_by_patient(
    patients: Sequence[str],
    fractions: Sequence[float] = PAPER_FRACTIONS,
    seed: int = 0,
    strata: Sequence[str] | None = None,
) -> dict[str, list[str]]:
    """Assign each distinct patient to "train", "val" or "test" (sizes from :func:`split_sizes`).

    Args:
        patients: distinct patient ids.
        fractions: train/val/test fractions of patients.
        seed: shuffle seed.
        strata: optional stratum per patient (e.g. vendor) to balance across splits.
    """
    if len(set(patients)) != len(patients):
        raise ValueError("patients must be distinct; use unique_patients() first")
    if len(patients) < 3:
        raise CacscoreError(f"a split by patient needs at least 3 patients, the dataset has {len(patients)}")
    order = _ordered(patients, seed, strata)
    n_train, n_val, _ = split_sizes(len(order), fractions)
    return {
        "train": sorted(order[:n_train]),
        "val": sorted(order[n_train : n_train + n_val]),
        "test": sorted(order[n_train + n_val :]),
    }


def kfold_by_patient(
    patients: Sequence[str], k: int, seed: int = 0, strata: Sequence[str] | None = None
) -> list[dict[str, list[str]]]:
    """k folds by patient: fold i tests on patient group i, validates on group (i + 1) mod k, trains on the
    rest (k = 5 gives 60/20/20). Every patient is tested exactly once.
    """
    if k < 3:
        raise CacscoreError(
            f"k-fold cross-validation needs k >= 3 (test, validation and training groups), got {k}"
        )
    if len(patients) < k:
        raise CacscoreError(f"{k} folds need at least {k} patients, the dataset has {len(patients)}")
    order = _ordered(patients, seed, strata)
    groups = [sorted(order[i::k]) for i in range(k)]
    folds = []
    for i in range(k):
        val = (i + 1) % k
        train = sorted(p for j, g in enumerate(groups) if j not in (i, val) for p in g)
        folds.append({"train": train, "val": groups[val], "test": groups[i]})
    return folds


def indices_by_patient(
    item_patients: Sequence[str] | np.ndarray, groups: dict[str, list[str]]
) -> dict[str, np.ndarray]:
    """Item indices of each split, given each item's patient and the patients of each split."""
    item_patients = np.asarray(item_patients, dtype=object)
    return {
        name: np.flatnonzero(np.isin(item_patients, np.asarray(groups[name], dtype=object)))
        for name in groups
    }


def random_split(
    n: int, fractions: Sequence[float] = PAPER_FRACTIONS, seed: int = 0
) -> dict[str, np.ndarray]:
    """The paper's protocol: a seeded random permutation of ``n`` items cut 60/20/20 (sorted indices).

    It ignores patients, so one patient's items (and overlapping windows of one lesion) are spread over all
    three splits: test figures are optimistic. Use it only to reproduce the paper.
    """
    perm = np.random.default_rng(seed).permutation(n)
    n_train, n_val, _ = split_sizes(n, fractions)
    return {
        "train": np.sort(perm[:n_train]),
        "val": np.sort(perm[n_train : n_train + n_val]),
        "test": np.sort(perm[n_train + n_val :]),
    }


def unique_patients(patient_ids: Sequence[str]) -> list[str]:
    """Distinct patient ids, sorted."""
    return _unique_patients(patient_ids)
