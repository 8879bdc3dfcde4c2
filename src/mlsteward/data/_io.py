"""Reading data: pandas, polars and Arrow tables, CSV and Parquet files, as record batches.

One reader serves registration and profiling. :func:`open_source` turns any accepted input
into a :class:`TableSource`: a one-pass stream of Arrow record batches of at most
``batch_rows`` rows with one schema, so files are read batch by batch instead of whole:

- Parquet files with :meth:`pyarrow.parquet.ParquetFile.iter_batches` (memory bounded by
  a batch; no pre-buffering of whole row groups), and, where the caller allows it,
  directories of Parquet files as one dataset;
- CSV files up to :data:`CSV_WHOLE_LIMIT` in one go (column types inferred from every
  row), larger ones in blocks (types inferred from the first block; a column empty there
  is read as text);
- tables and data frames sliced into batches.

Batches are normalised for storage: schema metadata (e.g. the pandas index description)
dropped, string views cast to strings, NaN in float columns stored as null (the content
hash and the profile treat them alike). Every error says what was wrong with which input,
what was expected, and how to fix it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput, NotFound

__all__ = [
    "BATCH_ROWS",
    "CSV_SUFFIXES",
    "CSV_WHOLE_LIMIT",
    "PARQUET_SUFFIXES",
    "TableSource",
    "open_source",
]

CSV_SUFFIXES: Final = (".csv", ".csv.gz", ".csv.bz2", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES: Final = (".parquet", ".pq", ".parq")
BATCH_ROWS: Final = 65_536
"""Rows per batch unless the caller asks for another size."""
CSV_WHOLE_LIMIT: Final = 256 * 1024 * 1024
"""CSV files up to this size are parsed in one go (types inferred from every row); larger
ones are streamed in blocks, with types inferred from the first block."""
_CSV_BLOCK: Final = 64 * 1024 * 1024


@dataclass
class TableSource:
    """A one-pass stream of record batches with their (storage) schema.

    ``rows`` is the number of rows when known before reading (tables, Parquet files).
    """

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    description: str
    path: Path | None = None
    rows: int | None = None


def _is_pandas(data: object) -> bool:
    module = type(data).__module__
    return module.startswith("pandas") and type(data).__name__ == "DataFrame"


def _is_polars(data: object) -> bool:
    module = type(data).__module__
    return module.startswith("polars") and type(data).__name__ in {"DataFrame", "LazyFrame"}


def _storage_type(kind: pa.DataType) -> pa.DataType:
    view = getattr(pa.types, "is_string_view", None)
    if view is not None and view(kind):
        return pa.string()
    bview = getattr(pa.types, "is_binary_view", None)
    if bview is not None and bview(kind):
        return pa.binary()
    if pa.types.is_dictionary(kind):
        value = _storage_type(kind.value_type)
        if value != kind.value_type:
            return pa.dictionary(kind.index_type, value, kind.ordered)
    return kind


def _storage_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _storage_type(f.type), True) for f in schema])


def _normalise(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = []
    for column, field in zip(batch.columns, schema, strict=True):
        if column.type != field.type:
            column = column.cast(field.type)
        if pa.types.is_floating(column.type) and column.null_count < len(column):
            nan = pc.is_nan(column)
            if pc.any(nan).as_py():
                column = pc.if_else(nan, pa.scalar(None, column.type), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _check_columns(names: list[str], description: str, action: str) -> None:
    if not names:
        raise InvalidInput(
            f"{description} has no columns; expected a table with at least one column."
        )
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise InvalidInput(
            f"{description} has duplicate column names: {', '.join(map(repr, duplicates))}; "
            f"expected every column name once. Rename or drop the duplicates before {action}."
        )
    blank = [n for n in names if not n.strip()]
    if blank:
        raise InvalidInput(
            f"{description} has a column with an empty name; expected a name for every "
            "column. Name it (for CSV, fill in the header line)."
        )


def _batches(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Normalised batches of at most ``batch_rows`` rows."""
    for batch in batches:
        for start in range(0, batch.num_rows, batch_rows):
            yield _normalise(batch.slice(start, batch_rows), schema)


def _from_table(table: pa.Table, description: str, batch_rows: int, action: str) -> TableSource:
    _check_columns(list(table.column_names), description, action)
    schema = _storage_schema(table.schema)
    batches = iter(table.to_batches(max_chunksize=batch_rows))
    return TableSource(schema, _batches(batches, schema, batch_rows), description, None, len(table))


def _from_pandas(frame: Any, batch_rows: int, action: str) -> TableSource:
    description = "The pandas DataFrame"
    names = [str(c) for c in frame.columns]
    _check_columns(names, description, action)
    if list(frame.columns) != names:
        frame = frame.set_axis(names, axis=1)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        detail = exc.args[-1] if exc.args else str(exc)
        raise InvalidInput(
            f"{description} cannot be converted to a table: {detail} ({exc.args[0]}). "
            "Expected one type per column; convert mixed columns, e.g. "
            "df[col] = df[col].astype(str)."
        ) from exc
    return _from_table(table.replace_schema_metadata(None), description, batch_rows, action)


def _from_polars(frame: Any, batch_rows: int, action: str) -> TableSource:
    if type(frame).__name__ == "LazyFrame":
        frame = frame.collect()
    return _from_table(frame.to_arrow(), "The polars DataFrame", batch_rows, action)


def _parquet_error(description: str, exc: Exception) -> InvalidInput:
    return InvalidInput(
        f"{description} cannot be read as Parquet: {exc}. Expected a valid Parquet file "
        "(or a directory of them); check that it was written completely."
    )


def _from_parquet(path: Path, batch_rows: int, action: str) -> TableSource:
    import pyarrow.parquet as pq

    description = f"The Parquet file {path}"
    try:
        reader = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering holds row groups
        schema_in = reader.schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise _parquet_error(description, exc) from exc
    _check_columns(list(schema_in.names), description, action)
    schema = _storage_schema(schema_in)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in reader.iter_batches(batch_size=batch_rows):
                yield _normalise(batch, schema)
        finally:
            reader.close()

    return TableSource(schema, batches(), description, path, reader.metadata.num_rows)


def _from_parquet_directory(path: Path, batch_rows: int, action: str) -> TableSource:
    import pyarrow.dataset as pads

    description = f"The Parquet directory {path}"
    try:
        dataset = pads.dataset(path, format="parquet")
        schema_in = dataset.schema
    except (pa.ArrowInvalid, OSError) as exc:
        raise _parquet_error(description, exc) from exc
    _check_columns(list(schema_in.names), description, action)
    schema = _storage_schema(schema_in)
    scanner = dataset.scanner(batch_size=batch_rows, batch_readahead=2, fragment_readahead=1)
    return TableSource(
        schema, _batches(iter(scanner.to_batches()), schema, batch_rows), description, path
    )


def _csv_error(path: Path, exc: Exception) -> InvalidInput:
    text = str(exc)
    if "Empty CSV file" in text:
        return InvalidInput(
            f"The CSV file {path} is empty; expected a header line and at least one row."
        )
    return InvalidInput(
        f"The CSV file {path} cannot be parsed: {text}. Expected comma-separated values "
        "with a header line and one type per column; fix the file or convert it to Parquet."
    )


def _check_utf8(path: Path, schema: pa.Schema, action: str) -> None:
    binary = [f.name for f in schema if pa.types.is_binary(f.type)]
    if binary:  # Arrow reads text that is not UTF-8 as bytes
        raise InvalidInput(
            f"The CSV file {path} is not valid UTF-8 text (in column(s) "
            f"{', '.join(map(repr, binary))}); expected UTF-8. Convert it, e.g. "
            f"`iconv -f latin1 -t utf-8 {path.name} > fixed.csv`, or read it with "
            f"pandas.read_csv(..., encoding=...) and {action} the DataFrame."
        )


def _from_csv(path: Path, batch_rows: int, action: str) -> TableSource:
    import pyarrow.csv as pcsv

    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    parse = pcsv.ParseOptions(delimiter=delimiter)
    # empty fields are missing values (CSV cannot tell "" from null)
    convert = pcsv.ConvertOptions(strings_can_be_null=True)
    description = f"The CSV file {path}"
    if path.stat().st_size <= CSV_WHOLE_LIMIT:
        try:
            table = pcsv.read_csv(path, parse_options=parse, convert_options=convert)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise _csv_error(path, exc) from exc
        _check_columns(list(table.column_names), description, action)
        _check_utf8(path, table.schema, action)
        source = _from_table(table, description, batch_rows, action)
        source.path = path
        return source
    read = pcsv.ReadOptions(block_size=_CSV_BLOCK)
    try:
        with pcsv.open_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        ) as probe:
            first = probe.schema
        # a column empty in the first block is read as text rather than failing later
        convert.column_types = {f.name: pa.string() for f in first if pa.types.is_null(f.type)}
        reader = pcsv.open_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _csv_error(path, exc) from exc
    try:
        _check_columns(list(reader.schema.names), description, action)
        _check_utf8(path, reader.schema, action)
    except InvalidInput:
        reader.close()
        raise
    schema = _storage_schema(reader.schema)

    def blocks() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"The CSV file {path} changes type after its first "
                f"{_CSV_BLOCK // (1024 * 1024)} MB: {exc}. Expected one type per column; "
                "convert the file to Parquet with explicit types and use that."
            ) from exc
        finally:
            reader.close()

    return TableSource(schema, _batches(blocks(), schema, batch_rows), description, path)


def _from_path(
    raw: str | os.PathLike[str], batch_rows: int, action: str, directories: bool
) -> TableSource:
    path = Path(raw).expanduser()
    if not path.exists():
        raise NotFound(
            f"The data file {path} does not exist; expected a CSV or Parquet file. "
            "Check the path (relative paths start from the current directory)."
        )
    lower = path.name.lower()
    if path.is_dir() and directories:
        return _from_parquet_directory(path, batch_rows, action)
    if path.is_dir() or not lower.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        what = "a directory" if path.is_dir() else f"a {path.suffix or 'suffix-less'} file"
        raise InvalidInput(
            f"Cannot {action} {path}: it is {what}; expected a CSV file "
            f"({', '.join(CSV_SUFFIXES)}) or a Parquet file ({', '.join(PARQUET_SUFFIXES)})"
            + (" or a directory of Parquet files" if directories else "")
            + ". Convert it, or load it with pandas and "
            f"{action} the DataFrame."
        )
    if lower.endswith(PARQUET_SUFFIXES):
        return _from_parquet(path, batch_rows, action)
    return _from_csv(path, batch_rows, action)


def open_source(
    data: object,
    *,
    batch_rows: int = BATCH_ROWS,
    action: str = "register",
    directories: bool = False,
) -> TableSource:
    """A batch stream over ``data``: a pandas/polars DataFrame (a polars LazyFrame is
    collected), an Arrow table or record batch, or the path of a CSV or Parquet file (and,
    with ``directories``, of a directory of Parquet files).

    ``batch_rows`` bounds the rows of a batch. ``action`` (``"register"``, ``"profile"``)
    is the verb error messages use for what the caller does with the data.
    """
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidInput(f"batch_rows must be a positive integer, got {batch_rows!r}.")
    if isinstance(data, str | os.PathLike):
        return _from_path(data, batch_rows, action, directories)
    if isinstance(data, pa.Table):
        return _from_table(
            data.replace_schema_metadata(None), "The Arrow table", batch_rows, action
        )
    if isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
        return _from_table(table, "The Arrow record batch", batch_rows, action)
    if _is_pandas(data):
        return _from_pandas(data, batch_rows, action)
    if _is_polars(data):
        return _from_polars(data, batch_rows, action)
    raise InvalidInput(
        f"Cannot {action} data of type {type(data).__module__}.{type(data).__name__}; "
        "expected a pandas or polars DataFrame, a pyarrow Table, or the path of a CSV or "
        "Parquet file."
    )
