"""Records of the serving stage: endpoints, deployments, rollout events and guardrails.

They are frozen and turn into plain JSON (``to_dict``) for the CLI, the SDK and the
audit trail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Final, Literal, get_args

from mlsteward.charter import Gate
from mlsteward.core import InvalidInput
from mlsteward.registry import Route

__all__ = [
    "STRATEGIES",
    "Deployment",
    "DeploymentState",
    "Endpoint",
    "Guardrails",
    "RolloutEvent",
    "Strategy",
]

Strategy = Literal["direct", "canary", "blue-green", "shadow"]
STRATEGIES: Final[tuple[Strategy, ...]] = get_args(Strategy)
DeploymentState = Literal["running", "promoted", "rolled_back", "superseded"]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Guardrails:
    """What a rollout checks before it advances, and what rolls it back.

    - ``max_error_rate``: share of the candidate's requests that failed (model errors;
      rejected input is the client's error and does not count);
    - ``latency_p95_ms`` / ``latency_p99_ms``: the candidate's server-side latency
      percentiles (the charter's constraints);
    - ``max_score_psi``: population stability index of the candidate's scores against the
      baseline's over the same period (the charter's ``monitoring.drift.psi``);
    - ``max_performance_drop``: once labels exist (feedback), how much lower the
      candidate's accuracy (classification) may be than the baseline's, or how much higher
      its mean absolute error relative to the baseline's (regression);
    - ``min_samples``: candidate requests needed before error rate and latency are judged;
      ``min_shift_samples`` and ``min_labels``: rows per side needed before the score
      shift and the performance are judged.
    """

    max_error_rate: float = 0.01
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    max_score_psi: float = 0.2
    max_performance_drop: float = 0.02
    min_samples: int = 20
    min_shift_samples: int = 200
    min_labels: int = 100
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_error_rate", "max_score_psi", "max_performance_drop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidInput(f"Guardrail {name} must be a number >= 0, got {value!r}.")
        for name in ("latency_p95_ms", "latency_p99_ms"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or value <= 0):
                raise InvalidInput(f"Guardrail {name} must be a number > 0, got {value!r}.")
        for name in ("min_samples", "min_shift_samples", "min_labels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"Guardrail {name} must be an integer >= 1, got {value!r}.")

    def gates(self) -> list[Gate]:
        """The operational gates of the charter's gate engine these guardrails judge."""
        gates = [
            Gate(
                "error_rate",
                "lower",
                float(self.max_error_rate),
                True,
                self.sources.get("max_error_rate", "serving default"),
                stages=("rollout",),
            )
        ]
        for name in ("latency_p95_ms", "latency_p99_ms"):
            bound = getattr(self, name)
            if bound is not None:
                gates.append(
                    Gate(
                        name,
                        "lower",
                        float(bound),
                        True,
                        self.sources.get(name, "override"),
                        stages=("rollout",),
                    )
                )
        return gates

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["sources"] = dict(self.sources)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Guardrails:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown guardrails {unknown}; known guardrails: {sorted(known - {'sources'})}."
            )
        values = dict(data)
        values["sources"] = dict(values.get("sources") or {})
        return cls(**values)


@dataclass(frozen=True)
class RolloutEvent:
    """One step in the history of a deployment."""

    seq: int
    time: datetime
    action: str
    from_weight: float | None
    to_weight: float | None
    reason: str
    measurements: Mapping[str, Any]
    actor: str

    def describe(self) -> str:
        move = ""
        if self.from_weight is not None and self.to_weight is not None:
            move = f" {self.from_weight:g}% -> {self.to_weight:g}%"
        return f"{self.action}{move}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time.isoformat(),
            "action": self.action,
            "from_weight": self.from_weight,
            "to_weight": self.to_weight,
            "reason": self.reason,
            "measurements": dict(self.measurements),
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Deployment:
    """A model version taking traffic on an endpoint, and where its rollout stands.

    ``weight`` is the candidate's live share in percent (for shadow: 0, it answers no
    request); ``step`` indexes ``steps`` for a canary (-1 otherwise). ``baseline`` is the
    version that answered before (None for the first deployment of an endpoint).
    """

    id: str
    endpoint: str
    project: str
    number: int
    model: str
    model_version_id: str
    baseline: str | None
    baseline_version_id: str | None
    strategy: Strategy
    state: DeploymentState
    step: int
    steps: tuple[int, ...]
    weight: float
    min_requests: int
    min_duration_s: float
    auto_rollback: bool
    guardrails: Guardrails
    evaluation: Mapping[str, Any]
    override_reason: str | None
    reason: str | None
    step_started_at: datetime
    revision: int
    created_at: datetime
    created_by: str
    finished_at: datetime | None
    events: tuple[RolloutEvent, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def next_weight(self) -> float | None:
        """The canary's next step (None when there is none)."""
        if self.strategy != "canary" or self.step + 1 >= len(self.steps):
            return None
        return float(self.steps[self.step + 1])

    def describe(self) -> str:
        against = f" against {self.baseline}" if self.baseline else ""
        where = ""
        if self.strategy == "canary" and self.running:
            where = f", step {self.step + 1}/{len(self.steps)} at {self.weight:g}%"
        return (
            f"deployment #{self.number} of {self.model} on {self.endpoint!r} "
            f"({self.strategy}{against}): {self.state}{where}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "project": self.project,
            "number": self.number,
            "model": self.model,
            "baseline": self.baseline,
            "strategy": self.strategy,
            "state": self.state,
            "step": self.step,
            "steps": list(self.steps),
            "weight": self.weight,
            "min_requests": self.min_requests,
            "min_duration_s": self.min_duration_s,
            "auto_rollback": self.auto_rollback,
            "guardrails": self.guardrails.to_dict(),
            "evaluation": dict(self.evaluation),
            "override_reason": self.override_reason,
            "reason": self.reason,
            "step_started_at": self.step_started_at.isoformat(),
            "revision": self.revision,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "finished_at": _iso(self.finished_at),
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True)
class Endpoint:
    """A named endpoint of a project, its routes and its latest deployment."""

    id: str
    name: str
    project: str
    description: str
    routes_version: int
    routes: tuple[Route, ...]
    created_at: datetime
    created_by: str
    deployment: Deployment | None = None

    @property
    def live(self) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.mode == "live")

    @property
    def shadows(self) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.mode == "shadow")

    def describe_routes(self) -> str:
        if not self.routes:
            return "no routes"
        parts = []
        for route in self.routes:
            share = f"{route.weight:g}%" if not math.isnan(route.weight) else "?"
            parts.append(f"{route.ref} {route.mode} {share}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "project": self.project,
            "description": self.description,
            "routes_version": self.routes_version,
            "routes": [r.to_dict() for r in self.routes],
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "deployment": None if self.deployment is None else self.deployment.to_dict(),
        }
