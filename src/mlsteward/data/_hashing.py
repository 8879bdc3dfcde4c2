"""The content hash that identifies a dataset version.

The hash is computed over a *canonical* view of the values, never over file bytes, so the
same data gives the same version whether it came as pandas, polars, Arrow, CSV or
Parquet, and whatever the Parquet encoding, compression or row-group size.

What counts:

- **column names and values**, and each column's *kind*: integer, float, boolean, string,
  binary, date, timestamp (with its time zone), time, duration, decimal, null, nested;
- **row order**: the same rows in another order are another version (row order is what
  seeded splits, time series and "first N rows" depend on; sort first if it is noise);
- **missing values**: null, and NaN in a float column, are both "missing" and hash alike.

What does not count:

- **column order**: columns are hashed by name, in sorted order (a table with the columns
  reordered is the same version; it is stored in the order first registered);
- widths and encodings: int8/int32/int64, float32 is widened to float64, string vs
  large_string vs string_view, dictionary-encoded vs plain, date32 vs date64, timestamp
  unit (s, ms, us, ns of the same instant), chunk and row-group boundaries;
- a pandas index (it is not data: ``reset_index()`` first to keep it).

Method (``steward-table-v1``): for each column, SHA-256 streams over (a) one validity byte
per row, (b) the values with nulls replaced by a fixed filler, as little-endian 64-bit
numbers for numeric and temporal kinds (timestamps and durations as whole seconds plus
nanoseconds; dates as days; times as nanoseconds; booleans as one byte) or as UTF-8 /
raw bytes with a separate stream of 64-bit lengths for strings and binary, decimals as
their text, nested values as canonical JSON. A column's digest hashes its name, kind, row
count and the three stream digests; the version is the SHA-256 of the method name, the
row count and the column digests in name order. Streams are independent of how rows are
cut into batches, so files are hashed batch by batch without loading them whole.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput

__all__ = ["HASH_METHOD", "TableHasher", "canonical_kind", "hash_table"]

HASH_METHOD: Final = "steward-table-v1"
_NS_PER_S: Final = 1_000_000_000
_UNIT_NS: Final = {"s": _NS_PER_S, "ms": 1_000_000, "us": 1_000, "ns": 1}


def canonical_kind(kind: pa.DataType) -> str:
    """The kind of an Arrow type as the hash sees it (widths and encodings dropped)."""
    if pa.types.is_dictionary(kind):
        return canonical_kind(kind.value_type)
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_decimal(kind):
        return "decimal"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        return "string"
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or _is_binary_view(kind)
    ):
        return "binary"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_timestamp(kind):
        return f"timestamp[tz={kind.tz}]" if kind.tz else "timestamp"
    if pa.types.is_time(kind):
        return "time"
    if pa.types.is_duration(kind):
        return "duration"
    if pa.types.is_null(kind):
        return "null"
    return f"nested:{kind}"


def _is_string_view(kind: pa.DataType) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(kind))


def _is_binary_view(kind: pa.DataType) -> bool:
    check = getattr(pa.types, "is_binary_view", None)
    return bool(check and check(kind))


def _le(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values.astype(values.dtype.newbyteorder("<"), copy=False)).tobytes()


class _ColumnHasher:
    def __init__(self, name: str) -> None:
        self.name = name
        self.kind: str | None = None
        self.rows = 0
        self.validity = hashlib.sha256()
        self.values = hashlib.sha256()
        self.lengths = hashlib.sha256()

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.update(chunk)
            return
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        kind = canonical_kind(array.type)
        if self.kind is None:
            self.kind = kind
        elif kind != self.kind and "null" not in (kind, self.kind):
            raise InvalidInput(
                f"Column {self.name!r} changes kind within the data ({self.kind} then {kind}); "
                "expected one type per column. Cast the column to one type before registering."
            )
        elif self.kind == "null":
            self.kind = kind
        n = len(array)
        if n == 0:
            return
        self.rows += n
        if kind == "float":
            array = pc.if_else(pc.is_nan(array), pa.scalar(None, array.type), array)
        valid = array.is_valid().to_numpy(zero_copy_only=False).astype(np.uint8)
        self.validity.update(valid.tobytes())
        self._update_values(array, kind)

    def _update_values(self, array: pa.Array, kind: str) -> None:
        if kind == "null":
            return
        if kind in {"string", "binary"}:
            target = pa.string() if kind == "string" else pa.binary()
            if kind == "binary" and pa.types.is_fixed_size_binary(array.type):
                array = array.cast(pa.binary())
            filled = pc.fill_null(array.cast(target), pa.scalar(b"" if kind == "binary" else ""))
            filled = pa.concat_arrays([filled])  # offset 0, fresh buffers
            offsets = np.frombuffer(filled.buffers()[1], dtype="<i4")[: len(filled) + 1]
            start, stop = int(offsets[0]), int(offsets[-1])
            data = filled.buffers()[2]
            if data is not None and stop > start:
                self.values.update(memoryview(data)[start:stop])
            self.lengths.update(_le(np.diff(offsets).astype(np.int64)))
            return
        if kind == "bool":
            values = pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(np.uint8)
            self.values.update(values.tobytes())
            return
        if kind == "int":
            self.values.update(_le(_int64(array, self.name)))
            return
        if kind == "float":
            filled = pc.fill_null(array.cast(pa.float64()), 0.0)
            self.values.update(_le(filled.to_numpy(zero_copy_only=False)))
            return
        if kind == "date":
            days = pc.fill_null(array.cast(pa.date32()).cast(pa.int32()), 0)
            self.values.update(_le(days.to_numpy(zero_copy_only=False).astype(np.int64)))
            return
        if kind.startswith("timestamp") or kind == "duration":
            scale = _UNIT_NS[array.type.unit]
            raw = pc.fill_null(array.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
            if scale == _NS_PER_S:
                seconds, nanos = raw, np.zeros_like(raw)
            else:
                per_second = _NS_PER_S // scale
                seconds, rest = np.divmod(raw, per_second)
                nanos = rest * scale
            self.values.update(_le(np.column_stack([seconds, nanos]).astype(np.int64).ravel()))
            return
        if kind == "time":
            scale = _UNIT_NS[array.type.unit]
            raw = pc.fill_null(array.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
            self.values.update(_le(raw.astype(np.int64) * scale))
            return
        if kind == "decimal":
            text = pc.fill_null(array.cast(pa.string()), "")
            self._update_values(text, "string")
            return
        # nested values: canonical JSON per row (slow path, rare)
        rows = [json.dumps(v, sort_keys=True, default=str) for v in array.to_pylist()]
        self._update_values(pa.array(rows, pa.string()), "string")

    def digest(self) -> str:
        material = json.dumps(
            [
                self.name,
                self.kind or "null",
                self.rows,
                self.validity.hexdigest(),
                self.values.hexdigest(),
                self.lengths.hexdigest(),
            ]
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _int64(array: pa.Array, name: str) -> np.ndarray:
    if pa.types.is_uint64(array.type):
        high = pc.max(array).as_py()
        if high is not None and high > np.iinfo(np.int64).max:
            raise InvalidInput(
                f"Column {name!r} holds unsigned 64-bit values above 2**63-1 "
                f"(largest {high}); expected integers that fit in 64 signed bits. "
                "Cast the column to string (or decimal) before registering."
            )
    values: np.ndarray = (
        pc.fill_null(array.cast(pa.int64()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    )
    return values


class TableHasher:
    """Streams record batches into the content hash (see the module docstring)."""

    def __init__(self, column_names: list[str]) -> None:
        self._columns = {name: _ColumnHasher(name) for name in column_names}
        self.rows = 0

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        for name, hasher in self._columns.items():
            hasher.update(batch.column(name))
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        material = json.dumps(
            [
                HASH_METHOD,
                self.rows,
                [[n, self._columns[n].digest()] for n in sorted(self._columns)],
            ]
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()


def hash_table(table: pa.Table) -> str:
    """The content hash of an Arrow table (64 hex digits).

    >>> a = pa.table({"x": pa.array([1, 2], pa.int32()), "y": ["a", None]})
    >>> b = pa.table({"y": pa.array(["a", None]).dictionary_encode(), "x": [1, 2]})
    >>> hash_table(a) == hash_table(b)
    True
    >>> hash_table(a) == hash_table(a.take([1, 0]))
    False
    """
    hasher = TableHasher(list(table.column_names))
    hasher.update(table)
    return hasher.hexdigest()
