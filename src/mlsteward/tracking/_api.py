"""The tracking stage as the SDK exposes it: ``st.runs`` and ``st.experiments``."""

from __future__ import annotations

import builtins
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from mlsteward.core import NotFound
from mlsteward.store import Store
from mlsteward.tracking._compare import (
    RunComparison,
    compare_runs,
    export_metric_history,
    metric_history,
)
from mlsteward.tracking._liveness import reap_runs
from mlsteward.tracking._records import (
    CandidateModel,
    Experiment,
    MetricPoint,
    ReapResult,
    ReapStatus,
    Run,
    RunArtifact,
    RunStatus,
)
from mlsteward.tracking._search import search_runs
from mlsteward.tracking._service import (
    child_runs,
    create_experiment,
    end_run,
    get_experiment,
    get_run,
    list_experiments,
    resolve_run,
)

__all__ = ["Experiments", "Runs"]


class Runs:
    """Read, compare and export runs of a store (``st.runs``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, run: str) -> Run:
        """A run (by id or an id prefix of at least 6 characters) with everything it logged."""
        return get_run(self._store, run)

    def list(
        self,
        project: str,
        *,
        experiment: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        stale: bool | None = None,
    ) -> builtins.list[Run]:
        """Runs of a project, newest first (see :meth:`Client.search_runs` for filters;
        ``stale=True`` keeps only stale runs, ``stale=False`` leaves them out)."""
        return search_runs(
            self._store,
            project,
            filter,
            order_by=order_by,
            max_results=max_results,
            experiment=experiment,
            stale=stale,
        )

    def children(self, run: str) -> builtins.list[Run]:
        """The child runs of a run (e.g. the trials of a tuning run), oldest first."""
        return child_runs(self._store, run)

    def compare(self, runs: Sequence[str], *, all: bool = False) -> RunComparison:
        return compare_runs(self._store, runs, all=all)

    def history(self, run: str, key: str) -> builtins.list[MetricPoint]:
        return metric_history(self._store, run, key)

    def export(
        self, run: str, path: str | os.PathLike[str], metrics: Sequence[str] | None = None
    ) -> Path:
        """Write metric histories to CSV or Parquet (all metrics when none is named)."""
        keys = builtins.list(metrics) if metrics else sorted(self.get(run).metrics)
        return export_metric_history(self._store, run, keys, path)

    def artifacts(self, run: str) -> builtins.list[RunArtifact]:
        return builtins.list(self.get(run).artifacts or ())

    def models(self, run: str) -> builtins.list[CandidateModel]:
        """Candidate models a run logged (for the registry)."""
        return self.get(run).models

    def read_artifact(self, run: str, path: str) -> bytes:
        """The bytes of an artifact of a run, verified against its digest."""
        found = self.get(run)
        for artifact in found.artifacts or ():
            if artifact.path == path:
                return self._store.artifacts.get(artifact.digest, name=f"run {found.id}:{path}")
        known = ", ".join(a.path for a in (found.artifacts or ())[:20]) or "none"
        raise NotFound(f"Run {found.id} has no artifact {path!r}. Its artifacts: {known}.")

    def end(self, run: str, status: RunStatus = "killed") -> None:
        """Mark a run whose process died as ended (default ``killed``)."""
        with self._store.reader() as session:
            run_id = resolve_run(session, run).id
        end_run(self._store, run_id, status)

    def reap(
        self,
        project: str | None = None,
        *,
        older_than: str | float | timedelta | None = None,
        status: ReapStatus = "killed",
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> ReapResult:
        """End the stale runs of a project (default: of every project): running, but
        without a heartbeat for longer than ``older_than`` (``"10m"``, ``"2h"``, ``"1d"``,
        seconds or a timedelta; default the ``run_stale_seconds`` setting). Each becomes
        ``status`` with its last heartbeat as end time, audited as ``run.reap``; a run that
        heartbeats or ends meanwhile is left alone. ``dry_run`` changes nothing."""
        return reap_runs(
            self._store,
            project,
            older_than=older_than,
            status=status,
            dry_run=dry_run,
            now=now,
        )


class Experiments:
    """Experiments of a store (``st.experiments``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def list(self, project: str) -> builtins.list[Experiment]:
        return list_experiments(self._store, project)

    def get(self, project: str, name: str) -> Experiment:
        return get_experiment(self._store, project, name)

    def create(self, project: str, name: str) -> Experiment:
        """Create an experiment (returns the existing one of that name)."""
        return create_experiment(self._store, project, name)
