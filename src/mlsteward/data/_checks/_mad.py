"""Robust z-score outliers of streamed columns in one pass, once the medians are known.

The MAD is the median of ``d = |x - median|``. The profile's bucket histogram of ``x``
(exact counts of values between known bounds) bounds it: a bucket's values lie at
distances between ``dmin`` and ``dmax`` from the median, so at least ``k`` values have
``d <= t`` when the buckets with ``dmax <= t`` hold ``k`` values, and at most ``k`` have
``d < t`` when the buckets with ``dmin < t`` hold ``k``. That gives a window
``[t_low, t_high]`` holding the MAD. One pass then

- counts the ``d`` below the window and collects those inside it (the MAD is exact:
  the collected values are sorted and the rank is read off);
- counts the values that are outliers whatever the MAD in the window (the score
  ``|0.6745 (x - median)| / MAD`` only falls as the MAD grows, and correctly rounded
  division keeps that order), and collects the few whose verdict depends on it.

A column whose window or undecided band would hold more than :data:`WINDOW_LIMIT` values,
or whose MAD may be 0, is left to the caller (who selects the MAD in more passes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from mlsteward.data._checks._select import F64
from mlsteward.data._column_profile import ColumnProfile

__all__ = ["WINDOW_LIMIT", "mad_window", "robust_in_one_pass"]

WINDOW_LIMIT: Final = 1 << 20
"""Values a column may collect (MAD window, undecided outliers) in the one pass."""


def _rank_bound(distances: F64, counts: Any, rank: int) -> float:
    order = np.argsort(distances, kind="stable")
    cumulative = np.cumsum(counts[order])
    index = int(np.searchsorted(cumulative, rank, side="right"))
    return float(distances[order][index])


def mad_window(summary: ColumnProfile, median: float, ranks: list[int]) -> tuple[float, float]:
    """``(t_low, t_high)`` with ``t_low <= d_(r) <= t_high`` for every rank ``r`` in
    ``ranks`` of the distances ``d = |x - median|`` (computed as numpy computes them)."""
    histogram = summary.histogram
    assert histogram is not None and summary.low is not None
    lower, upper = histogram.bounds()
    lower = np.maximum(lower, float(summary.low))
    upper = np.minimum(upper, float(summary.high))
    with np.errstate(invalid="ignore", over="ignore"):
        nearest = np.where(
            upper < median, median - upper, np.where(lower > median, lower - median, 0.0)
        )
        farthest = np.maximum(np.abs(upper - median), np.abs(lower - median))
    counts = histogram.counts
    return _rank_bound(nearest, counts, min(ranks)), _rank_bound(farthest, counts, max(ranks))


@dataclass
class _Column:
    median: float
    low: float
    high: float
    z: float
    below: int = 0
    seen: int = 0
    window: list[F64] = field(default_factory=list)
    undecided: list[F64] = field(default_factory=list)
    collected: int = 0
    sure: int = 0
    sure_min: float = np.inf
    sure_max: float = -np.inf
    overflow: bool = False

    def feed(self, values: F64) -> None:
        self.seen += len(values)
        if self.overflow:
            return
        deviation = values - self.median
        distance = np.abs(deviation)
        self.below += int(np.count_nonzero(distance < self.low))
        inside = distance[(distance >= self.low) & (distance <= self.high)]
        score = np.abs(0.6745 * deviation)
        sure = score / self.high > self.z
        undecided = values[(score / self.low > self.z) & ~sure]
        self.collected += len(inside) + len(undecided)
        if self.collected > WINDOW_LIMIT:
            self.overflow, self.window, self.undecided = True, [], []
            return
        self.window.append(inside)
        self.undecided.append(undecided)
        picked = values[sure]
        if len(picked):
            self.sure += len(picked)
            self.sure_min = min(self.sure_min, float(picked.min()))
            self.sure_max = max(self.sure_max, float(picked.max()))

    def outcome(self, n: int, median_of: Callable[[Callable[[int], float], int], float]) -> Any:
        """``(mad, count, [min, max] of outliers)``, or None when this pass cannot tell."""
        if self.overflow or self.seen != n:
            return None
        window = np.sort(np.concatenate(self.window)) if self.window else np.zeros(0)

        def at(rank: int) -> float:
            position = rank - self.below
            if not 0 <= position < len(window):
                raise IndexError(rank)
            return float(window[position])

        try:
            mad = median_of(at, n)
        except IndexError:
            return None
        if not mad > 0:
            return None
        undecided = np.concatenate(self.undecided) if self.undecided else np.zeros(0)
        picked = undecided[np.abs(0.6745 * (undecided - self.median) / mad) > self.z]
        count = self.sure + len(picked)
        low = min([self.sure_min, *picked.tolist()]) if count else None
        high = max([self.sure_max, *picked.tolist()]) if count else None
        return mad, count, [low, high] if count else []


def robust_in_one_pass(
    summaries: dict[str, ColumnProfile],
    medians: dict[str, float],
    z: float,
    ranks: Callable[[int], list[int]],
    median_of: Callable[[Callable[[int], float], int], float],
    passes: Callable[[list[str]], Iterable[dict[str, F64]]],
) -> dict[str, tuple[float, int, list[Any]]]:
    """``column -> (mad, outliers, [min, max] of outliers)`` for the columns one pass
    settles (see the module docstring); the others are left out."""
    columns: dict[str, _Column] = {}
    for name, summary in summaries.items():
        if summary.histogram is None or summary.histogram.mapping != "log":
            continue
        low, high = mad_window(summary, medians[name], ranks(summary.count))
        if low > 0 and np.isfinite(high):
            columns[name] = _Column(medians[name], low, high, z)
    if not columns:
        return {}
    for batch in passes(list(columns)):
        for name, values in batch.items():
            columns[name].feed(values)
    settled = {}
    for name, column in columns.items():
        outcome = column.outcome(summaries[name].count, median_of)
        if outcome is not None:
            settled[name] = outcome
    return settled
