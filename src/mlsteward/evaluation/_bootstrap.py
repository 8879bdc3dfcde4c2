"""Vectorised bootstrap: every statistic of an evaluation on every resample, at once.

Resample ``b`` draws ``n`` row indices with replacement,
``rng.integers(0, n, size=n)`` from ``numpy.random.default_rng(seed)``, in order
``b = 0, 1, ...``; the same seed gives the same indices, so a slow loop over resamples
reproduces every draw (the tests do exactly that). Indices become *weights*: how many
times each row was drawn. For a chunk of resamples the weights form a matrix ``W``
(resamples x rows), and

- every statistic that is a function of weighted sums (accuracy, confusion counts, log
  loss, group rates for fairness, slice error rates, business value) is computed from
  one matrix product ``W @ columns`` shared by all statistics;
- ranking metrics (ROC AUC, PR AUC) use ``W`` in score order with cumulative sums.

Chunks bound memory (``max_elements`` weights at a time); nothing loops over single
resamples in Python. Intervals are percentile intervals of the resampled values.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlsteward.core import InvalidInput
from mlsteward.evaluation._metrics import Array, MetricKernel

__all__ = [
    "BootstrapResult",
    "Estimate",
    "KernelStatistic",
    "Resampler",
    "Statistic",
    "interval",
    "run_bootstrap",
]

DEFAULT_MAX_ELEMENTS = 4_000_000
MIN_VALID_SHARE = 0.5
"""An interval needs the statistic to be defined on at least this share of resamples."""


class Statistic(abc.ABC):
    """Something measured on weighted rows, for the point estimate and every resample.

    Contract: :meth:`columns` returns per-row quantities (rows x k, float64) or None;
    :meth:`finish` receives their weighted sums (resamples x k; empty when there are no
    columns) and the weights (resamples x rows) and returns named arrays of one value
    per resample. With all weights 1 the values are the point estimates. ``finish``
    must not modify its inputs.
    """

    name: str = "statistic"

    def columns(self) -> Array | None:
        return None

    def preferred_order(self) -> Array | None:
        """A row order in which this statistic reads weights fastest (None: any)."""
        return None

    def bind(self, order: Array | None) -> None:  # noqa: B027 - optional hook
        """Weights will arrive with column ``j`` for original row ``order[j]`` (None: as
        given). Statistics that read weights per row (not only sums) must honour it."""

    @abc.abstractmethod
    def finish(self, sums: Array, weights: Array) -> dict[str, Array]: ...


class KernelStatistic(Statistic):
    """The headline metrics of one model (a :class:`MetricKernel`) as a statistic."""

    def __init__(self, kernel: MetricKernel, name: str = "metrics") -> None:
        self.kernel = kernel
        self.name = name

    def columns(self) -> Array:
        return self.kernel.columns

    def preferred_order(self) -> Array | None:
        return self.kernel.preferred_order()

    def bind(self, order: Array | None) -> None:
        self.kernel.bind(order)

    def finish(self, sums: Array, weights: Array) -> dict[str, Array]:
        return self.kernel.finish(sums, weights)


class Resampler:
    """Bootstrap weights for ``n_boot`` resamples of ``n`` rows, in chunks.

    >>> r = Resampler(5, 3, seed=0)
    >>> [w.sum(axis=1).tolist() for w in r.chunks()]
    [[5.0, 5.0, 5.0]]
    """

    def __init__(
        self, n: int, n_boot: int, seed: int = 0, *, max_elements: int = DEFAULT_MAX_ELEMENTS
    ) -> None:
        if n < 1:
            raise InvalidInput("The bootstrap needs at least one row; the data is empty.")
        if n_boot < 0:
            raise InvalidInput(f"n_boot is the number of resamples (0 or more), got {n_boot}.")
        self.n = n
        self.n_boot = n_boot
        self.seed = seed
        self.chunk = max(1, min(n_boot, max_elements // n)) if n_boot else 0

    def index_chunks(self) -> Iterator[Array]:
        """Row indices of each resample, ``chunk`` resamples at a time."""
        rng = np.random.default_rng(self.seed)
        done = 0
        while done < self.n_boot:
            m = min(self.chunk, self.n_boot - done)
            yield rng.integers(0, self.n, size=(m, self.n))
            done += m

    def chunks(self, order: Array | None = None) -> Iterator[Array]:
        """Weights (how often each row was drawn) of each resample, as float64 rows.

        With ``order``, column ``j`` holds the weight of original row ``order[j]``: the
        draws are the same, only laid out in that order.
        """
        position = None
        if order is not None:
            position = np.empty(self.n, dtype=np.int64)
            position[order] = np.arange(self.n)
        for idx in self.index_chunks():
            m = idx.shape[0]
            if position is not None:
                idx = position[idx]
            idx += (np.arange(m, dtype=np.int64) * self.n)[:, None]
            counts = np.bincount(idx.ravel(), minlength=m * self.n)
            yield counts.reshape(m, self.n).astype(np.float64)

    def indices(self) -> Array:
        """All indices at once, (n_boot, n): for small data and for checking."""
        parts = list(self.index_chunks())
        return np.concatenate(parts) if parts else np.empty((0, self.n), dtype=np.int64)


@dataclass
class BootstrapResult:
    """Point estimates and resampled values of each statistic, in the order given."""

    point: list[dict[str, float]]
    draws: list[dict[str, Array]]
    n_boot: int
    seed: int
    timings: dict[str, float] = field(default_factory=dict)


def _evaluate(
    statistics: Sequence[Statistic], spans: list[tuple[int, int]], matrix: Array, weights: Array
) -> tuple[list[dict[str, Array]], dict[str, float]]:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    sums = weights @ matrix.T if matrix.shape[0] else np.empty((weights.shape[0], 0))
    timings["sums"] = time.perf_counter() - start
    out = []
    for statistic, (a, b) in zip(statistics, spans, strict=True):
        start = time.perf_counter()
        out.append(statistic.finish(sums[:, a:b], weights))
        timings[statistic.name] = timings.get(statistic.name, 0.0) + time.perf_counter() - start
    return out, timings


def run_bootstrap(
    n: int,
    statistics: Sequence[Statistic],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> BootstrapResult:
    """Point estimates and ``n_boot`` bootstrap values of every statistic.

    Weights are laid out in the first preferred row order of the statistics (the score
    order of the main model) and every statistic is told so (:meth:`Statistic.bind`).
    """
    order = next((o for o in (s.preferred_order() for s in statistics) if o is not None), None)
    for statistic in statistics:
        statistic.bind(order)
    blocks: list[Array | None] = []
    spans = []
    width = 0
    for statistic in statistics:
        cols = statistic.columns()
        k = 0 if cols is None else cols.shape[1]
        if cols is not None and cols.shape[0] != n:
            raise InvalidInput(
                f"Statistic {statistic.name!r} gives columns for {cols.shape[0]} rows; the data "
                f"has {n}."
            )
        blocks.append(cols if k else None)
        spans.append((width, width + k))
        width += k
    # one (columns x rows) matrix in the weights' row order, filled block by block
    matrix = np.empty((width, n))
    for cols, (a, b) in zip(blocks, spans, strict=True):
        if cols is not None:
            matrix[a:b] = (cols if order is None else cols[order]).T
    del blocks
    point_values, _ = _evaluate(statistics, spans, matrix, np.ones((1, n)))
    point = [{k: float(v[0]) for k, v in values.items()} for values in point_values]

    with _single_threaded_blas():
        return _resample(statistics, spans, matrix, order, n_boot, seed, max_elements, point)


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread for the bootstrap's matrix products.

    The products are thin (a few dozen resamples at a time) and follow model calls whose
    OpenMP threads keep spinning for a while (scikit-learn's gradient boosting): a
    multi-threaded BLAS then fights them for the cores and runs 10-40x slower on a small
    machine. One thread is fast and predictable.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency of scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _resample(
    statistics: Sequence[Statistic],
    spans: list[tuple[int, int]],
    matrix: Array,
    order: Array | None,
    n_boot: int,
    seed: int,
    max_elements: int,
    point: list[dict[str, float]],
) -> BootstrapResult:
    resampler = Resampler(matrix.shape[1], n_boot, seed, max_elements=max_elements)
    collected: list[dict[str, list[Array]]] = [{} for _ in statistics]
    timings: dict[str, float] = {"weights": 0.0}
    chunks = resampler.chunks(order)
    while True:
        start = time.perf_counter()
        weights = next(chunks, None)
        timings["weights"] += time.perf_counter() - start
        if weights is None:
            break
        values, chunk_timings = _evaluate(statistics, spans, matrix, weights)
        for key, seconds in chunk_timings.items():
            timings[key] = timings.get(key, 0.0) + seconds
        for store, part in zip(collected, values, strict=True):
            for key, array in part.items():
                store.setdefault(key, []).append(array)
    draws = [
        {key: np.concatenate(parts) for key, parts in store.items()}
        if n_boot
        else {key: np.empty(0) for key in point_dict}
        for store, point_dict in zip(collected, point, strict=True)
    ]
    return BootstrapResult(point=point, draws=draws, n_boot=n_boot, seed=seed, timings=timings)


def interval(draws: Array, confidence: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of the resampled values (None when too few are defined)."""
    values = np.asarray(draws, dtype=np.float64)
    valid = values[np.isfinite(values)]
    if values.size == 0 or valid.size < MIN_VALID_SHARE * values.size or valid.size < 2:
        return None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(valid, [alpha, 1.0 - alpha])
    return float(low), float(high)


@dataclass(frozen=True)
class Estimate:
    """A measured value with its bootstrap interval (``low``/``high`` None when there is
    none) and how many resamples defined it."""

    value: float
    low: float | None = None
    high: float | None = None
    confidence: float = 0.95
    resamples: int = 0
    valid: int = 0

    @classmethod
    def of(cls, value: float, draws: Array | None, confidence: float = 0.95) -> Estimate:
        if draws is None or len(draws) == 0:
            return cls(float(value), confidence=confidence)
        bounds = interval(draws, confidence)
        valid = int(np.isfinite(draws).sum())
        if bounds is None or not math.isfinite(value):
            return cls(float(value), None, None, confidence, len(draws), valid)
        # a percentile interval can miss the point value when the statistic is skewed
        # and discrete; keep the point inside so that verdicts never contradict it
        low, high = min(bounds[0], value), max(bounds[1], value)
        return cls(float(value), low, high, confidence, len(draws), valid)

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.low is None or self.high is None:
            return None
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": _finite(self.value),
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "valid": self.valid,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Estimate:
        value = data.get("value")
        return cls(
            value=float("nan") if value is None else float(value),
            low=data.get("low"),
            high=data.get("high"),
            confidence=float(data.get("confidence", 0.95)),
            resamples=int(data.get("resamples", 0)),
            valid=int(data.get("valid", 0)),
        )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
