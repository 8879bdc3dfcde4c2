"""Windows over the prediction log: by time or by count, read with DuckDB.

The log of an endpoint is Parquet segments under ``<home>/predictions/endpoint=E/
date=YYYY-MM-DD/part-*.parquet`` (one row per prediction: request id, time, endpoint,
model version, inputs, outputs, latency, status, shadow flag) and its ground truth under
``<home>/feedback/endpoint=E/...`` (request id, label, time), joined by request id (the
latest label of a request wins). Columns are found by name (see :class:`LogLayout`):
inputs as a struct column (``inputs``) or as top-level columns, outputs top-level or in
an ``outputs`` struct.

Listing windows is one aggregate query (per window: rows, first and last time); reading
a window is one query that returns only that window's rows, the partitions outside it
pruned. Memory is bounded by the window, never by the log; no Python loop touches rows.

Each query lists the segments again (through the serving package's reader), so a log
compacted between two queries is read from its merged segments; a query that meets a
segment deleted by a compaction after its listing is run again (see
``mlsteward.serving.relist_on_vanished``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, ParamSpec, TypeVar

import pyarrow as pa

from mlsteward.core import InvalidInput, NotFound, ensure_utc, require
from mlsteward.monitoring._layout import LABEL_NAMES, TIME_NAMES, LogLayout, detect_layout, quote

if TYPE_CHECKING:
    import duckdb

    from mlsteward.store import Store

__all__ = [
    "LogLayout",
    "LogReader",
    "Window",
    "WindowSpec",
    "feedback_root",
    "parse_window",
    "predictions_root",
]

_DURATION: Final = re.compile(r"^\s*([1-9][0-9]*)\s*(s|m|h|d|w)\s*$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

P = ParamSpec("P")
R = TypeVar("R")


def _relisting(method: Callable[P, R]) -> Callable[P, R]:
    """Run ``method`` again when a segment it listed was deleted by a compaction
    before it was read (each run lists again)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from mlsteward.serving import relist_on_vanished

        return relist_on_vanished(lambda: method(*args, **kwargs))

    return wrapper


@dataclass(frozen=True)
class WindowSpec:
    """A window size: a duration (``kind`` time) or a number of predictions (count)."""

    kind: Literal["time", "count"]
    seconds: int = 0
    rows: int = 0

    def __str__(self) -> str:
        if self.kind == "count":
            return str(self.rows)
        for unit in ("w", "d", "h", "m"):
            if self.seconds % _UNITS[unit] == 0:
                return f"{self.seconds // _UNITS[unit]}{unit}"
        return f"{self.seconds}s"


def parse_window(value: str | int | timedelta | WindowSpec) -> WindowSpec:
    """``"30d"``, ``"12h"``, ``"1w"`` (durations: s, m, h, d, w), ``10000`` or ``"10000"``
    (a number of predictions), or a ``timedelta``.

    >>> parse_window("30d").seconds, parse_window(5000).rows
    (2592000, 5000)
    """
    if isinstance(value, WindowSpec):
        return value
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        if seconds < 1:
            raise InvalidInput(f"A time window lasts at least one second, got {value}.")
        return WindowSpec("time", seconds=seconds)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise InvalidInput(f"A count window holds at least 1 prediction, got {value}.")
        return WindowSpec("count", rows=value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_window(int(text))
        match = _DURATION.match(text)
        if match:
            return WindowSpec("time", seconds=int(match.group(1)) * _UNITS[match.group(2)])
    raise InvalidInput(
        f"Invalid window {value!r}: expected a duration such as 1h, 1d, 7d or 30d, or a "
        "number of predictions such as 10000."
    )


@dataclass(frozen=True)
class Window:
    """One window of the log. Time windows cover ``[start, end)``; count windows hold
    the ``rows`` predictions from ``first`` to ``last`` (time, request id) inclusive.
    ``complete`` is False for a trailing count window with fewer rows than asked."""

    index: int
    kind: Literal["time", "count"]
    start: datetime
    end: datetime
    rows: int
    first: tuple[datetime, str] | None = None
    last: tuple[datetime, str] | None = None
    complete: bool = True

    def label(self) -> str:
        if self.kind == "time":
            return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"
        return f"#{self.index} ({self.rows:,} predictions from {self.start:%Y-%m-%d %H:%M})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "complete": self.complete,
        }


def predictions_root(home: Path, endpoint: str) -> Path:
    return home / "predictions" / f"endpoint={endpoint}"


def feedback_root(home: Path, endpoint: str) -> Path:
    return home / "feedback" / f"endpoint={endpoint}"


def _glob(root: Path | str) -> str:
    text = str(root)
    if text.endswith(".parquet") or "*" in text:
        return text
    return text.rstrip("/") + "/**/*.parquet"


def _has_files(root: Path | str) -> bool:
    text = str(root)
    if "*" in text:
        import glob

        return bool(glob.glob(text, recursive=True))
    path = Path(text)
    return path.is_file() or (path.is_dir() and any(path.rglob("*.parquet")))


class LogReader:
    """The prediction log (and feedback) of one endpoint, queried with DuckDB.

    ``predictions`` and ``feedback`` are directories of Parquet segments (searched
    recursively, hive partitions such as ``date=2016-01-01`` understood), single files or
    globs. Without feedback every label is missing.
    """

    def __init__(
        self,
        predictions: str | Path,
        feedback: str | Path | None = None,
        *,
        endpoint: str | None = None,
        memory_limit: str = "1GB",
        _serving_root: Path | None = None,
    ) -> None:
        duck: Any = require("duckdb", "core", "Reading the prediction log")
        self.endpoint = endpoint
        self.predictions = str(predictions)
        self._root = _serving_root
        self._views = 0
        self._db: duckdb.DuckDBPyConnection = duck.connect()
        self._db.execute("SET TimeZone = 'UTC'")
        self._db.execute(f"SET memory_limit = '{memory_limit}'")
        self.feedback: str | None = None
        # (feedback relation, its request id, label and ordering expressions)
        self._feedback_query: tuple[str, str, str, str] | None = None
        self._open(predictions, feedback)

    @_relisting
    def _open(self, predictions: str | Path, feedback: str | Path | None) -> None:
        """Find the log's columns (and the feedback's, for a log given by path)."""
        endpoint = self.endpoint
        if self._root is not None:
            assert endpoint is not None
            source = self._serving_view(None, None, labels=False)
            self.feedback = str(feedback_root(self._root, endpoint))
        else:
            if not _has_files(predictions):
                raise NotFound(
                    f"No prediction log{f' for endpoint {endpoint!r}' if endpoint else ''} at "
                    f"{predictions}: no Parquet segments there. Serve traffic first (steward "
                    "serve) or point to the log's directory."
                )
            source = (
                f"read_parquet('{_glob(self.predictions)}', hive_partitioning = true, "
                "union_by_name = true)"
            )
            if feedback is not None and _has_files(feedback):
                self.feedback = str(feedback)
                self._path_feedback()
        described = self._db.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        types = {str(r[0]): str(r[1]) for r in described}
        if not types or (self._root is not None and not self._count(source)):
            raise NotFound(
                f"No prediction log for endpoint {endpoint!r} under {self.predictions}: no "
                "prediction was logged yet. Serve traffic first (steward serve, steward predict "
                "--log-to)."
            )

        def struct_fields(name: str | None) -> list[str]:
            if name is None or not types.get(name, "").upper().startswith("STRUCT("):
                return []
            inner = self._db.execute(
                f"DESCRIBE SELECT unnest({quote(name)}) FROM {source}"
            ).fetchall()
            return [str(r[0]) for r in inner]

        self.layout = detect_layout(types, struct_fields, self.predictions)
        self._source = source

    def _count(self, source: str) -> int:
        row = self._db.execute(f"SELECT count(*) FROM {source}").fetchone()
        return 0 if row is None else int(row[0])

    def _path_feedback(self) -> None:
        assert self.feedback is not None
        fb = (
            f"read_parquet('{_glob(self.feedback)}', hive_partitioning = true, "
            "union_by_name = true)"
        )
        names = {
            str(r[0]).lower(): str(r[0])
            for r in self._db.execute(f"DESCRIBE SELECT * FROM {fb}").fetchall()
        }
        label = next((names[n] for n in LABEL_NAMES if n in names), None)
        rid = names.get("request_id")
        when = next((names[n] for n in TIME_NAMES if n in names), None)
        if label is None or rid is None:
            raise InvalidInput(
                f"The feedback at {self.feedback} needs request_id and label columns; it "
                f"has {', '.join(names.values())}."
            )
        order = quote(when) if when else "1"
        self._feedback_query = (fb, quote(rid), quote(label), order)

    def _serving_view(self, start: datetime | None, end: datetime | None, *, labels: bool) -> str:
        """A view over the serving package's reader for ``[start, end)`` (files outside
        the days pruned), with the latest label of each request when ``labels``."""
        from mlsteward.serving import join_feedback, predictions_relation

        assert self._root is not None and self.endpoint is not None
        if labels:
            relation = join_feedback(self._root, self.endpoint, start, end, connection=self._db)
        else:
            relation = predictions_relation(
                self._root, self.endpoint, start, end, connection=self._db
            )
        self._views += 1
        name = f"__steward_log_{self._views}"
        relation.create_view(name, replace=True)
        return name

    def _from(
        self, start: datetime | None, end: datetime | None, *, labels: bool
    ) -> tuple[str, str]:
        """``(FROM clause, label expression)`` for rows in ``[start, end)``; for a log
        given by path, the caller joins the labels (see :meth:`rows`)."""
        if self._root is not None:
            return self._serving_view(start, end, labels=labels), ("label" if labels else "NULL")
        return self._source, "NULL"

    @classmethod
    def for_endpoint(cls, root: Path, endpoint: str) -> LogReader:
        """The log that ``steward serve`` (and ``steward predict --log-to``) writes for
        ``endpoint`` under ``root``, read through the serving package's readers."""
        return cls(
            predictions_root(root, endpoint),
            feedback_root(root, endpoint),
            endpoint=endpoint,
            _serving_root=Path(root),
        )

    @classmethod
    def of_store(cls, store: Store, endpoint: str) -> LogReader:
        """The log of ``endpoint`` where serving writes it for this store."""
        from mlsteward.serving import log_root

        return cls.for_endpoint(log_root(store), endpoint)

    # -- filters ------------------------------------------------------------------------
    def _where(
        self,
        start: datetime | None,
        end: datetime | None,
        include_shadow: bool,
        model_version: str | None,
    ) -> tuple[str, list[Any]]:
        layout = self.layout
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if start is not None:
            clauses.append(f"CAST({layout.time} AS TIMESTAMPTZ) >= ?")
            params.append(ensure_utc(start))
            if layout.date is not None:
                clauses.append(f"CAST({layout.date} AS DATE) >= ?")
                params.append(ensure_utc(start).date())
        if end is not None:
            clauses.append(f"CAST({layout.time} AS TIMESTAMPTZ) < ?")
            params.append(ensure_utc(end))
            if layout.date is not None:
                clauses.append(f"CAST({layout.date} AS DATE) <= ?")
                params.append(ensure_utc(end).date())
        if not include_shadow and layout.shadow is not None:
            clauses.append(f"NOT coalesce({layout.shadow}, FALSE)")
        if model_version is not None:
            if layout.model_version is None:
                raise InvalidInput("The log has no model_version column to filter on.")
            clauses.append(f"CAST({layout.model_version} AS VARCHAR) = ?")
            params.append(model_version)
        return " AND ".join(clauses), params

    # -- windows ------------------------------------------------------------------------
    @_relisting
    def windows(
        self,
        spec: WindowSpec | str | int | timedelta,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        include_shadow: bool = False,
        model_version: str | None = None,
    ) -> list[Window]:
        """The non-empty windows between ``start`` and ``end`` (the whole log by default).

        Time windows are aligned on ``start`` (else on midnight UTC of the first
        prediction, or its hour for windows shorter than a day).
        """
        spec = parse_window(spec)
        where, params = self._where(start, end, include_shadow, model_version)
        source, _ = self._from(start, end, labels=False)
        t = f"CAST({self.layout.time} AS TIMESTAMPTZ)"
        if spec.kind == "time":
            if start is None:
                first = self._db.execute(
                    f"SELECT min({t}) FROM {source} WHERE {where}", params
                ).fetchone()
                if first is None or first[0] is None:
                    return []
                unit = "day" if spec.seconds >= 86400 else "hour"
                origin = ensure_utc(first[0]).replace(minute=0, second=0, microsecond=0)
                if unit == "day":
                    origin = origin.replace(hour=0)
            else:
                origin = ensure_utc(start)
            width = spec.seconds * 1_000_000
            origin_us = int(origin.timestamp() * 1_000_000)
            rows = self._db.execute(
                f"SELECT (epoch_us({t}) - {origin_us}) // {width} AS k, count(*) "
                f"FROM {source} WHERE {where} GROUP BY k ORDER BY k",
                params,
            ).fetchall()
            out: list[Window] = []
            for k, n in rows:
                begin = origin + timedelta(microseconds=int(k) * width)
                out.append(
                    Window(len(out), "time", begin, begin + timedelta(seconds=spec.seconds), int(n))
                )
            return out
        rid = f"CAST({self.layout.request_id} AS VARCHAR)"
        rows = self._db.execute(
            f"SELECT k, count(*), min(struct_pack(t := tt, r := rr)), "
            f"max(struct_pack(t := tt, r := rr)) FROM ("
            f"SELECT {t} AS tt, {rid} AS rr, (row_number() OVER (ORDER BY {t}, {rid}) - 1) "
            f"// {spec.rows} AS k FROM {source} WHERE {where}) GROUP BY k ORDER BY k",
            params,
        ).fetchall()
        counted: list[Window] = []
        for k, n, lo, hi in rows:
            first = (ensure_utc(lo["t"]), str(lo["r"]))
            last = (ensure_utc(hi["t"]), str(hi["r"]))
            counted.append(
                Window(int(k), "count", first[0], last[0], int(n), first, last, int(n) == spec.rows)
            )
        return counted

    @_relisting
    def read(
        self,
        window: Window | None = None,
        *,
        features: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        include_shadow: bool = False,
        model_version: str | None = None,
        extra: Sequence[str] = (),
    ) -> pa.Table:
        """The rows of ``window`` (or of ``[start, end)``) with the columns ``request_id``,
        ``time``, ``model_version``, one per input feature (all, or ``features``),
        ``prediction``, ``probability``, ``probabilities`` (every class, for a multiclass
        model), ``latency_ms``, ``status``, ``error``, ``label`` (NULL without
        feedback) and the log's own ``extra`` columns."""
        layout = self.layout
        if window is not None:
            if window.kind == "time":
                start, end = window.start, window.end
            else:
                assert window.first is not None and window.last is not None
                start, end = window.first[0], window.last[0] + timedelta(microseconds=1)
        where, params = self._where(start, end, include_shadow, model_version)
        source, labels = self._from(start, end, labels=True)
        t = f"CAST({layout.time} AS TIMESTAMPTZ)"
        rid = f"CAST({layout.request_id} AS VARCHAR)"
        if window is not None and window.kind == "count":
            assert window.first is not None and window.last is not None
            where += f" AND ({t}, {rid}) >= (?, ?) AND ({t}, {rid}) <= (?, ?)"
            params += [window.first[0], window.first[1], window.last[0], window.last[1]]
        names = list(layout.inputs) if features is None else list(features)
        missing = [n for n in names if n not in layout.inputs]
        if missing:
            raise InvalidInput(
                f"The prediction log has no input(s) {', '.join(map(repr, missing))}; it records "
                f"{', '.join(layout.inputs) or 'no inputs'}. Check the endpoint's model signature."
            )

        def col(expr: str | None, alias: str) -> str:
            return f"{expr if expr is not None else 'NULL'} AS {quote(alias)}"

        selected = [
            f"{rid} AS request_id",
            f"{t} AS time",
            col(
                f"CAST({layout.model_version} AS VARCHAR)" if layout.model_version else None,
                "model_version",
            ),
            *(f"{layout.inputs[n]} AS {quote(n)}" for n in names),
            col(layout.prediction, "prediction"),
            col(
                f"CAST({layout.probability} AS DOUBLE)" if layout.probability else None,
                "probability",
            ),
            col(
                f"CAST({layout.probabilities} AS DOUBLE[])" if layout.probabilities else None,
                "probabilities",
            ),
            col(
                f"CAST({layout.latency_ms} AS DOUBLE)" if layout.latency_ms else None, "latency_ms"
            ),
            col(f"CAST({layout.status} AS VARCHAR)" if layout.status else None, "status"),
            col(f"CAST({layout.error} AS VARCHAR)" if layout.error else None, "error"),
            col(
                "__fb.__label"
                if self._feedback_query is not None
                else (None if labels == "NULL" else labels),
                "label",
            ),
            *(f"{quote(e)}" for e in extra),
        ]
        order = "ORDER BY time, request_id"
        if self._feedback_query is None:
            sql = f"SELECT {', '.join(selected)} FROM {source} WHERE {where} {order}"
        else:
            # the latest label of each request of the window only: the grouping (and its
            # memory) follows the window, not the whole feedback history
            fb, f_rid, f_label, f_order = self._feedback_query
            sql = (
                f"WITH __w AS (SELECT * FROM {source} WHERE {where}) "
                f"SELECT {', '.join(selected)} FROM __w LEFT JOIN ("
                f"SELECT CAST({f_rid} AS VARCHAR) AS __rid, arg_max({f_label}, {f_order}) AS "
                f"__label FROM {fb} WHERE CAST({f_rid} AS VARCHAR) IN "
                f"(SELECT CAST({layout.request_id} AS VARCHAR) FROM __w) GROUP BY 1) AS __fb "
                f"ON __fb.__rid = CAST(__w.{layout.request_id} AS VARCHAR) {order}"
            )
        return self._db.sql(sql, params=params).to_arrow_table()

    @_relisting
    def model_versions(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        include_shadow: bool = False,
    ) -> dict[str, int]:
        """How many predictions each model version answered in ``[start, end)``."""
        if self.layout.model_version is None:
            return {}
        where, params = self._where(start, end, include_shadow, None)
        rows = self._db.execute(
            f"SELECT CAST({self.layout.model_version} AS VARCHAR) AS v, count(*) FROM "
            f"{self._from(start, end, labels=False)[0]} WHERE {where} GROUP BY v",
            params,
        ).fetchall()
        return {str(v): int(n) for v, n in rows if v is not None}

    @_relisting
    def span(self) -> tuple[datetime, datetime, int] | None:
        """First and last prediction time and the number of predictions (None if empty)."""
        t = f"CAST({self.layout.time} AS TIMESTAMPTZ)"
        row = self._db.execute(
            f"SELECT min({t}), max({t}), count(*) FROM {self._from(None, None, labels=False)[0]}"
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return ensure_utc(row[0]), ensure_utc(row[1]), int(row[2])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LogReader({self.predictions!r}, feedback={self.feedback!r})"
