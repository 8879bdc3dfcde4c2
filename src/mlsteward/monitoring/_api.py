"""``st.monitoring``: the monitoring stage in the Python SDK."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from mlsteward.monitoring._adhoc import drift
from mlsteward.monitoring._drift import DriftReport
from mlsteward.monitoring._history import (
    get_monitor_run,
    list_monitor_runs,
    monitor_alerts,
    monitor_status,
)
from mlsteward.monitoring._records import MonitorRun
from mlsteward.monitoring._service import monitor
from mlsteward.monitoring._thresholds import Alert
from mlsteward.monitoring._windows import LogReader
from mlsteward.store import Store

__all__ = ["Monitoring"]


class Monitoring:
    """Monitor runs of the endpoints of one store.

    >>> run = st.monitoring.run("acs-prod", window="30d")  # doctest: +SKIP
    >>> [a.message for a in run.alerts_for("AGEP")]  # doctest: +SKIP
    """

    def __init__(self, store: Store, log_root: Path | None = None) -> None:
        self._store = store
        self._log_root = log_root

    def run(
        self,
        endpoint: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        window: str | int | None = None,
        project: str | None = None,
        model: str | None = None,
        reference: str | None = None,
        performance_reference: str | None = None,
        skew_reference: str | Sequence[str] | None = None,
        entity: str | None = None,
        entity_column: str | None = None,
        log: str | Path | LogReader | None = None,
        feedback: str | Path | None = None,
        cost_per_hour: float | None = None,
        include_shadow: bool = False,
        multivariate: bool = True,
        thresholds: Mapping[str, Any] | None = None,
        save: bool = True,
    ) -> MonitorRun:
        """Monitor an endpoint's log window by window; store and return the run (see
        :func:`mlsteward.monitoring.monitor`)."""
        return monitor(
            self._store,
            endpoint,
            project=project,
            model=model,
            reference=reference,
            performance_reference=performance_reference,
            skew_reference=skew_reference,
            entity=entity,
            entity_column=entity_column,
            log=log,
            feedback=feedback,
            log_root=self._log_root,
            start=start,
            end=end,
            window=window,
            cost_per_hour=cost_per_hour,
            include_shadow=include_shadow,
            multivariate=multivariate,
            thresholds=thresholds,
            save=save,
        )

    def status(self, endpoint: str) -> MonitorRun:
        """The latest run of an endpoint."""
        return monitor_status(self._store, endpoint)

    def runs(self, endpoint: str | None = None, *, limit: int = 20) -> list[MonitorRun]:
        """Stored runs, newest first."""
        return list_monitor_runs(self._store, endpoint, limit=limit)

    def get(self, run_id: str) -> MonitorRun:
        """A stored run by id (or a unique prefix)."""
        return get_monitor_run(self._store, run_id)

    def alerts(
        self,
        endpoint: str | None = None,
        *,
        subject: str | None = None,
        min_severity: str | None = None,
        limit: int | None = None,
    ) -> list[Alert]:
        """Stored alerts, filtered by endpoint, feature or metric, and severity."""
        return monitor_alerts(
            self._store, endpoint, subject=subject, min_severity=min_severity, limit=limit
        )

    def report(
        self, endpoint_or_run: str | MonitorRun, path: str | None = None, *, format: str = "html"
    ) -> str:
        """The report of a run (or of an endpoint's latest run), written to ``path``."""
        run = (
            endpoint_or_run
            if isinstance(endpoint_or_run, MonitorRun)
            else self._latest_or_id(endpoint_or_run)
        )
        return run.report(path, format=format)

    def _latest_or_id(self, name: str) -> MonitorRun:
        from mlsteward.core import NotFound

        try:
            return monitor_status(self._store, name)
        except NotFound:
            return get_monitor_run(self._store, name)

    def drift(
        self, reference: Any, current: Any, *, project: str | None = None, **settings: Any
    ) -> DriftReport:
        """Ad-hoc drift between two datasets, files or dataset versions."""
        return drift(reference, current, store=self._store, project=project, **settings)

    def __repr__(self) -> str:
        return f"Monitoring({self._store!r})"
