"""Summaries of whole datasets: every column on the reference's bins, mergeable.

:func:`summarise` summarises a reference (each column's kind from ``column_types`` or its
data type); :func:`summarise_window` summarises a window on a reference's bins. Columns
are read from pandas, Arrow or a mapping of arrays without converting whole tables, and
several columns are summarised at once on ``workers`` threads (sorting releases the GIL).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from mlsteward.core import InvalidInput
from mlsteward.monitoring._summary import (
    ColumnKind,
    ColumnSummary,
    column_from_dict,
    summarise_like,
    summarise_reference,
)

__all__ = [
    "SKIPPED_TYPES",
    "DataSummary",
    "column_items",
    "infer_kind",
    "summarise",
    "summarise_window",
]

SKIPPED_TYPES: Final = ("datetime", "text", "id")
SUMMARY_FORMAT: Final = "mlsteward.drift-summary"


@dataclass(frozen=True, eq=False)
class DataSummary:
    """Column summaries of a dataset (or a window on a reference's bins), mergeable."""

    row_count: int
    columns: Mapping[str, ColumnSummary]
    type_errors: Mapping[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnSummary:
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidInput(
                f"No summary of column {name!r}; summarised columns: "
                f"{', '.join(list(self.columns)[:40])}."
            ) from None

    def merge(self, other: DataSummary) -> DataSummary:
        if list(self.columns) != list(other.columns):
            raise InvalidInput("Cannot merge summaries of different columns.")
        merged: dict[str, ColumnSummary] = {}
        for name, mine in self.columns.items():
            theirs = other.columns[name]
            merged[name] = mine.merge(theirs)  # type: ignore[arg-type]
        errors = {k: self.type_errors.get(k, 0) + other.type_errors.get(k, 0) for k in merged}
        return DataSummary(self.row_count + other.row_count, merged, errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SUMMARY_FORMAT,
            "version": 1,
            "row_count": self.row_count,
            "columns": [c.to_dict() for c in self.columns.values()],
            "type_errors": dict(self.type_errors),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSummary:
        if data.get("format") != SUMMARY_FORMAT or data.get("version") != 1:
            raise InvalidInput(
                f"Not a drift summary of format {SUMMARY_FORMAT} v1 (got "
                f"{data.get('format')!r} v{data.get('version')!r}); recompute the reference."
            )
        columns = [column_from_dict(c) for c in data["columns"]]
        return cls(
            int(data["row_count"]),
            {c.name: c for c in columns},
            {str(k): int(v) for k, v in data.get("type_errors", {}).items()},
        )


def column_items(data: Any) -> tuple[int, dict[str, Any]]:
    """``(rows, {column: values})`` of a pandas DataFrame, an Arrow table or a mapping of
    arrays, without converting whole tables."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data.num_rows, {name: data.column(name) for name in data.column_names}
    if isinstance(data, pa.RecordBatch):
        return data.num_rows, {name: data.column(name) for name in data.schema.names}
    columns = getattr(data, "columns", None)
    if columns is not None and hasattr(data, "iloc"):  # pandas
        out: dict[str, Any] = {}
        for name in columns:
            series = data[name]
            kind = getattr(series.dtype, "kind", "O")
            if kind in "fiub" and str(series.dtype) not in ("category",):
                out[str(name)] = series.to_numpy()
            else:
                out[str(name)] = pa.array(series, from_pandas=True)
        return len(data), out
    if isinstance(data, Mapping):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise InvalidInput(f"The columns have different lengths {sorted(lengths)}.")
        return (lengths.pop() if lengths else 0), {str(k): v for k, v in data.items()}
    raise InvalidInput(
        f"Cannot read columns from {type(data).__name__}; give a pandas DataFrame, an Arrow "
        "table or a mapping of column name to values."
    )


def infer_kind(values: Any) -> ColumnKind | None:
    """numeric for integer and float columns (not booleans); categorical for text,
    booleans and dictionaries; None for times, binary and nested values (not compared)."""
    import pyarrow as pa

    if isinstance(values, np.ndarray):
        if values.dtype.kind in "fiu":
            return "numeric"
        return None if values.dtype.kind in "mMV" else "categorical"
    kind = values.type if hasattr(values, "type") else pa.array(values).type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind):
        return "categorical"
    return None


def _kinds(
    items: Mapping[str, Any], column_types: Mapping[str, str] | None, columns: Sequence[str] | None
) -> dict[str, ColumnKind]:
    types = dict(column_types or {})
    names = list(columns) if columns is not None else list(items)
    missing = [n for n in names if n not in items]
    if missing:
        raise InvalidInput(
            f"The data has no column(s) {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(list(items)[:40])}."
        )
    kinds: dict[str, ColumnKind] = {}
    for name in names:
        logical = types.get(name)
        if logical in SKIPPED_TYPES and columns is None:
            continue
        if logical == "numeric":
            kinds[name] = "numeric"
        elif logical in ("categorical", "boolean", "text", "id"):
            kinds[name] = "categorical"
        else:
            inferred = infer_kind(items[name])
            if inferred is None and columns is not None:
                raise InvalidInput(
                    f"Column {name!r} holds times, binary or nested values, which drift does "
                    "not compare; leave it out or declare it numeric or categorical."
                )
            if inferred is not None:
                kinds[name] = inferred
    return kinds


def _workers(workers: int | None, columns: int) -> int:
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    return max(1, min(workers, columns))


def summarise(
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> DataSummary:
    """Reference summaries of every column (or ``columns``) of ``data``.

    Logical types from ``column_types`` (numeric / categorical / boolean; datetime, text
    and id columns are skipped unless named in ``columns``), inferred otherwise.
    """
    rows, items = column_items(data)
    kinds = _kinds(items, column_types, columns)

    def one(name: str) -> ColumnSummary:
        return summarise_reference(name, items[name], kinds[name])

    n = _workers(workers, len(kinds))
    if n > 1:
        with ThreadPoolExecutor(n) as pool:
            parts = list(pool.map(one, kinds))
    else:
        parts = [one(name) for name in kinds]
    return DataSummary(rows, {p.name: p for p in parts})


def summarise_window(
    reference: DataSummary, data: Any, *, workers: int | None = None
) -> DataSummary:
    """``data`` summarised on ``reference``'s bins and categories, column by column."""
    rows, items = column_items(data)
    missing = [name for name in reference.columns if name not in items]
    if missing:
        raise InvalidInput(
            f"The data lacks the reference column(s) {', '.join(map(repr, missing))}; it has "
            f"{', '.join(list(items)[:40])}. Send every feature the reference has."
        )

    def one(name: str) -> tuple[ColumnSummary, int]:
        return summarise_like(reference.columns[name], items[name])

    n = _workers(workers, len(reference.columns))
    if n > 1:
        with ThreadPoolExecutor(n) as pool:
            parts = list(pool.map(one, reference.columns))
    else:
        parts = [one(name) for name in reference.columns]
    return DataSummary(
        rows, {s.name: s for s, _ in parts}, {s.name: errors for s, errors in parts if errors}
    )
