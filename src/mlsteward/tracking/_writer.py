"""The background writer of one run: params, tags and metric points, written in batches.

Logging calls enqueue and return; a daemon thread writes what is pending in one
transaction per batch (bulk ``INSERT`` through SQLAlchemy Core executemany). Guarantees:

- **Durability bound**: :meth:`RunWriter.flush` returns only when everything enqueued
  before the call is committed. A crash (even SIGKILL) after ``flush`` returned loses
  nothing that was flushed; what was enqueued after the last flush may be lost, at most
  :attr:`RunWriter.interval` seconds of logging plus what was still in memory.
- **No silent loss**: when a batch cannot be written, its items go back to the front of the
  queue, the writer pauses, and the next :meth:`flush` (which :meth:`close` calls) retries
  once and raises :class:`StoreUnavailable` (or the original :class:`StewardError`) if the
  store is still failing. Params refused as conflicting with stored values are reported
  by the next flush as :class:`Conflict`.
- **Bounded memory**: at most ``max_pending`` metric points wait in memory; a producer that
  gets ahead of the store blocks until the writer catches up (backpressure). When the
  writer is paused by a failure and the queue is full, logging raises the failure.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from mlsteward.core import Conflict, StewardError, StoreUnavailable
from mlsteward.store import Store
from mlsteward.store.metadata import SqlRunRepository

__all__ = ["MetricItem", "RunWriter"]

# (key, value, step, timestamp in ms); value is a float, possibly NaN
MetricItem = tuple[str, float, int, int]


class RunWriter:
    """Batches the logging of one run to the metadata store on a background thread."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        max_pending: int = 50_000,
        batch_size: int = 20_000,
        interval: float = 0.25,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.interval = interval
        self._cond = threading.Condition()
        self._metrics: list[MetricItem] = []
        self._params: list[tuple[str, str]] = []
        self._tags: list[tuple[str, str]] = []
        self._enqueued = 0  # items ever enqueued
        self._written = 0  # items ever written (or refused as conflicts)
        self._wanted = 0  # flush target: write at once up to here
        self._error: BaseException | None = None  # failure that paused the writer
        self._deferred: list[StewardError] = []  # errors to raise at the next flush
        self._closing = False
        self._thread: threading.Thread | None = None

    # -- producers ------------------------------------------------------------------
    def add_metrics(self, items: list[MetricItem]) -> None:
        with self._cond:
            while len(self._metrics) >= self.max_pending:
                if self._error is not None:
                    raise self._failure(self._error)
                self._ensure_thread()
                self._cond.notify_all()
                self._cond.wait(0.5)
            self._metrics.extend(items)
            self._enqueued += len(items)
            self._ensure_thread()
            if len(self._metrics) >= self.batch_size:
                self._cond.notify_all()

    def add_metric(self, item: MetricItem) -> None:
        cond = self._cond
        with cond:
            if len(self._metrics) >= self.max_pending or self._thread is None:
                pass
            else:
                self._metrics.append(item)
                self._enqueued += 1
                if len(self._metrics) == self.batch_size:
                    cond.notify_all()
                return
        self.add_metrics([item])

    def add_params(self, items: list[tuple[str, str]]) -> None:
        with self._cond:
            self._params.extend(items)
            self._enqueued += len(items)
            self._ensure_thread()

    def add_tags(self, items: list[tuple[str, str]]) -> None:
        with self._cond:
            self._tags.extend(items)
            self._enqueued += len(items)
            self._ensure_thread()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._enqueued - self._written

    # -- flushing -------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Write everything enqueued so far; raise what went wrong since the last flush."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._enqueued
            if self._error is not None:
                self._error = None  # retry once
            self._wanted = max(self._wanted, target)
            if self._written < target:
                self._ensure_thread()
            self._cond.notify_all()
            while self._written < target and self._error is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise StoreUnavailable(
                        f"Run {self.run_id}: {target - self._written} logged items were not "
                        f"written within {timeout} s. The store {self.store.display_uri} is "
                        "slow or locked; call run.flush() again to keep waiting."
                    )
                self._cond.wait(remaining if remaining is not None else 1.0)
            if self._error is not None and self._written < target:
                raise self._failure(self._error)
            if self._deferred:
                first, rest = self._deferred[0], self._deferred[1:]
                self._deferred = []
                if rest:
                    first.add_note(f"and {len(rest)} more: " + "; ".join(str(e) for e in rest))
                raise first

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the thread (also when the flush raises)."""
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
                thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)

    # -- the thread -----------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(
                target=self._loop, name=f"steward-run-{self.run_id[:12]}", daemon=True
            )
            self._thread.start()

    def _failure(self, exc: BaseException) -> StewardError:
        unwritten = self._enqueued - self._written
        if isinstance(exc, StewardError):
            return exc
        detail = exc
        if isinstance(exc, SQLAlchemyError):
            orig = getattr(exc, "orig", None)
            detail = orig if orig is not None else exc
        first_line = str(detail).strip().splitlines()[0] if str(detail).strip() else repr(detail)
        what = (
            f"Run {self.run_id}: {unwritten} logged items (metric points, params, tags) could "
            f"not be written to the metadata store {self.store.display_uri}: "
            f"{type(detail).__name__}: {first_line}."
        )
        if not isinstance(exc, SQLAlchemyError | OSError):
            error: StewardError = StewardError(
                f"{what} This is a bug in Steward; please report it. The items are still "
                "held in memory and are lost if this process exits."
            )
        else:
            error = StoreUnavailable(
                f"{what} They are still held in memory: call run.flush() to retry once the "
                "store is back; they are lost if this process exits."
            )
        error.__cause__ = exc
        return error

    def _take(self) -> tuple[list[MetricItem], list[tuple[str, str]], list[tuple[str, str]]]:
        metrics = self._metrics[: self.batch_size]
        del self._metrics[: len(metrics)]
        params, tags = self._params, self._tags
        self._params, self._tags = [], []
        return metrics, params, tags

    def _should_write_now(self) -> bool:
        has_items = bool(self._metrics or self._params or self._tags)
        return has_items and (
            self._written < self._wanted or len(self._metrics) >= self.batch_size or self._closing
        )

    def _loop(self) -> None:
        cond = self._cond
        while True:
            with cond:
                waited = time.monotonic()
                while True:
                    if self._error is None and self._should_write_now():
                        break
                    has_items = bool(self._metrics or self._params or self._tags)
                    if self._closing and (not has_items or self._error is not None):
                        return
                    due = has_items and time.monotonic() - waited >= self.interval
                    if self._error is None and due:
                        break
                    cond.wait(self.interval)
                batch = self._take()
            count = len(batch[0]) + len(batch[1]) + len(batch[2])
            try:
                conflicts = self._write(*batch)
            except BaseException as exc:  # kept for retry, reported by flush
                with cond:
                    metrics, params, tags = batch
                    self._metrics[:0] = metrics
                    self._params[:0] = params
                    self._tags[:0] = tags
                    self._error = exc
                    cond.notify_all()
                continue
            with cond:
                self._written += count
                self._deferred.extend(conflicts)
                cond.notify_all()

    def _write(
        self,
        metrics: list[MetricItem],
        params: list[tuple[str, str]],
        tags: list[tuple[str, str]],
    ) -> list[StewardError]:
        run_id = self.run_id
        errors: list[StewardError] = []
        with self.store.transaction() as tx:
            repo = SqlRunRepository(tx.session)
            if params:
                conflicts = repo.add_params(run_id, dict(params))
                for key, (stored, offered) in conflicts.items():
                    errors.append(_param_conflict(run_id, key, stored, offered))
            if tags:
                repo.set_tags(run_id, dict(tags))
            if metrics:
                repo.add_metric_points([(run_id, k, v, s, t) for k, v, s, t in metrics])
        return errors


def _param_conflict(run_id: str, key: str, stored: str, offered: str) -> Conflict:
    return Conflict(
        f"Param {key!r} of run {run_id} is already {stored!r}; it cannot become {offered!r}. "
        "Params are immutable: log the new value under another key, as a metric, or in a "
        "new run."
    )
