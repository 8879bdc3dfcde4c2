"""Records of the tracking stage: experiments, runs, metric points, artifacts, inputs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "RUN_STATUSES",
    "CandidateModel",
    "Experiment",
    "MetricPoint",
    "ReapResult",
    "ReapStatus",
    "ReapedRun",
    "Run",
    "RunArtifact",
    "RunInput",
    "RunStatus",
    "from_millis",
    "to_millis",
]

RunStatus = Literal["running", "finished", "failed", "killed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("running", "finished", "failed", "killed")
ReapStatus = Literal["killed", "failed"]


def to_millis(value: datetime) -> int:
    """Milliseconds since the epoch (UTC) of an aware or naive-UTC datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def from_millis(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


@dataclass(frozen=True)
class Experiment:
    """A named group of runs in a project, created on first use."""

    id: str
    project: str
    name: str
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class MetricPoint:
    """One logged value of a metric. ``value`` may be NaN or infinite."""

    key: str
    value: float
    step: int
    timestamp: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": _json_float(self.value),
            "step": self.step,
            "timestamp": self.timestamp.isoformat(),
        }


@dataclass(frozen=True)
class RunArtifact:
    """A content-addressed artifact recorded in a run under ``path``.

    ``kind`` is ``file``, ``figure``, ``table``, ``text`` or ``model``; ``meta`` holds what
    the kind needs (a table's shape, a model's format and the types it needs to load).
    """

    run_id: str
    path: str
    digest: str
    size: int
    kind: str
    media_type: str
    meta: Mapping[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "path": self.path,
            "digest": self.digest,
            "size": self.size,
            "kind": self.kind,
            "media_type": self.media_type,
            "meta": dict(self.meta),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class CandidateModel:
    """A fitted model logged by a run, in a safe format, ready for the registry.

    ``format`` is ``skops`` (scikit-learn), ``lightgbm-text`` or ``xgboost-ubj``.
    For skops, ``untrusted_types`` lists the types that ``skops.io.get_untrusted_types``
    reported when the model was saved: the registry decides whether it trusts them (the
    list is evidence, never a trust decision read back from the artifact).
    """

    run_id: str
    path: str
    digest: str
    size: int
    flavor: str
    format: str
    estimator_class: str
    untrusted_types: tuple[str, ...]
    meta: Mapping[str, Any]

    @classmethod
    def from_artifact(cls, artifact: RunArtifact) -> CandidateModel:
        meta = dict(artifact.meta)
        return cls(
            run_id=artifact.run_id,
            path=artifact.path,
            digest=artifact.digest,
            size=artifact.size,
            flavor=str(meta.get("flavor", "")),
            format=str(meta.get("format", "")),
            estimator_class=str(meta.get("class", "")),
            untrusted_types=tuple(meta.get("untrusted_types", ())),
            meta=meta,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "path": self.path,
            "digest": self.digest,
            "size": self.size,
            "flavor": self.flavor,
            "format": self.format,
            "estimator_class": self.estimator_class,
            "untrusted_types": list(self.untrusted_types),
            "meta": dict(self.meta),
        }


@dataclass(frozen=True)
class RunInput:
    """A dataset version a run used, and in which role (``training``, ``validation``...)."""

    run_id: str
    dataset_version_id: str
    dataset: str
    version: str
    role: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dataset_version_id": self.dataset_version_id,
            "ref": self.ref,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Run:
    """A snapshot of a run: what it is, where it came from, and what it logged.

    ``metrics`` holds the latest value of each metric (highest step; ties: latest time).
    ``artifacts`` and ``inputs`` are loaded by ``get_run`` and are None in search results.
    ``heartbeat_at`` is the last time the run's writer said its process was alive (None
    for runs recorded before heartbeats existed). ``stale`` is derived when the record is
    read, not stored: the run is ``running`` but its last sign of life (``last_seen``) is
    older than the store's ``run_stale_seconds`` setting, so its process is probably dead
    (``st.runs.reap`` ends such runs).
    """

    id: str
    project: str
    experiment: str
    name: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    parent_id: str | None
    created_by: str
    git_commit: str | None
    git_dirty: bool | None
    source: str | None
    python_version: str
    platform: str
    environment_digest: str | None
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    artifacts: tuple[RunArtifact, ...] | None = None
    inputs: tuple[RunInput, ...] | None = None
    heartbeat_at: datetime | None = None
    stale: bool = False

    @property
    def last_seen(self) -> datetime:
        """The last sign of life: the heartbeat, or the start time when there is none."""
        return self.start_time if self.heartbeat_at is None else self.heartbeat_at

    @property
    def duration_seconds(self) -> float | None:
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    @property
    def models(self) -> list[CandidateModel]:
        """Candidate models among the artifacts (empty when artifacts were not loaded)."""
        return [CandidateModel.from_artifact(a) for a in self.artifacts or () if a.kind == "model"]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "project": self.project,
            "experiment": self.experiment,
            "name": self.name,
            "status": self.status,
            "start_time": self.start_time.isoformat(),
            "end_time": _iso(self.end_time),
            "heartbeat_at": _iso(self.heartbeat_at),
            "stale": self.stale,
            "parent_id": self.parent_id,
            "created_by": self.created_by,
            "code": {
                "git_commit": self.git_commit,
                "git_dirty": self.git_dirty,
                "source": self.source,
            },
            "environment": {
                "python_version": self.python_version,
                "platform": self.platform,
                "digest": self.environment_digest,
            },
            "params": dict(self.params),
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "tags": dict(self.tags),
        }
        if self.artifacts is not None:
            out["artifacts"] = [a.to_dict() for a in self.artifacts]
        if self.inputs is not None:
            out["inputs"] = [i.to_dict() for i in self.inputs]
        return out


@dataclass(frozen=True)
class ReapedRun:
    """A stale run that a reap ended (or, in a dry run, would end)."""

    id: str
    project: str
    experiment: str
    name: str
    start_time: datetime
    heartbeat_at: datetime | None
    silent_seconds: float  # from the last sign of life to the time of the reap
    reason: str

    @property
    def end_time(self) -> datetime:
        """The end time a reap records: the last heartbeat (the start without one)."""
        return self.start_time if self.heartbeat_at is None else self.heartbeat_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "experiment": self.experiment,
            "name": self.name,
            "start_time": self.start_time.isoformat(),
            "heartbeat_at": _iso(self.heartbeat_at),
            "end_time": self.end_time.isoformat(),
            "silent_seconds": round(self.silent_seconds, 3),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ReapResult:
    """What a reap did: the runs it ended, and those it left because they changed between
    the listing and the update (a heartbeat landed, or the run ended by itself)."""

    status: ReapStatus
    older_than_seconds: float
    reaped_at: datetime
    dry_run: bool
    reaped: tuple[ReapedRun, ...]
    skipped: tuple[ReapedRun, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "older_than_seconds": self.older_than_seconds,
            "reaped_at": self.reaped_at.isoformat(),
            "dry_run": self.dry_run,
            "reaped": [r.to_dict() for r in self.reaped],
            "skipped": [r.to_dict() for r in self.skipped],
        }
