"""What a deployment checks first: the model version's latest evaluation and its verdict.

A model whose latest stored evaluation failed a required gate of the charter is refused
(:class:`GateFailed`, naming the failed gates and the evaluation) unless an
``override_reason`` is given; the override is recorded on the deployment and audited
(``serving.deploy.override``). A version never evaluated, or whose latest evaluation
passed or was inconclusive, deploys (the verdict is recorded on the deployment either way).

The evaluation stage stores its verdicts in the ``evaluations`` table of the store; this
module reads them through the store's public repository, so serving needs nothing of the
evaluation stage's own code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect

from mlsteward.core import GateFailed, InvalidInput
from mlsteward.registry import ModelVersion
from mlsteward.store import Store
from mlsteward.store.metadata import SqlEvaluationRepository, SqlProjectRepository

__all__ = ["EvaluationStatus", "check_evaluation", "latest_evaluation"]

MAX_OVERRIDE_REASON = 2_000


@dataclass(frozen=True)
class EvaluationStatus:
    """The latest evaluation of a model version: its id, verdict and failed gates."""

    evaluation_id: str | None
    verdict: str | None
    failed_gates: tuple[str, ...] = ()
    dataset: str | None = None
    created_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluation_id": self.evaluation_id,
            "verdict": self.verdict,
            "failed_gates": list(self.failed_gates),
            "dataset": self.dataset,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            **self.extra,
        }


def _failed_gates(gates_json: str | None) -> tuple[str, ...]:
    """Keys of the required gates that failed, from a stored gate report (best effort:
    the report is a dict with ``gates`` or a list of verdicts, each with its ``gate``)."""
    if not gates_json:
        return ()
    try:
        data = json.loads(gates_json)
    except ValueError:
        return ()
    items = data.get("gates", []) if isinstance(data, dict) else data
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("status") != "fail":
            continue
        nested = item.get("gate")
        gate: dict[str, Any] = nested if isinstance(nested, dict) else item
        if gate.get("required", True):
            key = gate.get("key") or gate.get("metric") or "?"
            reason = item.get("reason")
            out.append(f"{key} ({reason})" if reason else str(key))
    return tuple(out)


def latest_evaluation(store: Store, version: ModelVersion) -> EvaluationStatus:
    """The latest stored evaluation of ``version`` (verdict None when there is none)."""
    with store.engine.connect() as connection:
        if not inspect(connection).has_table("evaluations"):
            return EvaluationStatus(None, None)
    with store.reader() as session:
        project = SqlProjectRepository(session).get(version.project)
        rows = SqlEvaluationRepository(session).list(
            project.id, kind="evaluation", model_version_id=version.id, limit=1
        )
        if not rows:
            return EvaluationStatus(None, None)
        row = rows[0]
        return EvaluationStatus(
            evaluation_id=row.id,
            verdict=row.verdict,
            failed_gates=_failed_gates(row.gates_json),
            dataset=row.dataset_ref or row.dataset_name,
            created_at=row.created_at,
        )


def check_evaluation(
    store: Store, version: ModelVersion, endpoint: str, override_reason: str | None
) -> EvaluationStatus:
    """Refuse ``version`` when its latest evaluation failed a required gate, unless an
    override reason is given (see the module docstring)."""
    if override_reason is not None:
        if not isinstance(override_reason, str) or not override_reason.strip():
            raise InvalidInput(
                "An override reason must be non-empty text saying why the failed gate is "
                "accepted, e.g. --override-reason 'recall gate waived by the model owner "
                "for the pilot (ticket 123)'."
            )
        if len(override_reason) > MAX_OVERRIDE_REASON:
            raise InvalidInput(
                f"The override reason is {len(override_reason)} characters long; the limit "
                f"is {MAX_OVERRIDE_REASON}."
            )
    status = latest_evaluation(store, version)
    if status.failed and override_reason is None:
        gates = "; ".join(status.failed_gates) or "a required gate"
        raise GateFailed(
            f"Cannot deploy {version.ref} of project {version.project!r} to endpoint "
            f"{endpoint!r}: its latest evaluation ({status.evaluation_id}"
            + (f" on {status.dataset}" if status.dataset else "")
            + f") failed: {gates}. Deploy a version that passes its gates, evaluate this "
            "one again, or deploy anyway with --override-reason 'why' (recorded in the "
            "audit trail)."
        )
    return status
