"""Multivariate drift: changes in how features go together, invisible one feature at a time.

Domain classifier
    A gradient-boosted classifier learns to tell reference rows from window rows (up to
    2,000 of each); its cross-validated (out-of-fold) ROC AUC is 0.5 when they cannot be
    told apart. The noise floor is analytic: under "no drift" the AUC of n1 vs n2 rows has
    standard deviation ``sqrt((n1 + n2 + 1) / (12 n1 n2))`` (Mann-Whitney), so the alarm
    is ``AUC > max(domain_auc, 0.5 + z(1 - p_value) sd)``.
PCA reconstruction error
    Features are encoded (numbers standardised, missing values replaced by the reference
    median; categories by their reference frequency, unseen ones 0), principal components
    explaining 65 % of the variance are fitted on half of the reference, and each row's
    reconstruction error is measured on the *other* half (held out, so the reference
    error is not biased low). A window alarms when its mean error moves from the held-out
    mean by more than ``pca_change`` (relative) and more than ``z(1 - p_value / 2)`` standard
    errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import stats as _sps

from mlsteward.core import InvalidInput
from mlsteward.monitoring._summary import CategoricalSummary, ColumnSummary, numeric_values

__all__ = [
    "DomainClassifierResult",
    "PCADriftResult",
    "PCAModel",
    "domain_classifier",
    "encode",
]

MAX_ROWS: Final = 2000
VARIANCE_KEPT: Final = 0.65
Floats = npt.NDArray[np.float64]


def encode(
    items: Mapping[str, Any], summaries: Mapping[str, ColumnSummary], *, frequencies: bool
) -> Floats:
    """A float matrix (rows x features) of ``items`` in ``summaries``' order: numbers as
    they are (NaN when missing); categories as their index among the reference's
    categories (unseen: one past the end) or, with ``frequencies``, their reference share."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlsteward.monitoring._summary import category_key

    columns = []
    for name, summary in summaries.items():
        values = items[name]
        if isinstance(summary, CategoricalSummary):
            array = values if isinstance(values, pa.ChunkedArray | pa.Array) else pa.array(values)
            if pa.types.is_dictionary(array.type):
                array = pc.cast(array, array.type.value_type)
            if pa.types.is_floating(array.type):
                array = pc.if_else(pc.is_nan(array), None, array)
            distinct = pc.unique(array).to_pylist()
            index = {c: i for i, c in enumerate(summary.categories)}
            share = summary.counts[: len(summary.categories)] / max(summary.count, 1)
            unseen = len(summary.categories)
            lookup_values = [v for v in distinct if v is not None]
            codes = pc.index_in(array, value_set=pa.array(lookup_values, type=array.type))
            mapped = np.asarray(
                [index.get(category_key(v), unseen) for v in lookup_values] or [0],
                dtype=np.float64,
            )
            position = np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.float64)
            present = ~np.isnan(position)
            column = np.full(position.size, np.nan)
            code = mapped[position[present].astype(np.int64)]
            if frequencies:
                code = np.where(
                    code < unseen, share[np.minimum(code, unseen - 1).astype(np.int64)], 0.0
                )
            column[present] = code
            columns.append(column)
        else:
            numbers, _ = numeric_values(values)
            columns.append(np.where(np.isfinite(numbers), numbers, np.nan))
    if not columns:
        raise InvalidInput("Multivariate drift needs at least one feature.")
    return np.column_stack(columns)


def _sample(matrix: Floats, rows: int, rng: np.random.Generator) -> Floats:
    if matrix.shape[0] <= rows:
        return matrix
    return matrix[rng.choice(matrix.shape[0], rows, replace=False)]


@dataclass(frozen=True)
class DomainClassifierResult:
    """Cross-validated AUC of telling reference from window rows, and its alarm level."""

    auc: float
    threshold: float
    null_auc: float
    drifted: bool
    reference_rows: int
    current_rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "threshold": self.threshold,
            "null_auc": self.null_auc,
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
        }


def domain_classifier(
    reference: Floats,
    current: Floats,
    *,
    categorical: Sequence[bool] | None = None,
    threshold: float = 0.6,
    p_value: float = 0.01,
    folds: int = 3,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> DomainClassifierResult:
    """The domain classifier check (see the module docstring); ``categorical`` marks the
    columns holding category codes."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    ref = _sample(reference, max_rows, rng)
    cur = _sample(current, max_rows, rng)
    n1, n2 = ref.shape[0], cur.shape[0]
    if n1 < folds or n2 < folds:
        return DomainClassifierResult(math.nan, threshold, math.nan, False, n1, n2)
    x = np.vstack([ref, cur])
    y = np.concatenate([np.zeros(n1), np.ones(n2)])
    mask = None
    if categorical is not None:
        # native categories need codes below 255; wider columns stay ordinal
        wide = np.nanmax(np.where(np.isnan(x), 0, x), axis=0) >= 254
        mask = np.asarray(categorical, dtype=bool) & ~wide
        if not mask.any():
            mask = None
    scores = np.zeros(y.size)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, y):
        model = HistGradientBoostingClassifier(
            max_iter=30,
            learning_rate=0.25,
            max_leaf_nodes=15,
            categorical_features=mask,
            random_state=seed,
        )
        model.fit(x[train], y[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
    auc = float(roc_auc_score(y, scores))
    null = 0.5 + float(_sps.norm.isf(p_value)) * math.sqrt((n1 + n2 + 1) / (12 * n1 * n2))
    bar = max(threshold, null)
    return DomainClassifierResult(auc, bar, null, auc > bar, n1, n2)


@dataclass(frozen=True)
class PCADriftResult:
    """A window's mean reconstruction error against the held-out reference's."""

    error: float
    reference_error: float
    change: float
    threshold: float
    floor: float
    drifted: bool
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "reference_error": self.reference_error,
            "change": self.change,
            "threshold": self.threshold,
            "floor": self.floor,
            "drifted": self.drifted,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class PCAModel:
    """Standardisation, principal components and the held-out reference error."""

    medians: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    components: tuple[tuple[float, ...], ...]
    error_mean: float
    error_sd: float
    heldout_rows: int

    @classmethod
    def fit(cls, matrix: Floats, *, seed: int = 0) -> PCAModel:
        """Fit on half of ``matrix`` (frequency-encoded, see :func:`encode`), measure on the
        other half."""
        if matrix.shape[0] < 20 or matrix.shape[1] < 2:
            raise InvalidInput(
                "PCA reconstruction needs at least 20 reference rows and 2 features; got "
                f"{matrix.shape[0]} rows and {matrix.shape[1]} features."
            )
        rng = np.random.default_rng(seed)
        half = rng.permutation(matrix.shape[0]) % 2 == 0
        medians = np.nanmedian(matrix, axis=0)
        medians = np.where(np.isfinite(medians), medians, 0.0)
        filled = np.where(np.isnan(matrix), medians, matrix)
        fit_part = filled[half]
        means = fit_part.mean(axis=0)
        scales = fit_part.std(axis=0)
        scales = np.where(scales > 0, scales, 1.0)
        z = (fit_part - means) / scales
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        explained = np.cumsum(singular**2) / max(float(np.sum(singular**2)), 1e-300)
        k = int(np.searchsorted(explained, VARIANCE_KEPT) + 1)
        components = vt[: min(k, vt.shape[0])]
        model = cls(
            tuple(medians.tolist()),
            tuple(means.tolist()),
            tuple(scales.tolist()),
            tuple(tuple(row) for row in components.tolist()),
            0.0,
            0.0,
            0,
        )
        errors = model.errors(matrix[~half])
        return cls(
            model.medians,
            model.means,
            model.scales,
            model.components,
            float(errors.mean()),
            float(errors.std(ddof=1)),
            int(errors.size),
        )

    def errors(self, matrix: Floats) -> Floats:
        """Euclidean reconstruction error of each row (standardised units)."""
        medians = np.asarray(self.medians)
        filled = np.where(np.isnan(matrix), medians, matrix)
        z = (filled - np.asarray(self.means)) / np.asarray(self.scales)
        components = np.asarray(self.components)
        rebuilt = (z @ components.T) @ components
        result: Floats = np.sqrt(np.sum((z - rebuilt) ** 2, axis=1))
        return result

    def check(
        self, matrix: Floats, *, threshold: float = 0.1, p_value: float = 0.01
    ) -> PCADriftResult:
        """The window check (see the module docstring)."""
        errors = self.errors(matrix)
        n = errors.size
        if n == 0 or self.heldout_rows == 0:
            return PCADriftResult(math.nan, self.error_mean, 0.0, threshold, math.inf, False, n)
        mean = float(errors.mean())
        change = (mean - self.error_mean) / self.error_mean if self.error_mean > 0 else 0.0
        z = float(_sps.norm.isf(p_value / 2))
        se = self.error_sd * math.sqrt(1 / n + 1 / self.heldout_rows)
        floor = z * se / self.error_mean if self.error_mean > 0 else math.inf
        bar = max(threshold, floor)
        return PCADriftResult(mean, self.error_mean, change, threshold, floor, abs(change) > bar, n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "medians": list(self.medians),
            "means": list(self.means),
            "scales": list(self.scales),
            "components": [list(c) for c in self.components],
            "error_mean": self.error_mean,
            "error_sd": self.error_sd,
            "heldout_rows": self.heldout_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PCAModel:
        return cls(
            tuple(map(float, data["medians"])),
            tuple(map(float, data["means"])),
            tuple(map(float, data["scales"])),
            tuple(tuple(map(float, c)) for c in data["components"]),
            float(data["error_mean"]),
            float(data["error_sd"]),
            int(data["heldout_rows"]),
        )
