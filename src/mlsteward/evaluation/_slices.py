"""Slices: metrics on declared subsets of the rows, and discovery of the worst ones.

Declared slices are each category of a chosen column, or quantile bins of a numeric one
(``AGEP=30..45``; ``(missing)`` for missing values). Each gets the headline metrics and
a bootstrap interval of its *slice metric* (accuracy for classification, MAE for
regression) from the same resamples as the whole evaluation.

Discovery searches feature-value combinations up to depth 2 (``SEX=2 & AGEP=16..25``)
with at least ``min_support`` rows (and as many outside). Each is tested against the rest
of the rows, one-sided (is the slice worse?): a two-proportion z-test of the error rate for
classification, Welch's t-test of the absolute error for regression. The p-values of all
slices tested are corrected with Benjamini-Hochberg at the stated false-discovery rate;
the survivors are ranked by effect size (Cohen's h for error rates, Cohen's d for
absolute errors). A depth-2 slice is kept only when it is worse than each of its two
depth-1 parents (otherwise the parent already explains it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsteward.evaluation._bootstrap import Estimate, Statistic
from mlsteward.evaluation._metrics import Array, Outcomes, point_metrics

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_BINS",
    "DiscoveredSlice",
    "SliceMetrics",
    "SliceReport",
    "SliceStatistic",
    "benjamini_hochberg",
    "column_codes",
    "declared_masks",
    "declared_slices",
    "discover_slices",
    "slice_metric",
]

DEFAULT_BINS = 5
MAX_CATEGORIES = 30
MISSING = "(missing)"
OTHER = "(other)"


def slice_metric(task: str) -> str:
    """The per-row metric slices are measured and searched with."""
    return "mae" if task == "regression" else "accuracy"


def _fmt(edge: float) -> str:
    if math.isfinite(edge) and (float(edge).is_integer() or 1e3 <= abs(edge) < 1e15):
        return str(round(edge))
    return f"{edge:.4g}"


def column_codes(
    series: pd.Series, bins: int | Sequence[float] | None = None
) -> tuple[Array, list[str]]:
    """Code of each row and the label of each code (``-1`` never occurs).

    Numeric columns with more than ``bins`` distinct values are cut into quantile bins
    (or at the given edges); others get one code per category, the most frequent
    :data:`MAX_CATEGORIES` kept and the rest grouped as ``(other)``.
    """
    import pandas as pd

    values = series
    numeric = (
        pd.api.types.is_numeric_dtype(values)
        and not pd.api.types.is_bool_dtype(values)
        and not isinstance(values.dtype, pd.CategoricalDtype)
    )
    count = DEFAULT_BINS if bins is None else bins
    if numeric and (not isinstance(count, int) or values.nunique() > count):
        x = values.to_numpy(dtype=np.float64)
        missing = np.isnan(x)
        if isinstance(count, int):
            edges = np.unique(np.quantile(x[~missing], np.linspace(0, 1, count + 1)))
        else:
            edges = np.unique(np.asarray(count, dtype=np.float64))
        if edges.size < 2:
            edges = np.array([edges[0], edges[0]]) if edges.size else np.array([0.0, 0.0])
        inner = edges[1:-1]
        codes = np.searchsorted(inner, x, side="left").astype(np.int64)
        labels = [
            f"{series.name}={_fmt(edges[i])}..{_fmt(edges[i + 1])}" for i in range(len(edges) - 1)
        ]
        if missing.any():
            codes[missing] = len(labels)
            labels.append(f"{series.name}={MISSING}")
        return codes, labels
    raw_codes, uniques = pd.factorize(values, sort=False)
    frequency = np.bincount(raw_codes[raw_codes >= 0], minlength=len(uniques))
    order = np.argsort(-frequency, kind="mergesort")
    keep = order[:MAX_CATEGORIES]
    remap = np.full(len(uniques) + 1, -1, dtype=np.int64)
    ordered = sorted(keep, key=lambda j: str(uniques[j]))
    labels = []
    for new, j in enumerate(ordered):
        remap[j] = new
        labels.append(f"{series.name}={_show(uniques[j])}")
    codes = remap[raw_codes]
    other = (raw_codes >= 0) & (codes < 0)
    if other.any():
        labels.append(f"{series.name}={OTHER}")
        codes[other] = len(labels) - 1
    if (raw_codes < 0).any():
        labels.append(f"{series.name}={MISSING}")
        codes[raw_codes < 0] = len(labels) - 1
    return codes, labels


# -- declared slices ------------------------------------------------------------------------
@dataclass(frozen=True)
class SliceMetrics:
    """Metrics of one declared slice; ``estimate`` is its slice metric with interval and
    ``gap`` the difference to the whole data (negative: worse for accuracy)."""

    name: str
    column: str
    rows: int
    share: float
    metric: str
    estimate: Estimate
    gap: float
    metrics: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "column": self.column,
            "rows": self.rows,
            "share": self.share,
            "metric": self.metric,
            "estimate": self.estimate.to_dict(),
            "gap": _plain(self.gap),
            "metrics": {k: _plain(v) for k, v in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceMetrics:
        return cls(
            name=data["name"],
            column=data["column"],
            rows=int(data["rows"]),
            share=float(data["share"]),
            metric=data["metric"],
            estimate=Estimate.from_dict(data["estimate"]),
            gap=_num(data["gap"]),
            metrics={k: _num(v) for k, v in data["metrics"].items()},
        )


class SliceStatistic(Statistic):
    """Slice metric (accuracy or MAE) of every declared slice, per resample."""

    name = "slices"

    def __init__(self, outcomes: Outcomes, masks: Mapping[str, Array]) -> None:
        self.names = list(masks)
        per_row = outcomes.correct if outcomes.is_classification else outcomes.loss
        cols = []
        for name in self.names:
            mask = masks[name].astype(np.float64)
            cols.extend([mask, mask * per_row])
        self._columns = np.column_stack(cols) if cols else None

    def columns(self) -> Array | None:
        return self._columns

    def finish(self, sums: Array, weights: Array) -> dict[str, Array]:
        out = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for i, name in enumerate(self.names):
                out[name] = sums[:, 2 * i + 1] / sums[:, 2 * i]
        return out


def declared_masks(
    frame: pd.DataFrame, slices: Mapping[str, int | Sequence[float] | None]
) -> dict[str, tuple[str, Array]]:
    """Slice name -> (column, row mask) for every declared slice."""
    masks: dict[str, tuple[str, Array]] = {}
    for column, bins in slices.items():
        codes, labels = column_codes(frame[column], bins)
        for code, label in enumerate(labels):
            mask = codes == code
            if mask.any():
                masks[label] = (column, mask)
    return masks


def declared_slices(
    outcomes: Outcomes,
    masks: Mapping[str, tuple[str, Array]],
    overall: float,
    point: Mapping[str, float],
    draws: Mapping[str, Array] | None,
    confidence: float,
) -> list[SliceMetrics]:
    """The metrics of each declared slice (``point``/``draws`` from :class:`SliceStatistic`)."""
    metric = slice_metric(outcomes.task)
    out = []
    for name, (column, mask) in masks.items():
        rows = int(mask.sum())
        estimate = Estimate.of(point[name], None if draws is None else draws[name], confidence)
        out.append(
            SliceMetrics(
                name=name,
                column=column,
                rows=rows,
                share=rows / outcomes.n,
                metric=metric,
                estimate=estimate,
                gap=estimate.value - overall,
                metrics=point_metrics(outcomes.subset(mask)),
            )
        )
    return out


# -- discovery ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiscoveredSlice:
    """A slice significantly worse than the rest of the data.

    ``loss`` is its error rate (classification) or mean absolute error (regression) and
    ``rest_loss`` that of the other rows; ``value`` its slice metric (accuracy or MAE)
    and ``gap`` the difference to the whole data; ``q_value`` the Benjamini-Hochberg
    adjusted p-value.
    """

    name: str
    conditions: tuple[str, ...]
    rows: int
    share: float
    loss: float
    rest_loss: float
    value: float
    gap: float
    effect_size: float
    p_value: float
    q_value: float

    @property
    def depth(self) -> int:
        return len(self.conditions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "conditions": list(self.conditions),
            "rows": self.rows,
            "share": self.share,
            "loss": self.loss,
            "rest_loss": self.rest_loss,
            "value": self.value,
            "gap": self.gap,
            "effect_size": self.effect_size,
            "p_value": self.p_value,
            "q_value": self.q_value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DiscoveredSlice:
        return cls(
            name=data["name"],
            conditions=tuple(data["conditions"]),
            rows=int(data["rows"]),
            share=float(data["share"]),
            loss=float(data["loss"]),
            rest_loss=float(data["rest_loss"]),
            value=float(data["value"]),
            gap=float(data["gap"]),
            effect_size=float(data["effect_size"]),
            p_value=float(data["p_value"]),
            q_value=float(data["q_value"]),
        )


def benjamini_hochberg(p_values: Array) -> Array:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


@dataclass
class _Candidates:
    names: list[tuple[str, ...]]
    count: list[Array]
    total: list[Array]
    squares: list[Array]


def _add(
    found: _Candidates, labels: list[tuple[str, ...]], codes: Array, k: int, loss: Array
) -> None:
    found.names.extend(labels)
    found.count.append(np.bincount(codes, minlength=k).astype(np.float64))
    found.total.append(np.bincount(codes, weights=loss, minlength=k))
    found.squares.append(np.bincount(codes, weights=loss * loss, minlength=k))


@dataclass(frozen=True)
class SliceReport:
    """Declared slices and discovered worst slices, with how the search was done."""

    metric: str
    declared: tuple[SliceMetrics, ...]
    discovered: tuple[DiscoveredSlice, ...]
    tested: int
    fdr: float
    min_support: int
    max_depth: int
    columns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "declared": [s.to_dict() for s in self.declared],
            "discovered": [s.to_dict() for s in self.discovered],
            "tested": self.tested,
            "fdr": self.fdr,
            "min_support": self.min_support,
            "max_depth": self.max_depth,
            "columns": list(self.columns),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceReport:
        return cls(
            metric=data["metric"],
            declared=tuple(SliceMetrics.from_dict(s) for s in data["declared"]),
            discovered=tuple(DiscoveredSlice.from_dict(s) for s in data["discovered"]),
            tested=int(data["tested"]),
            fdr=float(data["fdr"]),
            min_support=int(data["min_support"]),
            max_depth=int(data["max_depth"]),
            columns=tuple(data["columns"]),
        )


def discover_slices(
    frame: pd.DataFrame,
    columns: Sequence[str],
    outcomes: Outcomes,
    *,
    fdr: float = 0.05,
    min_support: int | None = None,
    max_depth: int = 2,
    limit: int = 20,
) -> tuple[list[DiscoveredSlice], int, int]:
    """Slices significantly worse than the rest: (found, number tested, min support)."""
    from scipy import stats

    n = outcomes.n
    support = min_support if min_support is not None else max(30, math.ceil(0.01 * n))
    loss = np.asarray(outcomes.loss, dtype=np.float64)
    encoded = [column_codes(frame[c]) for c in columns]
    found = _Candidates([], [], [], [])
    for codes, labels in encoded:
        _add(found, [(label,) for label in labels], codes, len(labels), loss)
    if max_depth >= 2:
        for (ca, la), (cb, lb) in itertools.combinations(encoded, 2):
            pairs: list[tuple[str, ...]] = [(a, b) for a in la for b in lb]
            _add(found, pairs, ca * len(lb) + cb, len(la) * len(lb), loss)
    count = np.concatenate(found.count)
    total = np.concatenate(found.total)
    squares = np.concatenate(found.squares)
    eligible = (count >= support) & (n - count >= support)
    index = np.flatnonzero(eligible)
    if index.size == 0:
        return [], 0, support
    c, s, q = count[index], total[index], squares[index]
    rest_c, rest_s, rest_q = n - c, loss.sum() - s, (loss * loss).sum() - q
    mean, rest_mean = s / c, rest_s / rest_c
    with np.errstate(invalid="ignore", divide="ignore"):
        if outcomes.is_classification:
            pooled = loss.mean()
            se = np.sqrt(pooled * (1 - pooled) * (1 / c + 1 / rest_c))
            p_values = stats.norm.sf((mean - rest_mean) / se)
            effect = 2 * np.arcsin(np.sqrt(mean)) - 2 * np.arcsin(np.sqrt(rest_mean))
        else:
            var = np.maximum(q / c - mean**2, 0) * c / np.maximum(c - 1, 1)
            rest_var = np.maximum(rest_q / rest_c - rest_mean**2, 0) * rest_c / (rest_c - 1)
            se2 = var / c + rest_var / rest_c
            dof = se2**2 / ((var / c) ** 2 / (c - 1) + (rest_var / rest_c) ** 2 / (rest_c - 1))
            p_values = stats.t.sf((mean - rest_mean) / np.sqrt(se2), dof)
            pooled_sd = np.sqrt(((c - 1) * var + (rest_c - 1) * rest_var) / (n - 2))
            effect = (mean - rest_mean) / pooled_sd
    p_values = np.where(np.isfinite(p_values), p_values, 1.0)
    q_values = benjamini_hochberg(p_values)
    overall_loss = float(loss.mean())
    keep = np.flatnonzero((q_values <= fdr) & (mean > rest_mean))
    effect_of = {found.names[index[i]]: float(effect[i]) for i in keep}
    results = []
    for i in keep:
        names = found.names[index[i]]
        if len(names) == 2 and any(effect_of.get((p,), -np.inf) >= effect[i] for p in names):
            continue
        value = 1 - mean[i] if outcomes.is_classification else mean[i]
        overall = 1 - overall_loss if outcomes.is_classification else overall_loss
        results.append(
            DiscoveredSlice(
                name=" & ".join(names),
                conditions=names,
                rows=int(c[i]),
                share=float(c[i] / n),
                loss=float(mean[i]),
                rest_loss=float(rest_mean[i]),
                value=float(value),
                gap=float(value - overall),
                effect_size=float(effect[i]),
                p_value=float(p_values[i]),
                q_value=float(q_values[i]),
            )
        )
    results.sort(key=lambda s: (-s.effect_size, s.q_value, s.name))
    return results[:limit], int(index.size), support


def _show(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _plain(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)
