"""The prediction log: every answer (and every refusal) as a row of Parquet segments.

Writing never blocks a request: the server appends one :class:`LogItem` per request to a
bounded in-memory queue and a background thread turns the queue into segments (see
``_segments`` for the layout and the atomic write) every ``flush_records`` rows or every
``flush_seconds``, whichever comes first. When the queue is full (the disk stalls) new
items are dropped and counted (``steward_prediction_log_dropped_rows``), the request is
still answered.

**Durability bound.** A row is on disk at most ``flush_seconds`` (default 1 s) plus the
time to write one segment after its request was answered. A process killed without
warning (SIGKILL, power loss after the fsync) loses at most the rows of that last
interval; a segment, once renamed into place, is never lost or partly visible; a graceful
stop (SIGTERM, Ctrl-C) flushes everything.

Schema (version 1; one row per input row; ``inputs`` holds the model's signature columns,
numeric as double, categories as their type, other columns as text)::

    request_id     string         id of the row (the id feedback refers to)
    time           timestamp[us, UTC]  when the request arrived
    endpoint       string
    project        string
    model          string         model name
    model_version  int32
    shadow         bool           True: a shadow copy, never returned to the caller
    status         string         ok | error (the model failed) | rejected (bad input)
    error          string         why, when status is not ok
    latency_ms     double         server-side time from arrival to answer
    prediction     int64 | double | string | bool  (the model's output type)
    score          double         P(positive class) for two classes; P(predicted class)
                                  for more; the predicted value for a regressor
    probabilities  list<double>   every class, in the model's class order
    inputs         struct<...>    the signature columns
    raw            string         the JSON of a rejected row (else null)

Read it with :func:`read_predictions` (an Arrow table) or :func:`predictions_relation`
(a DuckDB relation); with DuckDB directly::

    SELECT * FROM read_parquet('<root>/predictions/endpoint=acs/*/*.parquet',
                               union_by_name = true)
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa

from mlsteward.serving._models import Outputs, ServedModel
from mlsteward.serving._segments import (
    PREDICTIONS,
    relist_on_vanished,
    segment_files,
    write_segment,
)

__all__ = [
    "LOG_SCHEMA_VERSION",
    "LogItem",
    "PredictionLog",
    "base_schema",
    "predictions_relation",
    "read_predictions",
]

LOG_SCHEMA_VERSION: Final = "1"
_MAX_RAW = 10_000


def base_schema() -> pa.Schema:
    """The log's columns other than ``prediction`` (typed per model) and ``inputs``."""
    return pa.schema(
        [
            ("request_id", pa.string()),
            ("time", pa.timestamp("us", tz="UTC")),
            ("endpoint", pa.string()),
            ("project", pa.string()),
            ("model", pa.string()),
            ("model_version", pa.int32()),
            ("shadow", pa.bool_()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("latency_ms", pa.float64()),
            ("prediction", pa.string()),
            ("score", pa.float64()),
            ("probabilities", pa.list_(pa.float64())),
            ("raw", pa.string()),
        ]
    )


@dataclass(slots=True)
class LogItem:
    """The rows of one request for one model version (all share time, status, latency)."""

    endpoint: str
    model: ServedModel | None
    ids: Sequence[str]
    time: float
    latency_ms: float
    status: str = "ok"
    error: str | None = None
    outputs: Outputs | None = None
    columns: dict[str, list[Any]] | None = None
    shadow: bool = False
    raw: Sequence[Any] | None = None
    project: str | None = None


def _safe_array(values: list[Any], kind: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _per_row(values: list[Any], kind: pa.DataType, owner: np.ndarray | None) -> pa.Array:
    """A column from one value per item, repeated for the rows of each item."""
    array = pa.array(values, kind)
    return array if owner is None else array.take(owner)


def _flat(parts: list[Any], counts: list[int], single: bool) -> list[Any]:
    """One value per row from per-item lists (None for an item without them)."""
    if single:
        return [None if p is None else p[0] for p in parts]
    out: list[Any] = []
    for part, n in zip(parts, counts, strict=True):
        out.extend([None] * n if part is None else part)
    return out


def build_table(items: Sequence[LogItem]) -> pa.Table:
    """One table of log rows from items of one endpoint (see the schema above).

    Per-item values are converted once and repeated by index (``take``) for items of
    several rows; the common case, one row per request, takes the shortest path.
    """
    counts = [len(i.ids) for i in items]
    n_rows = sum(counts)
    single = n_rows == len(items)
    owner = None if single else np.repeat(np.arange(len(items)), counts)
    ids = [i.ids[0] for i in items] if single else [x for i in items for x in i.ids]
    models = [i.model for i in items]
    outputs = [i.outputs for i in items]
    types = {m.prediction_type for m, o in zip(models, outputs, strict=True) if m and o}
    prediction_type = types.pop() if len(types) == 1 else pa.string()
    predictions = _flat([None if o is None else o.predictions for o in outputs], counts, single)
    scores = _flat([None if o is None else o.scores for o in outputs], counts, single)
    probabilities = _flat([None if o is None else o.probabilities for o in outputs], counts, single)
    raws = _flat(
        [
            None if i.raw is None else [json.dumps(r, default=str)[:_MAX_RAW] for r in i.raw]
            for i in items
        ],
        counts,
        single,
    )
    fields: dict[str, pa.DataType] = {}
    for model in {id(m): m for m in models if m is not None}.values():
        for name, kind in model.input_types.items():
            if fields.setdefault(name, kind) != kind:
                fields[name] = pa.string()
    columns_of = [i.columns for i in items]
    children = [
        _safe_array(
            _flat([None if c is None else c.get(name) for c in columns_of], counts, single), kind
        )
        for name, kind in fields.items()
    ]
    times = (np.fromiter((i.time for i in items), float, len(items)) * 1e6).astype(np.int64)
    columns: dict[str, pa.Array] = {
        "request_id": pa.array(ids, pa.string()),
        "time": _per_row(times.tolist(), pa.int64(), owner).cast(pa.timestamp("us", tz="UTC")),
        "endpoint": _per_row([i.endpoint for i in items], pa.string(), owner),
        "project": _per_row(
            [i.project or (i.model.project if i.model else None) for i in items],
            pa.string(),
            owner,
        ),
        "model": _per_row([m.name if m else None for m in models], pa.string(), owner),
        "model_version": _per_row([m.version if m else None for m in models], pa.int32(), owner),
        "shadow": _per_row([i.shadow for i in items], pa.bool_(), owner),
        "status": _per_row([i.status for i in items], pa.string(), owner),
        "error": _per_row([i.error for i in items], pa.string(), owner),
        "latency_ms": _per_row([i.latency_ms for i in items], pa.float64(), owner),
        "prediction": _safe_array(predictions, prediction_type),
        "score": pa.array(scores, pa.float64()),
        "probabilities": pa.array(probabilities, pa.list_(pa.float64())),
    }
    if fields:
        invalid = _per_row([c is None for c in columns_of], pa.bool_(), owner)
        columns["inputs"] = pa.StructArray.from_arrays(children, names=list(fields), mask=invalid)
    columns["raw"] = pa.array(raws, pa.string())
    table = pa.table(columns)
    assert table.num_rows == n_rows
    return table.replace_schema_metadata({"mlsteward.predictions": LOG_SCHEMA_VERSION})


class PredictionLog:
    """The asynchronous, batched writer of the prediction log (see the module docstring).

    ``record`` is called on the request path: it appends to a bounded queue and returns
    at once (False when the item was dropped because the queue is full). ``flush`` writes
    what is queued now (the writer thread calls it; tests and the rollout controller may
    too); ``close`` stops the thread after a last flush.
    """

    def __init__(
        self,
        root: Path,
        *,
        flush_records: int = 10_000,
        flush_seconds: float = 1.0,
        max_queue_rows: int = 500_000,
        fsync: bool = True,
    ) -> None:
        self.root = Path(root)
        self.flush_records = flush_records
        self.flush_seconds = flush_seconds
        self.max_queue_rows = max_queue_rows
        self.fsync = fsync
        self._queue: deque[LogItem] = deque()
        self._queued = 0
        self._taken = 0
        self.written = 0
        self.dropped = 0
        self.segments = 0
        self.errors = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return self._queued - self._taken

    def record(self, item: LogItem) -> bool:
        n = len(item.ids)
        if self._queued - self._taken + n > self.max_queue_rows:
            self.dropped += n
            return False
        self._queue.append(item)
        self._queued += n
        if self._queued - self._taken >= self.flush_records and not self._wake.is_set():
            self._wake.set()
        return True

    def start(self) -> PredictionLog:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="steward-prediction-log", daemon=True
            )
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> int:
        """Write every queued item now; return how many rows were written."""
        with self._lock:
            items: list[LogItem] = []
            while True:
                try:
                    items.append(self._queue.popleft())
                except IndexError:
                    break
            if not items:
                return 0
            self._taken += sum(len(i.ids) for i in items)
            groups: dict[tuple[str, date], list[LogItem]] = {}
            for item in items:
                day = datetime.fromtimestamp(item.time, UTC).date()
                groups.setdefault((item.endpoint, day), []).append(item)
            written = 0
            for (endpoint, day), group in groups.items():
                try:
                    table = build_table(group)
                    write_segment(self.root, PREDICTIONS, endpoint, day, table, fsync=self.fsync)
                except Exception as exc:  # a bad item or a full disk must not kill the writer
                    self.errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self.dropped += sum(len(i.ids) for i in group)
                    continue
                written += table.num_rows
                self.segments += 1
            self.written += written
            return written

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Flush and wait until the queue is empty (tests and graceful stops)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.flush()
            if self.pending == 0:
                return True
            time.sleep(0.01)
        return False


# -- reading -------------------------------------------------------------------------------
def _where(start: datetime | None, end: datetime | None, shadow: bool | None) -> str:
    clauses = []
    if start is not None:
        clauses.append(f"time >= TIMESTAMPTZ '{start.astimezone(UTC).isoformat()}'")
    if end is not None:
        clauses.append(f"time < TIMESTAMPTZ '{end.astimezone(UTC).isoformat()}'")
    if shadow is not None:
        clauses.append(f"shadow = {'true' if shadow else 'false'}")
    return " AND ".join(clauses)


def predictions_relation(
    root: Path,
    endpoint: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    shadow: bool | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyRelation:
    """The log of ``endpoint`` with ``start <= time < end`` as a DuckDB relation (shadow
    rows only, or none, when ``shadow`` is True or False).

    The relation is lazy: it names the segments listed now. A compaction that ends before
    it is executed may have deleted some of them; execute it inside
    :func:`~mlsteward.serving.relist_on_vanished` to list again in that case (as
    :func:`read_predictions` does)."""
    con = connection or duckdb.connect()

    def bind() -> duckdb.DuckDBPyRelation:
        files = segment_files(Path(root), PREDICTIONS, endpoint, start, end)
        if not files:
            return con.from_arrow(base_schema().empty_table())
        return con.read_parquet(
            [str(f) for f in files], union_by_name=True, hive_partitioning=False
        )

    relation = relist_on_vanished(bind)
    condition = _where(start, end, shadow)
    return relation.filter(condition) if condition else relation


def read_predictions(
    root: Path,
    endpoint: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    shadow: bool | None = None,
) -> pa.Table:
    """The log of ``endpoint`` with ``start <= time < end`` as an Arrow table."""
    con = duckdb.connect()

    def read() -> pa.Table:
        relation = predictions_relation(root, endpoint, start, end, shadow=shadow, connection=con)
        table: pa.Table = relation.to_arrow_table()
        return table

    try:
        return relist_on_vanished(read)
    finally:
        con.close()
