"""What a check sees: the version, its data file (read in batches or a column at a time),
its stored profile, the reference, the charter's input domain, and the time "now".

Checks read what the stored profile already knows (missing counts, min and max, category
counts, exact value counts, bucket histograms) before they touch the data, and when they
must read the data they stream it in record batches of only the columns they need.
"""

from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlsteward.core import InvalidInput
from mlsteward.data._column_profile import ColumnProfile
from mlsteward.data._profile import DatasetProfile, ProfileBuilder
from mlsteward.data._records import CheckResult, CheckStatus, DatasetVersion
from mlsteward.data._types import infer_column_type

__all__ = [
    "BATCH_ROWS",
    "DUCKDB_MEMORY",
    "CheckContext",
    "Domain",
    "as_floats",
    "decoded",
    "quote",
    "result",
]

_CACHE_COLUMNS: Final = 4
BATCH_ROWS: Final = 262_144
"""Rows per record batch when a check streams the data file."""
DUCKDB_MEMORY: Final = "512MB"
"""Memory DuckDB may use for table-wide checks (duplicate rows) before spilling to disk."""

ProfileLoader = Callable[[], DatasetProfile | None]


@dataclass(frozen=True)
class Domain:
    """Allowed values: numeric ranges and category sets, and where they came from."""

    ranges: dict[str, tuple[float | None, float | None]]
    categories: dict[str, list[Any]]
    source: str


def decoded(column: pa.Array | pa.ChunkedArray) -> Any:
    """A column as checks read it: dictionaries decoded, large strings as strings."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    return column


def as_floats(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The present values of a numeric column as float64 (nulls and NaN dropped)."""
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int8())
    values = np.asarray(column.drop_null().cast(pa.float64()).to_numpy(), dtype=np.float64)
    nan = np.isnan(values)
    return values[~nan] if nan.any() else values


def _picks(total: int, rows: int) -> np.ndarray | None:
    """Sorted positions of a seeded sample of ``rows`` among ``total`` (None: take all).
    The same positions as ``np.random.default_rng(0).choice(items, rows, replace=False)``
    picks from ``total`` items, sorted."""
    if total <= rows:
        return None
    return np.sort(np.random.default_rng(0).choice(total, rows, replace=False))


def _in_window(picks: np.ndarray, start: int, size: int) -> np.ndarray:
    """The picks in ``[start, start + size)``, relative to ``start``."""
    low, high = np.searchsorted(picks, [start, start + size])
    window: np.ndarray = picks[low:high] - start
    return window


@dataclass
class _Data:
    version: DatasetVersion
    path: Path
    load_profile: ProfileLoader | None = None
    _cache: OrderedDict[str, pa.ChunkedArray] = field(default_factory=OrderedDict)
    _profile: DatasetProfile | None = None
    _schema: pa.Schema | None = None

    def column(self, name: str) -> pa.ChunkedArray:
        """One column, decoded from dictionary encoding (a few are kept cached)."""
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        column: pa.ChunkedArray = decoded(pq.read_table(self.path, columns=[name]).column(0))
        self._cache[name] = column
        if len(self._cache) > _CACHE_COLUMNS:
            self._cache.popitem(last=False)
        return column

    def release(self) -> None:
        """Drop the cached columns."""
        self._cache.clear()

    def numeric(self, name: str) -> np.ndarray:
        """A numeric column as float64 (missing values dropped)."""
        return as_floats(self.column(name))

    def arrow_type(self, name: str) -> pa.DataType:
        """The type :meth:`column` gives a column, read from the file's footer only."""
        if self._schema is None:
            self._schema = pq.read_schema(self.path)
        kind = self._schema.field(name).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        return pa.string() if pa.types.is_large_string(kind) else kind

    def batches(
        self, columns: list[str], batch_rows: int | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The rows of ``columns`` as record batches of at most ``batch_rows`` rows (default
        :data:`BATCH_ROWS`), in file order (memory bounded by a batch; columns decoded as
        :meth:`column` does)."""
        size = batch_rows or BATCH_ROWS
        with pq.ParquetFile(self.path, pre_buffer=False) as reader:
            for batch in reader.iter_batches(batch_size=size, columns=columns):
                arrays = [decoded(a) for a in batch.columns]
                yield pa.RecordBatch.from_arrays(arrays, names=list(columns))

    def _counted(self, columns: list[str]) -> dict[str, int]:
        """Present (not null) values per column, counted in one pass over the file."""
        counts = dict.fromkeys(columns, 0)
        for batch in self.batches(columns):
            for i, name in enumerate(columns):
                counts[name] += len(batch) - batch.column(i).null_count
        return counts

    def sample_present(
        self, columns: list[str], rows: int, totals: dict[str, int] | None = None
    ) -> dict[str, pa.Array]:
        """Per column, a seeded sample (seed 0) of ``rows`` of its present values, in file
        order; all of them when there are no more. One streaming pass over the columns:
        the sample positions are drawn among the present values (their number comes from
        the profile), so no column is ever held whole."""
        totals = totals or {c: self.present(c) for c in columns}
        picks = {c: _picks(n, rows) for c, n in totals.items()}
        parts: dict[str, list[pa.Array]] = {c: [] for c in columns}
        seen = dict.fromkeys(columns, 0)
        for batch in self.batches(columns):
            for i, name in enumerate(columns):
                present = batch.column(i).drop_null()
                wanted = picks[name]
                if wanted is None:
                    parts[name].append(present)
                else:
                    local = _in_window(wanted, seen[name], len(present))
                    parts[name].append(present.take(pa.array(local)))
                seen[name] += len(present)
        if seen != totals:  # the profile counts differently (NaN): count, then draw again
            return self.sample_present(columns, rows, self._counted(columns))
        return {
            c: pa.concat_arrays(parts[c]) if parts[c] else pa.array([], self.arrow_type(c))
            for c in columns
        }

    def labelled_sample(
        self, target: str, columns: list[str], rows: int, total: int | None = None
    ) -> pa.Table:
        """The rows whose ``target`` is present, sampled to ``rows`` with seed 0 when there
        are more (the same rows on every run), with ``columns`` (the target first). One
        streaming pass; positions are drawn among the labelled rows, whose number comes
        from the profile."""
        names = [target, *[c for c in columns if c != target]]
        total = self.present(target) if total is None else total
        wanted = _picks(total, rows)
        parts: list[pa.RecordBatch] = []
        seen = 0
        for batch in self.batches(names):
            labelled = np.flatnonzero(batch.column(0).is_valid().to_numpy(zero_copy_only=False))
            local = (
                labelled if wanted is None else labelled[_in_window(wanted, seen, len(labelled))]
            )
            parts.append(batch.take(pa.array(local, pa.int64())))
            seen += len(labelled)
        if seen != total:  # the profile counts differently (NaN): count, then draw again
            return self.labelled_sample(target, columns, rows, self._counted([target])[target])
        if not parts:
            return pa.table({n: pa.array([], self.arrow_type(n)) for n in names})
        return pa.Table.from_batches(parts)

    @property
    def profile(self) -> DatasetProfile:
        """The version's profile: the stored one, else computed once from the file."""
        if self._profile is None:
            stored = self.load_profile() if self.load_profile is not None else None
            self._profile = stored if stored is not None else self._compute_profile()
        return self._profile

    def _compute_profile(self) -> DatasetProfile:
        """The profile of the data file, streamed (for versions without a usable one)."""
        columns = self.version.columns
        with ProfileBuilder(self.version.column_types, workers=min(4, os.cpu_count() or 1)) as b:
            for batch in self.batches(columns):
                if batch.num_rows:
                    b.add(batch)
            if b.column_types is None:
                b.add(pa.table({c: pa.array([], self.arrow_type(c)) for c in columns}))
            return b.profile()

    def summary(self, name: str) -> ColumnProfile:
        """The profile of one column."""
        return self.profile[name]

    def present(self, name: str) -> int:
        """Number of present (not missing) values of a column."""
        return self.summary(name).count


@dataclass
class CheckContext:
    """Inputs of one check run; checks read the profile, or stream columns, through it."""

    data: _Data
    reference: _Data | None
    charter_domain: Domain | None
    now: datetime
    spill: tempfile.TemporaryDirectory[str]
    cache: dict[Any, Any] = field(default_factory=dict)
    """Results shared by checks of one run (e.g. the labelled sample of the target)."""
    _connection: duckdb.DuckDBPyConnection | None = None

    @classmethod
    def open(
        cls,
        version: DatasetVersion,
        path: Path,
        reference: DatasetVersion | None,
        reference_path: Path | None,
        charter_domain: Domain | None,
        now: datetime,
        *,
        profiles: Callable[[DatasetVersion], ProfileLoader | None] | None = None,
    ) -> CheckContext:
        """``profiles(version)`` gives the loader of a version's stored profile (without
        one, or when it gives None, the profile is computed from the file when needed)."""
        ref = None
        if reference is not None and reference_path is not None:
            ref = _Data(reference, reference_path, profiles(reference) if profiles else None)
        spill = tempfile.TemporaryDirectory(prefix="steward-checks-")
        data = _Data(version, path, profiles(version) if profiles else None)
        return cls(data, ref, charter_domain, now, spill)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection (opened on first use) with bounded memory: beyond
        :data:`DUCKDB_MEMORY` it spills to a temporary directory of its own."""
        if self._connection is None:
            self._connection = duckdb.connect(
                config={"memory_limit": DUCKDB_MEMORY, "temp_directory": self.spill.name}
            )
        return self._connection

    @property
    def version(self) -> DatasetVersion:
        return self.data.version

    @property
    def rows(self) -> int:
        return self.version.row_count

    def release(self) -> None:
        """Give back memory between checks: DuckDB's buffers (the connection is closed and
        reopened when needed), cached columns, and Arrow's unused pool memory."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.data.release()
        if self.reference is not None:
            self.reference.release()
        pa.default_memory_pool().release_unused()

    def close(self) -> None:
        self.release()
        self.cache.clear()
        self.spill.cleanup()

    def sql(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run DuckDB SQL where ``{data}`` names the Parquet file (as often as needed) and
        ``$name`` the keyword ``params``."""
        text = query.replace("{data}", "read_parquet($data)")
        return self.connection.execute(text, {"data": str(self.data.path), **params}).fetchall()

    def missing_rates(self, columns: list[str]) -> dict[str, float]:
        """Share of missing values per column, from the profile (no scan of the data)."""
        return {c: self.data.summary(c).missing / max(self.rows, 1) for c in columns}

    def single_valued(self, columns: list[str]) -> dict[str, Any]:
        """Columns with one value at most (min equals max): column -> that value (None for
        an all-missing column).

        The profile's exact min and max rule out every column they differ in; the few
        candidates left (and columns the profile keeps no min/max for) are confirmed with
        one DuckDB scan of only those columns, which also gives the value.
        """
        candidates = []
        for name in columns:
            column = self.data.summary(name)
            if column.kind == "other" or column.count == 0 or column.low == column.high:
                candidates.append(name)
        if not candidates:
            return {}
        parts = ", ".join(f"min({quote(c)}), max({quote(c)})" for c in candidates)
        (row,) = self.sql(f"SELECT {parts} FROM {{data}}")
        return {c: row[2 * i] for i, c in enumerate(candidates) if row[2 * i] == row[2 * i + 1]}

    def columns_of(
        self, kinds: set[str], requested: list[str] | None, *, skip_time: bool = False
    ) -> list[str]:
        """Requested columns (validated), or every column whose logical type is in ``kinds``
        (without the time column when ``skip_time``: a batch often covers one period)."""
        types = self.version.column_types
        if requested is None:
            skip = self.version.time_column if skip_time else None
            return [c for c, t in types.items() if t in kinds and c != skip]
        self.require_columns(requested, "columns")
        return list(requested)

    def require_columns(self, columns: list[str], what: str) -> None:
        missing = [c for c in columns if c not in self.version.column_types]
        if missing:
            raise InvalidInput(
                f"The check spec names {what} {', '.join(map(repr, missing))}, which dataset "
                f"{self.version.short_ref} does not have; its columns are: "
                f"{', '.join(self.version.columns[:40])}."
            )

    def target(self, given: str | None) -> str | None:
        target = given or self.version.target
        if target is not None:
            self.require_columns([target], "target")
        return target

    def target_kind(self, target: str) -> str:
        """``binary``, ``multiclass`` or ``numeric`` for a target column.

        The distinct count comes from the profile when it is exact there (or clearly
        large: an estimate above 100 cannot be 2 or 20); otherwise it is counted.
        """
        summary = self.data.summary(target)
        distinct = summary.distinct
        if distinct is None or not (summary.distinct_exact or distinct > 100):
            column = self.data.column(target)
            distinct = pc.count_distinct(column, mode="only_valid").as_py()
        logical = self.version.column_types.get(target) or infer_column_type(
            target, self.data.column(target)
        )
        if logical == "numeric" and distinct > 20:
            return "numeric"
        return "binary" if distinct <= 2 else "multiclass"

    def features(self, target: str | None, requested: list[str] | None) -> list[str]:
        """Feature columns: not the target, not ids, text or the time column."""
        if requested is not None:
            self.require_columns(requested, "columns")
            return [c for c in requested if c != target]
        skip = {target, self.version.time_column}
        return [
            c
            for c, t in self.version.column_types.items()
            if c not in skip and t in {"numeric", "categorical", "boolean"}
        ]


def quote(name: str) -> str:
    """A column name as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def result(
    check: Any,
    status: CheckStatus,
    message: str,
    *,
    columns: list[str] | tuple[str, ...] = (),
    details: dict[str, Any] | None = None,
) -> CheckResult:
    """A :class:`CheckResult` for ``check`` (its kind, label and severity).

    Every result's details carry ``measured`` and ``threshold`` (None when the check did
    not measure, e.g. skipped): a scalar, or a mapping column (class, group) -> value.
    """
    shaped = {"measured": None, "threshold": None, **(details or {})}
    return CheckResult(
        kind=check.kind,
        name=check.label,
        status=status,
        severity=check.severity,
        message=message,
        columns=tuple(columns),
        details=shaped,
    )
