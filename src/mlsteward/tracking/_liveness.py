"""Liveness of runs: heartbeats, staleness, and reaping runs whose process died.

A run's writer records a heartbeat (``runs.heartbeat_at``) when the run reaches the store
and then at most every ``run_heartbeat_seconds`` (see :mod:`._writer`). A run is *stale*
when it is ``running`` and its last sign of life (the heartbeat, or the start time for a
run without one) is older than ``run_stale_seconds``: its process was probably killed
(SIGKILL, out of memory, a lost notebook kernel). Staleness is derived when runs are read,
never stored, so it needs no writer to be alive.

:func:`reap_runs` ends stale runs (``killed`` by default, or ``failed``): it lists them in
a read transaction, then updates them in one write transaction where each ``UPDATE``
checks that the run is still ``running`` with the heartbeat that was read. A live writer
whose heartbeat lands in between therefore wins and its run keeps running; a run that
ended meanwhile is left as it ended. Each reaped run gets ``end_time`` = its last heartbeat
(when it was last known alive, not the time of the reap), the tag ``steward.reaped``
saying why, and one ``run.reap`` audit event. The writer of a reaped run that turns out to
be alive refuses its next write with a :class:`~mlsteward.core.Conflict` naming the reap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update

from mlsteward.core import InvalidInput, ensure_utc, utcnow
from mlsteward.store import Store
from mlsteward.store.metadata import (
    ExperimentRow,
    ProjectRow,
    RunRow,
    SqlProjectRepository,
    SqlRunRepository,
)
from mlsteward.tracking._records import ReapedRun, ReapResult, ReapStatus

__all__ = [
    "DEFAULT_HEARTBEAT_SECONDS",
    "DEFAULT_STALE_SECONDS",
    "REAPED_TAG",
    "heartbeat_seconds",
    "is_stale",
    "parse_duration",
    "reap_runs",
    "stale_condition",
    "stale_seconds",
]

DEFAULT_HEARTBEAT_SECONDS = 30.0
DEFAULT_STALE_SECONDS = 150.0
REAPED_TAG = "steward.reaped"
REAP_STATUSES: tuple[ReapStatus, ...] = ("killed", "failed")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_HINT = "expected a number followed by s, m, h or d, e.g. 90s, 10m, 2h or 1d"


def heartbeat_seconds(store: Store) -> float:
    """The store's ``run_heartbeat_seconds`` setting (its default for a hand-built store)."""
    config = store.config
    return DEFAULT_HEARTBEAT_SECONDS if config is None else config.run_heartbeat_seconds


def stale_seconds(store: Store) -> float:
    """The store's ``run_stale_seconds`` setting (its default for a hand-built store)."""
    config = store.config
    return DEFAULT_STALE_SECONDS if config is None else config.run_stale_seconds


def is_stale(status: str, last_seen: datetime, now: datetime, stale_after: float) -> bool:
    """True when a run is ``running`` and silent for more than ``stale_after`` seconds."""
    return status == "running" and (now - last_seen).total_seconds() > stale_after


def _last_seen_column() -> Any:
    return func.coalesce(RunRow.heartbeat_at, RunRow.start_time)


def stale_condition(cutoff: datetime) -> ColumnElement[bool]:
    """SQL: the run is running and its last sign of life is before ``cutoff``."""
    return and_(RunRow.status == "running", _last_seen_column() < cutoff)


def parse_duration(value: object, option: str = "older_than") -> float:
    """Seconds from ``10m``-style text (s, m, h, d), a number of seconds or a timedelta.

    >>> parse_duration("10m"), parse_duration("1.5h"), parse_duration(90)
    (600.0, 5400.0, 90.0)
    """
    seconds: float
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise InvalidInput(f"Invalid duration {value!r} for {option}: {_DURATION_HINT}.")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    else:
        raise InvalidInput(
            f"Invalid duration {value!r} for {option}: {_DURATION_HINT}, a number of seconds "
            "or a datetime.timedelta."
        )
    if not (seconds > 0 and math.isfinite(seconds)):
        raise InvalidInput(f"Invalid duration {value!r} for {option}: it must be positive.")
    return seconds


def _check_status(status: object) -> ReapStatus:
    for known in REAP_STATUSES:
        if status == known:
            return known
    raise InvalidInput(
        f"Invalid status {status!r} for reaped runs: expected 'killed' (the default: the "
        "process was killed) or 'failed'."
    )


def _reason(silent: float, heartbeat_at: datetime | None, start: datetime, limit: float) -> str:
    if heartbeat_at is None:
        since = f"no heartbeat since it started at {start.isoformat(timespec='seconds')}"
    else:
        since = f"last heartbeat at {heartbeat_at.isoformat(timespec='seconds')}"
    return (
        f"stale: {since}, {silent:.0f} s before the reap, more than the {limit:g} s allowed; "
        "its process is taken for dead"
    )


def _find_stale(
    store: Store, project: str | None, cutoff: datetime, now: datetime, limit: float
) -> list[ReapedRun]:
    """The stale runs (of ``project``, or of every project), oldest start first."""
    with store.reader() as session:
        query = (
            select(RunRow, ProjectRow.name, ExperimentRow.name)
            .join(ProjectRow, ProjectRow.id == RunRow.project_id)
            .join(ExperimentRow, ExperimentRow.id == RunRow.experiment_id)
            .where(stale_condition(cutoff))
            .order_by(RunRow.start_time, RunRow.id)
        )
        if project is not None:
            query = query.where(RunRow.project_id == SqlProjectRepository(session).get(project).id)
        found = []
        for row, project_name, experiment in session.execute(query).all():
            last_seen = row.start_time if row.heartbeat_at is None else row.heartbeat_at
            silent = (now - last_seen).total_seconds()
            found.append(
                ReapedRun(
                    id=row.id,
                    project=project_name,
                    experiment=experiment,
                    name=row.name,
                    start_time=row.start_time,
                    heartbeat_at=row.heartbeat_at,
                    silent_seconds=silent,
                    reason=_reason(silent, row.heartbeat_at, row.start_time, limit),
                )
            )
        return found


def _reap(
    store: Store, candidates: Sequence[ReapedRun], status: ReapStatus, now: datetime, limit: float
) -> tuple[list[ReapedRun], list[ReapedRun]]:
    """End the candidates that are still as they were read, in one transaction."""
    reaped: list[ReapedRun] = []
    skipped: list[ReapedRun] = []
    if not candidates:
        return reaped, skipped
    with store.transaction() as tx:
        connection = tx.session.connection()
        runs = SqlRunRepository(tx.session)
        for run in candidates:
            same_heartbeat = (
                RunRow.heartbeat_at.is_(None)
                if run.heartbeat_at is None
                else RunRow.heartbeat_at == run.heartbeat_at
            )
            result = connection.execute(
                update(RunRow)
                .where(RunRow.id == run.id, RunRow.status == "running", same_heartbeat)
                .values(status=status, end_time=run.end_time)
            )
            if result.rowcount != 1:  # a heartbeat landed, or the run ended meanwhile
                skipped.append(run)
                continue
            note = f"{run.reason}; marked {status} by {store.actor} at {now.isoformat()}"
            runs.set_tags(run.id, {REAPED_TAG: note})
            tx.audit(
                "run.reap",
                "run",
                run.id,
                {
                    "status": status,
                    "previous_status": "running",
                    "heartbeat_at": None
                    if run.heartbeat_at is None
                    else run.heartbeat_at.isoformat(),
                    "end_time": run.end_time.isoformat(),
                    "silent_seconds": round(run.silent_seconds, 3),
                    "stale_after_seconds": limit,
                    "reason": run.reason,
                },
            )
            reaped.append(run)
    return reaped, skipped


def reap_runs(
    store: Store,
    project: str | None = None,
    *,
    older_than: str | float | timedelta | None = None,
    status: ReapStatus = "killed",
    dry_run: bool = False,
    now: datetime | None = None,
) -> ReapResult:
    """End the stale runs of ``project`` (default: every project) as ``status``.

    A run is reaped when it is ``running`` and silent for more than ``older_than``
    (``"10m"``, ``"2h"``, ``"1d"``, seconds, or a timedelta; default: the
    ``run_stale_seconds`` setting). ``older_than`` must exceed the heartbeat interval, or
    live runs would be reaped. ``dry_run`` lists what would be reaped and changes nothing.
    ``now`` replaces the clock (tests, or judging staleness as of another time).
    """
    limit = stale_seconds(store) if older_than is None else parse_duration(older_than)
    interval = heartbeat_seconds(store)
    if limit <= interval:
        raise InvalidInput(
            f"A staleness threshold of {limit:g} s (older_than, --older-than) is not longer "
            "than the heartbeat interval "
            f"({interval:g} s, STEWARD_RUN_HEARTBEAT_SECONDS): live runs would be reaped "
            "between two heartbeats. Give several intervals, e.g. "
            f"--older-than {math.ceil(interval * 5 / 60)}m."
        )
    checked = _check_status(status)
    at = utcnow() if now is None else ensure_utc(now)
    candidates = _find_stale(store, project, at - timedelta(seconds=limit), at, limit)
    if dry_run:
        return ReapResult(checked, limit, at, True, tuple(candidates))
    reaped, skipped = _reap(store, candidates, checked, at, limit)
    return ReapResult(checked, limit, at, False, tuple(reaped), tuple(skipped))
