"""Parquet segments: where the prediction log and feedback live, and how they are written.

Layout (Hive-style partitions, one directory per endpoint and UTC day)::

    <root>/predictions/endpoint=<E>/date=<YYYY-MM-DD>/part-<uuid>.parquet
    <root>/feedback/endpoint=<E>/date=<YYYY-MM-DD>/part-<uuid>.parquet

``<root>`` is the store's home (the directory of the SQLite file; ``STEWARD_HOME`` for
another backend) unless a log directory is given. A segment is written under a hidden
temporary name, flushed to disk (fsync), then renamed: a reader sees a whole segment or
none, and a crash never leaves a partial one where readers look (``part-*.parquet``).
Segments are immutable once written; readers take the union of a partition's segments.

**Compaction** (``_compaction``) merges the segments of a past day into one, while servers
write and monitors read. It works in five steps, each leaving a state in which a reader
sees every row exactly once:

1. write the merged segment under a hidden temporary name (``.compact-<uuid>.parquet.tmp``)
   and fsync it;
2. write a hidden manifest ``.compaction-<uuid>.json`` in the day's directory, naming the
   source segments and the target ``part-<uuid>.parquet`` (temporary name, fsync, rename,
   fsync of the directory);
3. rename the merged file to its target name (fsync of the directory);
4. delete the sources;
5. delete the manifest.

:func:`segment_files` reads the manifests of each day and, for every manifest whose target
exists, leaves out the sources it lists (a manifest whose target is missing is ignored: its
compaction stopped before step 3, and the sources still hold the rows). A directory is
listed again when it changed during the listing (its modification time moved), so that a
listing that overlaps a compaction's steps is not taken as a snapshot. A reader that listed
a source just before step 4 may find it gone when it opens it: the readers catch that
(:func:`relist_on_vanished`) and list again.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from mlsteward.core import Config, InvalidInput, validate_name
from mlsteward.store import Store, store_home

__all__ = [
    "FEEDBACK",
    "PREDICTIONS",
    "log_root",
    "partition_dir",
    "relist_on_vanished",
    "segment_files",
    "vanished_segment",
    "write_segment",
]

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
SEGMENT_PREFIX: Final = "part-"
SEGMENT_SUFFIX: Final = ".parquet"
MANIFEST_PREFIX: Final = ".compaction-"
MANIFEST_SUFFIX: Final = ".json"
_LISTING_ATTEMPTS: Final = 3
_READ_ATTEMPTS: Final = 10

T = TypeVar("T")


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
        files.extend(day_segments(directory))
    return files


def is_segment(name: str) -> bool:
    return name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX)


def is_manifest(name: str) -> bool:
    return name.startswith(MANIFEST_PREFIX) and name.endswith(MANIFEST_SUFFIX)


def read_manifest(path: Path) -> tuple[str, frozenset[str]] | None:
    """``(target, sources)`` of a compaction manifest; None when it is gone or unreadable
    (a manifest is renamed into place whole, so unreadable means edited by hand)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        target, sources = document["target"], document["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(target, str) or not isinstance(sources, list):
        return None
    return target, frozenset(str(s) for s in sources)


def _stamp(directory: Path) -> int | None:
    try:
        return os.stat(directory).st_mtime_ns
    except FileNotFoundError:
        return None


def day_segments(directory: Path) -> list[Path]:
    """The segments of one day directory that a reader takes, sorted: every
    ``part-*.parquet`` but the sources of a compaction whose target exists (see the
    module docstring)."""
    names: set[str] = set()
    manifests: dict[str, tuple[str, frozenset[str]]] = {}
    for _ in range(_LISTING_ATTEMPTS):
        stamp = _stamp(directory)
        if stamp is None:
            return []
        names, found = set(), []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if is_segment(entry.name):
                        names.add(entry.name)
                    elif is_manifest(entry.name):
                        found.append(entry.name)
        except FileNotFoundError:
            return []
        for name in found:
            if name not in manifests and (manifest := read_manifest(directory / name)):
                manifests[name] = manifest
        if _stamp(directory) == stamp:
            break  # nothing was added, renamed or removed while listing
    excluded: set[str] = set()
    for target, sources in manifests.values():
        if target in names or (directory / target).exists():
            names.add(target)
            excluded |= sources
    return [directory / name for name in sorted(names - excluded)]


def vanished_segment(exc: BaseException) -> bool:
    """True when ``exc`` says that a listed segment is no longer there."""
    if isinstance(exc, FileNotFoundError):
        return True
    text = str(exc)
    return isinstance(exc, duckdb.IOException) and (
        "No files found" in text or "No such file" in text
    )


def relist_on_vanished(read: Callable[[], T]) -> T:
    """``read()``, called again when it failed because a segment it listed vanished (a
    compaction deleted its sources after the listing): ``read`` lists again.

    Once is usually enough; a compaction that goes on through several days while a slow
    read is listing and opening can remove the sources of the next day in between, so
    ``read`` is tried up to ``_READ_ATTEMPTS`` times (each failure means one more day was
    compacted meanwhile)."""
    for _ in range(_READ_ATTEMPTS - 1):
        try:
            return read()
        except Exception as exc:
            if not vanished_segment(exc):
                raise
    return read()
