"""Ad-hoc drift between any two datasets: DataFrames, Arrow tables, files or versions.

:func:`drift` summarises the reference whole (its bins come from its quantiles), then
the current data on those bins, batch by batch when it is a file (summaries merge
exactly, so memory is bounded by a batch), and compares every column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from mlsteward.core import InvalidInput, NotFound
from mlsteward.monitoring._drift import DriftReport, compare_columns
from mlsteward.monitoring._tables import DataSummary, summarise, summarise_window
from mlsteward.monitoring._thresholds import DriftConfig

if TYPE_CHECKING:
    from mlsteward.store import Store

__all__ = ["drift", "read_source"]

BATCH_ROWS: Final = 1_000_000
_FILE_SUFFIXES: Final = (".parquet", ".pq", ".csv", ".tsv")


def _is_path(source: Any) -> bool:
    if isinstance(source, Path):
        return True
    if not isinstance(source, str):
        return False
    return source.lower().endswith(_FILE_SUFFIXES) or "/" in source or Path(source).exists()


def _file_batches(
    path: Path, columns: Sequence[str] | None
) -> tuple[pa.Schema, Iterator[pa.Table]]:
    import pyarrow.dataset as ds

    if not path.exists():
        raise NotFound(
            f"No file or directory {path}: give a Parquet or CSV file (or a directory of Parquet files)."
        )
    fmt = "csv" if path.suffix.lower() in (".csv", ".tsv") else "parquet"
    if fmt == "csv" and path.suffix.lower() == ".tsv":
        import pyarrow.csv as pacsv

        dataset = ds.dataset(
            path, format=ds.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter="\t"))
        )
    else:
        dataset = ds.dataset(path, format=fmt)
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
        return (
            load_table(store, version, list(columns) if columns else None),
            version.short_ref,
            version.column_types,
        )
    if _is_path(source):
        path = Path(source)
        schema, batches = _file_batches(path, columns)
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
    (``method``, ``p_value``, ``distance``, ...). A current file is summarised batch by batch.
    """
    if config is None:
        config = DriftConfig.from_charter(None, **settings)
    elif settings:
        raise InvalidInput("Pass either config=DriftConfig(...) or drift settings, not both.")
    ref_data, ref_name, ref_types = read_source(
        reference, store=store, project=project, columns=columns
    )
    types = {**ref_types, **dict(column_types or {})}
    ref_columns = _names(ref_data)
    if isinstance(current, str | Path) and _is_path(current):
        path = Path(current)
        schema, batches = _file_batches(path, None)
        chosen = _shared(ref_columns, schema.names, columns)
        ref_summary = summarise(
            _select(ref_data, chosen), column_types=types, columns=columns, workers=workers
        )
        summary: DataSummary | None = None
        for batch in batches:
            part = summarise_window(
                ref_summary, batch.select(list(ref_summary.columns)), workers=workers
            )
            summary = part if summary is None else summary.merge(part)
        if summary is None:
            summary = summarise_window(
                ref_summary, schema.empty_table().select(list(ref_summary.columns))
            )
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
