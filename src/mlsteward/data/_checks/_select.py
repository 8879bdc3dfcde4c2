"""Exact order statistics of numeric columns, streamed: radix selection in a few passes.

An order statistic (the value of rank ``r`` in the sorted column, as ``np.partition``
would give it) is found without holding the column. Each float64 value has an
order-preserving 64-bit key (:func:`order_keys`); a :class:`Rank` narrows the key range
that holds the wanted rank, one streaming pass at a time:

- a range holding at most :data:`COLLECT_LIMIT` values is *collected* in one pass and
  sorted, which gives the value;
- a larger range is first *narrowed*: one pass counts its values in 65,536 sub-ranges (the
  next 16 bits of the key), and the sub-range holding the rank becomes the new range. At
  most four narrowing passes reach a single key, i.e. a single value.

A profile's bucket histogram (exact counts per bucket) gives the first range for free
(:meth:`Rank.from_histogram`), so the median or a quartile of a column usually costs one
collecting pass. Memory is bounded by a record batch plus :data:`COLLECT_LIMIT` keys per
rank. Counts that disagree with what the histogram promised raise :class:`StaleCounts`
(the caller then computes another way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from mlsteward.data._sketches import LOG_MANTISSA_BITS, BucketHistogram

__all__ = [
    "COLLECT_LIMIT",
    "Rank",
    "StaleCounts",
    "key_value",
    "order_keys",
    "select",
]

COLLECT_LIMIT: Final = 1 << 18
"""A key range with at most this many values is collected rather than narrowed."""
_BITS: Final = 16
_TOP: Final = (1 << 64) - 1
_HALF: Final = 1 << 63
_SIGN: Final = np.uint64(_HALF)
_FLIP: Final = np.int64(0x7FFF_FFFF_FFFF_FFFF)

F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]


class StaleCounts(Exception):
    """The values streamed do not match the counts a selection started from."""


def order_keys(values: F64) -> U64:
    """Order-preserving uint64 keys of float64 values (no NaN; ``-0.0`` keys as ``0.0``)."""
    bits = (np.ascontiguousarray(values, dtype=np.float64) + 0.0).view(np.int64)
    sortable = np.where(bits < 0, bits ^ _FLIP, bits)
    keys: U64 = sortable.view(np.uint64) ^ _SIGN
    return keys


def key_value(key: int) -> float:
    """The float64 value of an order key."""
    sortable = (np.array([key], dtype=np.uint64) ^ _SIGN).view(np.int64)
    bits = np.where(sortable < 0, sortable ^ _FLIP, sortable)
    return float(bits.view(np.float64)[0])


def _log_bucket_keys(key: int) -> tuple[int, int]:
    """The order-key range of a ``log`` histogram bucket (see ``_sketches``)."""
    shift = 52 - LOG_MANTISSA_BITS
    magnitude = key if key >= 0 else -key - 1
    low, high = magnitude << shift, ((magnitude + 1) << shift) - 1
    if key >= 0:
        return _HALF + low, min(_HALF + high, _TOP)
    return max(_HALF - 1 - high, 0), _HALF - 1 - low


@dataclass
class Rank:
    """The search for the value of one rank among ``count`` values whose keys lie in
    ``[low, high]`` (``rank`` counts from 0 within the range)."""

    rank: int
    low: int = 0
    high: int = _TOP
    count: int = 0
    value: float | None = None
    _shift: int = 0
    _bins: npt.NDArray[np.int64] | None = None
    _parts: list[U64] = field(default_factory=list)

    @classmethod
    def of(cls, rank: int, total: int, histogram: BucketHistogram | None = None) -> Rank:
        """Rank ``rank`` of ``total`` values; the first range comes from ``histogram`` (a
        ``log`` bucket histogram of the same values) when it is given and adds up."""
        if histogram is None or histogram.mapping != "log" or histogram.total != total:
            return cls(rank, count=total)
        cumulative = np.cumsum(histogram.counts)
        index = int(np.searchsorted(cumulative, rank, side="right"))
        count = int(histogram.counts[index])
        low, high = _log_bucket_keys(int(histogram.keys[index]))
        return cls(rank - int(cumulative[index]) + count, low, high, count)

    @property
    def done(self) -> bool:
        return self.value is not None

    def start_pass(self) -> None:
        self._parts = []
        if self.count <= COLLECT_LIMIT:
            self._bins = None
            return
        width = self.high - self.low
        self._shift = max(0, width.bit_length() - _BITS)
        self._bins = np.zeros((width >> self._shift) + 1, dtype=np.int64)

    def feed(self, inside: U64) -> None:
        """Take the keys of one batch that lie in ``[low, high]``."""
        if self._bins is None:
            self._parts.append(inside)
            return
        offsets = (inside - np.uint64(self.low)) >> np.uint64(self._shift)
        self._bins += np.bincount(offsets.astype(np.int64), minlength=len(self._bins))

    def end_pass(self) -> None:
        if self._bins is None:
            keys = np.sort(np.concatenate(self._parts)) if self._parts else np.zeros(0, np.uint64)
            self._parts = []
            if len(keys) != self.count:
                raise StaleCounts(f"expected {self.count} values in a key range, got {len(keys)}")
            self.value = key_value(int(keys[self.rank]))
            return
        bins, self._bins = self._bins, None
        if int(bins.sum()) != self.count:
            raise StaleCounts(f"expected {self.count} values in a key range, got {bins.sum()}")
        cumulative = np.cumsum(bins)
        index = int(np.searchsorted(cumulative, self.rank, side="right"))
        self.count = int(bins[index])
        self.rank -= int(cumulative[index]) - self.count
        low = self.low + (index << self._shift)
        self.high = min(self.high, low + (1 << self._shift) - 1)
        self.low = low
        if self.low == self.high:
            self.value = key_value(self.low)


def select(
    ranks: dict[str, list[Rank]],
    passes: Callable[[list[str]], Iterable[dict[str, F64]]],
) -> None:
    """Resolve every :class:`Rank` (``column -> ranks`` of values of that column).

    ``passes(columns)`` streams the data once: an iterable of batches, each ``column ->
    float64 values`` (no NaN) of the given columns. It is called once per pass, with the
    columns that still have unresolved ranks.
    """
    while True:
        pending = {c: [r for r in rs if not r.done] for c, rs in ranks.items()}
        pending = {c: rs for c, rs in pending.items() if rs}
        if not pending:
            return
        for rs in pending.values():
            for r in rs:
                r.start_pass()
        for batch in passes(list(pending)):
            for column, rs in pending.items():
                keys = order_keys(batch[column])
                seen: dict[tuple[int, int], U64] = {}
                for r in rs:
                    span = (r.low, r.high)
                    if span not in seen:
                        mask = (keys >= np.uint64(r.low)) & (keys <= np.uint64(r.high))
                        seen[span] = keys[mask]
                    r.feed(seen[span])
        for rs in pending.values():
            for r in rs:
                r.end_pass()
