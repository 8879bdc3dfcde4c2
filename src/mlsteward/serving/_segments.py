"""Parquet segments: where the prediction log and feedback live, and how they are written.

Layout (Hive-style partitions, one directory per endpoint and UTC day)::

    <root>/predictions/endpoint=<E>/date=<YYYY-MM-DD>/part-<uuid>.parquet
    <root>/feedback/endpoint=<E>/date=<YYYY-MM-DD>/part-<uuid>.parquet

``<root>`` is the store's home (the directory of the SQLite file; ``STEWARD_HOME`` for
another backend) unless a log directory is given. A segment is written under a hidden
temporary name, flushed to disk (fsync), then renamed: a reader sees a whole segment or
none, and a crash never leaves a partial one where readers look (``part-*.parquet``).
Segments are immutable once written; readers take the union of a partition's segments.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mlsteward.core import Config, InvalidInput, validate_name
from mlsteward.store import Store, store_home

__all__ = [
    "FEEDBACK",
    "PREDICTIONS",
    "log_root",
    "partition_dir",
    "segment_files",
    "write_segment",
]

PREDICTIONS = "predictions"
FEEDBACK = "feedback"


def log_root(store: Store | None = None, config: Config | None = None) -> Path:
    """The directory that holds ``predictions/`` and ``feedback/`` for a store."""
    home = None if store is None else store_home(store)
    if home is not None:
        return home
    if config is not None:
        return config.home
    return Path(".steward").resolve()


def partition_dir(root: Path, kind: str, endpoint: str, day: date) -> Path:
    validate_name("endpoint", endpoint)
    return root / kind / f"endpoint={endpoint}" / f"date={day.isoformat()}"


def write_segment(
    root: Path, kind: str, endpoint: str, day: date, table: pa.Table, *, fsync: bool = True
) -> Path:
    """Write ``table`` as a new segment of the partition, atomically; return its path."""
    directory = partition_dir(root, kind, endpoint, day)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    temporary = directory / f".{name}.tmp"
    try:
        with temporary.open("wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        final = directory / name
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if fsync:
        try:
            descriptor = os.open(directory, os.O_RDONLY)
        except OSError:  # pragma: no cover - directories cannot be opened on this platform
            return final
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    return final


def _days(start: datetime | None, end: datetime | None) -> Iterator[date] | None:
    if start is None or end is None:
        return None
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    if last < first:
        raise InvalidInput(f"The time range is empty: start {start} is after end {end}.")
    return (first + timedelta(days=i) for i in range((last - first).days + 1))


def segment_files(
    root: Path,
    kind: str,
    endpoint: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Path]:
    """The segments of ``endpoint`` whose day may hold times in [start, end], sorted."""
    base = root / kind / f"endpoint={validate_name('endpoint', endpoint)}"
    if not base.is_dir():
        return []
    days = _days(start, end)
    if days is not None:
        directories = [base / f"date={d.isoformat()}" for d in days]
    else:
        directories = sorted(p for p in base.glob("date=*") if p.is_dir())
        if start is not None:
            first = start.astimezone(UTC).date().isoformat()
            directories = [d for d in directories if d.name[5:] >= first]
        if end is not None:
            last = end.astimezone(UTC).date().isoformat()
            directories = [d for d in directories if d.name[5:] <= last]
    files: list[Path] = []
    for directory in directories:
        if directory.is_dir():
            files.extend(sorted(directory.glob("part-*.parquet")))
    return files
