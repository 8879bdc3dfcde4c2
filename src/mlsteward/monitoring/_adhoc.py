"""Ad-hoc drift between any two datasets: DataFrames, Arrow tables, files or versions.

:func:`drift` summarises the reference (its bins come from its quantiles), then the
current data on those bins, and compares every column. Parquet files are read one column
at a time (memory bounded by a column, never by the file); a CSV current file is read in
batches whose summaries merge exactly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from mlsteward.core import InvalidInput, NotFound
from mlsteward.monitoring._drift import DriftReport, compare_columns
from mlsteward.monitoring._summary import (
    ColumnKind,
    ColumnSummary,
    summarise_like,
    summarise_reference,
)
from mlsteward.monitoring._tables import SKIPPED_TYPES, DataSummary, summarise, summarise_window
from mlsteward.monitoring._thresholds import DriftConfig

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from mlsteward.store import Store

__all__ = ["drift", "read_source", "summarise_file"]

BATCH_ROWS: Final = 1_000_000
_FILE_SUFFIXES: Final = (".parquet", ".pq", ".csv", ".tsv")


def _is_path(source: Any) -> bool:
    if isinstance(source, Path):
        return True
    if not isinstance(source, str):
        return False
    return source.lower().endswith(_FILE_SUFFIXES) or "/" in source or Path(source).exists()


def _dataset(path: Path) -> ds.Dataset:
    import pyarrow.dataset as ds

    if not path.exists():
        raise NotFound(
            f"No file or directory {path}: give a Parquet or CSV file (or a directory of "
            "Parquet files)."
        )
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        import pyarrow.csv as pacsv

        return ds.dataset(
            path, format=ds.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter="\t"))
        )
    return ds.dataset(path, format="csv" if suffix == ".csv" else "parquet")


def _is_parquet(source: Any) -> bool:
    return _is_path(source) and Path(source).suffix.lower() not in (".csv", ".tsv")


def _batches(path: Path, columns: Sequence[str] | None) -> tuple[pa.Schema, Iterator[pa.Table]]:
    dataset = _dataset(path)
    names = list(columns) if columns is not None else None
    scanner = dataset.scanner(columns=names, batch_size=BATCH_ROWS)

    def batches() -> Iterator[pa.Table]:
        for batch in scanner.to_batches():
            if batch.num_rows:
                yield pa.Table.from_batches([batch])

    schema = (
        dataset.schema if names is None else pa.schema([dataset.schema.field(n) for n in names])
    )
    return schema, batches()


def _kind_of(kind: pa.DataType, logical: str | None) -> ColumnKind | None:
    if logical == "numeric":
        return "numeric"
    if logical in ("categorical", "boolean", "text", "id"):
        return "categorical"
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind):
        return "categorical"
    return None


def summarise_file(
    path: str | os.PathLike[str],
    *,
    reference: DataSummary | None = None,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> DataSummary:
    """Summaries of a Parquet file (or directory) read one column at a time: reference
    summaries, or summaries on ``reference``'s bins when it is given."""
    dataset = _dataset(Path(path))
    schema = dataset.schema
    types = dict(column_types or {})
    if reference is not None:
        names = list(reference.columns)
        missing = [n for n in names if n not in schema.names]
        if missing:
            raise InvalidInput(
                f"{path} lacks the reference column(s) {', '.join(map(repr, missing))}; it has "
                f"{', '.join(schema.names[:40])}."
            )
        kinds: dict[str, ColumnKind] = {n: reference.columns[n].kind for n in names}
    else:
        wanted = list(columns) if columns is not None else list(schema.names)
        kinds = {}
        for name in wanted:
            logical = types.get(name)
            if name not in schema.names:
                raise InvalidInput(
                    f"{path} has no column {name!r}; its columns are {', '.join(schema.names[:40])}."
                )
            if logical in SKIPPED_TYPES and columns is None:
                continue
            kind = _kind_of(schema.field(name).type, logical)
            if kind is not None:
                kinds[name] = kind

    def one(name: str) -> tuple[ColumnSummary, int]:
        values = dataset.to_table(columns=[name]).column(name)
        if reference is None:
            return summarise_reference(name, values, kinds[name]), 0
        return summarise_like(reference.columns[name], values)

    count = max(1, min(workers or min(2, os.cpu_count() or 1), len(kinds)))
    if count > 1:
        with ThreadPoolExecutor(count) as pool:
            parts = list(pool.map(one, kinds))
    else:
        parts = [one(name) for name in kinds]
    rows = dataset.count_rows()
    return DataSummary(rows, {s.name: s for s, _ in parts}, {s.name: e for s, e in parts if e})


def read_source(
    source: Any,
    *,
    store: Store | None = None,
    project: str | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[pa.Table | Any, str, dict[str, str]]:
    """``(data, name, column_types)`` of a DataFrame, Arrow table, file path or dataset
    reference ``NAME@VERSION`` (which needs ``store`` and ``project``)."""
    if isinstance(source, pa.Table) or hasattr(source, "iloc"):
        return source, "data", {}
    if isinstance(source, str) and "@" in source and not _is_path(source):
        if store is None:
            raise InvalidInput(
                f"{source!r} looks like a dataset reference; reading it needs a store (and a "
                "project). Pass a file path for data outside a store."
            )
        from mlsteward.data import load_table, resolve_dataset

        if project is None:
            from mlsteward.store.metadata import SqlProjectRepository

            with store.reader() as session:
                names = [p.name for p in SqlProjectRepository(session).list()]
            if len(names) != 1:
                raise InvalidInput(
                    f"Which project holds {source!r}? The store has {len(names)} projects; pass "
                    "project=NAME (--project NAME)."
                )
            project = names[0]
        version = resolve_dataset(store, project, source)
        table = load_table(store, version, list(columns) if columns else None)
        return table, version.short_ref, version.column_types
    if _is_path(source):
        path = Path(source)
        schema, batches = _batches(path, columns)
        parts = list(batches)
        return (pa.concat_tables(parts) if parts else schema.empty_table()), path.name, {}
    raise InvalidInput(
        f"Cannot read {type(source).__name__} {source!r} as data: give a pandas or Arrow "
        "table, a Parquet or CSV path, or a dataset reference NAME@VERSION."
    )


def drift(
    reference: Any,
    current: Any,
    *,
    store: Store | None = None,
    project: str | None = None,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    config: DriftConfig | None = None,
    workers: int | None = None,
    **settings: Any,
) -> DriftReport:
    """Drift of every column shared by ``reference`` and ``current`` (or ``columns``).

    Each side is a pandas or Arrow table, a Parquet/CSV path or a dataset reference
    ``NAME@VERSION`` (with ``store``). ``settings`` override :class:`DriftConfig` fields
    (``method``, ``p_value``, ``distance``, ...). Parquet files are read column by column,
    a CSV current file batch by batch.
    """
    if config is None:
        config = DriftConfig.from_charter(None, **settings)
    elif settings:
        raise InvalidInput("Pass either config=DriftConfig(...) or drift settings, not both.")
    if _is_parquet(reference) and _is_path(current):
        ref_path, cur_path = Path(reference), Path(current)
        shared = _shared(_dataset(ref_path).schema.names, _dataset(cur_path).schema.names, columns)
        ref_summary = summarise_file(
            ref_path, columns=shared, column_types=column_types, workers=workers
        )
        if _is_parquet(current):
            summary = summarise_file(cur_path, reference=ref_summary, workers=workers)
        else:
            summary = _merged(ref_summary, cur_path, workers)
        return compare_columns(
            ref_summary, summary, config, reference_name=ref_path.name, current_name=cur_path.name
        )
    ref_data, ref_name, ref_types = read_source(
        reference, store=store, project=project, columns=columns
    )
    types = {**ref_types, **dict(column_types or {})}
    ref_columns = _names(ref_data)
    if isinstance(current, str | Path) and _is_path(current):
        path = Path(current)
        chosen = _shared(ref_columns, _dataset(path).schema.names, columns)
        ref_summary = summarise(
            _select(ref_data, chosen), column_types=types, columns=columns, workers=workers
        )
        summary = _merged(ref_summary, path, workers)
        cur_name = path.name
    else:
        cur_data, cur_name, cur_types = read_source(
            current, store=store, project=project, columns=columns
        )
        types = {**cur_types, **types}
        chosen = _shared(ref_columns, _names(cur_data), columns)
        ref_summary = summarise(
            _select(ref_data, chosen), column_types=types, columns=columns, workers=workers
        )
        summary = summarise_window(
            ref_summary, _select(cur_data, list(ref_summary.columns)), workers=workers
        )
    return compare_columns(
        ref_summary, summary, config, reference_name=ref_name, current_name=cur_name
    )


def _merged(reference: DataSummary, path: Path, workers: int | None) -> DataSummary:
    """A file summarised batch by batch on the reference's bins (the parts merge exactly)."""
    schema, batches = _batches(path, list(reference.columns))
    summary: DataSummary | None = None
    for batch in batches:
        part = summarise_window(reference, batch, workers=workers)
        summary = part if summary is None else summary.merge(part)
    if summary is None:
        summary = summarise_window(reference, schema.empty_table())
    return summary


def _names(data: Any) -> list[str]:
    if isinstance(data, pa.Table):
        return list(data.column_names)
    return [str(c) for c in data.columns]


def _select(data: Any, columns: Sequence[str]) -> Any:
    if isinstance(data, pa.Table):
        return data.select(list(columns))
    return data[list(columns)]


def _shared(
    reference: Sequence[str], current: Sequence[str], wanted: Sequence[str] | None
) -> list[str]:
    if wanted is not None:
        missing = [c for c in wanted if c not in reference or c not in current]
        if missing:
            raise InvalidInput(
                f"Column(s) {', '.join(map(repr, missing))} are not in both datasets; shared "
                f"columns: {', '.join(c for c in reference if c in current)}."
            )
        return list(wanted)
    shared = [c for c in reference if c in current]
    if not shared:
        raise InvalidInput(
            "The two datasets share no column; compare data with the same columns (reference: "
            f"{', '.join(reference[:10])}; current: {', '.join(current[:10])})."
        )
    return shared
