"""Compaction of the prediction log: one segment per past day instead of thousands.

``steward serve`` writes about one segment per second and feedback one per call, so a log
months old is hundreds of thousands of small files that every window read lists and
opens. :func:`compact_log` merges the segments of each past UTC day of an endpoint into
one (``steward log compact E``; ``st.endpoints.compact_log(E)``), safely while servers
write and monitors read:

- only days strictly before ``before`` (default: today, UTC) are touched; the live day
  keeps receiving segments. A day with one segment (or none) is left alone, and a segment
  that a late flush adds to a day during its compaction stays beside the merged one.
- rows are merged with DuckDB, with the readers' own rules (``union_by_name``: a column
  missing from some segments is null there; types that differ are widened as readers
  widen them), sorted by ``time`` then ``request_id`` (a window reads contiguous row
  groups), zstd compressed, with the segments' schema metadata (``mlsteward.predictions``,
  ``mlsteward.feedback``) kept. No Python loop touches rows.
- memory: one day at a time, within DuckDB's memory limit (``memory_limit``, 1 GB by
  default); a day larger than that is sorted through DuckDB's temporary files.

**Protocol** (each step leaves a state in which readers see every row exactly once; see
``_segments`` for the readers' side):

1. write the merged segment as ``.compact-<uuid>.parquet.tmp`` and fsync it;
2. write the manifest ``.compaction-<uuid>.json`` (sources, target ``part-<uuid>.parquet``,
   temporary name) atomically: temporary file, fsync, rename, fsync of the directory;
3. rename the merged file to its target name and fsync the directory: from now on readers
   take the target and leave out the sources;
4. delete the sources (fsync of the directory);
5. delete the manifest.

A crash leaves at most one day in between. The next run finishes or undoes it before it
compacts anything: a manifest whose target exists has its remaining sources and then
itself deleted (steps 4-5); a manifest whose target is missing has its temporary file and
then itself deleted (the sources were never touched); stray temporary files are deleted.
One compaction runs per endpoint and kind at a time (an advisory lock on the endpoint's
directory); a second one is refused with :class:`~mlsteward.core.Conflict`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from mlsteward.core import Conflict, InvalidInput, NotFound, validate_name
from mlsteward.serving._segments import (
    FEEDBACK,
    MANIFEST_PREFIX,
    MANIFEST_SUFFIX,
    PREDICTIONS,
    day_segments,
    is_manifest,
    read_manifest,
)

__all__ = ["CompactionReport", "DayCompaction", "compact_log", "parse_day"]

KINDS: Final = (PREDICTIONS, FEEDBACK)
_TEMP_PREFIX: Final = ".compact-"
_TEMP_SUFFIX: Final = ".parquet.tmp"
_BATCH_ROWS: Final = 256 * 1024
_GROUP_ROWS: Final = 128 * 1024  # rows per row group: windows skip the groups outside them

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DayCompaction:
    """One day of one kind of log, compacted (or, in a dry run, to be compacted)."""

    kind: str
    day: date
    segments_before: int
    segments_after: int
    rows: int
    bytes_before: int
    bytes_after: int | None  # None in a dry run

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "day": self.day.isoformat(),
            "segments_before": self.segments_before,
            "segments_after": self.segments_after,
            "rows": self.rows,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
        }


@dataclass(frozen=True)
class CompactionReport:
    """What :func:`compact_log` did (or, with ``dry_run``, would do) to an endpoint's log.

    ``days`` lists the days merged; ``days_left`` counts the past days left alone (one
    segment or none); ``recovered`` counts the interrupted compactions finished or undone
    and stray temporary files deleted."""

    endpoint: str
    root: str
    before: date
    kinds: tuple[str, ...]
    dry_run: bool
    days: tuple[DayCompaction, ...]
    days_left: int
    recovered: int
    seconds: float

    @property
    def changed(self) -> bool:
        """Whether the log's files changed (never in a dry run)."""
        return not self.dry_run and bool(self.days or self.recovered)

    def totals(self, kind: str | None = None) -> dict[str, Any]:
        """Days, segments before and after, rows and bytes, of one kind or of all."""
        days = [d for d in self.days if kind is None or d.kind == kind]
        after = [d.bytes_after for d in days]
        return {
            "days": len(days),
            "segments_before": sum(d.segments_before for d in days),
            "segments_after": sum(d.segments_after for d in days),
            "rows": sum(d.rows for d in days),
            "bytes_before": sum(d.bytes_before for d in days),
            "bytes_after": None if None in after else sum(a for a in after if a is not None),
        }

    def summary(self) -> dict[str, Any]:
        """The report without its per-day list (the audit event's payload)."""
        return {
            "endpoint": self.endpoint,
            "before": self.before.isoformat(),
            "kinds": list(self.kinds),
            "dry_run": self.dry_run,
            **self.totals(),
            "days_left": self.days_left,
            "recovered": self.recovered,
            "per_kind": {kind: self.totals(kind) for kind in self.kinds},
            "seconds": round(self.seconds, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "root": self.root,
            "per_day": [d.to_dict() for d in self.days],
        }


def parse_day(value: date | str | None, *, default: date) -> date:
    """A day from a ``date`` or ``YYYY-MM-DD`` text (``default`` for None)."""
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"before={value!r} is not a date: expected YYYY-MM-DD, such as {default.isoformat()}."
        ) from None


def compact_log(
    root: Path,
    endpoint: str,
    *,
    kinds: Sequence[str] = KINDS,
    before: date | str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    memory_limit: str = "1GB",
) -> CompactionReport:
    """Merge the segments of each day of ``endpoint``'s log before ``before`` (default:
    today, UTC) into one segment per day; see the module docstring for the protocol.

    ``kinds`` is any of ``predictions`` and ``feedback``; ``dry_run`` only reports;
    ``progress(done, total)`` is called after each day considered."""
    started = time.perf_counter()
    root = Path(root)
    validate_name("endpoint", endpoint)
    today = datetime.now(UTC).date()
    until = parse_day(before, default=today)
    if until > today:
        raise InvalidInput(
            f"before={until.isoformat()} is after today ({today.isoformat()}, UTC): only "
            "past days can be compacted, since today's directory still receives segments. "
            f"Give a date up to {today.isoformat()}, or none for every day before today."
        )
    chosen = tuple(dict.fromkeys(kinds))
    unknown = [k for k in chosen if k not in KINDS]
    if unknown or not chosen:
        raise InvalidInput(
            f"Unknown log kind(s) {', '.join(map(repr, unknown)) or '(none)'}; expected "
            f"one or both of {', '.join(KINDS)}."
        )
    bases = {k: root / k / f"endpoint={endpoint}" for k in chosen}
    present = {k: b for k, b in bases.items() if b.is_dir()}
    if not present:
        where = " or ".join(str(b.relative_to(root)) for b in bases.values())
        raise NotFound(
            f"No log for endpoint {endpoint!r} under {root}: there is no {where}. Check the "
            "endpoint's name (steward endpoints list) and the log directory (--log DIR, the "
            "directory that holds predictions/ and feedback/)."
        )
    with _locked(present.values(), endpoint):
        plan = [
            (kind, directory)
            for kind, base in present.items()
            for directory in sorted(p for p in base.glob("date=*") if p.is_dir())
        ]
        recovered = 0
        if not dry_run:
            recovered = sum(_recover(directory) for _, directory in plan)
        else:
            recovered = sum(_pending(directory) for _, directory in plan)
        past = [(k, d) for k, d in plan if (day := _day_of(d)) is not None and day < until]
        done: list[DayCompaction] = []
        left = 0
        for position, (kind, directory) in enumerate(past, start=1):
            result = _compact_day(kind, directory, dry_run=dry_run, memory_limit=memory_limit)
            if result is None:
                left += 1
            else:
                done.append(result)
            if progress is not None:
                progress(position, len(past))
    return CompactionReport(
        endpoint=endpoint,
        root=str(root),
        before=until,
        kinds=tuple(present),
        dry_run=dry_run,
        days=tuple(done),
        days_left=left,
        recovered=recovered,
        seconds=time.perf_counter() - started,
    )


def _day_of(directory: Path) -> date | None:
    try:
        return date.fromisoformat(directory.name.removeprefix("date="))
    except ValueError:
        return None  # not a partition of ours: leave it alone


# -- one day ---------------------------------------------------------------------------------
def _compact_day(
    kind: str, directory: Path, *, dry_run: bool, memory_limit: str
) -> DayCompaction | None:
    sources = day_segments(directory)
    if len(sources) < 2:
        return None
    size = sum(s.stat().st_size for s in sources)
    day = _day_of(directory)
    assert day is not None
    if dry_run:
        rows = _count_rows(sources)
        return DayCompaction(kind, day, len(sources), 1, rows, size, None)
    key = uuid.uuid4().hex
    temporary = directory / f"{_TEMP_PREFIX}{key}{_TEMP_SUFFIX}"
    target = directory / f"part-{key}.parquet"
    try:
        rows = _write_merged(sources, temporary, memory_limit)
        manifest = _write_manifest(directory, sources, target, temporary, rows)
    except Exception:
        temporary.unlink(missing_ok=True)
        raise
    _publish(temporary, target)
    _delete_sources(directory, [s.name for s in sources])
    _drop_manifest(manifest)
    return DayCompaction(kind, day, len(sources), 1, rows, size, target.stat().st_size)


def _count_rows(sources: Sequence[Path]) -> int:
    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(?)",
            [[str(s) for s in sources]],
        ).fetchone()
        return 0 if row is None else int(row[0])
    finally:
        con.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_merged(sources: Sequence[Path], temporary: Path, memory_limit: str) -> int:
    """Step 1: the rows of ``sources`` (union by name, sorted) as ``temporary``, fsynced;
    return how many rows.

    DuckDB reads and sorts (within ``memory_limit``, spilling to a temporary directory);
    pyarrow writes the batches it streams, so that the schema stays as the writers made
    it: nullable columns, the ``UTC`` time zone, the segments' schema metadata."""
    files = [str(s) for s in sources]
    spill = tempfile.TemporaryDirectory(prefix="steward-compaction-")
    con = duckdb.connect()
    rows = 0
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = {_literal(memory_limit)}")
        con.execute(f"SET temp_directory = {_literal(spill.name)}")
        metadata = {
            bytes(key): bytes(value)
            for key, value in con.execute(
                "SELECT DISTINCT key, value FROM parquet_kv_metadata(?)", [files]
            ).fetchall()
        }
        # pyarrow's own schema (ARROW:schema) describes one source, not the merged file
        kept = {k: v for k, v in metadata.items() if not k.startswith((b"ARROW:", b"pandas"))}
        relation = con.read_parquet(files, union_by_name=True, hive_partitioning=False)
        order = [_quote(c) for c in ("time", "request_id") if c in relation.columns]
        sorted_by = f" ORDER BY {', '.join(order)} NULLS LAST" if order else ""
        relation.create_view("sources")
        reader = con.sql(f"SELECT * FROM sources{sorted_by}").to_arrow_reader(_BATCH_ROWS)
        schema = pa.schema([_nullable(f) for f in reader.schema], metadata=kept or None)
        with pq.ParquetWriter(temporary, schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch.cast(schema), row_group_size=_GROUP_ROWS)
                rows += batch.num_rows
    finally:
        con.close()
        spill.cleanup()
    _fsync_file(temporary)
    return rows


def _nullable(field: pa.Field) -> pa.Field:
    """``field`` nullable, with a time zone spelled ``UTC`` as the writers spell it."""
    kind = field.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        kind = pa.timestamp(kind.unit, tz="UTC")
    return field.with_type(kind).with_nullable(True)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _write_manifest(
    directory: Path, sources: Sequence[Path], target: Path, temporary: Path, rows: int
) -> Path:
    """Step 2: the manifest, renamed into place whole and made durable."""
    manifest = directory / f"{MANIFEST_PREFIX}{uuid.uuid4().hex}{MANIFEST_SUFFIX}"
    pending = manifest.with_name(manifest.name + ".tmp")
    document = {
        "version": 1,
        "target": target.name,
        "temporary": temporary.name,
        "sources": [s.name for s in sources],
        "rows": rows,
        "created": datetime.now(UTC).isoformat(),
    }
    try:
        with pending.open("w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pending, manifest)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return manifest


def _publish(temporary: Path, target: Path) -> None:
    """Step 3: the merged segment under its final name, durably (before any deletion)."""
    os.replace(temporary, target)
    _fsync_dir(target.parent)


def _delete_sources(directory: Path, names: Sequence[str]) -> None:
    """Step 4."""
    for name in names:
        (directory / name).unlink(missing_ok=True)
    _fsync_dir(directory)


def _drop_manifest(manifest: Path) -> None:
    """Step 5."""
    manifest.unlink(missing_ok=True)
    _fsync_dir(manifest.parent)


# -- what a crashed run left -----------------------------------------------------------------
def _leftovers(directory: Path) -> tuple[list[Path], list[Path]]:
    """The manifests and the stray temporary files (of compactions) in ``directory``."""
    manifests: list[Path] = []
    temporary: list[Path] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if is_manifest(name):
                manifests.append(directory / name)
            elif (name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)) or (
                name.startswith(MANIFEST_PREFIX) and name.endswith(MANIFEST_SUFFIX + ".tmp")
            ):
                temporary.append(directory / name)
    return sorted(manifests), sorted(temporary)


def _temporary_of(manifest: Path) -> str | None:
    """The temporary name of the merged segment that ``manifest`` was written for."""
    try:
        name = json.loads(manifest.read_text(encoding="utf-8")).get("temporary")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name.startswith(_TEMP_PREFIX) else None


def _pending(directory: Path) -> int:
    """How many leftovers :func:`_recover` would deal with (a dry run)."""
    manifests, temporary = _leftovers(directory)
    referenced = {_temporary_of(m) for m in manifests}
    return len(manifests) + len([t for t in temporary if t.name not in referenced])


def _recover(directory: Path) -> int:
    """Finish or undo the compactions that a crash interrupted in ``directory``; return
    how many manifests and stray temporary files were dealt with."""
    manifests, temporary = _leftovers(directory)
    count = 0
    for manifest in manifests:
        parsed = read_manifest(manifest)
        if parsed is not None:
            target, sources = parsed
            if (directory / target).exists():
                _delete_sources(directory, sorted(sources))  # crashed in steps 3-4
            elif (name := _temporary_of(manifest)) is not None:
                (directory / name).unlink(missing_ok=True)  # crashed after step 2
        _drop_manifest(manifest)
        count += 1
    for path in temporary:
        if path.exists():  # not already removed with its manifest
            path.unlink(missing_ok=True)  # crashed in step 1 (or writing a manifest)
            count += 1
    return count


# -- one compaction per endpoint at a time ---------------------------------------------------
@contextmanager
def _locked(directories: Iterable[Path], endpoint: str) -> Iterator[None]:
    """Advisory locks on the endpoint's directories (POSIX ``flock``; none elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: one compaction at a time is on you
        yield
        return
    held: list[int] = []
    try:
        for directory in directories:
            descriptor = os.open(directory, os.O_RDONLY)
            held.append(descriptor)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict(
                    f"Another compaction of endpoint {endpoint!r} is running ({directory}). "
                    "Wait for it to finish, then run again if needed."
                ) from None
        yield
    finally:
        for descriptor in held:
            os.close(descriptor)  # closing releases the lock


# -- durability --------------------------------------------------------------------------------
def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_dir(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - directories cannot be opened on this platform
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
