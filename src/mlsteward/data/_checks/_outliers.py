"""Outliers: robust z-score or Tukey's IQR fences, computed exactly without holding columns.

The rules (see :func:`~mlsteward.data._checks._stats.outlier_mask`, which states them on
an array) need order statistics: the median and the MAD, or the quartiles. They come out
exactly as ``np.median`` and ``np.quantile`` give them on the whole column:

- while the stored profile keeps a column's exact value counts (at most 1,024 distinct
  values: ages, counts, codes), from those counts alone, without reading the data;
- otherwise by streamed selection (:mod:`~mlsteward.data._checks._select`): the profile's
  bucket histogram locates the median (or quartiles), a pass collects that bucket's
  values; the MAD is selected the same way among ``|x - median|``; a last pass counts
  the outliers. Only the numeric columns still being computed are read, in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlsteward.data._checks._context import CheckContext, as_floats, result
from mlsteward.data._checks._mad import robust_in_one_pass
from mlsteward.data._checks._select import F64, Rank, StaleCounts, select
from mlsteward.data._checks._spec import OutliersCheck
from mlsteward.data._checks._stats import outlier_mask
from mlsteward.data._column_profile import ColumnProfile
from mlsteward.data._records import CheckResult

__all__ = ["Rule", "check_outliers", "column_outliers", "numpy_quantile"]

_QUARTILES = (0.25, 0.75)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def numpy_quantile(at: Any, n: int, q: float) -> float:
    """``np.quantile(values, q)`` (linear) of ``n`` values, from ``at(rank)`` giving the
    value of a rank: the two neighbouring order statistics, interpolated by numpy itself."""
    virtual = (n - 1) * np.float64(q)
    if virtual >= n - 1:
        top = at(n - 1)
        return float(np.quantile(np.array([top, top]), 0.0))
    below = int(np.floor(virtual))
    pair = np.array([at(below), at(below + 1)])
    return float(np.quantile(pair, float(virtual - below)))


def _median(at: Any, n: int) -> float:
    """``np.median`` of ``n`` values from ``at(rank)``."""
    if n % 2:
        return float(np.mean(np.array([at(n // 2)])))
    return float(np.mean(np.array([at(n // 2 - 1), at(n // 2)])))


def _median_ranks(n: int) -> list[int]:
    return [n // 2 - 1, n // 2] if n % 2 == 0 else [n // 2]


def _quartile_ranks(n: int) -> list[int]:
    ranks: set[int] = set()
    for q in _QUARTILES:
        virtual = (n - 1) * np.float64(q)
        below = min(int(np.floor(virtual)), n - 1)
        ranks.update({below, min(below + 1, n - 1)})
    return sorted(ranks)


@dataclass
class Rule:
    """The outlier rule of one column, once its statistics are known."""

    method: str  # "robust_z", "iqr" or "none"
    text: str
    center: float = 0.0
    scale: float = 1.0
    z: float = 0.0
    low: float = 0.0
    high: float = 0.0

    def mask(self, values: F64) -> Any:
        """The same comparisons as ``outlier_mask`` (so the same floats decide)."""
        if self.method == "robust_z":
            return np.abs(0.6745 * (values - self.center) / self.scale) > self.z
        if self.method == "iqr":
            return (values < self.low) | (values > self.high)
        return np.zeros(values.shape, dtype=bool)


def _rule(check: OutliersCheck, median: float | None, mad: float | None, quartiles: Any) -> Rule:
    """The rule ``outlier_mask`` applies, given the statistics it would compute."""
    if check.method == "robust_z" and mad is not None and mad > 0:
        assert median is not None
        return Rule("robust_z", f"|robust z| > {check.z}", median, mad, check.z)
    q1, q3 = quartiles()
    iqr = float(q3 - q1)
    if iqr == 0:
        return Rule("none", "IQR is 0")
    k = check.iqr_k
    return Rule("iqr", f"outside [Q1 - {k} IQR, Q3 + {k} IQR]", low=q1 - k * iqr, high=q3 + k * iqr)


def _from_counts(check: OutliersCheck, exact: Any) -> dict[str, Any]:
    """Outliers of a column from its exact value counts (sorted distinct values)."""
    values, counts = exact.representatives(), exact.counts
    n = int(counts.sum())
    cumulative = np.cumsum(counts)

    def at(rank: int) -> float:
        return float(values[int(np.searchsorted(cumulative, rank, side="right"))])

    median = mad = None
    if check.method == "robust_z":
        median = _median(at, n)
        deviations = np.abs(values - median)
        order = np.argsort(deviations, kind="stable")
        sorted_dev, dev_cumulative = deviations[order], np.cumsum(counts[order])
        mad = _median(
            lambda r: float(sorted_dev[int(np.searchsorted(dev_cumulative, r, side="right"))]),
            n,
        )
    rule = _rule(check, median, mad, lambda: [numpy_quantile(at, n, q) for q in _QUARTILES])
    flagged = rule.mask(values)
    count = int(counts[flagged].sum())
    extremes = [float(values[flagged].min()), float(values[flagged].max())] if count else []
    return {"outliers": count, "share": count / max(n, 1), "rule": rule.text, "range": extremes}


def _in_memory(check: OutliersCheck, values: F64) -> dict[str, Any]:
    mask, rule = outlier_mask(values, check.method, check.z, check.iqr_k)
    count = int(mask.sum())
    extremes = [float(values[mask].min()), float(values[mask].max())] if count else []
    return {
        "outliers": count,
        "share": count / max(values.size, 1),
        "rule": rule,
        "range": extremes,
    }


def _value(ranks: dict[int, Rank]) -> Callable[[int], float]:
    def at(rank: int) -> float:
        found = ranks[rank].value
        assert found is not None, "every rank is selected before it is read"
        return found

    return at


def _quartiles(ranks: dict[int, Rank], n: int) -> Callable[[], list[float]]:
    return lambda: [numpy_quantile(_value(ranks), n, q) for q in _QUARTILES]


def _passes(ctx: CheckContext, center: dict[str, float] | None = None) -> Any:
    """A pass over the data: per batch, each column's values (``|x - center|`` with a
    ``center``)."""

    def run(columns: list[str]) -> Iterator[dict[str, F64]]:
        for batch in ctx.data.batches(columns):
            values = {c: as_floats(batch.column(i)) for i, c in enumerate(columns)}
            if center is not None:
                values = {c: np.abs(v - center[c]) for c, v in values.items()}
            yield values

    return run


def _ranks(
    summaries: dict[str, ColumnProfile], which: Callable[[int], list[int]], histogram: bool
) -> dict[str, dict[int, Rank]]:
    """Ranks to select per column (starting from the profile's histogram, or not)."""
    return {
        c: {r: Rank.of(r, s.count, s.histogram if histogram else None) for r in which(s.count)}
        for c, s in summaries.items()
    }


def _select(ctx: CheckContext, ranks: dict[str, dict[int, Rank]], center: Any = None) -> None:
    select({c: list(rs.values()) for c, rs in ranks.items()}, _passes(ctx, center))


def _count(
    ctx: CheckContext, rules: dict[str, Rule], sizes: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """One pass counting each column's outliers under its rule."""
    counts = dict.fromkeys(rules, 0)
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for batch in _passes(ctx)(list(rules)) if rules else []:
        for c, values in batch.items():
            picked = values[rules[c].mask(values)]
            if len(picked):
                counts[c] += len(picked)
                lows[c] = min(lows.get(c, np.inf), float(picked.min()))
                highs[c] = max(highs.get(c, -np.inf), float(picked.max()))
    return {
        c: {
            "outliers": counts[c],
            "share": counts[c] / max(sizes[c], 1),
            "rule": rules[c].text,
            "range": [lows[c], highs[c]] if counts[c] else [],
        }
        for c in rules
    }


def _streamed(
    check: OutliersCheck, ctx: CheckContext, summaries: dict[str, ColumnProfile]
) -> dict[str, dict[str, Any]]:
    """Outliers of columns without exact value counts, by streamed selection: quartiles
    (IQR) then a counting pass; or medians, then MAD and counts in one pass where the
    profile bounds the MAD tightly enough, else MAD (and quartiles where it is 0) by
    selection and a counting pass."""
    sizes = {c: s.count for c, s in summaries.items()}
    if check.method == "iqr":
        quartile_ranks = _ranks(summaries, _quartile_ranks, histogram=True)
        _select(ctx, quartile_ranks)
        rules = {
            c: _rule(check, None, None, _quartiles(quartile_ranks[c], sizes[c])) for c in summaries
        }
        return _count(ctx, rules, sizes)
    median_ranks = _ranks(summaries, _median_ranks, histogram=True)
    _select(ctx, median_ranks)
    medians = {c: _median(_value(rs), sizes[c]) for c, rs in median_ranks.items()}
    found: dict[str, dict[str, Any]] = {}
    settled = robust_in_one_pass(summaries, medians, check.z, _median_ranks, _median, _passes(ctx))
    for c, (_, count, extremes) in settled.items():
        found[c] = {
            "outliers": count,
            "share": count / max(sizes[c], 1),
            "rule": f"|robust z| > {check.z}",
            "range": extremes,
        }
    rest = {c: s for c, s in summaries.items() if c not in found}
    deviation_ranks = _ranks(rest, _median_ranks, histogram=False)
    _select(ctx, deviation_ranks, medians)
    mads = {c: _median(_value(rs), sizes[c]) for c, rs in deviation_ranks.items()}
    flat = {c: s for c, s in rest.items() if mads[c] == 0}  # the rule falls back to the IQR
    quartile_ranks = _ranks(flat, _quartile_ranks, histogram=True)
    _select(ctx, quartile_ranks)
    rules = {
        c: _rule(check, medians[c], mads[c], _quartiles(quartile_ranks.get(c, {}), sizes[c]))
        for c in rest
    }
    found.update(_count(ctx, rules, sizes))
    return found


def column_outliers(
    check: OutliersCheck, ctx: CheckContext, columns: list[str]
) -> dict[str, dict[str, Any]]:
    """Outliers per numeric column: exact counts from the profile where it has them,
    streamed selection for the others (in-memory ``outlier_mask`` if the data and the
    profile disagree, which a stored profile never should)."""
    found: dict[str, dict[str, Any]] = {}
    streamed: dict[str, ColumnProfile] = {}
    for name in columns:
        summary = ctx.data.summary(name)
        if summary.kind != "numeric" or summary.count == 0:
            found[name] = _in_memory(check, ctx.data.numeric(name))
        elif summary.exact_values is not None:
            found[name] = _from_counts(check, summary.exact_values)
        else:
            streamed[name] = summary
    for name, summary in list(streamed.items()):
        if (
            not (np.isfinite(summary.low) and np.isfinite(summary.high))
            and summary.infinite * 2 >= summary.count
        ):
            del streamed[name]  # mostly infinite: the median itself may be infinite
            found[name] = _in_memory(check, ctx.data.numeric(name))
    if streamed:
        try:
            found.update(_streamed(check, ctx, streamed))
        except StaleCounts:
            for name in streamed:
                found[name] = _in_memory(check, ctx.data.numeric(name))
    return {name: found[name] for name in columns}


def check_outliers(check: OutliersCheck, ctx: CheckContext) -> CheckResult:
    columns = ctx.columns_of({"numeric"}, check.columns, skip_time=True)
    if not columns:
        return result(check, "skipped", "No numeric columns.")
    found = column_outliers(check, ctx, columns)
    bad = [c for c, v in found.items() if v["share"] > check.max_share]
    details = {
        "columns": found,
        "measured": {c: v["share"] for c, v in found.items()},
        "threshold": check.max_share,
    }
    if not bad:
        return result(
            check,
            "pass",
            f"Outlier shares within {_pct(check.max_share)} in {len(columns)} numeric columns.",
            details=details,
        )
    parts = [
        f"{c} {found[c]['outliers']} ({_pct(found[c]['share'])}, {found[c]['rule']})" for c in bad
    ]
    return result(
        check,
        "fail",
        f"Outliers above {_pct(check.max_share)}: " + "; ".join(parts) + ".",
        columns=bad,
        details=details,
    )
