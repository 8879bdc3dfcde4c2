"""Profiling one Arrow array (one batch of one column) into a :class:`ColumnProfile`.

Everything here is vectorised over the array (numpy and Arrow compute); nothing loops over
rows. Profiles of consecutive batches are combined with :meth:`ColumnProfile.merge`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput
from mlsteward.data._column_profile import ColumnProfile, Moments
from mlsteward.data._hll import HyperLogLog, hash_array, hash_floats
from mlsteward.data._sketches import (
    DAY_MICROS,
    EXACT_CAPACITY,
    BucketHistogram,
    FrequentItems,
    canonical_keys,
)

__all__ = [
    "CATEGORY_CAPACITY",
    "TEXT_CAPACITY",
    "column_kind",
    "empty_column_profile",
    "profile_array",
]

CATEGORY_CAPACITY: Final = 2048
"""Categorical and boolean columns: category counts stay exact up to this many values."""
TEXT_CAPACITY: Final = 64
"""Text and id columns: only this many heavy hitters are kept (duplicates show up)."""

_TICKS_PER_SECOND: Final = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _is_stringlike(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _value_type(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def column_kind(name: str, logical_type: str, arrow_type: pa.DataType) -> str:
    """How a column of this logical and Arrow type is summarised (see ColumnProfile)."""
    kind = _value_type(arrow_type)
    if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "other"
    if pa.types.is_fixed_size_binary(kind) or pa.types.is_binary_view(kind):
        return "other"
    if logical_type in ("categorical", "boolean", "text", "id"):
        return "categorical"
    temporal = pa.types.is_timestamp(kind) or pa.types.is_date(kind)
    if logical_type == "datetime":
        if temporal or _is_stringlike(kind) or pa.types.is_null(kind):
            return "datetime"
        raise InvalidInput(
            f"Column {name!r} is declared datetime but holds {kind} values. Expected "
            "timestamps, dates or ISO 8601 text; convert it (e.g. pandas.to_datetime(col, "
            "unit='s')) or declare it numeric."
        )
    if logical_type == "numeric":
        return "datetime" if temporal else "numeric"
    raise InvalidInput(
        f"Column {name!r} has logical type {logical_type!r}, which Steward does not know. "
        "Expected one of: numeric, categorical, boolean, datetime, text, id."
    )


def empty_column_profile(
    name: str, logical_type: str, kind: str, missing: int = 0
) -> ColumnProfile:
    """The profile of ``missing`` rows that are all missing (0 rows: the merge identity)."""
    if kind == "numeric":
        return ColumnProfile(
            name, logical_type, kind, missing=missing, moments=Moments(),
            histogram=BucketHistogram.empty("log"), exact_values=BucketHistogram.empty("exact"),
            hll=HyperLogLog.empty(),
        )  # fmt: skip
    if kind == "datetime":
        return ColumnProfile(
            name, logical_type, kind, missing=missing, moments=Moments(), integral=False,
            histogram=BucketHistogram.empty("linear", DAY_MICROS), hll=HyperLogLog.empty(),
        )  # fmt: skip
    if kind == "categorical":
        capacity = TEXT_CAPACITY if logical_type in ("text", "id") else CATEGORY_CAPACITY
        return ColumnProfile(
            name, logical_type, kind, missing=missing,
            categories=FrequentItems.empty(capacity), hll=HyperLogLog.empty(),
        )  # fmt: skip
    return ColumnProfile(name, logical_type, kind, missing=missing)


def _cast(name: str, array: pa.Array, target: pa.DataType, what: str) -> pa.Array:
    try:
        return pc.cast(array, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"Column {name!r} is declared {what} but its {array.type} values cannot be read "
            f"as {target}: {exc}. Fix the values or declare the column categorical or text."
        ) from exc


def _numeric_values(name: str, array: pa.Array) -> tuple[npt.NDArray[np.float64], int, bool, Any]:
    """Present values as float64, the number of missing ones, integral, exact (min, max)."""
    kind = array.type
    if pa.types.is_boolean(kind):
        array, kind = pc.cast(array, pa.int8()), pa.int8()
    elif _is_stringlike(kind):
        array = _cast(name, array, pa.float64(), "numeric")
    elif pa.types.is_decimal(kind):
        array = pc.cast(array, pa.float64())
    elif pa.types.is_duration(kind) or pa.types.is_time(kind):
        ticks = pc.cast(array, pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
        array = pa.array(ticks / _TICKS_PER_SECOND[kind.unit], mask=array.is_null().to_numpy(False))
    kind = array.type
    nulls = array.null_count
    if pa.types.is_integer(kind):
        ints = (array.drop_null() if nulls else array).to_numpy()
        bounds = (int(ints.min()), int(ints.max())) if len(ints) else (None, None)
        return ints.astype(np.float64), nulls, True, bounds
    values = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
    is_nan = np.isnan(values)
    missing = int(np.count_nonzero(is_nan))  # nulls arrive as NaN too
    if missing:
        values = values[~is_nan]
    if not len(values):
        return values, missing, True, (None, None)
    integral = bool(np.array_equal(values, np.trunc(values)))
    # + 0.0 folds -0.0 into 0.0, so the bounds do not depend on the order of the rows
    return values, missing, integral, (float(values.min()) + 0.0, float(values.max()) + 0.0)


def _profile_numeric(
    name: str, logical_type: str, array: pa.Array, track_values: bool
) -> ColumnProfile:
    values, missing, integral, (low, high) = _numeric_values(name, array)
    if not len(values):
        return empty_column_profile(name, logical_type, "numeric", missing)
    finite = values
    infinite = 0
    if np.isinf(low) or np.isinf(high):
        is_finite = np.isfinite(values)
        finite = values[is_finite]
        infinite = len(values) - len(finite)
    histogram = BucketHistogram.of_floats(values)
    exact = None
    if track_values and len(histogram.keys) <= EXACT_CAPACITY:  # else surely too many values
        exact = BucketHistogram.of_exact(values)
    return ColumnProfile(
        name, logical_type, "numeric", count=len(values), missing=missing, low=low, high=high,
        moments=Moments.of(finite), infinite=infinite, integral=integral,
        histogram=histogram, exact_values=exact,
        hll=HyperLogLog.empty().add_hashes(hash_floats(values)),
    )  # fmt: skip


def _timestamps(name: str, array: pa.Array) -> tuple[pa.Array, str | None]:
    kind = array.type
    if _is_stringlike(kind):
        try:
            return pc.cast(array, pa.timestamp("us")), None
        except pa.ArrowInvalid:
            return _cast(name, array, pa.timestamp("us", tz="UTC"), "datetime"), "UTC"
    if pa.types.is_date(kind):
        return pc.cast(array, pa.timestamp("us")), None
    tz = kind.tz
    if kind.unit != "us":
        array = pc.cast(array, pa.timestamp("us", tz=tz), safe=False)  # ns truncate to us
    return array, tz


def _profile_datetime(name: str, logical_type: str, array: pa.Array) -> ColumnProfile:
    if pa.types.is_null(array.type):
        return empty_column_profile(name, logical_type, "datetime", len(array))
    array, tz = _timestamps(name, array)
    missing = array.null_count
    ticks = pc.cast(array.drop_null() if missing else array, pa.int64()).to_numpy()
    if not len(ticks):
        return empty_column_profile(name, logical_type, "datetime", missing)
    as_float = ticks.astype(np.float64)
    return ColumnProfile(
        name, logical_type, "datetime", count=len(ticks), missing=missing,
        low=int(ticks.min()), high=int(ticks.max()), moments=Moments.of(as_float),
        integral=False, histogram=BucketHistogram.of_ticks(ticks, DAY_MICROS),
        hll=HyperLogLog.empty().add_hashes(hash_floats(as_float)), timezone=tz,
    )  # fmt: skip


def _value_counts(array: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """Distinct non-null values of the array and how often each occurs."""
    if pa.types.is_dictionary(array.type):
        indices = array.indices
        codes = (indices.drop_null() if indices.null_count else indices).to_numpy()
        counts = np.bincount(codes, minlength=len(array.dictionary))
        used = np.flatnonzero(counts)
        values = array.dictionary.take(pa.array(used))
        counts = counts[used]
        if pc.count_distinct(values).as_py() != len(values) or values.null_count:
            grouped = pa.table({"v": values, "c": counts}).group_by("v").aggregate([("c", "sum")])
            values = grouped.column("v").combine_chunks()
            counts = grouped.column("c_sum").to_numpy()
    else:
        pairs = pc.value_counts(array)
        values = pairs.field("values")
        counts = pairs.field("counts").to_numpy()
    valid = values.is_valid()
    if pa.types.is_floating(values.type):
        valid = pc.and_(valid, pc.invert(pc.is_nan(values)))
    if not pc.all(valid).as_py():
        values = values.filter(valid)
        counts = counts[valid.to_numpy(zero_copy_only=False)]
    return values, np.asarray(counts, dtype=np.int64)


def _profile_categorical(name: str, logical_type: str, array: pa.Array) -> ColumnProfile:
    if pa.types.is_null(array.type):
        return empty_column_profile(name, logical_type, "categorical", len(array))
    values, counts = _value_counts(array)
    present = int(counts.sum())
    empty = empty_column_profile(name, logical_type, "categorical", len(array) - present)
    if not present:
        return empty
    assert empty.categories is not None
    values = canonical_keys(values)
    low, high = pc.min_max(values).values()  # before the summary may drop rare values
    return ColumnProfile(
        name, logical_type, "categorical", count=present, missing=len(array) - present,
        low=low.as_py(), high=high.as_py(),
        categories=FrequentItems.of_counts(values, counts, empty.categories.capacity),
        hll=HyperLogLog.empty().add_hashes(hash_array(values)),
    )  # fmt: skip


def profile_array(
    name: str,
    logical_type: str,
    array: pa.Array | pa.ChunkedArray,
    *,
    track_values: bool = True,
) -> ColumnProfile:
    """Profile one column's values (a batch) as a column of ``logical_type``.

    ``track_values=False`` skips exact value counts of a numeric column (pass it when the
    profile this batch is merged into has already dropped them: the result is the same).
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = column_kind(name, logical_type, array.type)
    if kind == "numeric":
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_null(array.type):
            return empty_column_profile(name, logical_type, kind, len(array))
        return _profile_numeric(name, logical_type, array, track_values)
    if kind == "datetime":
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        return _profile_datetime(name, logical_type, array)
    if kind == "categorical":
        return _profile_categorical(name, logical_type, array)
    return empty_column_profile(name, logical_type, kind, array.null_count).merge(
        ColumnProfile(name, logical_type, kind, count=len(array) - array.null_count)
    )
