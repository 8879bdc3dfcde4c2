"""What a check sees: the version, its data file read a column at a time, the reference,
the charter's input domain, and the time "now"."""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlsteward.core import InvalidInput
from mlsteward.data._records import CheckResult, CheckStatus, DatasetVersion
from mlsteward.data._types import infer_column_type

__all__ = ["DUCKDB_MEMORY", "CheckContext", "Domain", "quote", "result"]

_CACHE_COLUMNS = 4
DUCKDB_MEMORY = "512MB"
"""Memory DuckDB may use for table-wide checks (duplicate rows) before spilling to disk."""


@dataclass(frozen=True)
class Domain:
    """Allowed values: numeric ranges and category sets, and where they came from."""

    ranges: dict[str, tuple[float | None, float | None]]
    categories: dict[str, list[Any]]
    source: str


@dataclass
class _Data:
    version: DatasetVersion
    path: Path
    _cache: OrderedDict[str, pa.ChunkedArray] = field(default_factory=OrderedDict)

    def column(self, name: str) -> pa.ChunkedArray:
        """One column, decoded from dictionary encoding (a few are kept cached)."""
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        column = pq.read_table(self.path, columns=[name]).column(0)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
        self._cache[name] = column
        if len(self._cache) > _CACHE_COLUMNS:
            self._cache.popitem(last=False)
        return column

    def numeric(self, name: str) -> np.ndarray:
        """A numeric column as float64 (missing values dropped)."""
        column = self.column(name)
        if pa.types.is_boolean(column.type):
            column = column.cast(pa.int8())
        return np.asarray(column.drop_null().cast(pa.float64()).to_numpy(), dtype=np.float64)


@dataclass
class CheckContext:
    """Inputs of one check run; checks read columns through it, never whole tables."""

    data: _Data
    reference: _Data | None
    charter_domain: Domain | None
    now: datetime
    connection: duckdb.DuckDBPyConnection
    spill: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def open(
        cls,
        version: DatasetVersion,
        path: Path,
        reference: DatasetVersion | None,
        reference_path: Path | None,
        charter_domain: Domain | None,
        now: datetime,
    ) -> CheckContext:
        ref = None
        if reference is not None and reference_path is not None:
            ref = _Data(reference, reference_path)
        # bounded memory: DuckDB spills to a temporary directory of its own
        spill = tempfile.TemporaryDirectory(prefix="steward-checks-")
        connection = duckdb.connect(
            config={"memory_limit": DUCKDB_MEMORY, "temp_directory": spill.name}
        )
        return cls(_Data(version, path), ref, charter_domain, now, connection, spill)

    @property
    def version(self) -> DatasetVersion:
        return self.data.version

    @property
    def rows(self) -> int:
        return self.version.row_count

    def close(self) -> None:
        self.connection.close()
        if self.spill is not None:
            self.spill.cleanup()

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run DuckDB SQL where ``data`` (and ``reference``) name the Parquet files."""
        text = query.replace("{data}", "read_parquet(?)")
        return self.connection.execute(text, [str(self.data.path), *params]).fetchall()

    def missing_rates(self, columns: list[str]) -> dict[str, float]:
        """Share of missing values per column, in one DuckDB scan of the file."""
        if not columns:
            return {}
        counts = ", ".join(f"count({quote(c)})" for c in columns)
        ((total, *present),) = self.sql(f"SELECT count(*), {counts} FROM {{data}}")
        return {c: (total - p) / max(total, 1) for c, p in zip(columns, present, strict=True)}

    def single_valued(self, columns: list[str]) -> dict[str, Any]:
        """Columns with one value at most (min equals max), in one DuckDB scan:
        column -> that value (None for an all-missing column)."""
        if not columns:
            return {}
        parts = ", ".join(f"min({quote(c)}), max({quote(c)})" for c in columns)
        (row,) = self.sql(f"SELECT {parts} FROM {{data}}")
        return {c: row[2 * i] for i, c in enumerate(columns) if row[2 * i] == row[2 * i + 1]}

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
        """``binary``, ``multiclass`` or ``numeric`` for a target column."""
        column = self.data.column(target)
        distinct = pc.count_distinct(column, mode="only_valid").as_py()
        logical = self.version.column_types.get(target) or infer_column_type(target, column)
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
    """A :class:`CheckResult` for ``check`` (its kind, label and severity)."""
    return CheckResult(
        kind=check.kind,
        name=check.label,
        status=status,
        severity=check.severity,
        message=message,
        columns=tuple(columns),
        details=details or {},
    )
