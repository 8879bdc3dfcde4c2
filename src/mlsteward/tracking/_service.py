"""Experiments and the life of runs in the store: create, end, read, resolve."""

from __future__ import annotations

import dataclasses
import json
import re
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlsteward.core import (
    Conflict,
    InvalidInput,
    NotFound,
    Project,
    new_id,
    utcnow,
)
from mlsteward.store import Store, Transaction
from mlsteward.store.metadata import (
    DatasetVersionRow,
    ExperimentRow,
    ProjectRow,
    RunArtifactRow,
    RunRow,
    SqlExperimentRepository,
    SqlProjectRepository,
    SqlRunRepository,
)
from mlsteward.tracking._environment import code_version, environment
from mlsteward.tracking._liveness import is_stale, stale_seconds
from mlsteward.tracking._records import (
    RUN_STATUSES,
    Experiment,
    Run,
    RunArtifact,
    RunInput,
    RunStatus,
)
from mlsteward.tracking._validation import check_key, check_tag_value

__all__ = [
    "artifact_record",
    "check_experiment_name",
    "child_runs",
    "create_experiment",
    "end_run",
    "get_experiment",
    "get_run",
    "list_experiments",
    "plan_run",
    "resolve_experiment",
    "resolve_run",
    "run_records",
]

_EXPERIMENT = re.compile(r"^[A-Za-z0-9_.\-/:]([A-Za-z0-9_.\-/: ]{0,198}[A-Za-z0-9_.\-/:])?$")
_MIN_PREFIX = 6
_environment_digests: dict[str, str] = {}


def check_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not _EXPERIMENT.match(name):
        raise InvalidInput(
            f"Invalid experiment name {name!r}: expected 1 to 200 characters among letters, "
            "digits, '_', '-', '.', '/', ':' and inner spaces, e.g. 'baseline' or 'hgb/tuning'."
        )
    return name


def _check_run_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput(f"Invalid run name {name!r}: expected 1 to 200 characters of text.")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidInput(f"Invalid run name {name!r}: control characters are not allowed.")
    return name


def _experiment_record(row: ExperimentRow, project: str) -> Experiment:
    return Experiment(row.id, project, row.name, row.created_at, row.created_by)


def _get_or_create_experiment(tx: Transaction, project: Project, name: str) -> ExperimentRow:
    experiments = SqlExperimentRepository(tx.session)
    row = experiments.find(project.id, name)
    if row is not None:
        return row
    row = ExperimentRow(
        id=new_id(),
        project_id=project.id,
        name=name,
        created_at=utcnow(),
        created_by=tx.store.actor,
    )
    experiments.add(row)
    tx.audit(
        "experiment.create",
        "experiment",
        f"{project.name}/{name}",
        {"id": row.id, "project": project.name, "name": name},
    )
    return row


def create_experiment(store: Store, project: str, name: str) -> Experiment:
    """Create an experiment (or return the existing one of that name)."""
    check_experiment_name(name)
    with store.transaction() as tx:
        proj = tx.projects.get(project)
        return _experiment_record(_get_or_create_experiment(tx, proj, name), project)


def get_experiment(store: Store, project: str, name: str) -> Experiment:
    with store.reader() as session:
        proj = SqlProjectRepository(session).get(project)
        repo = SqlExperimentRepository(session)
        row = repo.find(proj.id, name)
        if row is None:
            known = [e.name for e in repo.list(proj.id)]
            hint = f" Known experiments: {', '.join(known[:10])}." if known else ""
            raise NotFound(
                f"Experiment {name!r} does not exist in project {project!r}.{hint} "
                "An experiment is created by the first run started in it."
            )
        return _experiment_record(row, project)


def list_experiments(store: Store, project: str) -> list[Experiment]:
    with store.reader() as session:
        proj = SqlProjectRepository(session).get(project)
        rows = SqlExperimentRepository(session).list(proj.id)
        return [_experiment_record(r, project) for r in rows]


def _environment_digest(store: Store) -> str:
    key = store.artifacts.uri
    digest = _environment_digests.get(key)
    if digest is None:
        digest = store.artifacts.put(environment().to_json())
        _environment_digests[key] = digest
    return digest


_experiment_ids: weakref.WeakKeyDictionary[Store, dict[tuple[str, str], tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def resolve_experiment(store: Store, project: str, experiment: str) -> tuple[str, str]:
    """``(project id, experiment id)``, creating the experiment on first use.

    Cached per store: projects and experiments are never renamed or deleted.
    """
    cache = _experiment_ids.setdefault(store, {})
    ids = cache.get((project, experiment))
    if ids is not None:
        return ids
    check_experiment_name(experiment)
    for attempt in range(2):  # a concurrent first use (PostgreSQL) retries once
        try:
            with store.reader() as session:
                proj = SqlProjectRepository(session).get(project)
                row = SqlExperimentRepository(session).find(proj.id, experiment)
            if row is None:
                with store.transaction() as tx:
                    row = _get_or_create_experiment(tx, tx.projects.get(project), experiment)
            ids = (proj.id, row.id)
            break
        except IntegrityError:
            if attempt == 1:
                raise
    assert ids is not None
    cache[(project, experiment)] = ids
    return ids


def plan_run(
    store: Store,
    project: str,
    experiment: str,
    *,
    name: str | None = None,
    parent_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> tuple[Run, dict[str, Any]]:
    """A new running run: its record, and the column values its writer inserts with its
    first batch (the run reaches the store then; see :mod:`._writer`)."""
    if name is not None:
        _check_run_name(name)
    clean_tags = {check_key("tag", k): check_tag_value(k, v) for k, v in (tags or {}).items()}
    project_id, experiment_id = resolve_experiment(store, project, experiment)
    if parent_id is not None:
        with store.reader() as session:
            parent = SqlRunRepository(session).get(parent_id)
        if parent is None or parent.project_id != project_id:
            raise NotFound(
                f"Parent run {parent_id} does not exist in project {project!r}. "
                "Pass the id of a run of the same project (or the run object)."
            )
    code = code_version()
    env = environment()
    run_id = new_id()
    started = utcnow()
    values: dict[str, Any] = {
        "id": run_id,
        "project_id": project_id,
        "experiment_id": experiment_id,
        "parent_id": parent_id,
        "name": name or f"run-{run_id[-8:]}",
        "status": "running",
        "start_time": started,
        "end_time": None,
        "heartbeat_at": started,  # the writer refreshes it when the row is inserted
        "created_by": store.actor,
        "git_commit": code.git_commit,
        "git_dirty": code.git_dirty,
        "source": code.source,
        "python_version": env.python_version,
        "platform": env.platform,
        "environment_digest": _environment_digest(store),
    }
    record = Run(
        id=run_id,
        project=project,
        experiment=experiment,
        name=values["name"],
        status="running",
        start_time=values["start_time"],
        end_time=None,
        parent_id=parent_id,
        created_by=store.actor,
        git_commit=code.git_commit,
        git_dirty=code.git_dirty,
        source=code.source,
        python_version=env.python_version,
        platform=env.platform,
        environment_digest=values["environment_digest"],
        tags=clean_tags,
        heartbeat_at=started,
    )
    return record, values


def end_run(store: Store, run_id: str, status: RunStatus = "finished") -> None:
    """Set the final status and end time of a run."""
    if status not in RUN_STATUSES or status == "running":
        raise InvalidInput(
            f"Invalid final status {status!r} for run {run_id}: expected one of "
            "'finished', 'failed', 'killed'."
        )
    with store.transaction() as tx:
        runs = SqlRunRepository(tx.session)
        row = runs.get(run_id)
        if row is None:
            raise NotFound(f"Run {run_id} does not exist.")
        if row.status != "running":
            raise Conflict(
                f"Run {run_id} has already ended ({row.status}); its status cannot change "
                f"to {status!r}."
            )
        runs.set_status(run_id, status, utcnow())
        tx.audit("run.end", "run", run_id, {"status": status})


def resolve_run(session: Session, ref: str) -> RunRow:
    """The run whose id is ``ref`` or starts with ``ref`` (at least 6 characters)."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"Invalid run reference {ref!r}: expected a run id or id prefix.")
    runs = SqlRunRepository(session)
    row = runs.get(ref)
    if row is not None:
        return row
    if len(ref) < _MIN_PREFIX:
        raise NotFound(
            f"Run {ref!r} does not exist. Pass the full run id, or a prefix of at least "
            f"{_MIN_PREFIX} characters (steward runs list PROJECT shows ids)."
        )
    found = runs.with_prefix(ref, limit=2)
    if not found:
        raise NotFound(f"No run id starts with {ref!r}. See: steward runs list PROJECT")
    if len(found) > 1:
        raise InvalidInput(
            f"Run prefix {ref!r} is ambiguous ({found[0].id}, {found[1].id}, ...): "
            "give more characters."
        )
    return found[0]


def _record(
    row: RunRow,
    project: str,
    experiment: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    stale: bool,
    artifacts: tuple[RunArtifact, ...] | None = None,
    inputs: tuple[RunInput, ...] | None = None,
) -> Run:
    return Run(
        id=row.id,
        project=project,
        experiment=experiment,
        name=row.name,
        status=row.status,  # type: ignore[arg-type]  # written from RunStatus
        start_time=row.start_time,
        end_time=row.end_time,
        parent_id=row.parent_id,
        created_by=row.created_by,
        git_commit=row.git_commit,
        git_dirty=row.git_dirty,
        source=row.source,
        python_version=row.python_version,
        platform=row.platform,
        environment_digest=row.environment_digest,
        params=dict(params),
        metrics=dict(metrics),
        tags=dict(tags),
        artifacts=artifacts,
        inputs=inputs,
        heartbeat_at=row.heartbeat_at,
        stale=stale,
    )


def run_records(
    session: Session,
    rows: Sequence[tuple[RunRow, str, str]],
    *,
    stale_after: float | None = None,
    now: datetime | None = None,
) -> list[Run]:
    """Run records for ``(row, project name, experiment name)`` with params, latest metrics
    and tags loaded in three queries. ``stale`` is judged at ``now`` (default: the current
    time) against ``stale_after`` seconds (None: never stale)."""
    at = utcnow() if now is None else now
    repo = SqlRunRepository(session)
    ids = [r.id for r, _, _ in rows]
    params = repo.params(ids)
    tags = repo.tags(ids)
    latest = repo.latest_metrics(ids)
    out = []
    for row, project, experiment in rows:
        metrics = {
            k: float("nan") if m.value is None else m.value
            for k, m in sorted(latest.get(row.id, {}).items())
        }
        out.append(
            _record(
                row,
                project,
                experiment,
                dict(sorted(params.get(row.id, {}).items())),
                metrics,
                dict(sorted(tags.get(row.id, {}).items())),
                stale_after is not None
                and is_stale(
                    row.status,
                    row.start_time if row.heartbeat_at is None else row.heartbeat_at,
                    at,
                    stale_after,
                ),
            )
        )
    return out


def _names(session: Session, row: RunRow) -> tuple[str, str]:
    project, experiment = session.execute(
        select(ProjectRow.name, ExperimentRow.name)
        .join(ExperimentRow, ExperimentRow.project_id == ProjectRow.id)
        .where(ProjectRow.id == row.project_id, ExperimentRow.id == row.experiment_id)
    ).one()
    return project, experiment


def artifact_record(row: RunArtifactRow) -> RunArtifact:
    return RunArtifact(
        run_id=row.run_id,
        path=row.path,
        digest=row.digest,
        size=row.size,
        kind=row.kind,
        media_type=row.media_type,
        meta=json.loads(row.meta_json),
        created_at=row.created_at,
    )


def _inputs(session: Session, run_id: str) -> tuple[RunInput, ...]:
    repo = SqlRunRepository(session)
    rows = repo.inputs(run_id)
    if not rows:
        return ()
    versions = {
        v.id: v
        for v in session.execute(
            select(DatasetVersionRow).where(
                DatasetVersionRow.id.in_([r.dataset_version_id for r in rows])
            )
        ).scalars()
    }
    out = []
    for r in rows:
        version = versions[r.dataset_version_id]
        out.append(
            RunInput(
                r.run_id, r.dataset_version_id, version.name, version.version, r.role, r.created_at
            )
        )
    return tuple(out)


def get_run(store: Store, ref: str) -> Run:
    """A run with params, latest metrics, tags, artifacts and inputs."""
    with store.reader() as session:
        row = resolve_run(session, ref)
        project, experiment = _names(session, row)
        (run,) = run_records(
            session, [(row, project, experiment)], stale_after=stale_seconds(store)
        )
        artifacts = tuple(artifact_record(a) for a in SqlRunRepository(session).artifacts(row.id))
        inputs = _inputs(session, row.id)
    return dataclasses.replace(run, artifacts=artifacts, inputs=inputs)


def child_runs(store: Store, ref: str) -> list[Run]:
    """The child runs of a run, oldest first."""
    with store.reader() as session:
        parent = resolve_run(session, ref)
        rows = SqlRunRepository(session).children(parent.id)
        project, _ = _names(session, parent)
        experiments = {
            e.id: e.name for e in SqlExperimentRepository(session).list(parent.project_id)
        }
        return run_records(
            session,
            [(r, project, experiments[r.experiment_id]) for r in rows],
            stale_after=stale_seconds(store),
        )
