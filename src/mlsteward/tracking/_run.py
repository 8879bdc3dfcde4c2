"""The SDK's run: ``with start_run(store, project, experiment=...) as run: run.log_...``.

Params, tags and metric points are enqueued for the run's background writer (see
:mod:`mlsteward.tracking._writer`) and return at once; artifacts and inputs are written
synchronously (their bytes are large and their records few). Leaving the ``with`` block,
:meth:`ActiveRun.end` and :meth:`ActiveRun.flush` make everything logged durable, and raise
what the store refused. An exception inside the block marks the run ``failed``
(``KeyboardInterrupt``: ``killed``); a run still open when the interpreter exits normally
is ended ``finished``.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from mlsteward.core import Conflict, InvalidInput, StewardError, utcnow
from mlsteward.store import Store
from mlsteward.tracking._artifacts import (
    PendingArtifact,
    bytes_artifact,
    directory_artifacts,
    figure_artifact,
    file_artifact,
    model_artifact,
    record_artifacts,
    table_artifact,
)
from mlsteward.tracking._inputs import log_input
from mlsteward.tracking._records import (
    RUN_STATUSES,
    CandidateModel,
    Run,
    RunArtifact,
    RunInput,
    RunStatus,
    to_millis,
)
from mlsteward.tracking._service import get_run, plan_run
from mlsteward.tracking._validation import (
    check_key,
    check_metric_value,
    check_param_value,
    check_step,
    check_tag_value,
)
from mlsteward.tracking._writer import MetricItem, RunWriter

__all__ = ["ActiveRun", "active_run", "start_run"]

_local = threading.local()
_open_runs: weakref.WeakValueDictionary[str, ActiveRun] = weakref.WeakValueDictionary()


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = []
        _local.stack = stack
    return stack


def active_run() -> ActiveRun | None:
    """The innermost run started in this thread and not ended yet, if any."""
    stack = _stack()
    return stack[-1] if stack else None


class ActiveRun:
    """A run being recorded. Create it with :func:`start_run`."""

    def __init__(
        self,
        store: Store,
        record: Run,
        creation: dict[str, Any] | None = None,
        **writer_options: Any,
    ) -> None:
        """A handle on ``record``; ``creation`` (from ``plan_run``) is the run's row, to
        be inserted with the first batch. Use :func:`start_run` rather than this."""
        self._store = store
        self._record = record
        self._writer = RunWriter(store, record.id, creation=creation, **writer_options)
        self._params: dict[str, str] = {}
        self._next_step: dict[str, int] = {}
        self._keys: set[str] = set()
        self._status: RunStatus | None = None

    # -- identity -------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def project(self) -> str:
        return self._record.project

    @property
    def experiment(self) -> str:
        return self._record.experiment

    @property
    def parent_id(self) -> str | None:
        return self._record.parent_id

    @property
    def store(self) -> Store:
        return self._store

    @property
    def status(self) -> RunStatus:
        return self._status or "running"

    @property
    def ended(self) -> bool:
        return self._status is not None

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r}, status={self.status!r})"

    def _check_open(self) -> None:
        if self._status is not None:
            raise Conflict(
                f"Run {self.id} ({self.name!r}) has ended ({self._status}); nothing more can "
                "be logged to it. Start a new run."
            )

    # -- params and tags ------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params (immutable: a different value for a logged key is a Conflict)."""
        self._check_open()
        fresh: dict[str, str] = {}
        for key, value in params.items():
            check_key("param", key)
            text = check_param_value(key, value)
            old = self._params.get(key, fresh.get(key))
            if old is not None and old != text:
                raise Conflict(
                    f"Param {key!r} of run {self.id} is already {old!r}; it cannot become "
                    f"{text!r}. Params are immutable: log the new value under another key, "
                    "as a metric, or in a new run."
                )
            if old is None:
                fresh[key] = text
        if fresh:
            self._params.update(fresh)
            self._writer.add_params(list(fresh.items()))

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags (a later value replaces an earlier one)."""
        self._check_open()
        items = [(check_key("tag", k), check_tag_value(k, v)) for k, v in tags.items()]
        if items:
            self._writer.add_tags(items)

    # -- metrics --------------------------------------------------------------------
    def _item(self, key: str, value: Any, step: int | None, millis: int) -> MetricItem:
        if key not in self._keys:
            check_key("metric", key)
            self._keys.add(key)
        number = value if type(value) is float else check_metric_value(key, value)
        step = self._next_step.get(key, 0) if step is None else check_step(key, step)
        if step >= self._next_step.get(key, 0):
            self._next_step[key] = step + 1
        return (key, number, step, millis)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: datetime | None = None
    ) -> None:
        """Enqueue one point and return. ``step`` defaults to one past this key's last step
        (0 for the first point); ``timestamp`` defaults to now."""
        if self._status is not None:
            self._check_open()
        millis = int(time.time() * 1000) if timestamp is None else to_millis(timestamp)
        self._writer.add_metric(self._item(key, value, step, millis))

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        """Enqueue several metrics at the same step and time."""
        self._check_open()
        millis = int(time.time() * 1000) if timestamp is None else to_millis(timestamp)
        items = [self._item(k, v, step, millis) for k, v in metrics.items()]
        if items:
            self._writer.add_metrics(items)

    # -- artifacts ------------------------------------------------------------------
    def _record_artifacts(self, pending: list[PendingArtifact]) -> list[RunArtifact]:
        self._check_open()
        self._writer.flush()  # the run's record is in the store before its artifacts
        return record_artifacts(self._store, self.id, pending)

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None
    ) -> list[RunArtifact]:
        """Log a file (recorded as ``name``, default its file name) or a directory (each
        file as ``name/relative/path``, ``name`` defaulting to the directory's name)."""
        self._check_open()
        if os.path.isdir(path):
            pending = directory_artifacts(self._store, path, name)
        else:
            pending = [file_artifact(self._store, path, name)]
        return self._record_artifacts(pending)

    def log_figure(self, figure: Any, name: str) -> RunArtifact:
        """Log a matplotlib figure or an Altair chart; the name's suffix picks the format."""
        self._check_open()
        return self._record_artifacts([figure_artifact(self._store, figure, name)])[0]

    def log_table(self, table: Any, name: str) -> RunArtifact:
        """Log a DataFrame (pandas, polars) or Arrow table as Parquet (``name.parquet``)."""
        self._check_open()
        return self._record_artifacts([table_artifact(self._store, table, name)])[0]

    def log_text(self, text: str, name: str) -> RunArtifact:
        self._check_open()
        if not isinstance(text, str):
            raise InvalidInput(f"log_text needs a str; got {type(text).__name__}.")
        pending = bytes_artifact(self._store, text.encode("utf-8"), name, "text")
        return self._record_artifacts([pending])[0]

    def log_dict(self, value: Mapping[str, Any] | list[Any], name: str) -> RunArtifact:
        """Log a JSON document (``name`` should end in .json)."""
        self._check_open()
        data = json.dumps(value, indent=2, sort_keys=True, default=str).encode("utf-8")
        pending = bytes_artifact(self._store, data, name, "text", "application/json")
        return self._record_artifacts([pending])[0]

    def log_model(self, model: Any, name: str = "model") -> CandidateModel:
        """Log a fitted model as a candidate in a safe format (skops for scikit-learn,
        native formats for LightGBM and XGBoost) under ``name/``."""
        self._check_open()
        artifact = self._record_artifacts([model_artifact(self._store, model, name)])[0]
        return CandidateModel.from_artifact(artifact)

    def log_input(self, dataset: Any, role: str = "training") -> RunInput:
        """Record a dataset version (a DatasetVersion or ``"name@version"``) the run used."""
        self._check_open()
        self._writer.flush()
        return log_input(self._store, self.id, self.project, dataset, role)

    # -- children -------------------------------------------------------------------
    def start_child(
        self,
        name: str | None = None,
        *,
        experiment: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ActiveRun:
        """Start a run whose parent is this run (same experiment unless given)."""
        self._check_open()
        return start_run(
            self._store,
            self.project,
            experiment or self.experiment,
            name=name,
            parent=self.id,
            tags=tags,
        )

    # -- durability -----------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Block until everything logged so far is committed; raise what failed."""
        self._writer.flush(timeout)

    def info(self) -> Run:
        """A fresh snapshot of this run from the store (after a flush)."""
        if self._status is None:
            self.flush()
        return get_run(self._store, self.id)

    def end(self, status: RunStatus = "finished") -> None:
        """Flush and record the final status and end time. Idempotent. What the store
        refused is raised (the run then keeps the status the store last had)."""
        if self._status is not None:
            return
        if status not in RUN_STATUSES or status == "running":
            raise InvalidInput(
                f"Invalid final status {status!r} for run {self.id}: expected one of "
                "'finished', 'failed', 'killed'."
            )
        try:
            self._writer.finish(status, utcnow())
        finally:
            self._status = status
            _forget(self)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end("finished")
            return
        status: RunStatus = "killed" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            if self._status is None:
                message = f"{type(exc).__name__}: {exc}"
                self._writer.add_tags([("steward.error", message[:5000])])
            self.end(status)
        except StewardError as end_error:
            exc.add_note(f"Steward could not record the end of run {self.id}: {end_error}")


def _forget(run: ActiveRun) -> None:
    stack = _stack()
    if run in stack:
        stack.remove(run)
    if _open_runs.get(run.id) is run:
        del _open_runs[run.id]


def start_run(
    store: Store,
    project: str,
    experiment: str = "default",
    *,
    name: str | None = None,
    parent: ActiveRun | Run | str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ActiveRun:
    """Start a run in ``project`` / ``experiment`` (the experiment is created on first use).

    ``parent`` makes it a child run (of an ActiveRun, a Run or a run id). Use it as a
    context manager, or call :meth:`ActiveRun.end`. The run reaches the store with its
    first batch of logging (within the writer's interval) or at the first flush.
    """
    parent_id = parent.id if isinstance(parent, ActiveRun | Run) else parent
    if parent_id is not None:
        open_parent = parent if isinstance(parent, ActiveRun) else _open_runs.get(parent_id)
        if open_parent is not None and not open_parent.ended:
            open_parent.flush()  # the parent's record is in the store before its child's
    record, creation = plan_run(
        store, project, experiment, name=name, parent_id=parent_id, tags=tags
    )
    run = ActiveRun(store, record, creation)
    if record.tags:
        run._writer.add_tags(list(record.tags.items()))
    _stack().append(run)
    _open_runs[run.id] = run
    return run


@atexit.register
def _end_open_runs() -> None:  # pragma: no cover - runs at interpreter exit
    for run in list(_open_runs.values()):
        try:
            run.end("finished")
        except Conflict:
            pass  # ended through another handle
        except Exception as exc:
            import sys

            print(f"steward: could not end run {run.id} at exit: {exc}", file=sys.stderr)
