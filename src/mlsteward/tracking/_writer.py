"""The writer of one run: its creation, params, tags, metric points and end, in batches.

Logging calls enqueue and return. Batches are written in one transaction each (bulk
``INSERT`` through SQLAlchemy Core executemany), by whoever gets there first: the
process-wide background flusher (a daemon thread that writes each run's pending items at
least every :attr:`RunWriter.interval` seconds, and at once when a batch is full), or the
caller of :meth:`RunWriter.flush` / :meth:`RunWriter.finish`, which writes what remains
itself instead of waiting for a thread. Guarantees:

- **Durability bound**: ``flush`` returns only when everything enqueued before the call is
  committed; a crash (even SIGKILL) after it returned loses nothing that was flushed. What
  was enqueued after the last flush may be lost: at most ``interval`` seconds of logging.
  A new run reaches the store with its first batch (at most ``interval`` after it starts).
- **No silent loss**: when a batch cannot be written its items go back to the front of the
  queue and the writer pauses; the next ``flush`` retries once and raises
  :class:`StoreUnavailable` (or the original :class:`StewardError`) if the store still
  fails. Params refused as conflicting with stored values are raised by the next flush as
  :class:`Conflict`.
- **Audited per batch**: each batch transaction appends one audit event (``run.create`` for
  the batch that creates the run, ``run.log`` after) naming the params and tags it set, the
  number and keys of the metric points and the status, so the audit trail covers every
  change without one event per metric point.
- **Bounded memory**: at most ``max_pending`` metric points wait; a producer that gets
  ahead writes a batch itself before enqueuing more (backpressure). A paused writer whose
  queue is full raises its failure instead of growing.
- **Heartbeats**: the run's ``heartbeat_at`` is set when its row is inserted and then
  refreshed at most every ``heartbeat`` seconds (the ``run_heartbeat_seconds`` setting) by
  the background flusher: inside the next batch when there is one, else as a one-row
  ``UPDATE`` of its own, also while the writer is paused by a failing store (the process is
  alive even if its data waits). A heartbeat is liveness, not content: it appends no audit
  event, and a heartbeat that fails is retried one interval later without pausing anything.
- **Nothing is written to an ended run**: every batch of an existing run first checks,
  holding the run's row (the heartbeat ``UPDATE ... WHERE status = 'running'``, or
  ``SELECT ... FOR UPDATE``), that the run is still running. When it is not (it was reaped
  as stale by ``steward runs reap``, or ended by ``steward runs end`` or another process)
  the batch is rolled back, what was still waiting is dropped, and that
  :class:`Conflict`, naming the reap and its reason, is raised by the next logging call,
  ``flush`` and ``end``: the run is never resurrected.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mlsteward.core import Conflict, StewardError, StoreUnavailable, utcnow
from mlsteward.store import Store
from mlsteward.store.metadata import RunRow, RunTagRow, SqlRunRepository
from mlsteward.tracking._liveness import REAPED_TAG, heartbeat_seconds

__all__ = ["MetricItem", "RunWriter"]

# (key, value, step, timestamp in ms); value is a float, possibly NaN
MetricItem = tuple[str, float, int, int]
_END = (
    update(RunRow)
    .where(RunRow.id == bindparam("run_id"), RunRow.status == "running")
    .values(status=bindparam("status"), end_time=bindparam("end_time"))
)
_HEARTBEAT = (
    update(RunRow)
    .where(RunRow.id == bindparam("run_id"), RunRow.status == "running")
    .values(heartbeat_at=bindparam("heartbeat_at"))
)
_STATUS = select(RunRow.status).where(RunRow.id == bindparam("run_id")).with_for_update()


class _RunEnded(Exception):
    """Raised inside a batch transaction (rolling it back) when the run is not running."""

    def __init__(self, conflict: Conflict) -> None:
        super().__init__(str(conflict))
        self.conflict = conflict


@dataclass
class _Batch:
    creation: dict[str, Any] | None = None
    metrics: list[MetricItem] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    ending: tuple[str, datetime] | None = None
    heartbeat: datetime | None = None  # not an item: liveness written with the batch

    @property
    def count(self) -> int:
        return (
            (self.creation is not None)
            + len(self.metrics)
            + len(self.params)
            + len(self.tags)
            + (self.ending is not None)
        )


class _Flusher:
    """One daemon thread per process that writes the pending items of every open run."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._writers: weakref.WeakSet[RunWriter] = weakref.WeakSet()
        self._thread: threading.Thread | None = None
        self._woken = False

    def register(self, writer: RunWriter) -> None:
        with self._cond:
            self._writers.add(writer)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="steward-run-flusher", daemon=True
                )
                self._thread.start()

    def unregister(self, writer: RunWriter) -> None:
        with self._cond:
            self._writers.discard(writer)

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._woken:
                    self._cond.wait(0.05)
                self._woken = False
                writers = list(self._writers)
            for writer in writers:
                writer._background_write()


_FLUSHER = _Flusher()


class RunWriter:
    """Batches the records of one run to the metadata store (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        creation: dict[str, Any] | None = None,
        max_pending: int = 50_000,
        batch_size: int = 20_000,
        interval: float = 0.25,
        heartbeat: float | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.interval = interval
        self.heartbeat = heartbeat_seconds(store) if heartbeat is None else heartbeat
        self._cond = threading.Condition()
        self._pending = _Batch(creation=creation)
        self._enqueued = 0 if creation is None else 1
        self._written = 0  # items written (or refused as conflicts)
        self._busy = False  # a batch is being written
        self._last_write = time.monotonic()
        self._error: BaseException | None = None  # failure that paused the writer
        self._deferred: list[StewardError] = []  # errors to raise at the next flush
        self._registered = False
        self._last_heartbeat = float("-inf")  # monotonic time of the last one written
        self._ended = False  # the end of the run was written
        self._gone: Conflict | None = None  # the run ended elsewhere: every call raises it
        if creation is not None:
            self._register()  # the run reaches the store within the interval

    # -- producers ------------------------------------------------------------------
    def _register(self) -> None:
        if not self._registered:
            self._registered = True
            _FLUSHER.register(self)

    def add_metric(self, item: MetricItem) -> None:
        with self._cond:
            metrics = self._pending.metrics
            if len(metrics) < self.max_pending and self._registered:
                metrics.append(item)
                self._enqueued += 1
                if len(metrics) == self.batch_size:
                    _FLUSHER.wake()
                return
        self.add_metrics([item])

    def add_metrics(self, items: list[MetricItem]) -> None:
        while True:
            with self._cond:
                if self._gone is not None:
                    raise self._gone
                if len(self._pending.metrics) < self.max_pending:
                    self._pending.metrics.extend(items)
                    self._enqueued += len(items)
                    full = len(self._pending.metrics) >= self.batch_size
                    break
                if self._error is not None:
                    raise self._failure(self._error)
            self._write_one(block=True)  # backpressure: the producer writes a batch
        self._register()
        if full:
            _FLUSHER.wake()

    def add_params(self, items: list[tuple[str, str]]) -> None:
        with self._cond:
            if self._gone is not None:
                raise self._gone
            self._pending.params.extend(items)
            self._enqueued += len(items)
        self._register()

    def add_tags(self, items: list[tuple[str, str]]) -> None:
        with self._cond:
            if self._gone is not None:
                raise self._gone
            self._pending.tags.extend(items)
            self._enqueued += len(items)
        self._register()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._enqueued - self._written

    @property
    def queued_metrics(self) -> int:
        with self._cond:
            return len(self._pending.metrics)

    # -- writing --------------------------------------------------------------------
    def _heartbeat_due(self) -> bool:
        """A heartbeat should be written (caller holds the lock): the run's row is in the
        store (its creation does not wait), it is not ending, and the interval is over."""
        return (
            not self._ended
            and self._pending.creation is None
            and self._pending.ending is None
            and time.monotonic() - self._last_heartbeat >= self.heartbeat
        )

    def _take(self) -> _Batch:
        """Take the next batch (caller holds the lock; the writer is not busy)."""
        pending = self._pending
        beat = pending.creation is not None or (
            not self._ended and time.monotonic() - self._last_heartbeat >= self.heartbeat
        )
        metrics = pending.metrics[: self.batch_size]
        del pending.metrics[: len(metrics)]
        batch = _Batch(pending.creation, metrics, pending.params, pending.tags)
        batch.heartbeat = utcnow() if beat else None
        pending.creation, pending.params, pending.tags = None, [], []
        if not pending.metrics:
            batch.ending, pending.ending = pending.ending, None
        self._busy = True
        return batch

    def _give_back(self, batch: _Batch) -> None:
        pending = self._pending
        pending.creation = batch.creation or pending.creation
        pending.metrics[:0] = batch.metrics
        pending.params[:0] = batch.params
        pending.tags[:0] = batch.tags
        pending.ending = batch.ending or pending.ending

    def _write_one(self, *, block: bool, beat: bool = False) -> bool:
        """Write one batch in this thread; False when there was nothing to do (or, with
        ``block=False``, when another thread is writing or the writer is paused).
        ``beat``: with nothing to write (or a paused writer), write a heartbeat if due."""
        with self._cond:
            while self._busy:
                if not block:
                    return False
                self._cond.wait(1.0)
            if self._gone is not None:
                return False
            if self._error is not None or self._pending.count == 0:
                if not (beat and self._heartbeat_due()):
                    return False
                batch = _Batch(heartbeat=utcnow())  # liveness only
            else:
                batch = self._take()
            self._busy = True
            started = time.monotonic()
        try:
            conflicts = self._write(batch)
        except _RunEnded as ended:
            self._stop(ended.conflict, batch)
            return False
        except BaseException as exc:
            with self._cond:
                if batch.count:
                    self._give_back(batch)
                    self._error = exc
                else:  # a lone heartbeat: retried one interval later, nothing paused
                    self._last_heartbeat = started
                self._busy = False
                self._cond.notify_all()
            if not isinstance(exc, Exception):
                raise
            return False
        with self._cond:
            self._written += batch.count
            self._deferred.extend(conflicts)
            self._busy = False
            if batch.heartbeat is not None:
                self._last_heartbeat = started
            if batch.ending is not None:
                self._ended = True
            if batch.count:
                self._last_write = time.monotonic()
            self._cond.notify_all()
        return True

    def _stop(self, conflict: Conflict, batch: _Batch) -> None:
        """The run ended elsewhere: drop what waits and refuse every later call."""
        with self._cond:
            lost = batch.count + self._pending.count
            if lost:
                conflict.add_note(
                    f"{lost} logged items (metric points, params, tags, the end) were not "
                    "written and have been dropped."
                )
            self._pending = _Batch()
            self._written = self._enqueued  # nothing waits any more: flush returns
            self._gone = conflict
            self._registered = False  # log_metric takes the checked path from now on
            self._busy = False
            self._cond.notify_all()
        _FLUSHER.unregister(self)

    def _background_write(self) -> None:
        """Called by the flusher: write what is due, never blocking on this writer."""
        while True:
            with self._cond:
                pending = self._pending.count
                due = time.monotonic() - self._last_write >= self.interval
                full = len(self._pending.metrics) >= self.batch_size
                beat = (not pending or self._error is not None) and self._heartbeat_due()
            if beat:
                self._write_one(block=False, beat=True)
                return
            if not pending or not (due or full) or not self._write_one(block=False):
                return
            if not full:
                return

    def write_heartbeat(self) -> bool:
        """Write a heartbeat now (the flusher does it every ``heartbeat`` seconds); False
        when the writer was busy or the run has ended. Raises the Conflict of a run that
        ended elsewhere."""
        with self._cond:
            if self._gone is not None:
                raise self._gone
            self._last_heartbeat = float("-inf")
        done = self._write_one(block=True, beat=True)
        with self._cond:
            if self._gone is not None:
                raise self._gone
        return done

    def flush(self, timeout: float | None = None) -> None:
        """Write everything enqueued so far; raise what went wrong since the last flush."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if self._gone is not None:
                raise self._gone
            target = self._enqueued
            self._error = None  # a paused writer retries once
        while True:
            with self._cond:
                if self._written >= target or self._error is not None:
                    break
            if deadline is not None and time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"Run {self.run_id}: {target - self._written} logged items were not "
                    f"written within {timeout} s. The store {self.store.display_uri} is slow "
                    "or locked; call run.flush() again to keep waiting."
                )
            self._write_one(block=True)
        with self._cond:
            if self._gone is not None:
                raise self._gone
            if self._error is not None and self._written < target:
                raise self._failure(self._error)
            if self._deferred:
                first, rest = self._deferred[0], self._deferred[1:]
                self._deferred = []
                if rest:
                    first.add_note(f"and {len(rest)} more: " + "; ".join(str(e) for e in rest))
                raise first

    def finish(self, status: str, end_time: datetime) -> None:
        """Enqueue the end of the run and flush; the writer is done afterwards."""
        with self._cond:
            if self._gone is not None:
                raise self._gone
            self._pending.ending = (status, end_time)
            self._enqueued += 1
        try:
            self.flush()
        finally:
            with self._cond:
                if self._pending.count == 0:
                    _FLUSHER.unregister(self)

    def close(self) -> None:
        """Flush and stop being flushed in the background."""
        try:
            self.flush()
        finally:
            _FLUSHER.unregister(self)

    def _failure(self, exc: BaseException) -> StewardError:
        if isinstance(exc, StewardError):
            return exc
        unwritten = self._enqueued - self._written
        detail: BaseException = exc
        orig = getattr(exc, "orig", None)
        if isinstance(exc, SQLAlchemyError) and isinstance(orig, BaseException):
            detail = orig
        text = str(detail).strip()
        first_line = text.splitlines()[0] if text else repr(detail)
        what = (
            f"Run {self.run_id}: {unwritten} logged items (run record, metric points, "
            f"params, tags) could not be written to the metadata store "
            f"{self.store.display_uri}: {type(detail).__name__}: {first_line}."
        )
        error: StewardError
        if isinstance(exc, SQLAlchemyError | OSError):
            error = StoreUnavailable(
                f"{what} They are still held in memory: call run.flush() to retry once the "
                "store is back; they are lost if this process exits."
            )
        else:
            error = StewardError(
                f"{what} This is a bug in Steward; please report it. The items are still "
                "held in memory and are lost if this process exits."
            )
        error.__cause__ = exc
        return error

    def _write(self, batch: _Batch) -> list[StewardError]:
        run_id = self.run_id
        errors: list[StewardError] = []
        new_run = batch.creation is not None
        with self.store.transaction() as tx:
            repo = SqlRunRepository(tx.session)
            connection = tx.session.connection()
            if batch.creation is not None:
                creation = batch.creation
                if batch.heartbeat is not None:
                    creation = {**creation, "heartbeat_at": batch.heartbeat}
                if batch.ending is not None:  # created and ended in one batch
                    status, end_time = batch.ending
                    creation = {**creation, "status": status, "end_time": end_time}
                repo.insert(creation)
            else:  # the run must still be running; its row stays locked until commit
                if batch.heartbeat is not None:
                    beat = {"run_id": run_id, "heartbeat_at": batch.heartbeat}
                    running = connection.execute(_HEARTBEAT, beat).rowcount == 1
                else:
                    status_now = connection.execute(_STATUS, {"run_id": run_id}).scalar()
                    running = status_now == "running"
                if not running:
                    raise _RunEnded(_ended_conflict(tx.session, run_id, batch))
                if batch.count == 0:
                    return errors  # a heartbeat alone: liveness, not content (no audit)
            if batch.params:
                conflicts = repo.add_params(run_id, dict(batch.params), new_run=new_run)
                for key, (stored, offered) in conflicts.items():
                    errors.append(_param_conflict(run_id, key, stored, offered))
            if batch.tags:
                repo.set_tags(run_id, dict(batch.tags), new_run=new_run)
            if batch.metrics:
                repo.add_metric_points(
                    [(run_id, k, v, s, t) for k, v, s, t in batch.metrics], new_run=new_run
                )
            if batch.ending is not None and not new_run:
                status, end_time = batch.ending
                result = connection.execute(
                    _END, {"run_id": run_id, "status": status, "end_time": end_time}
                )
                if result.rowcount == 0:
                    errors.append(
                        Conflict(
                            f"Run {run_id} was already ended (by another process or "
                            f"`steward runs end`); it is not marked {status!r}."
                        )
                    )
            tx.audit("run.create" if new_run else "run.log", "run", run_id, _batch_summary(batch))
        return errors


def _batch_summary(batch: _Batch) -> dict[str, Any]:
    """What one batch changed, for its audit event (metric points by count and keys)."""
    summary: dict[str, Any] = {}
    if batch.creation is not None:
        summary["run"] = {
            k: v
            for k, v in batch.creation.items()
            if k in {"experiment_id", "name", "parent_id", "status", "project_id"}
        }
    if batch.params:
        summary["params"] = dict(batch.params)
    if batch.tags:
        summary["tags"] = dict(batch.tags)
    if batch.metrics:
        summary["metric_points"] = len(batch.metrics)
        summary["metric_keys"] = sorted({item[0] for item in batch.metrics})
    if batch.ending is not None:
        summary["status"] = batch.ending[0]
    return summary


def _ended_conflict(session: Session, run_id: str, batch: _Batch) -> Conflict:
    """The error of a write to a run that is no longer running, saying who ended it."""
    row = session.execute(select(RunRow.status, RunRow.end_time).where(RunRow.id == run_id)).first()
    if row is None:
        return Conflict(
            f"Run {run_id} is no longer in the metadata store; nothing more can be logged to "
            "it. Start a new run."
        )
    status, end_time = row
    ending = "" if batch.ending is None else f" It is not marked {batch.ending[0]!r}."
    reaped = session.execute(
        select(RunTagRow.value).where(RunTagRow.run_id == run_id, RunTagRow.key == REAPED_TAG)
    ).scalar()
    if reaped is not None:
        ended = "" if end_time is None else f" with end time {end_time.isoformat()}"
        return Conflict(
            f"Run {run_id} was reaped as stale and is now {status!r}{ended}: {reaped}. This "
            "process is still running it, so it was alive but sent no heartbeat in time (the "
            "store was unreachable, or the process was suspended). The run is not reopened: "
            f"nothing more can be logged to it.{ending} Start a new run to go on; to keep live "
            "runs from being reaped, raise STEWARD_RUN_STALE_SECONDS (or reap with a longer "
            "--older-than)."
        )
    return Conflict(
        f"Run {run_id} was already ended ({status}) by another process or `steward runs "
        f"end`; nothing more can be logged to it.{ending} Start a new run."
    )


def _param_conflict(run_id: str, key: str, stored: str, offered: str) -> Conflict:
    return Conflict(
        f"Param {key!r} of run {run_id} is already {stored!r}; it cannot become {offered!r}. "
        "Params are immutable: log the new value under another key, as a metric, or in a "
        "new run."
    )
