"""Vectorised statistics the checks use (numpy only; no Python loops over rows)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "auc",
    "codes",
    "crossfit_target_rate",
    "mutual_information",
    "outlier_mask",
    "quantile_codes",
    "rankdata",
    "spearman",
]


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (``scipy.stats.rankdata``'s default,
    without importing scipy; NaN is not expected)."""
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_group = np.empty(len(values), dtype=bool)
    starts_group[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_group[1:])
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(values))
    average = 0.5 * (starts + ends + 1)  # mean of the ranks starts+1 .. ends
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for boolean ``labels`` (Mann-Whitney U with
    average ranks for ties); NaN when one class is absent."""
    labels = labels.astype(bool)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    u = ranks[labels].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson correlation of average ranks)."""
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def codes(values: np.ndarray) -> np.ndarray:
    """Integer codes 0..k-1 of the distinct values (missing values are one more code)."""
    _, inverse = np.unique(
        values.astype(str) if values.dtype == object else values, return_inverse=True
    )
    return inverse.astype(np.int64).ravel()


def quantile_codes(values: np.ndarray, bins: int) -> np.ndarray:
    """Codes of up to ``bins`` quantile bins of a numeric array (NaN gets its own code)."""
    finite = ~np.isnan(values)
    out = np.full(values.shape, -1, dtype=np.int64)
    if finite.any():
        edges = np.unique(np.quantile(values[finite], np.linspace(0, 1, bins + 1)[1:-1]))
        out[finite] = np.searchsorted(edges, values[finite], side="right")
    out[~finite] = out.max() + 1 if finite.any() else 0
    return codes(out)


def mutual_information(x: np.ndarray, y: np.ndarray, *, corrected: bool = False) -> float:
    """Mutual information (nats) between two integer code arrays, from their contingency
    table. ``corrected`` subtracts the Miller-Madow bias (R-1)(C-1)/(2N), so that a feature
    that carries no information scores about 0 rather than a small positive number."""
    n = x.size
    if n == 0:
        return 0.0
    rx, ry = int(x.max()) + 1, int(y.max()) + 1
    joint = np.bincount(x * ry + y, minlength=rx * ry).reshape(rx, ry).astype(np.float64)
    pxy = joint / n
    px = pxy.sum(axis=1, keepdims=True)
    py = pxy.sum(axis=0, keepdims=True)
    nonzero = pxy > 0
    mi = float((pxy[nonzero] * np.log(pxy[nonzero] / (px @ py)[nonzero])).sum())
    if corrected:
        r = int((px > 0).sum())
        c = int((py > 0).sum())
        mi -= (r - 1) * (c - 1) / (2.0 * n)
    return max(mi, 0.0) if corrected else mi


def crossfit_target_rate(
    feature_codes: np.ndarray, target: np.ndarray, seed: int = 0
) -> np.ndarray:
    """Out-of-fold mean of ``target`` per feature code (2 folds), so that a category seen
    once cannot "predict" its own label. Codes unseen in the other fold get the fold's
    overall mean."""
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, 2, size=feature_codes.size)
    k = int(feature_codes.max()) + 1 if feature_codes.size else 1
    encoded = np.empty(feature_codes.size, dtype=np.float64)
    for f in (0, 1):  # two folds, not rows
        train, test = fold != f, fold == f
        sums = np.bincount(feature_codes[train], weights=target[train], minlength=k)
        counts = np.bincount(feature_codes[train], minlength=k)
        prior = float(target[train].mean()) if train.any() else 0.0
        rates = np.where(counts > 0, sums / np.maximum(counts, 1), prior)
        encoded[test] = rates[feature_codes[test]]
    return encoded


def outlier_mask(values: np.ndarray, method: str, z: float, iqr_k: float) -> tuple[np.ndarray, str]:
    """Boolean mask of outliers and the rule used.

    ``robust_z``: modified z-score 0.6745 * (x - median) / MAD above ``z`` (Iglewicz and
    Hoaglin); when the MAD is 0 (over half the values equal) it falls back to the IQR
    fences. ``iqr``: below Q1 - k*IQR or above Q3 + k*IQR (Tukey). When the IQR is 0 too,
    no value is an outlier (the column is (nearly) constant; the constant check covers it).
    """
    if values.size == 0:
        return np.zeros(0, dtype=bool), "empty"
    if method == "robust_z":
        median = float(np.median(values))
        mad = float(np.median(np.abs(values - median)))
        if mad > 0:
            return np.abs(0.6745 * (values - median) / mad) > z, f"|robust z| > {z}"
    q1, q3 = np.quantile(values, [0.25, 0.75])
    iqr = float(q3 - q1)
    if iqr == 0:
        return np.zeros(values.size, dtype=bool), "IQR is 0"
    low, high = q1 - iqr_k * iqr, q3 + iqr_k * iqr
    return (values < low) | (values > high), f"outside [Q1 - {iqr_k} IQR, Q3 + {iqr_k} IQR]"
