"""The mergeable profile of one column, and what can be read from it.

A :class:`ColumnProfile` holds only *mergeable state*: counts, the exact min and max, the
moments of the finite values (count, mean, sum of squared deviations; merged with Chan et
al.'s parallel formulas), a :class:`~mlsteward.data._sketches.BucketHistogram`, a
:class:`~mlsteward.data._sketches.FrequentItems` summary and a
:class:`~mlsteward.data._hll.HyperLogLog` sketch. Everything else (quantiles, display
histograms, distinct counts, top categories) is derived from that state, so a profile
merged from partitions answers exactly like the profile of the whole data for counts,
missing values, min, max and histograms, within float rounding for mean and std, and
within the stated errors for quantiles, distinct counts and capped category counts.

Column kinds (how a logical type is summarised):

``numeric``      numbers as float64: moments, log-bucket histogram, distinct (HLL), and
                 exact value counts while there are at most 1,024 distinct values
``datetime``     timestamps as microseconds since the epoch (UTC): moments, day buckets
``categorical``  category values: frequent items (exact up to a capacity) and distinct
``other``        nested or binary values: count and missing only
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mlsteward.core import InvalidInput
from mlsteward.data._hll import HyperLogLog
from mlsteward.data._sketches import EXACT_CAPACITY, BucketHistogram, FrequentItems

__all__ = ["QUANTILES", "ColumnProfile", "Moments"]

QUANTILES: Final[dict[str, float]] = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations (``m2``) of the finite values."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: npt.NDArray[np.float64]) -> Moments:
        n = len(values)
        if n == 0:
            return cls()
        mean = float(values.mean())
        deviations = values - mean
        np.square(deviations, out=deviations)  # not np.dot: BLAS threads cost more here
        return cls(n, mean, float(deviations.sum()))

    def merge(self, other: Moments) -> Moments:
        """Chan, Golub and LeVeque's pairwise update (exact up to float rounding)."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.count * other.count / n)
        return Moments(n, mean, m2)

    @property
    def std(self) -> float | None:
        """Sample standard deviation (``ddof=1``, like pandas and SQL ``stddev``)."""
        if self.count < 2:
            return None
        return math.sqrt(max(self.m2, 0.0) / (self.count - 1))


def _encode_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf"
    return value


def _decode_number(value: Any) -> Any:
    return float(value) if isinstance(value, str) else value


def _minimum(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None or a <= b else b


def _maximum(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None or a >= b else b


def _micros_to_datetime(value: float | None, aware: bool) -> datetime | None:
    if value is None or math.isnan(value):
        return None
    moment = _EPOCH + timedelta(microseconds=int(value))
    return moment if aware else moment.replace(tzinfo=None)


@dataclass(frozen=True, eq=False)
class ColumnProfile:
    """Mergeable summary of one column (see the module docstring for each kind).

    ``count`` counts present values and ``missing`` nulls (and NaN in float columns);
    ``infinite`` counts ``inf``/``-inf``, which take part in min, max, histogram and
    quantiles but not in mean and std. ``low``/``high`` hold the exact min and max in the
    column's internal scale (microseconds for datetimes); read :attr:`min` and :attr:`max`.
    ``exact_values`` counts every distinct number while there are at most 1,024 of them
    (``None`` beyond); quantiles, bin counts and distinct counts are then exact.
    """

    name: str
    logical_type: str
    kind: str
    count: int = 0
    missing: int = 0
    low: Any = None
    high: Any = None
    moments: Moments | None = None
    infinite: int = 0
    integral: bool = True
    histogram: BucketHistogram | None = None
    exact_values: BucketHistogram | None = None
    categories: FrequentItems | None = None
    hll: HyperLogLog | None = None
    timezone: str | None = None

    # -- plain values ----------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return self.count + self.missing

    @property
    def missing_rate(self) -> float:
        """Share of rows where the value is missing (0.0 for an empty column)."""
        return self.missing / self.rows if self.rows else 0.0

    def value_of(self, raw: float | None) -> Any:
        """An internal value (microseconds for datetimes) as a value of the column."""
        if raw is None:
            return None
        if self.kind == "datetime":
            return _micros_to_datetime(raw, self.timezone is not None)
        return raw

    @property
    def min(self) -> Any:
        """Exact minimum (a ``datetime`` for datetime columns; ``None`` when empty)."""
        return self.value_of(self.low) if self.kind == "datetime" else self.low

    @property
    def max(self) -> Any:
        """Exact maximum (a ``datetime`` for datetime columns; ``None`` when empty)."""
        return self.value_of(self.high) if self.kind == "datetime" else self.high

    @property
    def mean(self) -> Any:
        """Mean of the finite values (a ``datetime`` for datetimes), ``None`` when none."""
        if self.moments is None or self.moments.count == 0:
            return None
        return self.value_of(self.moments.mean)

    @property
    def std(self) -> Any:
        """Sample standard deviation (``ddof=1``; a ``timedelta`` for datetimes)."""
        std = None if self.moments is None else self.moments.std
        if std is None or self.kind != "datetime":
            return std
        return timedelta(microseconds=std)

    # -- distinct values -------------------------------------------------------------------
    @property
    def distinct_exact(self) -> bool:
        """True when :attr:`distinct` is an exact count, not an estimate."""
        return (
            self.count == 0
            or (self.categories is not None and self.categories.exact)
            or self.exact_values is not None
        )

    @property
    def distinct(self) -> int | None:
        """Number of distinct present values: exact when :attr:`distinct_exact`, else a
        HyperLogLog estimate with :attr:`distinct_error` relative standard error.
        ``None`` for ``other`` columns."""
        if self.count == 0:
            return 0
        if self.categories is not None and self.categories.exact:
            return len(self.categories.values)
        if self.exact_values is not None:
            return len(self.exact_values.keys)
        if self.hll is None:
            return None
        return round(self.hll.estimate())

    @property
    def distinct_error(self) -> float:
        """Relative standard error of :attr:`distinct` (0.0 when exact)."""
        if self.distinct_exact or self.hll is None:
            return 0.0
        return self.hll.relative_standard_error

    # -- distribution ----------------------------------------------------------------------
    def _need_histogram(self, what: str) -> BucketHistogram:
        if self.exact_values is not None:
            return self.exact_values
        if self.histogram is None:
            raise InvalidInput(
                f"Column {self.name!r} is {self.logical_type} ({self.kind}); {what} exists "
                "only for numeric and datetime columns. Use top_categories() or "
                "category_frequencies() for categories."
            )
        return self.histogram

    def quantile(self, q: float | npt.ArrayLike) -> Any:
        """Quantile(s) at rank ``floor(q * (count - 1))`` (numpy ``method="lower"``).

        Numeric: exact while :attr:`exact_values` is kept (at most 1,024 distinct values),
        otherwise within relative error 1/129 (0.78 %) of the true order statistic (exact
        for integers up to 128 in magnitude, and for ``q`` of 0 and 1). Datetime: the start
        of the UTC day of the true value. Array input gives an array of floats.
        """
        histogram = self._need_histogram("a quantile")
        values = histogram.quantiles(
            np.atleast_1d(np.asarray(q, dtype=np.float64)),
            low=float(self.low) if self.low is not None else math.nan,
            high=float(self.high) if self.high is not None else math.nan,
            integral=self.integral,
        )
        if np.ndim(q) > 0:
            return values
        value = float(values[0])
        if math.isnan(value):
            return None
        return self.value_of(value)

    @property
    def quantiles(self) -> dict[str, Any]:
        """The quantiles p01, p05, p25, p50, p75, p95 and p99 (empty if not numeric)."""
        if self.histogram is None:
            return {}
        return {key: self.quantile(q) for key, q in QUANTILES.items()}

    def histogram_on(self, edges: npt.ArrayLike, *, clip: bool = True) -> npt.NDArray[np.int64]:
        """Counts on chosen bins ``[e0, e1), ..., [e_{k-1}, e_k]`` (edges may be +-inf).

        Exact while :attr:`exact_values` is kept, and when every edge falls between
        occupied buckets; otherwise only values within the bucket error of an edge (0.78 %
        relative for numbers, one day for datetimes) can be counted in the neighbouring
        bin. Deterministic, so two profiles (or a merged one) can be compared bin by bin
        (PSI, Jensen-Shannon, chi-squared). With ``clip``, values outside the edges count
        in the outer bins. Datetime edges are microseconds since the epoch.
        """
        histogram = self._need_histogram("histogram_on()")
        return histogram.counts_on(
            edges,
            low=float(self.low) if self.low is not None else -math.inf,
            high=float(self.high) if self.high is not None else math.inf,
            clip=clip,
            integral=self.integral,
        )

    def distribution(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """``(values, counts)``, sorted: every distinct value while :attr:`exact_values` is
        kept, otherwise one representative per bucket (within the bucket error of every
        value it stands for), clamped to the exact min and max. Weighted samples for
        distances between two summaries, e.g. ``scipy.stats.wasserstein_distance(v1, v2,
        c1, c2)`` or a two-sample KS statistic from the weighted CDFs."""
        histogram = self._need_histogram("distribution()")
        values = histogram.representatives(integral=self.integral)
        if self.low is not None:
            values = np.clip(values, float(self.low), float(self.high))
        return values, histogram.counts.copy()

    def histogram_edges(self, bins: int = 20) -> npt.NDArray[np.float64]:
        """Display edges: equal-width between min and max (of the finite values; infinite
        ones count in the outer bins), one bin per integer when the column holds at most
        ``bins`` consecutive integers."""
        histogram = self._need_histogram("a histogram")
        if self.count == 0 or self.low is None:
            return np.zeros(0)
        low, high = float(self.low), float(self.high)
        if not math.isfinite(low) or not math.isfinite(high):  # infinities go to outer bins
            reps = histogram.representatives(integral=self.integral)
            finite = reps[np.isfinite(reps)]
            if not len(finite):
                return np.zeros(0)  # every value is infinite: nothing to draw
            low = low if math.isfinite(low) else float(finite.min())
            high = high if math.isfinite(high) else float(finite.max())
        if self.integral and high - low < bins:
            return np.arange(low - 0.5, high + 1.0, 1.0)
        if high <= low:
            return np.array([low - 0.5, high + 0.5])
        return np.linspace(low, high, bins + 1)

    def histogram_counts(
        self, bins: int = 20
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """``(edges, counts)`` of a display histogram (see :meth:`histogram_edges`)."""
        edges = self.histogram_edges(bins)
        if len(edges) < 2:
            return edges, np.zeros(0, np.int64)
        return edges, self.histogram_on(edges)

    # -- categories ------------------------------------------------------------------------
    def top_categories(self, n: int = 10) -> list[tuple[Any, int]]:
        """The ``n`` most frequent values with counts (lower bounds, short by at most
        :attr:`category_error`; exact when it is 0). Empty if not categorical."""
        return [] if self.categories is None else self.categories.top(n)

    def category_frequencies(self) -> dict[Any, int]:
        """Every kept category with its count (all of them while exact)."""
        if self.categories is None:
            return {}
        return dict(self.categories.top(len(self.categories.values)))

    @property
    def category_error(self) -> int:
        """Upper bound of how much any category count may be short (0 = exact counts)."""
        return 0 if self.categories is None else self.categories.error

    # -- merging ---------------------------------------------------------------------------
    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """The profile of both inputs' rows (see the module docstring for exactness)."""
        if (other.logical_type, other.kind) != (self.logical_type, self.kind):
            raise InvalidInput(
                f"Cannot merge profiles of column {self.name!r}: it is {self.logical_type} "
                f"({self.kind}) in one and {other.logical_type} ({other.kind}) in the other. "
                "Profile both with the same column_types."
            )

        def both(a: Any, b: Any) -> Any:
            if a is None:
                return b
            return a if b is None else a.merge(b)

        categories = both(self.categories, other.categories)  # checks the value kinds first
        exact = self._merge_exact(other)
        return replace(
            self,
            count=self.count + other.count,
            missing=self.missing + other.missing,
            low=_minimum(self.low, other.low),
            high=_maximum(self.high, other.high),
            moments=both(self.moments, other.moments),
            infinite=self.infinite + other.infinite,
            integral=self.integral and other.integral,
            histogram=both(self.histogram, other.histogram),
            exact_values=exact,
            categories=categories,
            hll=both(self.hll, other.hll),
            timezone=self.timezone or other.timezone,
        )

    def _merge_exact(self, other: ColumnProfile) -> BucketHistogram | None:
        """Exact value counts of both, or None once they pass EXACT_CAPACITY values."""
        if other.count == 0:
            return self.exact_values
        if self.count == 0:
            return other.exact_values
        if self.exact_values is None or other.exact_values is None:
            return None
        merged = self.exact_values.merge(other.exact_values)
        return None if len(merged.keys) > EXACT_CAPACITY else merged

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ColumnProfile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-compatible values (see :meth:`DatasetProfile.to_dict`)."""
        numeric = self.kind in ("numeric", "datetime")
        return {
            "name": self.name,
            "logical_type": self.logical_type,
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "low": _encode_number(self.low) if numeric else self.low,
            "high": _encode_number(self.high) if numeric else self.high,
            "moments": None
            if self.moments is None
            else {"count": self.moments.count, "mean": self.moments.mean, "m2": self.moments.m2},
            "infinite": self.infinite,
            "integral": self.integral,
            "histogram": None if self.histogram is None else self.histogram.to_dict(),
            "exact_values": None if self.exact_values is None else self.exact_values.to_dict(),
            "categories": None if self.categories is None else self.categories.to_dict(),
            "hll": None if self.hll is None else self.hll.to_dict(),
            "timezone": self.timezone,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        numeric = data["kind"] in ("numeric", "datetime")
        moments = data.get("moments")
        return cls(
            name=data["name"],
            logical_type=data["logical_type"],
            kind=data["kind"],
            count=int(data["count"]),
            missing=int(data["missing"]),
            low=_decode_number(data["low"]) if numeric else data["low"],
            high=_decode_number(data["high"]) if numeric else data["high"],
            moments=None if moments is None else Moments(**moments),
            infinite=int(data.get("infinite", 0)),
            integral=bool(data.get("integral", True)),
            histogram=None
            if data.get("histogram") is None
            else BucketHistogram.from_dict(data["histogram"]),
            exact_values=None
            if data.get("exact_values") is None
            else BucketHistogram.from_dict(data["exact_values"]),
            categories=None
            if data.get("categories") is None
            else FrequentItems.from_dict(data["categories"]),
            hll=None if data.get("hll") is None else HyperLogLog.from_dict(data["hll"]),
            timezone=data.get("timezone"),
        )

    def summary(self, *, bins: int = 20, top: int = 20) -> dict[str, Any]:
        """Derived statistics as JSON-compatible values (datetimes as ISO 8601 text)."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, timedelta):
                return value.total_seconds()
            if isinstance(value, float) and not math.isfinite(value):
                return None if math.isnan(value) else str(value)
            return value

        out: dict[str, Any] = {
            "name": self.name,
            "logical_type": self.logical_type,
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "missing_rate": self.missing_rate,
            "distinct": self.distinct,
            "distinct_exact": self.distinct_exact,
            "distinct_relative_error": self.distinct_error,
            "exact_distribution": self.exact_values is not None,
            "min": plain(self.min),
            "max": plain(self.max),
        }
        if self.kind in ("numeric", "datetime"):
            edges, counts = self.histogram_counts(bins)
            out.update(
                mean=plain(self.mean),
                std=plain(self.std),
                infinite=self.infinite,
                quantiles={k: plain(v) for k, v in self.quantiles.items()},
                histogram={
                    "edges": [plain(self.value_of(e)) for e in edges.tolist()],
                    "counts": counts.tolist(),
                },
            )
        if self.categories is not None:
            kept = int(self.categories.counts.sum())
            out.update(
                top_categories=[{"value": v, "count": c} for v, c in self.top_categories(top)],
                categories_kept=len(self.categories.values),
                other_count=self.count - sum(c for _, c in self.top_categories(top)),
                category_error=self.category_error,
                unsummarised_count=self.count - kept,
            )
        return out
