"""Monitor runs in the store: saving a run (one audited transaction) and reading runs and
alerts back.

A run is a row of ``monitor_runs``, its windows' headlines rows of ``monitor_windows``,
its alerts rows of ``monitor_alerts`` (in the run's order), and its full results an
immutable JSON artifact (``results_digest``) that :class:`MonitorRun` reads back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mlsteward.core import InvalidInput, NotFound, new_id, utcnow
from mlsteward.monitoring._records import MonitorRun, WindowResult, clean
from mlsteward.monitoring._reference import Reference
from mlsteward.monitoring._thresholds import Alert, MonitorThresholds
from mlsteward.store import Store
from mlsteward.store.metadata import (
    MonitorAlertRow,
    MonitorRunRow,
    MonitorWindowRow,
    SqlMonitoringRepository,
    SqlProjectRepository,
)

__all__ = [
    "get_monitor_run",
    "list_monitor_runs",
    "monitor_alerts",
    "monitor_status",
    "save_run",
]


def _verdict(results: Sequence[WindowResult]) -> str | None:
    verdicts = [r.gates.verdict for r in results if r.gates is not None]
    if not verdicts:
        return None
    for worst in ("fail", "inconclusive"):
        if worst in verdicts:
            return worst
    return "pass"


def save_run(
    store: Store,
    *,
    project: str,
    project_id: str,
    endpoint: str,
    endpoint_id: str | None,
    version: Any,
    charter: Any,
    reference: Reference,
    window: str,
    start: datetime | None,
    end: datetime | None,
    results: list[WindowResult],
    thresholds: MonitorThresholds,
    save: bool,
) -> MonitorRun:
    run_id = new_id()
    created = utcnow()
    alerts = tuple(a for r in results for a in r.alerts)
    document = clean(
        {
            "format": "mlsteward.monitor-run",
            "version": 1,
            "id": run_id,
            "project": project,
            "endpoint": endpoint,
            "model": version.ref,
            "charter": None if charter is None else f"{charter.project}@{charter.version}",
            "window": window,
            "start": start,
            "end": end,
            "reference": {
                "id": reference.id,
                **reference.describe,
                "rows": reference.rows,
                "features": reference.features,
                "kinds": reference.kinds,
                "task": reference.task,
                "estimator": None if reference.estimator is None else reference.estimator.to_dict(),
            },
            "thresholds": thresholds.to_dict(),
            "windows": [r.to_dict() for r in results],
            "created_at": created,
            "created_by": store.actor,
        }
    )
    rows = sum(r.rows for r in results)
    labelled = sum(r.realized.labelled for r in results)
    run = MonitorRun(
        id=run_id,
        project=project,
        endpoint=endpoint,
        model=version.ref,
        window=window,
        start=start,
        end=end,
        verdict=_verdict(results),
        rows=rows,
        labelled=labelled,
        alerts=alerts,
        document=document,
        created_at=created,
        created_by=store.actor,
        results=tuple(results),
    )
    if not save:
        return run
    payload = json.dumps(document, allow_nan=False, separators=(",", ":")).encode("utf-8")
    digest = store.artifacts.put(payload)
    counts = run.counts()
    with store.transaction() as tx:
        row = MonitorRunRow(
            id=run_id,
            project_id=project_id,
            endpoint=endpoint,
            endpoint_id=endpoint_id,
            model_version_id=version.id,
            model_ref=version.ref,
            reference_id=reference.id,
            charter_version_id=None if charter is None else charter.id,
            window_spec=window,
            start_time=start,
            end_time=end,
            window_count=len(results),
            row_count=rows,
            labelled_count=labelled,
            verdict=run.verdict,
            critical_count=counts["critical"],
            warning_count=counts["warning"],
            info_count=counts["info"],
            results_digest=digest,
            results_size=len(payload),
            created_at=created,
            created_by=store.actor,
        )
        window_rows = [
            MonitorWindowRow(
                run_id=run_id,
                position=r.window.index,
                start_time=r.window.start,
                end_time=r.window.end,
                row_count=r.rows,
                labelled_count=r.realized.labelled,
                drift_share=r.drift_share,
                drifted_json=json.dumps(r.drifted_features),
                verdict=None if r.gates is None else r.gates.verdict,
                metrics_json=json.dumps(r.headline(), allow_nan=False),
            )
            for r in results
        ]
        alert_rows = [
            MonitorAlertRow(
                id=new_id(),
                run_id=run_id,
                seq=seq,
                position=a.window,
                window_start=a.window_start,
                window_end=a.window_end,
                severity=a.severity,
                kind=a.kind,
                subject=a.subject[:300],
                metric=a.metric[:63],
                value=a.value if a.value is None or a.value == a.value else None,
                threshold=a.threshold,
                reference=a.reference,
                message=a.message,
            )
            for seq, a in enumerate(alerts)
        ]
        SqlMonitoringRepository(tx.session).add_run(row, window_rows, alert_rows)
        tx.audit(
            "monitor.run",
            "endpoint",
            endpoint,
            {
                "run": run_id,
                "model": version.ref,
                "window": window,
                "windows": len(results),
                "rows": rows,
                "verdict": run.verdict,
                "alerts": counts,
                "results_digest": digest,
            },
        )
    return run


def _to_run(
    store: Store, row: MonitorRunRow, project: str, alerts: list[MonitorAlertRow]
) -> MonitorRun:
    document = json.loads(store.artifacts.get(row.results_digest, name=f"monitor run {row.id}"))
    return MonitorRun(
        id=row.id,
        project=project,
        endpoint=row.endpoint,
        model=row.model_ref,
        window=row.window_spec,
        start=row.start_time,
        end=row.end_time,
        verdict=row.verdict,
        rows=row.row_count,
        labelled=row.labelled_count,
        alerts=tuple(_alert(a) for a in alerts),
        document=document,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _alert(row: MonitorAlertRow) -> Alert:
    return Alert(
        severity=row.severity,  # type: ignore[arg-type]
        kind=row.kind,  # type: ignore[arg-type]
        subject=row.subject,
        metric=row.metric,
        value=row.value,
        threshold=row.threshold,
        reference=row.reference,
        message=row.message,
        window=row.position,
        window_start=row.window_start,
        window_end=row.window_end,
    )


def _project_names(session: Any) -> dict[str, str]:
    return {p.id: p.name for p in SqlProjectRepository(session).list()}


def get_monitor_run(store: Store, run_id: str) -> MonitorRun:
    """A stored run by id (or a unique prefix of at least 8 characters)."""
    with store.reader() as session:
        repo = SqlMonitoringRepository(session)
        row = repo.find_run(run_id)
        if row is None and len(run_id) >= 8:
            found = repo.find_run_prefix(run_id)
            if len(found) > 1:
                raise InvalidInput(
                    f"Monitor run prefix {run_id!r} is ambiguous; give more characters."
                )
            row = found[0] if found else None
        if row is None:
            raise NotFound(
                f"No monitor run {run_id!r}. List the runs of an endpoint with: steward monitor "
                "status ENDPOINT"
            )
        alerts = repo.alerts(run_id=row.id)
        project = _project_names(session)[row.project_id]
    return _to_run(store, row, project, alerts)


def list_monitor_runs(
    store: Store, endpoint: str | None = None, *, limit: int = 20
) -> list[MonitorRun]:
    """Stored runs, newest first (of one endpoint when given)."""
    with store.reader() as session:
        repo = SqlMonitoringRepository(session)
        rows = repo.runs(endpoint=endpoint, limit=limit)
        projects = _project_names(session)
        alerts = {r.id: repo.alerts(run_id=r.id) for r in rows}
    return [_to_run(store, r, projects[r.project_id], alerts[r.id]) for r in rows]


def monitor_status(store: Store, endpoint: str) -> MonitorRun:
    """The latest run of ``endpoint``."""
    runs = list_monitor_runs(store, endpoint, limit=1)
    if not runs:
        raise NotFound(
            f"Endpoint {endpoint!r} has no monitor run yet. Run one with: steward monitor run "
            f"{endpoint}"
        )
    return runs[0]


def monitor_alerts(
    store: Store,
    endpoint: str | None = None,
    *,
    subject: str | None = None,
    min_severity: str | None = None,
    limit: int | None = None,
) -> list[Alert]:
    """Stored alerts (of an endpoint, naming a feature or metric, at least this severe)."""
    with store.reader() as session:
        rows = SqlMonitoringRepository(session).alerts(
            endpoint=endpoint, subject=subject, min_severity=min_severity, limit=limit
        )
    return [_alert(r) for r in rows]
