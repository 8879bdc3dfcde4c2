"""Rollouts: moving a deployment along, in the model server or by hand.

Transitions (each one transaction: the deployment row, the routes through the registry,
the endpoint's ``routes_version``, a rollout event and an audit event
``serving.rollout.<action>``):

- ``advance``: the canary's next step (weights baseline 100-w, candidate w);
- ``promote``: the candidate takes 100 % and the baseline leaves the endpoint;
- ``rollback``: the baseline takes 100 % back and the candidate leaves (a shadow is
  simply removed); also allowed after a promotion, while the baseline is not retired.

A transition names the deployment's ``revision`` it was decided on; if another process
moved the deployment meanwhile, the transition does nothing (``None``) and the caller
re-reads. So several server replicas may run controllers on one endpoint safely.

The :class:`RolloutController` runs in the model server: every ``check_seconds`` it
judges each running deployment of the endpoints it serves on the requests observed since
the step began (the prediction log, with feedback joined, read with DuckDB; or the
process's own recent requests when logging is off), then applies the decision. In a
server with several workers one of them (holding a file lock) runs it. When the store
cannot be reached, a rollback is applied in this process at once (all traffic to the
baseline) and written to the store as soon as it answers again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from mlsteward.core import Conflict, InvalidInput, new_id, utcnow
from mlsteward.serving._endpoints import apply_routes, deployment_record, get_deployment
from mlsteward.serving._feedback import join_feedback
from mlsteward.serving._guardrails import Decision, judge_rollout
from mlsteward.serving._predlog import LogItem
from mlsteward.serving._records import Deployment
from mlsteward.serving._segments import relist_on_vanished
from mlsteward.store import Store
from mlsteward.store.metadata import RolloutEventRow, SqlServingRepository

__all__ = [
    "MemoryObservations",
    "RolloutController",
    "observe_rollout",
    "promote",
    "rollback",
    "transition",
]

logger = logging.getLogger("mlsteward.serving")
_COLUMNS = ("model", "model_version", "shadow", "status", "latency_ms", "score", "prediction")


def transition(
    store: Store,
    deployment: Deployment,
    action: str,
    reason: str,
    measurements: Mapping[str, Any] | None = None,
) -> Deployment | None:
    """Apply ``action`` to ``deployment`` as of its revision (see the module docstring);
    None when the deployment moved meanwhile."""
    now = utcnow()
    with store.transaction() as tx:
        repo = SqlServingRepository(tx.session)
        row = repo.deployment_by_id(deployment.id)
        if row is None or row.revision != deployment.revision:
            return None
        endpoint = repo.endpoint_by_id(row.endpoint_id)
        assert endpoint is not None
        candidate, baseline = row.model_version_id, row.baseline_version_id
        from_weight = row.weight
        values: dict[str, Any] = {"reason": reason}
        if action == "advance":
            if row.state != "running" or row.strategy != "canary":
                raise Conflict(f"Only a running canary advances; {deployment.describe()}.")
            steps = json.loads(row.steps_json)
            if row.step + 1 >= len(steps):
                raise Conflict("The canary is at its last step; promote it instead.")
            weight = float(steps[row.step + 1])
            routes = [(candidate, weight, "live")]
            if baseline is not None:
                routes.insert(0, (baseline, 100.0 - weight, "live"))
            values.update(step=row.step + 1, weight=weight, step_started_at=now)
        elif action == "promote":
            if row.state != "running":
                raise Conflict(
                    f"Nothing to promote on endpoint {endpoint.name!r}: {deployment.describe()}."
                )
            weight = 100.0
            routes = [(candidate, 100.0, "live")]
            values.update(state="promoted", weight=100.0, finished_at=now)
        elif action == "rollback":
            latest = repo.deployments(endpoint.id)[-1]
            if row.state not in ("running", "promoted") or latest.id != row.id:
                raise Conflict(
                    f"Nothing to roll back on endpoint {endpoint.name!r}: {deployment.describe()}."
                )
            if baseline is None:
                raise Conflict(
                    f"Cannot roll back {deployment.describe()}: the endpoint served nothing "
                    "before it. Deploy another version instead (steward deploy)."
                )
            weight = 0.0
            routes = [(baseline, 100.0, "live")]
            values.update(state="rolled_back", weight=0.0, finished_at=now)
        else:
            raise InvalidInput(f"Unknown rollout action {action!r}: advance, promote or rollback.")
        if not repo.transition(row.id, deployment.revision, **values):
            return None
        apply_routes(tx, endpoint, deployment.project, routes)
        repo.add_event(
            RolloutEventRow(
                id=new_id(),
                deployment_id=row.id,
                seq=0,
                time=now,
                action=action,
                from_weight=from_weight,
                to_weight=weight,
                reason=reason,
                measurements_json=json.dumps(dict(measurements or {}), default=str),
                actor=store.actor,
            )
        )
        tx.audit(
            f"serving.rollout.{action}",
            "endpoint",
            endpoint.name,
            {
                "deployment": row.number,
                "model": deployment.model,
                "baseline": deployment.baseline,
                "strategy": row.strategy,
                "from_weight": from_weight,
                "to_weight": weight,
                "reason": reason,
                "measurements": dict(measurements or {}),
            },
        )
        return deployment_record(tx.session, repo.deployment_by_id(row.id) or row)


def _manual(store: Store, endpoint: str, action: str, reason: str | None) -> Deployment:
    if reason is not None and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidInput(f"A {action} reason is non-empty text.")
    for _ in range(3):
        current = get_deployment(store, endpoint)
        why = reason.strip() if reason else f"{action} by {store.actor}"
        done = transition(store, current, action, why, {"manual": True})
        if done is not None:
            return done
    raise Conflict(
        f"Endpoint {endpoint!r}'s rollout kept changing while it was being {action}d; try again."
    )


def promote(store: Store, endpoint: str, *, reason: str | None = None) -> Deployment:
    """Promote the running deployment of ``endpoint``: its model takes all traffic."""
    return _manual(store, endpoint, "promote", reason)


def rollback(store: Store, endpoint: str, *, reason: str | None = None) -> Deployment:
    """Roll the latest deployment of ``endpoint`` back: the baseline takes all traffic."""
    return _manual(store, endpoint, "rollback", reason)


def _observed(root: Path, endpoint: str, since: datetime) -> pa.Table:
    def read() -> pa.Table:
        relation = join_feedback(root, endpoint, since)
        wanted = [c for c in (*_COLUMNS, "label") if c in relation.columns]
        table: pa.Table = relation.select(*wanted).to_arrow_table()
        return table

    return relist_on_vanished(read)


def observe_rollout(
    store: Store, endpoint: str, root: Path, *, now: datetime | None = None
) -> tuple[Deployment, Decision | None]:
    """The latest deployment of ``endpoint`` and, while it runs, what its guardrails say
    now over the prediction log under ``root`` (``steward rollout status``)."""
    deployment = get_deployment(store, endpoint)
    if not deployment.running:
        return deployment, None
    table = _observed(root, endpoint, deployment.step_started_at)
    return deployment, judge_rollout(deployment, table, now or utcnow())


class MemoryObservations:
    """The recent requests of this process (when there is no prediction log), bounded."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._rows: deque[tuple[str, float, str, int, bool, str, float, float | None]] = deque(
            maxlen=capacity
        )

    def record(self, item: LogItem) -> None:
        if item.model is None:
            return
        scores = item.outputs.scores if item.outputs is not None else None
        for i in range(len(item.ids)):
            self._rows.append(
                (
                    item.endpoint,
                    item.time,
                    item.model.name,
                    item.model.version,
                    item.shadow,
                    item.status,
                    item.latency_ms,
                    None if scores is None else scores[i],
                )
            )

    def table(self, endpoint: str, since: datetime) -> pa.Table:
        start = since.timestamp()
        rows = [r for r in list(self._rows) if r[0] == endpoint and r[1] >= start]
        return pa.table(
            {
                "model": pa.array([r[2] for r in rows], pa.string()),
                "model_version": pa.array([r[3] for r in rows], pa.int32()),
                "shadow": pa.array([r[4] for r in rows], pa.bool_()),
                "status": pa.array([r[5] for r in rows], pa.string()),
                "latency_ms": pa.array([r[6] for r in rows], pa.float64()),
                "score": pa.array([r[7] for r in rows], pa.float64()),
                "prediction": pa.array([None] * len(rows), pa.string()),
            }
        )


class RolloutController:
    """Runs the rollouts of a server's endpoints (see the module docstring)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.store: Store = runtime.store
        self.memory = MemoryObservations() if runtime.log is None else None
        self.decisions: dict[str, Decision] = {}
        self.pending_rollbacks: dict[str, tuple[Deployment, Decision]] = {}
        self._lock_file: IO[str] | None = None
        self._leader: bool | None = None
        self._mutex = threading.Lock()

    def _is_leader(self) -> bool:
        root = self.runtime.log_root
        if root is None:
            return True
        if self._lock_file is None:
            path = Path(root) / "serving" / "controller.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_file = path.open("a")
        if self._leader:
            return True
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._leader = False
            return False
        self._leader = True
        return True

    def _table(self, endpoint: str, since: datetime) -> pa.Table:
        if self.memory is not None:
            return self.memory.table(endpoint, since)
        log = self.runtime.log
        if log is not None:
            log.flush()
        return _observed(self.runtime.log_root, endpoint, since)

    def tick(self, now: datetime | None = None) -> dict[str, Decision]:
        """Judge and move every running deployment once; return the decisions."""
        with self._mutex:
            if not self._is_leader():
                return {}
            self._retry_rollbacks()
            decided: dict[str, Decision] = {}
            try:
                with self.store.reader() as session:
                    repo = SqlServingRepository(session)
                    running = []
                    for name in list(self.runtime.endpoints):
                        row = repo.find_endpoint(name)
                        found = None if row is None else repo.running_deployment(row.id)
                        if found is not None:
                            running.append(deployment_record(session, found, events=False))
            except Exception as exc:  # the store is down: nothing can move but rollbacks
                logger.warning("Rollout controller cannot read the store: %s", exc)
                return decided
            for deployment in running:
                if deployment.endpoint in self.pending_rollbacks:
                    continue
                at = now or utcnow()
                table = self._table(deployment.endpoint, deployment.step_started_at)
                decision = judge_rollout(deployment, table, at)
                decided[deployment.endpoint] = decision
                self.decisions[deployment.endpoint] = decision
                if decision.action != "hold":
                    self._apply(deployment, decision)
            return decided

    def _apply(self, deployment: Deployment, decision: Decision) -> None:
        try:
            done = transition(
                self.store, deployment, decision.action, decision.reason, decision.measurements()
            )
        except Exception as exc:
            if decision.action == "rollback" and deployment.baseline is not None:
                logger.error(
                    "Rolling %s back in this process only (the store cannot record it yet: %s)",
                    deployment.endpoint,
                    exc,
                )
                self.runtime.set_override(deployment.endpoint, deployment.baseline)
                self.pending_rollbacks[deployment.endpoint] = (deployment, decision)
            else:
                logger.warning("Cannot %s %s: %s", decision.action, deployment.endpoint, exc)
            return
        if done is not None:
            logger.info("%s: %s (%s)", deployment.endpoint, decision.action, decision.reason)
            self.runtime.reload(deployment.endpoint)

    def _retry_rollbacks(self) -> None:
        for endpoint, (deployment, decision) in list(self.pending_rollbacks.items()):
            try:
                transition(
                    self.store, deployment, "rollback", decision.reason, decision.measurements()
                )
            except Exception:
                continue
            del self.pending_rollbacks[endpoint]
            self.runtime.set_override(endpoint, None)
            with contextlib.suppress(Exception):
                self.runtime.reload(endpoint)

    def close(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
