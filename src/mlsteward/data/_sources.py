"""Reading data to profile as a stream of Arrow record batches.

Accepted: pyarrow Tables and RecordBatches, pandas and polars DataFrames, and paths to
Parquet files (read with :meth:`pyarrow.parquet.ParquetFile.iter_batches`, so memory is
bounded by a row group and a batch), directories of Parquet files, and CSV files (read
with :func:`pyarrow.csv.open_csv`, block by block; the column types are inferred from the
first block).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from mlsteward.core import InvalidInput, NotFound

__all__ = ["CSV_SUFFIXES", "PARQUET_SUFFIXES", "iter_batches"]

PARQUET_SUFFIXES: Final = (".parquet", ".pq", ".parq")
CSV_SUFFIXES: Final = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".csv.bz2")

Batches = Iterator[pa.RecordBatch]
Stream = tuple[pa.Schema, Batches, int | None]


def _slices(table: pa.Table, batch_rows: int) -> Batches:
    yield from table.to_batches(max_chunksize=batch_rows)


def _pandas(frame: Any, batch_rows: int) -> Stream:
    if not frame.columns.is_unique:
        duplicates = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise InvalidInput(
            f"The DataFrame has duplicate column names {duplicates}; rename them first."
        )
    try:
        schema = pa.Schema.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(
            f"A column of the DataFrame cannot be read as one type: {exc}. Give each column "
            "values of a single type (e.g. df[col] = df[col].astype(str))."
        ) from exc

    def batches() -> Batches:
        for start in range(0, len(frame), batch_rows):
            part = frame.iloc[start : start + batch_rows]
            yield pa.RecordBatch.from_pandas(part, schema=schema, preserve_index=False)

    return schema, batches(), len(frame)


def _parquet(path: Path, batch_rows: int) -> Stream:
    try:
        if path.is_dir():
            dataset = pads.dataset(path, format="parquet")
            scanner = dataset.scanner(
                batch_size=batch_rows, batch_readahead=2, fragment_readahead=1
            )
            return dataset.schema, iter(scanner.to_batches()), None
        reader = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering holds whole row groups
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(
            f"{path} could not be read as Parquet: {exc}. Expected a Parquet file (or a "
            "directory of them); check that the file is complete and not another format."
        ) from exc

    def batches() -> Batches:
        with reader:
            yield from reader.iter_batches(batch_size=batch_rows)

    return reader.schema_arrow, batches(), reader.metadata.num_rows


def _csv_error(path: Path, exc: Exception) -> InvalidInput:
    text = str(exc)
    if "UTF8" in text or "UTF-8" in text or "utf8" in text:
        return InvalidInput(
            f"{path} is not valid UTF-8 text ({text}). Re-encode it as UTF-8 (e.g. "
            "iconv -f latin1 -t utf-8 in.csv > out.csv) or read it with "
            "pandas.read_csv(path, encoding=...) and profile the DataFrame."
        )
    return InvalidInput(
        f"{path} could not be read as CSV: {text}. If the column types guessed from the "
        "first rows do not fit later rows, convert the file to Parquet or read it with "
        "pandas and profile the DataFrame."
    )


def _csv(path: Path, batch_rows: int) -> Stream:
    block = max(1 << 20, min(64 << 20, batch_rows * 64))
    options = pacsv.ReadOptions(block_size=block)
    parse = pacsv.ParseOptions(delimiter="\t" if ".tsv" in path.name.lower() else ",")
    try:
        # empty fields are missing values (CSV cannot tell "" from null)
        convert = pacsv.ConvertOptions(strings_can_be_null=True)
        with pacsv.open_csv(
            path, read_options=options, parse_options=parse, convert_options=convert
        ) as probe:
            schema = probe.schema
        # a column empty in the first block is read as text rather than failing later
        convert.column_types = {
            f.name: pa.large_string() for f in schema if pa.types.is_null(f.type)
        }
        reader = pacsv.open_csv(
            path, read_options=options, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _csv_error(path, exc) from exc
    binary = [f.name for f in reader.schema if pa.types.is_binary(f.type)]
    if binary:  # Arrow reads text that is not UTF-8 as bytes
        reader.close()
        raise _csv_error(path, ValueError(f"invalid UTF8 data in column(s) {', '.join(binary)}"))

    def batches() -> Batches:
        with reader:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise _csv_error(path, exc) from exc
                yield from _split(batch, batch_rows)

    return reader.schema, batches(), None


def _split(batch: pa.RecordBatch, batch_rows: int) -> Batches:
    for start in range(0, batch.num_rows, batch_rows):
        yield batch.slice(start, batch_rows)


def _path(source: str | os.PathLike[str], batch_rows: int) -> Stream:
    path = Path(source)
    if not path.exists():
        raise NotFound(
            f"{path} does not exist. Expected a Parquet or CSV file (or a directory of "
            "Parquet files); check the path."
        )
    name = path.name.lower()
    if path.is_dir() or name.endswith(PARQUET_SUFFIXES):
        return _parquet(path, batch_rows)
    if name.endswith(CSV_SUFFIXES):
        return _csv(path, batch_rows)
    raise InvalidInput(
        f"{path} has an unsupported file type {path.suffix or '(none)'!r}. Expected "
        f"{', '.join(PARQUET_SUFFIXES + CSV_SUFFIXES)}; convert it to Parquet or CSV, or load "
        "it into a DataFrame and profile that."
    )


def iter_batches(source: Any, batch_rows: int) -> Stream:
    """``(schema, batches, total rows or None)`` for any supported source."""
    if isinstance(source, pa.Table):
        return source.schema, _slices(source, batch_rows), source.num_rows
    if isinstance(source, pa.RecordBatch):
        return source.schema, _split(source, batch_rows), source.num_rows
    if isinstance(source, str | os.PathLike):
        return _path(source, batch_rows)
    module = type(source).__module__.split(".")[0]
    if module == "pandas" and hasattr(source, "iloc"):
        return _pandas(source, batch_rows)
    if module == "polars":
        if not hasattr(source, "to_arrow"):
            raise InvalidInput(
                f"A polars {type(source).__name__} cannot be profiled directly; collect it "
                "first (lazy_frame.collect())."
            )
        table = source.to_arrow()
        return table.schema, _slices(table, batch_rows), table.num_rows
    raise InvalidInput(
        f"Cannot profile a {type(source).__name__}. Expected a pyarrow Table, a pandas or "
        "polars DataFrame, or a path to a Parquet or CSV file."
    )
