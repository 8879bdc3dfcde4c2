"""Column summaries for drift: counts on the reference's bins, mergeable and stored.

A reference column is summarised once (:func:`summarise_reference`) and stored with the
reference; a window is summarised *on the reference's bins* (:func:`summarise_like`), in
one pass over its sorted values. Both summaries are mergeable: for any split of the rows
the summaries of the parts, :meth:`merge`-d, equal the summary of the whole (counts,
missing counts, per-bin sums, min and max are sums, mins and maxes).

Numeric columns
    Fine bins ``[-inf, e0), [e0, e1), ..., [e_last, inf)`` whose edges are every distinct
    value when the reference has at most :data:`FINE_BINS` of them (then each bin holds
    one value and every statistic is exact), otherwise the reference quantiles at
    ``1/FINE_BINS, 2/FINE_BINS, ...`` (each bin holds about 0.1 % of the reference). Each
    bin keeps its count and the sum of its values (hence its mean, which Wasserstein uses).
Categorical columns
    The count of every reference category (the :data:`CATEGORY_CAPACITY` most frequent; the
    rest count as ``other``), then one more bin for values never seen in the reference,
    with the most frequent of those named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput

__all__ = [
    "CATEGORY_CAPACITY",
    "FINE_BINS",
    "CategoricalSummary",
    "ColumnKind",
    "ColumnSummary",
    "NumericSummary",
    "category_key",
    "category_keys",
    "class_indices",
    "column_from_dict",
    "numeric_values",
    "summarise_like",
    "summarise_reference",
]

FINE_BINS: Final = 1000
CATEGORY_CAPACITY: Final = 2000
NAMED_UNSEEN: Final = 10
ColumnKind = Literal["numeric", "categorical"]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def category_key(value: Any) -> str:
    """The text a category is compared by: ``1``, ``1.0`` and ``"1"`` are one category.

    >>> category_key(3.0), category_key("3"), category_key(True)
    ('3', '3', 'true')
    """
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def category_keys(column: Any) -> npt.NDArray[np.object_]:
    """:func:`category_key` of every value of a column (None where missing), computed on
    the distinct values only."""
    array = column if isinstance(column, pa.ChunkedArray | pa.Array) else pa.array(column)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = pc.cast(array, array.type.value_type)
    if pa.types.is_floating(array.type):
        array = pc.if_else(pc.is_nan(array), None, array)
    distinct = pc.unique(array)
    lookup = pa.array(
        [None if v is None else category_key(v) for v in distinct.to_pylist()], pa.string()
    )
    keys = pc.take(lookup, pc.index_in(array, value_set=distinct))
    return np.asarray(keys.to_numpy(zero_copy_only=False), dtype=object)


def class_indices(keys: Any, classes: Sequence[str]) -> npt.NDArray[np.intp]:
    """The index of each category key (from :func:`category_keys`) among the model's
    class keys, in their order; -1 for a missing value or a key that is not a class."""
    array = pa.array(keys, pa.string())
    index = pc.index_in(array, value_set=pa.array(list(classes), pa.string()))
    return np.asarray(pc.fill_null(index, -1).to_numpy(zero_copy_only=False), dtype=np.intp)


def _floats(values: list[float]) -> list[float | str]:
    return [v if math.isfinite(v) else str(v) for v in values]


def _unfloats(values: list[Any]) -> Floats:
    return np.asarray([float(v) for v in values], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """Counts (and sums) of a numeric column on fine bins (see the module docstring).

    ``count`` is the number of present values, ``missing`` of nulls and NaN; ``low`` and
    ``high`` the exact min and max (NaN when empty); ``sum_squares`` the sum of squared
    finite values; ``discrete`` is True when each bin holds one reference value.
    """

    name: str
    edges: Floats
    counts: Ints
    sums: Floats
    count: int
    missing: int
    low: float
    high: float
    sum_squares: float
    discrete: bool
    kind: ColumnKind = field(default="numeric", init=False)

    @property
    def rows(self) -> int:
        return self.count + self.missing

    @property
    def missing_rate(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def distinct(self) -> int:
        """Number of occupied bins (distinct values when ``discrete``)."""
        return int(np.count_nonzero(self.counts))

    @property
    def mean(self) -> float:
        finite = self.sums.sum()
        return float(finite / self.count) if self.count else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation (ddof 0, like ``np.std``)."""
        if self.count == 0:
            return math.nan
        mean = self.mean
        return math.sqrt(max(self.sum_squares / self.count - mean * mean, 0.0))

    def bin_means(self, fallback: NumericSummary | None = None) -> Floats:
        """Mean of each bin (the ``fallback``'s bin means, then the edges, where empty)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self.sums / self.counts
        if fallback is not None:
            means = np.where(self.counts > 0, means, fallback.bin_means())
        edges = self.edges
        if edges.size:
            centre = np.concatenate([[edges[0]], (edges[:-1] + edges[1:]) / 2, [edges[-1]]])
            means = np.where(np.isfinite(means), means, centre)
        return means

    def quantile_function(self) -> tuple[Floats, Floats]:
        """``(probabilities, values)``: the reference quantile function at the edges,
        closed by the min (0) and the max (1)."""
        if self.count == 0 or not self.edges.size:
            return np.zeros(0), np.zeros(0)
        below = np.cumsum(self.counts)[:-1] / self.count  # share < each edge
        probabilities = np.concatenate([[0.0], below, [1.0]])
        values = np.concatenate([[self.low], self.edges, [self.high]])
        return probabilities, values

    def merge(self, other: NumericSummary) -> NumericSummary:
        if not np.array_equal(self.edges, other.edges):
            raise InvalidInput(
                f"Cannot merge summaries of {self.name!r} made on different bins; summarise "
                "every part on the same reference (summarise_like)."
            )
        return replace(
            self,
            counts=self.counts + other.counts,
            sums=self.sums + other.sums,
            count=self.count + other.count,
            missing=self.missing + other.missing,
            low=float(np.fmin(self.low, other.low)),
            high=float(np.fmax(self.high, other.high)),
            sum_squares=self.sum_squares + other.sum_squares,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "edges": _floats(self.edges.tolist()),
            "counts": self.counts.tolist(),
            "sums": _floats(self.sums.tolist()),
            "count": self.count,
            "missing": self.missing,
            "low": None if math.isnan(self.low) else _floats([self.low])[0],
            "high": None if math.isnan(self.high) else _floats([self.high])[0],
            "sum_squares": self.sum_squares if math.isfinite(self.sum_squares) else 0.0,
            "discrete": self.discrete,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericSummary:
        return cls(
            name=str(data["name"]),
            edges=_unfloats(data["edges"]),
            counts=np.asarray(data["counts"], dtype=np.int64),
            sums=_unfloats(data["sums"]),
            count=int(data["count"]),
            missing=int(data["missing"]),
            low=math.nan if data["low"] is None else float(data["low"]),
            high=math.nan if data["high"] is None else float(data["high"]),
            sum_squares=float(data["sum_squares"]),
            discrete=bool(data["discrete"]),
        )


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """Counts of a categorical column on the reference's categories.

    ``counts`` has one entry per category of ``categories`` then two more: ``other``
    (reference values beyond the capacity) and ``unseen`` (values the reference never
    had; always 0 in the reference itself). ``unseen_values`` names the most frequent
    unseen values with their counts.
    """

    name: str
    categories: tuple[str, ...]
    counts: Ints
    count: int
    missing: int
    unseen_values: tuple[tuple[str, int], ...] = ()
    kind: ColumnKind = field(default="categorical", init=False)

    @property
    def rows(self) -> int:
        return self.count + self.missing

    @property
    def missing_rate(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def unseen(self) -> int:
        return int(self.counts[-1])

    @property
    def unseen_share(self) -> float:
        return self.unseen / self.count if self.count else 0.0

    @property
    def distinct(self) -> int:
        return int(np.count_nonzero(self.counts[:-2])) + len(self.unseen_values)

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        if self.categories != other.categories:
            raise InvalidInput(
                f"Cannot merge summaries of {self.name!r} made on different categories; "
                "summarise every part on the same reference (summarise_like)."
            )
        named: dict[str, int] = dict(self.unseen_values)
        for value, n in other.unseen_values:
            named[value] = named.get(value, 0) + n
        top = sorted(named.items(), key=lambda kv: (-kv[1], kv[0]))[:NAMED_UNSEEN]
        return replace(
            self,
            counts=self.counts + other.counts,
            count=self.count + other.count,
            missing=self.missing + other.missing,
            unseen_values=tuple(top),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "categories": list(self.categories),
            "counts": self.counts.tolist(),
            "count": self.count,
            "missing": self.missing,
            "unseen_values": [list(v) for v in self.unseen_values],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalSummary:
        return cls(
            name=str(data["name"]),
            categories=tuple(str(c) for c in data["categories"]),
            counts=np.asarray(data["counts"], dtype=np.int64),
            count=int(data["count"]),
            missing=int(data["missing"]),
            unseen_values=tuple((str(v), int(n)) for v, n in data.get("unseen_values", [])),
        )


ColumnSummary = NumericSummary | CategoricalSummary


def column_from_dict(data: Mapping[str, Any]) -> ColumnSummary:
    """Read a stored column summary."""
    if data.get("kind") == "numeric":
        return NumericSummary.from_dict(data)
    if data.get("kind") == "categorical":
        return CategoricalSummary.from_dict(data)
    raise InvalidInput(
        f"A stored column summary has kind {data.get('kind')!r}; expected numeric or "
        "categorical. Recompute the reference."
    )


# -- building ------------------------------------------------------------------------------
def numeric_values(column: Any) -> tuple[Floats, int]:
    """Values of a column as float64 with NaN for missing, and the number of values that
    are present but not numbers (type errors: text that does not parse as a number)."""
    if isinstance(column, np.ndarray) and column.dtype.kind in "fiub":
        return column.astype(np.float64, copy=False), 0
    array = column if isinstance(column, pa.ChunkedArray | pa.Array) else pa.array(column)
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = pc.cast(array, kind.value_type)
        kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return np.asarray(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)), 0
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.utf8_trim_whitespace(array)
        parsed = pc.cast(pc.if_else(pc.match_substring_regex(text, _NUMBER), text, None), "float64")
        values = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)
        present = int(pc.sum(pc.is_valid(array)).as_py() or 0)
        valid = int(np.count_nonzero(~np.isnan(values)))
        return values, present - valid
    raise InvalidInput(
        f"Column of type {kind} cannot be read as numbers; expected integers, floats or "
        "text holding numbers. Declare the column categorical if it is one."
    )


_NUMBER: Final = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan|Infinity)$"


def _sorted_present(values: Floats) -> tuple[Floats, int]:
    """The present values sorted, and the number missing (NaN sorts last)."""
    ordered = np.sort(values)
    present = int(np.searchsorted(ordered, np.nan, side="left"))
    return ordered[:present], ordered.size - present


def _on_edges(
    name: str, ordered: Floats, missing: int, edges: Floats, discrete: bool
) -> NumericSummary:
    """Counts and sums of sorted present values on fine bins with the given edges."""
    n = ordered.size
    bounds = np.concatenate([[0], np.searchsorted(ordered, edges, side="left"), [n]])
    counts = np.diff(bounds).astype(np.int64)
    finite = ordered
    if n and not (math.isfinite(ordered[0]) and math.isfinite(ordered[-1])):
        finite = np.where(np.isfinite(ordered), ordered, 0.0)  # inf sorts to the ends
    sums = np.zeros(counts.size)
    occupied = counts > 0
    if n:
        sums[occupied] = np.add.reduceat(finite, bounds[:-1][occupied])
    return NumericSummary(
        name=name,
        edges=edges,
        counts=counts,
        sums=sums,
        count=n,
        missing=missing,
        low=float(ordered[0]) if n else math.nan,
        high=float(ordered[-1]) if n else math.nan,
        sum_squares=float(np.square(finite).sum()),
        discrete=discrete,
    )


def _reference_numeric(name: str, values: Floats) -> NumericSummary:
    ordered, missing = _sorted_present(values)
    n = ordered.size
    if n == 0:
        return _on_edges(name, ordered, missing, np.zeros(0), True)
    edges = ordered[(np.arange(1, FINE_BINS) * n) // FINE_BINS]
    if np.all(edges[1:] > edges[:-1]) and edges[0] > ordered[0]:
        return _on_edges(name, ordered, missing, edges, False)  # continuous: no ties at edges
    change = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    if change.size + 1 <= FINE_BINS:
        distinct = ordered[np.concatenate([[0], change])]
        return _on_edges(name, ordered, missing, distinct, True)
    return _on_edges(name, ordered, missing, np.unique(edges), False)


def _category_counts(column: Any) -> tuple[list[str], Ints, int]:
    """Distinct keys (see :func:`category_key`) with counts, and the missing count."""
    array = column if isinstance(column, pa.ChunkedArray | pa.Array) else pa.array(column)
    if isinstance(array, pa.ChunkedArray) and pa.types.is_dictionary(array.type):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if pa.types.is_floating(array.type):
        array = pc.if_else(pc.is_nan(array), None, array)
    missing = int(array.null_count)
    counted = pc.value_counts(array)
    values = counted.field("values")
    if pa.types.is_dictionary(values.type):
        values = pc.cast(values, values.type.value_type)
    keys: dict[str, int] = {}
    for value, n in zip(values.to_pylist(), counted.field("counts").to_pylist(), strict=True):
        if value is None:
            continue
        key = category_key(value)
        keys[key] = keys.get(key, 0) + int(n)
    names = list(keys)
    return names, np.asarray([keys[k] for k in names], dtype=np.int64), missing


def _reference_categorical(name: str, column: Any) -> CategoricalSummary:
    keys, counts, missing = _category_counts(column)
    order = sorted(range(len(keys)), key=lambda i: (-int(counts[i]), keys[i]))
    kept = order[:CATEGORY_CAPACITY]
    other = int(counts[order[CATEGORY_CAPACITY:]].sum()) if len(order) > CATEGORY_CAPACITY else 0
    return CategoricalSummary(
        name=name,
        categories=tuple(keys[i] for i in kept),
        counts=np.asarray([*(int(counts[i]) for i in kept), other, 0], dtype=np.int64),
        count=int(counts.sum()),
        missing=missing,
    )


def summarise_reference(name: str, column: Any, kind: ColumnKind) -> ColumnSummary:
    """The reference summary of one column (see the module docstring)."""
    if kind == "numeric":
        values, _ = numeric_values(column)
        return _reference_numeric(name, values)
    return _reference_categorical(name, column)


def summarise_like(reference: ColumnSummary, column: Any) -> tuple[ColumnSummary, int]:
    """A column summarised on ``reference``'s bins or categories, and its type errors
    (present values that are not numbers, for a numeric reference)."""
    if isinstance(reference, NumericSummary):
        values, type_errors = numeric_values(column)
        ordered, missing = _sorted_present(values)
        return (
            _on_edges(reference.name, ordered, missing, reference.edges, reference.discrete),
            type_errors,
        )
    keys, counts, missing = _category_counts(column)
    index = {c: i for i, c in enumerate(reference.categories)}
    reference_has_other = int(reference.counts[-2]) > 0
    binned = np.zeros(len(reference.categories) + 2, dtype=np.int64)
    unseen: list[tuple[str, int]] = []
    for key, n in zip(keys, counts.tolist(), strict=True):
        position = index.get(key)
        if position is not None:
            binned[position] += n
        elif reference_has_other:
            binned[-2] += n  # may be one of the reference's capped categories
        else:
            binned[-1] += n
            unseen.append((key, int(n)))
    unseen.sort(key=lambda kv: (-kv[1], kv[0]))
    summary = CategoricalSummary(
        name=reference.name,
        categories=reference.categories,
        counts=binned,
        count=int(counts.sum()),
        missing=missing,
        unseen_values=tuple(unseen[:NAMED_UNSEEN]),
    )
    return summary, 0
