"""Patient-level agreement: ICC(2,1) absolute agreement, Bland-Altman, risk-category agreement.

- ICC(2,1) (Shrout & Fleiss 1979, "ICC(2,1)"; McGraw & Wong 1996, "ICC(A,1)"): two-way random effects,
  absolute agreement, single measurement, from the two-way ANOVA mean squares, with the McGraw & Wong
  (1996, Table 7 / case 2A) confidence interval. Computed by hand (no maintained Python library in our
  dependencies implements it); tested against the worked example of Shrout & Fleiss 1979 (Table 2).
- Bland-Altman (Bland & Altman, Lancet 1986): bias = mean(pred - ref), limits = bias +- 1.96 SD (ddof 1).
- Linearly weighted kappa: :func:`sklearn.metrics.cohen_kappa_score` with ``weights="linear"``; the
  confusion matrix: :func:`sklearn.metrics.confusion_matrix` (rows reference, columns prediction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from cacscore.errors import CacscoreError


@dataclass(frozen=True)
class ICCResult:
    """ICC(2,1) with its confidence interval (``level``, e.g. 0.95) and the ANOVA mean squares."""

    icc: float | None
    ci_low: float | None
    ci_high: float | None
    level: float
    n_subjects: int
    n_raters: int
    ms_rows: float | None = None
    ms_columns: float | None = None
    ms_error: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def icc_2_1(ratings: np.ndarray | Sequence[Sequence[float]], level: float = 0.95) -> ICCResult:
    """ICC(2,1) absolute agreement of ``ratings`` (n subjects x k raters) with its confidence interval.

    ICC = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n). The interval follows McGraw & Wong 1996
    (ICC(A,1)) with Satterthwaite's degrees of freedom. Returns ``None`` fields when n < 2 or when every
    rating is identical (the ICC is undefined).
    """
    x = np.asarray(ratings, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise CacscoreError("ICC needs a (subjects x raters) table with at least two raters")
    n, k = x.shape
    if n < 2:
        return ICCResult(None, None, None, level, n, k)
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((x - grand) ** 2).sum()
    ss_err = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    if denominator <= 0:
        return ICCResult(None, None, None, level, n, k, msr, msc, mse)
    icc = (msr - mse) / denominator
    low = high = None
    if icc < 1 and mse > 0:
        alpha = 1 - level
        a = k * icc / (n * (1 - icc))
        b = 1 + k * icc * (n - 1) / (n * (1 - icc))
        v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
        f_up = stats.f.ppf(1 - alpha / 2, n - 1, v)
        f_low = stats.f.ppf(1 - alpha / 2, v, n - 1)
        low = n * (msr - f_up * mse) / (f_up * (k * msc + (k * n - k - n) * mse) + n * msr)
        high = n * (f_low * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_low * msr)
    elif icc >= 1:
        low = high = 1.0
    return ICCResult(
        float(icc),
        None if low is None else float(low),
        None if high is None else float(high),
        level,
        n,
        k,
        float(msr),
        float(msc),
        float(mse),
    )


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman statistics of ``pred - ref``: bias, SD of the differences, 95 % limits of agreement."""

    bias: float | None
    sd: float | None
    lower: float | None
    upper: float | None
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def bland_altman(pred: Sequence[float], ref: Sequence[float], z: float = 1.96) -> BlandAltman:
    """Bias and limits of agreement (bias +- z SD, SD with ddof 1) of paired measurements."""
    p = np.asarray(pred, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if p.shape != r.shape:
        raise CacscoreError(f"Bland-Altman needs pairs: {p.shape} vs {r.shape}")
    n = int(p.size)
    if n == 0:
        return BlandAltman(None, None, None, None, 0)
    d = p - r
    bias = float(d.mean())
    if n < 2:
        return BlandAltman(bias, None, None, None, n)
    sd = float(d.std(ddof=1))
    return BlandAltman(bias, sd, bias - z * sd, bias + z * sd, n)


@dataclass(frozen=True)
class CategoryAgreement:
    """Risk-category agreement: confusion matrix (rows reference, columns prediction), kappa, share equal."""

    labels: tuple[str, ...]
    confusion: list[list[int]]
    kappa_linear: float | None
    share_same: float | None
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def category_agreement(pred: Sequence[int], ref: Sequence[int], labels: Sequence[str]) -> CategoryAgreement:
    """Agreement of category indices (0..len(labels)-1); kappa by scikit-learn, linearly weighted.

    The kappa is undefined (``None``) with no cases or when both raters put every case in one and the same
    category (scikit-learn then divides 0 by 0).
    """
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    p = np.asarray(pred, dtype=int)
    r = np.asarray(ref, dtype=int)
    codes = list(range(len(labels)))
    n = int(p.size)
    if n == 0:
        return CategoryAgreement(tuple(labels), [[0] * len(codes) for _ in codes], None, None, 0)
    matrix = confusion_matrix(r, p, labels=codes)
    kappa = None
    if len(set(p.tolist()) | set(r.tolist())) > 1:
        kappa = float(cohen_kappa_score(r, p, labels=codes, weights="linear"))
    return CategoryAgreement(tuple(labels), matrix.tolist(), kappa, float((p == r).mean()), n)
