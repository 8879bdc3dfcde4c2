"""Feedback: ground truth attached to request ids, any time after the prediction.

``POST /v1/endpoints/{E}/feedback`` and ``st.log_feedback(endpoint, ids, labels)`` take
one label or many; each call is written as one Parquet segment under
``<root>/feedback/endpoint=E/date=D/`` (see ``_segments``) before it is acknowledged, so
an acknowledged label is never lost. Send labels in bulk when you can: each call is one
file.

Labels are checked against the endpoint's model: a classifier's label must be one of its
classes (text that spells a numeric class, such as ``"1"``, is taken as that class); a
regressor's label is a number. They are stored with the type of the log's ``prediction``
column, so that a join compares like with like. A label sent twice for one request id is
kept twice; the join takes the latest.

Schema (version 1): ``request_id`` string, ``label`` (the prediction's type), ``time``
timestamp[us, UTC] (arrival), ``endpoint`` string, ``source`` string (api, sdk, ...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa

from mlsteward.core import InvalidInput, utcnow
from mlsteward.serving._predlog import predictions_relation
from mlsteward.serving._segments import (
    FEEDBACK,
    relist_on_vanished,
    segment_files,
    write_segment,
)

__all__ = [
    "FeedbackReceipt",
    "LabelSpec",
    "join_feedback",
    "parse_feedback",
    "read_feedback",
    "write_feedback",
]

MAX_ID_LENGTH: Final = 200
MAX_FEEDBACK_ROWS: Final = 1_000_000


@dataclass(frozen=True)
class LabelSpec:
    """What a label of an endpoint is: one of ``classes`` (a classifier) or a number."""

    classes: tuple[Any, ...] | None
    model: str = "the endpoint's model"

    @property
    def arrow_type(self) -> pa.DataType:
        if self.classes is None:
            return pa.float64()
        if all(isinstance(c, bool) for c in self.classes):
            return pa.bool_()
        if all(isinstance(c, int) and not isinstance(c, bool) for c in self.classes):
            return pa.int64()
        if all(isinstance(c, int | float) and not isinstance(c, bool) for c in self.classes):
            return pa.float64()
        return pa.string()

    def coerce(self, label: Any, request_id: str) -> Any:
        if self.classes is None:
            if isinstance(label, bool) or not isinstance(label, int | float):
                raise InvalidInput(
                    f"The label of request {request_id!r} is {label!r}; {self.model} is a "
                    "regressor, so a label is a number."
                )
            if not math.isfinite(float(label)):
                raise InvalidInput(f"The label of request {request_id!r} is not finite.")
            return float(label)
        if label in self.classes and type(label) in {type(c) for c in self.classes}:
            return label
        for candidate in self.classes:
            if str(candidate) == str(label) and not isinstance(label, bool | list | dict):
                return candidate
        shown = ", ".join(repr(c) for c in self.classes[:20])
        raise InvalidInput(
            f"The label of request {request_id!r} is {label!r}, which is not a class of "
            f"{self.model}; expected one of {shown}."
        )


@dataclass(frozen=True)
class FeedbackReceipt:
    """What was stored: how many labels, for which endpoint, where."""

    endpoint: str
    count: int
    path: str

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "count": self.count, "path": self.path}


def _check_id(value: Any, position: int) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidInput(
            f"Feedback item {position}: a request id is the text the server answered in "
            f"'ids' (or 'request_id'), got {value!r}."
        )
    text = str(value)
    if not text or len(text) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"Feedback item {position}: a request id has 1 to {MAX_ID_LENGTH} characters."
        )
    return text


def parse_feedback(payload: Any) -> tuple[list[str], list[Any]]:
    """Request ids and labels from a feedback body: ``{"request_id": ..., "label": ...}``,
    ``{"request_ids": [...], "labels": [...]}``, or ``{"feedback": [{...}, ...]}``."""
    expected = (
        'Expected {"request_id": "...", "label": 1}, {"request_ids": [...], "labels": '
        '[...]} or {"feedback": [{"request_id": "...", "label": 1}, ...]}.'
    )
    if not isinstance(payload, Mapping):
        raise InvalidInput(f"A feedback body is a JSON object. {expected}")
    if "feedback" in payload:
        items = payload["feedback"]
        if not isinstance(items, list) or not items:
            raise InvalidInput(f"'feedback' must be a non-empty list. {expected}")
        ids, labels = [], []
        for position, item in enumerate(items):
            if not isinstance(item, Mapping) or "request_id" not in item or "label" not in item:
                raise InvalidInput(
                    f"Feedback item {position} needs 'request_id' and 'label'. {expected}"
                )
            ids.append(_check_id(item["request_id"], position))
            labels.append(item["label"])
    elif "request_ids" in payload or "labels" in payload:
        raw_ids, raw_labels = payload.get("request_ids"), payload.get("labels")
        if not isinstance(raw_ids, list) or not isinstance(raw_labels, list) or not raw_ids:
            raise InvalidInput(f"'request_ids' and 'labels' must be non-empty lists. {expected}")
        if len(raw_ids) != len(raw_labels):
            raise InvalidInput(
                f"'request_ids' has {len(raw_ids)} items and 'labels' {len(raw_labels)}; give "
                "one label per request id."
            )
        ids = [_check_id(v, i) for i, v in enumerate(raw_ids)]
        labels = list(raw_labels)
    elif "request_id" in payload and "label" in payload:
        ids, labels = [_check_id(payload["request_id"], 0)], [payload["label"]]
    else:
        raise InvalidInput(f"The feedback body names no request id and label. {expected}")
    if len(ids) > MAX_FEEDBACK_ROWS:
        raise InvalidInput(
            f"{len(ids)} labels in one call; the limit is {MAX_FEEDBACK_ROWS}. Split them."
        )
    return ids, labels


def write_feedback(
    root: Path,
    endpoint: str,
    request_ids: Sequence[str],
    labels: Sequence[Any],
    spec: LabelSpec,
    *,
    source: str = "sdk",
    fsync: bool = True,
) -> FeedbackReceipt:
    """Check the labels against ``spec`` and write them as one segment (durably)."""
    if len(request_ids) != len(labels):
        raise InvalidInput(
            f"{len(request_ids)} request ids and {len(labels)} labels; give one label per id."
        )
    if not request_ids:
        raise InvalidInput("No feedback to log: give at least one request id and label.")
    ids = [_check_id(v, i) for i, v in enumerate(request_ids)]
    values = [spec.coerce(label, rid) for rid, label in zip(ids, labels, strict=True)]
    now = utcnow()
    table = pa.table(
        {
            "request_id": pa.array(ids, pa.string()),
            "label": pa.array(values, spec.arrow_type),
            "time": pa.array([now] * len(ids), pa.timestamp("us", tz="UTC")),
            "endpoint": pa.array([endpoint] * len(ids), pa.string()),
            "source": pa.array([source] * len(ids), pa.string()),
        }
    ).replace_schema_metadata({"mlsteward.feedback": "1"})
    path = write_segment(Path(root), FEEDBACK, endpoint, now.date(), table, fsync=fsync)
    return FeedbackReceipt(endpoint, len(ids), str(path))


def _feedback_relation(
    root: Path, endpoint: str, con: duckdb.DuckDBPyConnection, since: datetime | None = None
) -> duckdb.DuckDBPyRelation | None:
    """The feedback segments of ``endpoint`` (of the days from ``since`` on: a label
    arrives after its prediction, so older days cannot hold one for later predictions)."""

    def bind() -> duckdb.DuckDBPyRelation | None:
        files = segment_files(Path(root), FEEDBACK, endpoint, since)
        if not files:
            return None
        return con.read_parquet(
            [str(f) for f in files], union_by_name=True, hive_partitioning=False
        )

    return relist_on_vanished(bind)


def read_feedback(root: Path, endpoint: str) -> pa.Table:
    """Every label of ``endpoint`` (all of them: labels arrive long after predictions)."""
    con = duckdb.connect()
    try:
        return relist_on_vanished(lambda: _read_feedback(root, endpoint, con))
    finally:
        con.close()


def _read_feedback(root: Path, endpoint: str, con: duckdb.DuckDBPyConnection) -> pa.Table:
    relation = _feedback_relation(root, endpoint, con)
    if relation is None:
        return pa.table(
            {
                "request_id": pa.array([], pa.string()),
                "label": pa.array([], pa.string()),
                "time": pa.array([], pa.timestamp("us", tz="UTC")),
                "endpoint": pa.array([], pa.string()),
                "source": pa.array([], pa.string()),
            }
        )
    table: pa.Table = relation.to_arrow_table()
    return table


def join_feedback(
    root: Path,
    endpoint: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    shadow: bool | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyRelation:
    """The log of ``endpoint`` in [start, end) with the latest label of each request id
    (``label`` and ``label_time``, null while no label has arrived): what monitoring
    reads for realized performance.

    Only the labels of the window's requests are grouped (a semi-join on the window's ids)
    and only feedback days from ``start`` on are read, so the work and memory follow the
    window, not the whole history of feedback. Like :func:`predictions_relation`, the
    relation is lazy: execute it inside ``relist_on_vanished`` to survive a compaction."""
    con = connection or duckdb.connect()
    predictions = predictions_relation(root, endpoint, start, end, shadow=shadow, connection=con)
    feedback = _feedback_relation(root, endpoint, con, start)
    name = f"p_{abs(hash((str(root), endpoint, start, end))) % 10**12}"
    predictions.create_view(name, replace=True)
    if feedback is None:
        return con.sql(
            f"SELECT *, CAST(NULL AS VARCHAR) AS label, "
            f"CAST(NULL AS TIMESTAMPTZ) AS label_time FROM {name}"
        )
    feedback.create_view(f"{name}_f", replace=True)
    return con.sql(
        f"""
        SELECT p.*, f.label, f.label_time
        FROM {name} AS p
        LEFT JOIN (
            SELECT request_id, arg_max(label, time) AS label, max(time) AS label_time
            FROM {name}_f WHERE request_id IN (SELECT request_id FROM {name})
            GROUP BY request_id
        ) AS f USING (request_id)
        """
    )
