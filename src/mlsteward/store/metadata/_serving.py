"""Serving: endpoints, deployments (rollouts) and the events of each rollout.

An endpoint is a name (unique in the store) that belongs to a project; the model versions
it sends traffic to are the registry's routes (``model_routes``). ``routes_version`` is
bumped in the same transaction as every route change, so that a model server learns of a
change by polling one small row. A deployment records one model version taking traffic
on an endpoint with a strategy (direct, canary, blue-green, shadow); ``revision`` is an
optimistic-concurrency counter that every state transition checks and bumps, so that two
controllers (server replicas) never apply one step twice. Rollout events are the history
of a deployment (start, advance, promote, rollback, ...), numbered per deployment.
"""

from __future__ import annotations

import abc
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlsteward.store.metadata import _registry  # noqa: F401  (model_versions: the FKs)
from mlsteward.store.metadata._base import Base, UTCDateTime

__all__ = [
    "DEPLOYMENT_STATES",
    "DEPLOYMENT_STRATEGIES",
    "DeploymentRow",
    "EndpointRow",
    "RolloutEventRow",
    "ServingRepository",
    "SqlServingRepository",
]

DEPLOYMENT_STRATEGIES = ("direct", "canary", "blue-green", "shadow")
DEPLOYMENT_STATES = ("running", "promoted", "rolled_back", "superseded")


class EndpointRow(Base):
    """A named endpoint of a project; its routes are the registry's ``model_routes``."""

    __tablename__ = "endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(63), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    routes_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (Index("ix_endpoints_project_id", "project_id"),)


class DeploymentRow(Base):
    """One model version taking traffic on an endpoint, and the state of its rollout.

    ``weight`` is the candidate's live share in percent; ``step`` the index of the canary
    step in ``steps_json`` (-1 when the strategy has no steps). ``guardrails_json`` holds
    the thresholds resolved at deploy time (charter and overrides).
    """

    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(32), ForeignKey("endpoints.id"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    model_version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("model_versions.id"), nullable=False
    )
    baseline_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("model_versions.id"), nullable=True
    )
    strategy: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    weight: Mapped[float] = mapped_column(Double(), nullable=False)
    steps_json: Mapped[str] = mapped_column(Text, nullable=False)
    min_requests: Mapped[int] = mapped_column(Integer, nullable=False)
    min_duration_s: Mapped[float] = mapped_column(Double(), nullable=False)
    auto_rollback: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    guardrails_json: Mapped[str] = mapped_column(Text, nullable=False)
    evaluation_json: Mapped[str] = mapped_column(Text, nullable=False)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    step_started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("endpoint_id", "number"),
        CheckConstraint(
            "strategy IN ('direct', 'canary', 'blue-green', 'shadow')", name="strategy_known"
        ),
        CheckConstraint(
            "state IN ('running', 'promoted', 'rolled_back', 'superseded')", name="state_known"
        ),
        CheckConstraint("weight >= 0 AND weight <= 100", name="weight_percent"),
        Index("ix_deployments_model_version_id", "model_version_id"),
    )


class RolloutEventRow(Base):
    """One step in the history of a deployment (numbered 1, 2, ... per deployment)."""

    __tablename__ = "rollout_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("deployments.id"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    from_weight: Mapped[float | None] = mapped_column(Double(), nullable=True)
    to_weight: Mapped[float | None] = mapped_column(Double(), nullable=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    measurements_json: Mapped[str] = mapped_column(Text, nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (UniqueConstraint("deployment_id", "seq"),)


class ServingRepository(abc.ABC):
    """Endpoints, deployments and rollout events, inside one unit of work.

    Contract:
    - an endpoint name is unique in the store; :meth:`find_endpoint` returns None when
      missing; :meth:`bump_routes_version` increments its counter (call it with every
      route change, in the same transaction);
    - deployments are numbered 1, 2, ... per endpoint by :meth:`add_deployment`;
      :meth:`running_deployment` is the endpoint's deployment in state ``running`` (at
      most one);
    - :meth:`transition` applies a change of a deployment only when its ``revision`` is
      still ``expected_revision`` (and bumps it); it returns False when another writer
      got there first, and the caller re-reads;
    - events are appended with the next ``seq`` of their deployment;
    - lists are ordered: endpoints by name, deployments by number, events by seq.
    """

    @abc.abstractmethod
    def add_endpoint(self, row: EndpointRow) -> None: ...

    @abc.abstractmethod
    def find_endpoint(self, name: str) -> EndpointRow | None: ...

    @abc.abstractmethod
    def endpoint_by_id(self, endpoint_id: str) -> EndpointRow | None: ...

    @abc.abstractmethod
    def list_endpoints(self, project_id: str | None = None) -> list[EndpointRow]: ...

    @abc.abstractmethod
    def bump_routes_version(self, endpoint_id: str, at: datetime) -> int: ...

    @abc.abstractmethod
    def routes_versions(self) -> dict[str, int]:
        """``{endpoint name: routes_version}`` of every endpoint (what servers poll)."""

    @abc.abstractmethod
    def add_deployment(self, row: DeploymentRow) -> DeploymentRow: ...

    @abc.abstractmethod
    def deployment_by_id(self, deployment_id: str) -> DeploymentRow | None: ...

    @abc.abstractmethod
    def running_deployment(self, endpoint_id: str) -> DeploymentRow | None: ...

    @abc.abstractmethod
    def deployments(self, endpoint_id: str) -> list[DeploymentRow]: ...

    @abc.abstractmethod
    def transition(self, deployment_id: str, expected_revision: int, **values: object) -> bool: ...

    @abc.abstractmethod
    def add_event(self, row: RolloutEventRow) -> RolloutEventRow: ...

    @abc.abstractmethod
    def events(self, deployment_id: str) -> list[RolloutEventRow]: ...


class SqlServingRepository(ServingRepository):
    """The serving tables in a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- endpoints ----------------------------------------------------------------------
    def add_endpoint(self, row: EndpointRow) -> None:
        self._session.add(row)
        self._session.flush()

    def find_endpoint(self, name: str) -> EndpointRow | None:
        return self._session.execute(
            select(EndpointRow).where(EndpointRow.name == name)
        ).scalar_one_or_none()

    def endpoint_by_id(self, endpoint_id: str) -> EndpointRow | None:
        return self._session.get(EndpointRow, endpoint_id)

    def list_endpoints(self, project_id: str | None = None) -> list[EndpointRow]:
        stmt = select(EndpointRow)
        if project_id is not None:
            stmt = stmt.where(EndpointRow.project_id == project_id)
        return list(self._session.execute(stmt.order_by(EndpointRow.name)).scalars())

    def bump_routes_version(self, endpoint_id: str, at: datetime) -> int:
        self._session.execute(
            update(EndpointRow)
            .where(EndpointRow.id == endpoint_id)
            .values(routes_version=EndpointRow.routes_version + 1, updated_at=at)
        )
        value = self._session.execute(
            select(EndpointRow.routes_version).where(EndpointRow.id == endpoint_id)
        ).scalar_one()
        row = self._session.get(EndpointRow, endpoint_id)
        if row is not None:
            self._session.refresh(row)
        return int(value)

    def routes_versions(self) -> dict[str, int]:
        rows = self._session.execute(select(EndpointRow.name, EndpointRow.routes_version))
        return {name: int(version) for name, version in rows}

    # -- deployments --------------------------------------------------------------------
    def add_deployment(self, row: DeploymentRow) -> DeploymentRow:
        top = self._session.execute(
            select(func.max(DeploymentRow.number)).where(
                DeploymentRow.endpoint_id == row.endpoint_id
            )
        ).scalar_one()
        row.number = 1 if top is None else int(top) + 1
        self._session.add(row)
        self._session.flush()
        return row

    def deployment_by_id(self, deployment_id: str) -> DeploymentRow | None:
        return self._session.get(DeploymentRow, deployment_id)

    def running_deployment(self, endpoint_id: str) -> DeploymentRow | None:
        return (
            self._session.execute(
                select(DeploymentRow)
                .where(DeploymentRow.endpoint_id == endpoint_id, DeploymentRow.state == "running")
                .order_by(DeploymentRow.number.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )

    def deployments(self, endpoint_id: str) -> list[DeploymentRow]:
        rows = self._session.execute(
            select(DeploymentRow)
            .where(DeploymentRow.endpoint_id == endpoint_id)
            .order_by(DeploymentRow.number)
        ).scalars()
        return list(rows)

    def transition(self, deployment_id: str, expected_revision: int, **values: object) -> bool:
        result = self._session.execute(
            update(DeploymentRow)
            .where(
                DeploymentRow.id == deployment_id,
                DeploymentRow.revision == expected_revision,
            )
            .values(revision=expected_revision + 1, **values)
        )
        changed = (getattr(result, "rowcount", 0) or 0) == 1
        row = self._session.get(DeploymentRow, deployment_id)
        if row is not None:
            self._session.refresh(row)
        return changed

    # -- events -------------------------------------------------------------------------
    def add_event(self, row: RolloutEventRow) -> RolloutEventRow:
        top = self._session.execute(
            select(func.max(RolloutEventRow.seq)).where(
                RolloutEventRow.deployment_id == row.deployment_id
            )
        ).scalar_one()
        row.seq = 1 if top is None else int(top) + 1
        self._session.add(row)
        self._session.flush()
        return row

    def events(self, deployment_id: str) -> list[RolloutEventRow]:
        rows = self._session.execute(
            select(RolloutEventRow)
            .where(RolloutEventRow.deployment_id == deployment_id)
            .order_by(RolloutEventRow.seq)
        ).scalars()
        return list(rows)
