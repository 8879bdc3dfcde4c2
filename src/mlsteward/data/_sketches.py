"""Mergeable sketches for values: bucket histograms and frequent items.

:class:`BucketHistogram` counts values in *fixed, data-independent* buckets, so two
histograms merge by adding counts and ``hist(A).merge(hist(B))`` is identical to
``hist(A + B)``. Two bucket mappings exist:

``log``  (numbers) a bucket is every float64 that shares the sign, the exponent and the
         top ``m`` mantissa bits (``m = 6``): bucket ``[L, U)`` with ``U / L <= 1 + 2**-m``.
         The key is an integer shift of the IEEE-754 bits, so it is exact and identical on
         every platform (no logarithm involved). Like DDSketch, this gives quantiles with a
         *relative* error bound: the representative ``2LU / (L + U)`` of a bucket is within
         ``alpha = 2**-m / (2 + 2**-m) = 1/129`` (0.78 %) of every value in it (for
         ``|x| >= 2.2e-308``; values closer to zero are within 2.2e-308 absolute). Integers
         up to 128 in magnitude get a bucket each and are therefore exact.
``linear`` (datetimes, in microseconds since the epoch) buckets of a fixed width (one
         UTC day); the representative is the bucket start, within one width of every value.
``exact`` (numbers) one bucket per distinct value (the key is the float64 bit pattern made
         order-preserving), so quantiles and bin counts are exact. Numeric columns keep it
         while they have at most :data:`EXACT_CAPACITY` distinct values (years, ages,
         counts, codes); whether a merge keeps it depends only on the union of the values,
         so it merges exactly too.

:class:`FrequentItems` counts category values exactly up to ``capacity`` distinct values;
beyond that it becomes a Misra-Gries summary (mergeable as shown by Agarwal et al.,
"Mergeable summaries", 2012): each kept count ``f'`` satisfies ``f - error <= f' <= f``
where ``error`` (tracked, and at most ``n / (capacity + 1)``) is the total amount
subtracted. While ``error == 0`` the counts are exact and merge exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput

__all__ = [
    "DAY_MICROS",
    "EXACT_CAPACITY",
    "LOG_MANTISSA_BITS",
    "LOG_RELATIVE_ACCURACY",
    "BucketHistogram",
    "FrequentItems",
    "canonical_keys",
]

LOG_MANTISSA_BITS: Final = 6
LOG_RELATIVE_ACCURACY: Final = 2.0**-LOG_MANTISSA_BITS / (2.0 + 2.0**-LOG_MANTISSA_BITS)
DAY_MICROS: Final = 86_400 * 1_000_000
EXACT_CAPACITY: Final = 1024
_FLIP: Final = np.int64(0x7FFFFFFFFFFFFFFF)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _bincount_keys(keys: I64) -> tuple[I64, I64]:
    """Distinct keys (sorted) and their counts, by one bincount over the key range."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    if span <= 4 * len(keys) + 1024:
        counts = np.bincount(keys - low, minlength=span)
        nonzero = np.flatnonzero(counts)
        return (nonzero + low).astype(np.int64), counts[nonzero].astype(np.int64)
    unique, counts = np.unique(keys, return_counts=True)
    return unique.astype(np.int64), counts.astype(np.int64)


def _sortable(values: F64) -> I64:
    """float64 -> int64 keys in the same order (IEEE bits, negatives flipped)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, bits ^ _FLIP, bits)


def _unsortable(keys: I64) -> F64:
    bits = np.where(keys < 0, keys ^ _FLIP, keys)
    return np.ascontiguousarray(bits, dtype=np.int64).view(np.float64)


@dataclass(frozen=True, eq=False)
class BucketHistogram:
    """Counts of values in fixed buckets: sorted ``keys`` and positive ``counts``.

    ``mapping`` is ``"log"`` or ``"exact"`` (float64 values) or ``"linear"`` (int64
    values, ``width`` apart); see the module docstring for the bounds. Immutable: combine
    with :meth:`merge`.
    """

    mapping: str
    keys: I64
    counts: I64
    width: int = 0

    # -- construction --------------------------------------------------------------------
    @classmethod
    def empty(cls, mapping: str = "log", width: int = 0) -> BucketHistogram:
        return cls(mapping, np.zeros(0, np.int64), np.zeros(0, np.int64), width)

    @classmethod
    def of_floats(cls, values: F64) -> BucketHistogram:
        """Log buckets of float64 values (NaN must be removed first; ``inf`` is allowed)."""
        magnitude = np.abs(values).view(np.int64) >> (52 - LOG_MANTISSA_BITS)
        keys = np.where(values < 0, -magnitude - 1, magnitude)
        return cls("log", *_bincount_keys(keys))

    @classmethod
    def of_exact(cls, values: F64, capacity: int = EXACT_CAPACITY) -> BucketHistogram | None:
        """One bucket per distinct float64 value, or ``None`` beyond ``capacity`` values."""
        if len(np.unique(values[: 4 * capacity])) > capacity:  # cheap early exit
            return None
        pairs = pc.value_counts(pa.array(values + 0.0, pa.float64()))  # folds -0.0 into 0.0
        if len(pairs) > capacity:
            return None
        keys = _sortable(pairs.field("values").to_numpy())
        counts = pairs.field("counts").to_numpy().astype(np.int64)
        order = np.argsort(keys)
        return cls("exact", keys[order], counts[order])

    @classmethod
    def of_ticks(cls, values: I64, width: int) -> BucketHistogram:
        """Linear buckets ``[k * width, (k + 1) * width)`` of int64 values."""
        return cls("linear", *_bincount_keys(np.floor_divide(values, width)), width=width)

    # -- algebra -------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def merge(self, other: BucketHistogram) -> BucketHistogram:
        """Bucket-wise sum; identical to the histogram of both inputs together.

        (An ``exact`` histogram that grows beyond its capacity is dropped by the caller.)
        """
        if (self.mapping, self.width) != (other.mapping, other.width):
            raise InvalidInput(
                f"Cannot merge a {self.mapping!r} histogram with a {other.mapping!r} one; "
                "both profiles must treat the column the same way (same logical type)."
            )
        if len(other.keys) == 0:
            return self
        if len(self.keys) == 0:
            return other
        keys = np.concatenate([self.keys, other.keys])
        counts = np.concatenate([self.counts, other.counts])
        unique, inverse = np.unique(keys, return_inverse=True)
        summed = np.zeros(len(unique), np.int64)
        np.add.at(summed, inverse, counts)
        return BucketHistogram(self.mapping, unique.astype(np.int64), summed, self.width)

    # -- bucket geometry -----------------------------------------------------------------
    def _magnitudes(self) -> tuple[npt.NDArray[np.bool_], F64, F64]:
        """Sign and ``[low, high)`` bounds of ``|x|`` for each log bucket."""
        negative = self.keys < 0
        magnitude = np.where(negative, -self.keys - 1, self.keys)
        shift = 52 - LOG_MANTISSA_BITS
        low = (magnitude << shift).view(np.float64)
        high = ((magnitude + 1) << shift).view(np.float64)
        return negative, low, np.where(np.isinf(low), np.inf, high)

    def bounds(self) -> tuple[F64, F64]:
        """Lower and upper bound of each bucket, in key order.

        Buckets are ``[lower, upper)`` for ``linear`` and positive ``log`` keys, and
        ``(lower, upper]`` for negative ``log`` keys (they mirror the positive ones).
        """
        if self.mapping == "linear":
            lower = self.keys.astype(np.float64) * self.width
            return lower, lower + self.width
        if self.mapping == "exact":
            values = _unsortable(self.keys)
            return values, values
        negative, low, high = self._magnitudes()
        return np.where(negative, -high, low), np.where(negative, -low, high)

    def representatives(self, *, integral: bool = False) -> F64:
        """One value per bucket within the stated error of every value in it.

        ``log``: ``2LU / (L + U)`` for the magnitude bucket ``[L, U)``. With ``integral``
        (the column holds integers only) a bucket narrower than 1 holds at most one
        integer, which is returned exactly. ``linear``: the bucket start.
        """
        if self.mapping == "linear":
            return self.keys.astype(np.float64) * self.width
        if self.mapping == "exact":
            return _unsortable(self.keys)
        negative, low, high = self._magnitudes()
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ratio = high / low
            rep = np.where(
                low == 0, 0.0, np.where(np.isinf(high), low, low * (2.0 * ratio / (1.0 + ratio)))
            )
        if integral:
            whole = np.ceil(low)
            rep = np.where((high - low <= 1.0) & (whole < high), whole, rep)
        return np.where(negative, -rep, rep)

    # -- queries -------------------------------------------------------------------------
    def quantiles(
        self, qs: npt.ArrayLike, *, low: float, high: float, integral: bool = False
    ) -> F64:
        """Quantiles at ranks ``floor(q * (n - 1))`` (numpy's ``method="lower"``).

        Each result is within the bucket error of the true order statistic (relative
        ``alpha`` for ``log``, one ``width`` for ``linear``); ``q = 0`` and ``q = 1`` give
        ``low`` and ``high`` (the exact min and max) and results are clamped to them.
        """
        q = np.asarray(qs, dtype=np.float64)
        if np.any((q < 0) | (q > 1)) or np.any(np.isnan(q)):
            raise InvalidInput(f"Quantiles must be in [0, 1], got {q.tolist()}.")
        n = self.total
        if n == 0:
            return np.full(q.shape, np.nan)
        cumulative = np.cumsum(self.counts)
        rank = np.floor(q * (n - 1)).astype(np.int64)
        index = np.searchsorted(cumulative, rank, side="right")
        values = np.clip(self.representatives(integral=integral)[index], low, high)
        values = np.where(q == 0, low, np.where(q == 1, high, values))
        return np.asarray(values, dtype=np.float64)

    def counts_on(
        self,
        edges: npt.ArrayLike,
        *,
        low: float,
        high: float,
        clip: bool = True,
        integral: bool = False,
    ) -> I64:
        """Counts on the bins ``[e0, e1), [e1, e2), ..., [e_{k-1}, e_k]`` (last closed).

        Each bucket goes wholly to the bin holding its representative (clamped to
        ``[low, high]``), so only values within the bucket error of an edge can land in a
        neighbouring bin. With ``clip`` values left of ``e0`` count in the first bin and
        values right of ``e_k`` in the last, so the counts sum to the total; without it,
        they are left out. Edges may be ``-inf`` / ``inf``.
        """
        bins = np.asarray(edges, dtype=np.float64)
        if bins.ndim != 1 or len(bins) < 2 or np.any(np.diff(bins) <= 0) or np.isnan(bins).any():
            raise InvalidInput(
                "Histogram edges must be at least two strictly increasing numbers, "
                f"got {bins.tolist()[:10]}."
            )
        k = len(bins) - 1
        if len(self.keys) == 0:
            return np.zeros(k, np.int64)
        rep = np.clip(self.representatives(integral=integral), low, high)
        index = np.searchsorted(bins, rep, side="right") - 1
        index = np.where(rep == bins[-1], k - 1, index)
        counts = self.counts
        if clip:
            index = np.clip(index, 0, k - 1)
        else:
            inside = (index >= 0) & (index < k)
            index, counts = index[inside], counts[inside]
        out = np.zeros(k, np.int64)
        np.add.at(out, index, counts)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BucketHistogram):
            return NotImplemented
        return (
            (self.mapping, self.width) == (other.mapping, other.width)
            and np.array_equal(self.keys, other.keys)
            and np.array_equal(self.counts, other.counts)
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mapping": self.mapping}
        if self.mapping == "exact":
            out["values"] = [
                v if np.isfinite(v) else str(v) for v in _unsortable(self.keys).tolist()
            ]
        else:
            out["keys"] = self.keys.tolist()
        out["counts"] = self.counts.tolist()
        if self.mapping == "log":
            out["mantissa_bits"] = LOG_MANTISSA_BITS
        elif self.mapping == "linear":
            out["width"] = self.width
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BucketHistogram:
        mapping = data["mapping"]
        if mapping == "log" and data.get("mantissa_bits") != LOG_MANTISSA_BITS:
            raise InvalidInput(
                f"A stored histogram uses {data.get('mantissa_bits')} mantissa bits; this "
                f"Steward reads {LOG_MANTISSA_BITS}. Recompute the profile."
            )
        if mapping not in ("log", "linear", "exact"):
            raise InvalidInput(f"Unknown histogram mapping {mapping!r} in a stored profile.")
        if mapping == "exact":
            keys = _sortable(np.asarray([float(v) for v in data["values"]], dtype=np.float64))
        else:
            keys = np.asarray(data["keys"], dtype=np.int64)
        counts = np.asarray(data["counts"], dtype=np.int64)
        if keys.shape != counts.shape:
            raise InvalidInput("A stored histogram has different numbers of keys and counts.")
        return cls(mapping, keys, counts, int(data.get("width", 0)))


def _key_kind(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "float"
    return "string"


_KIND_TYPES: Final = {
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.large_string(),
}


def canonical_keys(values: pa.Array) -> pa.Array:
    """Category values in the one Arrow type used for their kind (see FrequentItems)."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    key_kind = _key_kind(kind)
    target = _KIND_TYPES[key_kind]
    if kind == target:
        return values
    if key_kind == "int" and pa.types.is_unsigned_integer(kind):
        high = pc.max(values).as_py()
        if high is not None and high > np.iinfo(np.int64).max:
            return pc.cast(values, pa.large_string())
    return pc.cast(values, target)


@dataclass(frozen=True, eq=False)
class FrequentItems:
    """Category counts: exact up to ``capacity`` values, then a Misra-Gries summary.

    ``values`` (an Arrow array of one canonical type: bool, int64, float64 or
    large_string) and ``counts`` are sorted by count (descending) then value. ``error``
    bounds the undercount of every count (0 = exact); ``total`` is the number of values
    summarised, so ``total - sum(counts)`` were dropped from the summary.
    """

    values: pa.Array
    counts: I64
    capacity: int
    error: int
    total: int

    @classmethod
    def empty(cls, capacity: int, value_type: pa.DataType | None = None) -> FrequentItems:
        return cls(
            pa.array([], value_type or pa.large_string()), np.zeros(0, np.int64), capacity, 0, 0
        )

    @property
    def exact(self) -> bool:
        return self.error == 0

    @property
    def value_kind(self) -> str:
        return _key_kind(self.values.type)

    @classmethod
    def of_counts(cls, values: pa.Array, counts: I64, capacity: int) -> FrequentItems:
        """From exact, distinct value counts (e.g. one batch's ``value_counts``)."""
        values = canonical_keys(values)
        return cls._normalised(values, counts.astype(np.int64), capacity, 0, int(counts.sum()))

    @classmethod
    def _normalised(
        cls, values: pa.Array, counts: I64, capacity: int, error: int, total: int
    ) -> FrequentItems:
        if len(values):
            order = pc.sort_indices(
                pa.table({"c": counts, "v": values}),
                sort_keys=[("c", "descending"), ("v", "ascending")],
            ).to_numpy()
            values, counts = values.take(order), counts[order]
        if len(counts) > capacity:
            cut = int(counts[capacity])  # the (capacity + 1)-th largest count
            keep = int(np.count_nonzero(counts > cut))
            values, counts = values.slice(0, keep), counts[:keep] - cut
            error += cut
        return cls(values, counts, capacity, error, total)

    def merge(self, other: FrequentItems) -> FrequentItems:
        """Exact sum while the union fits ``capacity``; a Misra-Gries merge otherwise."""
        capacity = min(self.capacity, other.capacity)
        if other.total == 0 and len(other.values) == 0:
            return self
        if self.total == 0 and len(self.values) == 0:
            return other
        if self.values.type != other.values.type:
            raise InvalidInput(
                f"Cannot merge category counts of {self.value_kind} values with counts of "
                f"{other.value_kind} values; give the column the same type in both inputs "
                "(for example cast codes to strings in both)."
            )
        table = pa.table(
            {
                "v": pa.concat_arrays([self.values, other.values]),
                "c": np.concatenate([self.counts, other.counts]),
            }
        )
        grouped = table.group_by("v").aggregate([("c", "sum")])
        return FrequentItems._normalised(
            grouped.column("v").combine_chunks(),
            grouped.column("c_sum").to_numpy().astype(np.int64),
            capacity,
            self.error + other.error,
            self.total + other.total,
        )

    def top(self, n: int) -> list[tuple[Any, int]]:
        """The ``n`` most frequent values with their counts (ties by value)."""
        return list(zip(self.values.slice(0, n).to_pylist(), self.counts[:n].tolist(), strict=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrequentItems):
            return NotImplemented
        return (
            (self.capacity, self.error, self.total) == (other.capacity, other.error, other.total)
            and self.values.equals(other.values)
            and np.array_equal(self.counts, other.counts)
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.value_kind,
            "values": self.values.to_pylist(),
            "counts": self.counts.tolist(),
            "capacity": self.capacity,
            "error": self.error,
            "total": self.total,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrequentItems:
        kind = data["kind"]
        if kind not in _KIND_TYPES:
            raise InvalidInput(f"Unknown category value kind {kind!r} in a stored profile.")
        return cls(
            pa.array(data["values"], _KIND_TYPES[kind]),
            np.asarray(data["counts"], dtype=np.int64),
            int(data["capacity"]),
            int(data["error"]),
            int(data["total"]),
        )
