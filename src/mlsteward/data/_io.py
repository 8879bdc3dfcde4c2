"""Reading what users register: pandas, polars and Arrow tables, CSV and Parquet files.

Everything becomes a stream of Arrow record batches with one schema (:class:`TableSource`),
so files are read batch by batch instead of whole. Batches are normalised for storage:
schema metadata (e.g. the pandas index description) dropped, string views cast to
strings, NaN in float columns stored as null (the hash treats them alike).
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
    "CSV_SUFFIXES",
    "PARQUET_SUFFIXES",
    "TableSource",
    "open_source",
]

CSV_SUFFIXES: Final = (".csv", ".csv.gz", ".csv.bz2", ".tsv")
PARQUET_SUFFIXES: Final = (".parquet", ".pq", ".parq")
BATCH_ROWS: Final = 65_536
CSV_WHOLE_LIMIT: Final = 256 * 1024 * 1024
"""CSV files up to this size are parsed in one go (types inferred from every row); larger
ones are streamed in blocks, with types inferred from the first block."""
_CSV_BLOCK: Final = 64 * 1024 * 1024


@dataclass
class TableSource:
    """A one-pass stream of record batches with their (storage) schema."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    description: str
    path: Path | None = None


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


def _check_columns(names: list[str], description: str) -> None:
    if not names:
        raise InvalidInput(
            f"{description} has no columns; expected a table with at least one column."
        )
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise InvalidInput(
            f"{description} has duplicate column names: {', '.join(map(repr, duplicates))}; "
            "expected every column name once. Rename or drop the duplicates before registering."
        )
    blank = [n for n in names if not n.strip()]
    if blank:
        raise InvalidInput(
            f"{description} has a column with an empty name; expected a name for every "
            "column. Name it (for CSV, fill in the header line)."
        )


def _from_table(table: pa.Table, description: str) -> TableSource:
    _check_columns(list(table.column_names), description)
    schema = _storage_schema(table.schema)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            yield _normalise(batch, schema)

    return TableSource(schema, batches(), description)


def _from_pandas(frame: Any) -> TableSource:
    description = "The pandas DataFrame"
    names = [str(c) for c in frame.columns]
    _check_columns(names, description)
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
    return _from_table(table.replace_schema_metadata(None), description)


def _from_polars(frame: Any) -> TableSource:
    description = "The polars DataFrame"
    if type(frame).__name__ == "LazyFrame":
        frame = frame.collect()
    return _from_table(frame.to_arrow(), description)


def _from_parquet(path: Path) -> TableSource:
    import pyarrow.parquet as pq

    description = f"The Parquet file {path}"
    try:
        reader = pq.ParquetFile(path)
        schema_in = reader.schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(
            f"{description} cannot be read as Parquet: {exc}. Expected a valid Parquet file; "
            "check that it was written completely."
        ) from exc
    _check_columns(list(schema_in.names), description)
    schema = _storage_schema(schema_in)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in reader.iter_batches(batch_size=BATCH_ROWS):
                yield _normalise(batch, schema)
        finally:
            reader.close()

    return TableSource(schema, batches(), description, path)


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


def _check_utf8(path: Path, schema: pa.Schema) -> None:
    binary = [f.name for f in schema if pa.types.is_binary(f.type)]
    if binary:
        raise InvalidInput(
            f"The CSV file {path} is not valid UTF-8 text (in column(s) "
            f"{', '.join(map(repr, binary))}); expected UTF-8. Convert it, e.g. "
            f"`iconv -f latin1 -t utf-8 {path.name} > fixed.csv`, or read it with "
            "pandas.read_csv(..., encoding=...) and register the DataFrame."
        )


def _from_csv(path: Path) -> TableSource:
    import pyarrow.csv as pcsv

    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    parse = pcsv.ParseOptions(delimiter=delimiter)
    convert = pcsv.ConvertOptions(strings_can_be_null=True)
    description = f"The CSV file {path}"
    if path.stat().st_size <= CSV_WHOLE_LIMIT:
        try:
            table = pcsv.read_csv(path, parse_options=parse, convert_options=convert)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise _csv_error(path, exc) from exc
        _check_columns(list(table.column_names), description)
        _check_utf8(path, table.schema)
        source = _from_table(table, description)
        source.path = path
        return source
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=_CSV_BLOCK),
            parse_options=parse,
            convert_options=convert,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _csv_error(path, exc) from exc
    _check_columns(list(reader.schema.names), description)
    _check_utf8(path, reader.schema)
    schema = _storage_schema(reader.schema)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in reader:
                yield _normalise(batch, schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"The CSV file {path} changes type after its first "
                f"{_CSV_BLOCK // (1024 * 1024)} MB: {exc}. Expected one type per column; "
                "convert the file to Parquet with explicit types and register that."
            ) from exc
        finally:
            reader.close()

    return TableSource(schema, batches(), description, path)


def _from_path(raw: str | os.PathLike[str]) -> TableSource:
    path = Path(raw).expanduser()
    if not path.exists():
        raise NotFound(
            f"The data file {path} does not exist; expected a CSV or Parquet file. "
            "Check the path (relative paths start from the current directory)."
        )
    lower = path.name.lower()
    if path.is_dir() or not lower.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        what = "a directory" if path.is_dir() else f"a {path.suffix or 'suffix-less'} file"
        raise InvalidInput(
            f"Cannot register {path}: it is {what}; expected a CSV file "
            f"({', '.join(CSV_SUFFIXES)}) or a Parquet file ({', '.join(PARQUET_SUFFIXES)}). "
            "Convert it, or load it with pandas and register the DataFrame."
        )
    if lower.endswith(PARQUET_SUFFIXES):
        return _from_parquet(path)
    return _from_csv(path)


def open_source(data: object) -> TableSource:
    """A batch stream over ``data``: a pandas/polars DataFrame, an Arrow table or record
    batch, or the path of a CSV or Parquet file."""
    if isinstance(data, str | os.PathLike):
        return _from_path(data)
    if isinstance(data, pa.Table):
        return _from_table(data.replace_schema_metadata(None), "The Arrow table")
    if isinstance(data, pa.RecordBatch):
        return _from_table(pa.Table.from_batches([data]), "The Arrow record batch")
    if _is_pandas(data):
        return _from_pandas(data)
    if _is_polars(data):
        return _from_polars(data)
    raise InvalidInput(
        f"Cannot register data of type {type(data).__module__}.{type(data).__name__}; "
        "expected a pandas or polars DataFrame, a pyarrow Table, or the path of a CSV or "
        "Parquet file."
    )
