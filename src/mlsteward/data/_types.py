"""Logical column types and how they are inferred from an Arrow table.

A *logical* type says what a column means for profiling, checks and preparation, which
the physical type often does not (ACS codes schooling as small integers or strings that
are categories, not quantities). Steward knows six:

``numeric``      quantities: floats, decimals, durations, integers with many values
``categorical``  a small set of labels or codes: dictionary columns, low-cardinality
                 strings, integer codes with few distinct values
``boolean``      true/false: Arrow booleans and integer columns holding only 0 and 1
``datetime``     timestamps and dates
``text``         free text: strings that are long on average
``id``           identifiers: unique (or nearly unique) values, never features

Rules of :func:`infer_column_types`, applied in this order to each column (``n`` is the
number of non-null values, ``d`` the number of distinct non-null values):

1. an override given for the column wins;
2. Arrow ``bool`` -> ``boolean``; timestamp / date -> ``datetime``; dictionary ->
   ``categorical``; an all-null (``null``-typed) column -> ``categorical``;
3. a column whose *name* looks like an identifier (``id``, ``uuid``, ``key``, or ending in
   ``_id`` / ``-id`` / ``Id``), integer or string, with ``d >= 0.95 * n`` -> ``id``;
4. integers: only the values 0 and 1 -> ``boolean``; a year-like name (``year``,
   ``*_year``) -> ``numeric``; ``d <= MAX_CATEGORICAL_CODES`` (25) and ``d <= n / 2`` ->
   ``categorical``; otherwise ``numeric``;
5. floats, decimals and durations -> ``numeric``;
6. strings: mean length >= ``TEXT_MIN_MEAN_LENGTH`` (40 characters) -> ``text``;
   ``n >= 20`` and ``d >= 0.95 * n`` (nearly every value unique) and no whitespace in the
   values -> ``id``; otherwise ``categorical``;
7. binary -> ``text``; anything else (lists, structs) -> ``text``.

Inference looks only at the table it is given; for a large file pass a sample (the first
batches), or give ``overrides`` for the columns whose meaning you know.

>>> import pyarrow as pa
>>> t = pa.table({"id": [1, 2, 3, 4], "age": [23.0, 40.5, 31.0, 55.0],
...               "sex": [1, 2, 1, 1], "employed": [0, 1, 1, 0]})
>>> infer_column_types(t)
{'id': 'id', 'age': 'numeric', 'sex': 'categorical', 'employed': 'boolean'}
>>> infer_column_types(t, overrides={"sex": "numeric"})["sex"]
'numeric'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput

__all__ = [
    "LOGICAL_TYPES",
    "MAX_CATEGORICAL_CODES",
    "TEXT_MIN_MEAN_LENGTH",
    "LogicalType",
    "infer_column_type",
    "infer_column_types",
    "validate_column_types",
]

LogicalType = Literal["numeric", "categorical", "boolean", "datetime", "text", "id"]
LOGICAL_TYPES: Final[tuple[str, ...]] = get_args(LogicalType)

MAX_CATEGORICAL_CODES: Final = 25
"""Integer columns with at most this many distinct values (and at most one distinct
value per two rows) are taken as category codes."""

TEXT_MIN_MEAN_LENGTH: Final = 40
"""String columns whose values are at least this long on average are free text."""

_UNIQUE_SHARE: Final = 0.95
_ID_NAME = re.compile(r"^(id|uuid|guid|key)$|[_\-.](id|uuid|key)$|[a-z0-9]Id$|^ID$", re.IGNORECASE)
_YEAR_NAME = re.compile(r"^(year|yr)$|[_\-.](year|yr)$", re.IGNORECASE)


def validate_column_types(
    column_types: Mapping[str, str], columns: list[str] | None = None, *, what: str = "column_types"
) -> dict[str, LogicalType]:
    """Check a mapping of column name -> logical type and return it typed.

    ``columns``, when given, are the columns that exist; naming another one is an error.
    """
    result: dict[str, LogicalType] = {}
    for name, kind in column_types.items():
        if kind not in LOGICAL_TYPES:
            raise InvalidInput(
                f"{what}[{name!r}] is {kind!r}, which is not a logical type. "
                f"Expected one of: {', '.join(LOGICAL_TYPES)}."
            )
        if columns is not None and name not in columns:
            raise InvalidInput(
                f"{what} names column {name!r}, which the data does not have. "
                f"Columns: {', '.join(columns[:30])}."
            )
        result[name] = kind  # type: ignore[assignment]  # checked against LOGICAL_TYPES
    return result


def _distinct(column: pa.ChunkedArray) -> int:
    return int(pc.count_distinct(column, mode="only_valid").as_py())


def infer_column_type(name: str, column: pa.ChunkedArray | pa.Array) -> LogicalType:
    """The logical type of one column, by the rules in the module docstring."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], type=column.type)
    kind = column.type
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "datetime"
    if pa.types.is_dictionary(kind) or pa.types.is_null(kind):
        return "categorical"
    n = len(column) - column.null_count
    is_int = pa.types.is_integer(kind)
    is_str = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if is_str and pa.types.is_large_string(kind):
        column = column.cast(pa.string())
    if (
        (is_int or is_str)
        and n > 0
        and _ID_NAME.search(name)
        and _distinct(column) >= _UNIQUE_SHARE * n
    ):
        return "id"
    if is_int:
        if n == 0:
            return "numeric"
        low, high = pc.min_max(column).values()
        if low.as_py() is not None and low.as_py() >= 0 and high.as_py() <= 1:
            return "boolean"
        if _YEAR_NAME.search(name):
            return "numeric"
        d = _distinct(column)
        if d <= MAX_CATEGORICAL_CODES and d <= n / 2:
            return "categorical"
        return "numeric"
    if (
        pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_duration(kind)
        or pa.types.is_time(kind)
    ):
        return "numeric"
    if is_str:
        if n == 0:
            return "categorical"
        lengths = pc.utf8_length(column)
        mean_length = pc.mean(lengths).as_py() or 0.0
        if mean_length >= TEXT_MIN_MEAN_LENGTH:
            return "text"
        if n >= 20 and _distinct(column) >= _UNIQUE_SHARE * n:
            has_space = pc.any(pc.match_substring_regex(column, r"\s")).as_py()
            if not has_space:
                return "id"
        return "categorical"
    return "text"


def infer_column_types(
    table: pa.Table, *, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Logical type of every column of ``table``, in column order.

    ``overrides`` (column -> logical type) win over inference; naming a column the table
    does not have, or a type that does not exist, raises :class:`InvalidInput`.
    """
    checked = validate_column_types(overrides or {}, list(table.column_names), what="overrides")
    result: dict[str, str] = {}
    for name in table.column_names:
        if name in checked:
            result[name] = checked[name]
        else:
            result[name] = infer_column_type(name, table.column(name))
    return result
