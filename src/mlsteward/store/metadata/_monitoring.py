"""Monitoring: stored reference summaries, monitor runs, their windows and alerts.

A reference row points to the immutable artifact holding the summaries of a reference
(per-column drift summaries, a row sample, the PCA model, the performance estimator),
computed once and found again by ``key`` (a hash of what it summarises). A monitor run
records one pass over an endpoint's prediction log: its full results are an artifact
(``results_digest``); the headline of each window and every alert are rows, so that
"how is it doing" and "which alerts named AGEP" are one query away. Runs, windows and
alerts are immutable once written.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    BigInteger,
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
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlsteward.core import InvalidInput, ensure_utc
from mlsteward.store.metadata import _charters, _datasets, _registry, _serving  # noqa: F401
from mlsteward.store.metadata._base import Base, UTCDateTime

__all__ = [
    "ALERT_SEVERITIES",
    "MonitorAlertRow",
    "MonitorReferenceRow",
    "MonitorRunRow",
    "MonitorWindowRow",
    "MonitoringRepository",
    "SqlMonitoringRepository",
]

ALERT_SEVERITIES = ("info", "warning", "critical")


class MonitorReferenceRow(Base):
    """The stored summaries of a monitoring reference (an artifact), found by ``key``."""

    __tablename__ = "monitor_references"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    dataset_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), nullable=True
    )
    model_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("model_versions.id"), nullable=True
    )
    description: Mapped[str] = mapped_column(Text, nullable=False)
    row_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    summary_digest: Mapped[str] = mapped_column(String(71), nullable=False)
    summary_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        Index("ix_monitor_references_project_id", "project_id"),
        Index("ix_monitor_references_dataset_version_id", "dataset_version_id"),
    )


class MonitorRunRow(Base):
    """One monitor run over an endpoint's log: what, against what, and the headline."""

    __tablename__ = "monitor_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    endpoint: Mapped[str] = mapped_column(String(63), nullable=False)
    endpoint_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("endpoints.id"), nullable=True
    )
    model_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("model_versions.id"), nullable=True
    )
    model_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reference_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("monitor_references.id"), nullable=True
    )
    charter_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("charter_versions.id"), nullable=True
    )
    window_spec: Mapped[str] = mapped_column(String(32), nullable=False)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    window_count: Mapped[int] = mapped_column(Integer, nullable=False)
    row_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    labelled_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    verdict: Mapped[str | None] = mapped_column(String(20), nullable=True)
    critical_count: Mapped[int] = mapped_column(Integer, nullable=False)
    warning_count: Mapped[int] = mapped_column(Integer, nullable=False)
    info_count: Mapped[int] = mapped_column(Integer, nullable=False)
    results_digest: Mapped[str] = mapped_column(String(71), nullable=False)
    results_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        CheckConstraint(
            "verdict IS NULL OR verdict IN ('pass', 'fail', 'inconclusive')", name="verdict_known"
        ),
        Index("ix_monitor_runs_endpoint_created", "endpoint", "created_at"),
        Index("ix_monitor_runs_project_id", "project_id"),
        Index("ix_monitor_runs_reference_id", "reference_id"),
    )


class MonitorWindowRow(Base):
    """The headline of one window of a run (``metrics_json``: estimated and realized
    performance, operations; ``drifted_json``: the drifting features)."""

    __tablename__ = "monitor_windows"

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("monitor_runs.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    end_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    row_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    labelled_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    drift_share: Mapped[float | None] = mapped_column(Double(), nullable=True)
    drifted_json: Mapped[str] = mapped_column(Text, nullable=False)
    verdict: Mapped[str | None] = mapped_column(String(20), nullable=True)
    metrics_json: Mapped[str] = mapped_column(Text, nullable=False)


class MonitorAlertRow(Base):
    """One alert of a run (``seq``: its order in the run): severity, what (kind, subject,
    metric), the value against the threshold, the reference it was compared with, and the
    window (``position``)."""

    __tablename__ = "monitor_alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("monitor_runs.id"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    severity: Mapped[str] = mapped_column(String(10), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    metric: Mapped[str] = mapped_column(String(63), nullable=False)
    value: Mapped[float | None] = mapped_column(Double(), nullable=True)
    threshold: Mapped[float | None] = mapped_column(Double(), nullable=True)
    reference: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (
        CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity_known"),
        UniqueConstraint("run_id", "seq"),
        Index("ix_monitor_alerts_subject", "subject"),
    )


class MonitoringRepository(abc.ABC):
    """Monitoring references, runs, windows and alerts, inside one unit of work.

    Contract:
    - references are found by their unique ``key``; adding one whose key exists is the
      caller's error (check with :meth:`find_reference` first, in the same transaction);
    - runs are immutable: :meth:`add_run` inserts the run with its windows and alerts;
      there is no update and no delete;
    - :meth:`runs` is newest first (by ``created_at``, then id); :meth:`alerts` is ordered
      by run and ``seq`` (window, then severity), filtered by every given argument.
    """

    @abc.abstractmethod
    def find_reference(self, key: str) -> MonitorReferenceRow | None: ...

    @abc.abstractmethod
    def reference_by_id(self, reference_id: str) -> MonitorReferenceRow | None: ...

    @abc.abstractmethod
    def add_reference(self, row: MonitorReferenceRow) -> None: ...

    @abc.abstractmethod
    def references_of(
        self, dataset_version_ids: Sequence[str], *, limit: int | None = None
    ) -> list[MonitorReferenceRow]:
        """The references built from any of ``dataset_version_ids``, in one query: oldest
        first (at most ``limit``)."""

    @abc.abstractmethod
    def monitored_endpoints(
        self, reference_ids: Sequence[str]
    ) -> list[tuple[str, str, int, datetime]]:
        """``(reference id, endpoint, number of runs, latest run time)`` for every endpoint
        monitored against one of ``reference_ids``, in one query: by reference, endpoint."""

    @abc.abstractmethod
    def add_run(
        self,
        row: MonitorRunRow,
        windows: list[MonitorWindowRow],
        alerts: list[MonitorAlertRow],
    ) -> None: ...

    @abc.abstractmethod
    def find_run(self, run_id: str) -> MonitorRunRow | None: ...

    @abc.abstractmethod
    def find_run_prefix(self, prefix: str, limit: int = 10) -> list[MonitorRunRow]: ...

    @abc.abstractmethod
    def runs(
        self,
        *,
        endpoint: str | None = None,
        project_id: str | None = None,
        limit: int | None = None,
    ) -> list[MonitorRunRow]: ...

    @abc.abstractmethod
    def windows(self, run_id: str) -> list[MonitorWindowRow]: ...

    @abc.abstractmethod
    def alerts(
        self,
        *,
        run_id: str | None = None,
        endpoint: str | None = None,
        subject: str | None = None,
        min_severity: str | None = None,
        limit: int | None = None,
    ) -> list[MonitorAlertRow]: ...


class SqlMonitoringRepository(MonitoringRepository):
    """The monitoring tables in a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def find_reference(self, key: str) -> MonitorReferenceRow | None:
        return self._session.execute(
            select(MonitorReferenceRow).where(MonitorReferenceRow.key == key)
        ).scalar_one_or_none()

    def reference_by_id(self, reference_id: str) -> MonitorReferenceRow | None:
        return self._session.get(MonitorReferenceRow, reference_id)

    def add_reference(self, row: MonitorReferenceRow) -> None:
        self._session.add(row)
        self._session.flush()

    def references_of(
        self, dataset_version_ids: Sequence[str], *, limit: int | None = None
    ) -> list[MonitorReferenceRow]:
        if not dataset_version_ids:
            return []
        query = (
            select(MonitorReferenceRow)
            .where(MonitorReferenceRow.dataset_version_id.in_(list(dataset_version_ids)))
            .order_by(MonitorReferenceRow.created_at, MonitorReferenceRow.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return list(self._session.execute(query).scalars())

    def monitored_endpoints(
        self, reference_ids: Sequence[str]
    ) -> list[tuple[str, str, int, datetime]]:
        if not reference_ids:
            return []
        query = (
            select(
                MonitorRunRow.reference_id,
                MonitorRunRow.endpoint,
                func.count(),
                func.max(MonitorRunRow.created_at),
            )
            .where(MonitorRunRow.reference_id.in_(list(reference_ids)))
            .group_by(MonitorRunRow.reference_id, MonitorRunRow.endpoint)
            .order_by(MonitorRunRow.reference_id, MonitorRunRow.endpoint)
        )
        found = []
        for reference_id, endpoint, count, last in self._session.execute(query):
            assert reference_id is not None  # filtered by the IN above
            found.append((reference_id, endpoint, int(count), ensure_utc(last)))
        return found

    def add_run(
        self,
        row: MonitorRunRow,
        windows: list[MonitorWindowRow],
        alerts: list[MonitorAlertRow],
    ) -> None:
        self._session.add(row)
        self._session.flush()
        self._session.add_all(windows)
        self._session.add_all(alerts)
        self._session.flush()

    def find_run(self, run_id: str) -> MonitorRunRow | None:
        return self._session.get(MonitorRunRow, run_id)

    def find_run_prefix(self, prefix: str, limit: int = 10) -> list[MonitorRunRow]:
        rows = self._session.execute(
            select(MonitorRunRow)
            .where(MonitorRunRow.id.startswith(prefix, autoescape=True))
            .order_by(MonitorRunRow.id)
            .limit(limit)
        ).scalars()
        return list(rows)

    def runs(
        self,
        *,
        endpoint: str | None = None,
        project_id: str | None = None,
        limit: int | None = None,
    ) -> list[MonitorRunRow]:
        query = select(MonitorRunRow)
        if endpoint is not None:
            query = query.where(MonitorRunRow.endpoint == endpoint)
        if project_id is not None:
            query = query.where(MonitorRunRow.project_id == project_id)
        query = query.order_by(MonitorRunRow.created_at.desc(), MonitorRunRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return list(self._session.execute(query).scalars())

    def windows(self, run_id: str) -> list[MonitorWindowRow]:
        rows = self._session.execute(
            select(MonitorWindowRow)
            .where(MonitorWindowRow.run_id == run_id)
            .order_by(MonitorWindowRow.position)
        ).scalars()
        return list(rows)

    def alerts(
        self,
        *,
        run_id: str | None = None,
        endpoint: str | None = None,
        subject: str | None = None,
        min_severity: str | None = None,
        limit: int | None = None,
    ) -> list[MonitorAlertRow]:
        query = select(MonitorAlertRow)
        if run_id is not None:
            query = query.where(MonitorAlertRow.run_id == run_id)
        if endpoint is not None:
            query = query.join(MonitorRunRow, MonitorRunRow.id == MonitorAlertRow.run_id).where(
                MonitorRunRow.endpoint == endpoint
            )
        if subject is not None:
            query = query.where(MonitorAlertRow.subject == subject)
        if min_severity is not None:
            if min_severity not in ALERT_SEVERITIES:
                raise InvalidInput(
                    f"Unknown alert severity {min_severity!r}; expected one of "
                    f"{', '.join(ALERT_SEVERITIES)}."
                )
            allowed = ALERT_SEVERITIES[ALERT_SEVERITIES.index(min_severity) :]
            query = query.where(MonitorAlertRow.severity.in_(allowed))
        query = query.order_by(MonitorAlertRow.run_id, MonitorAlertRow.seq)
        if limit is not None:
            query = query.limit(limit)
        return list(self._session.execute(query).scalars())
