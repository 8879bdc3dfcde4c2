"""Evaluations: stored evaluations (and comparisons) with their verdicts and metrics.

An evaluation row cites what was evaluated (the model version, or a description of an
unregistered model), on what (the dataset version, or a description of in-memory data),
by which charter version, and the gate engine's verdict. The full results document is an
immutable artifact addressed by its SHA-256 (``results_digest``); headline metrics are
also rows of ``evaluation_metrics`` so that their history is one query away. The
``evaluation`` stage turns these rows into its records (the store layer knows no stage).
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Sequence
from dataclasses import dataclass
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
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlsteward.store.metadata import _registry  # noqa: F401  (model_versions: the FKs)
from mlsteward.store.metadata._base import Base, UTCDateTime

__all__ = [
    "EVALUATION_KINDS",
    "EvaluationMetricRow",
    "EvaluationRepository",
    "EvaluationRow",
    "SqlEvaluationRepository",
    "StoredMetric",
]

EVALUATION_KINDS = ("evaluation", "comparison")


class EvaluationRow(Base):
    """One stored evaluation (``kind`` evaluation) or champion/challenger comparison
    (``kind`` comparison: the model is the challenger, the baseline the champion)."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    model_name: Mapped[str] = mapped_column(String(200), nullable=False)
    model_kind: Mapped[str] = mapped_column(String(300), nullable=False)
    model_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("model_versions.id"), nullable=True
    )
    baseline_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    baseline_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("model_versions.id"), nullable=True
    )
    dataset_name: Mapped[str] = mapped_column(String(200), nullable=False)
    dataset_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dataset_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), nullable=True
    )
    charter_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("charter_versions.id"), nullable=True
    )
    charter_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    task: Mapped[str] = mapped_column(String(20), nullable=False)
    on_role: Mapped[str | None] = mapped_column(String(100), nullable=True)
    row_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    main_metric: Mapped[str] = mapped_column(String(63), nullable=False)
    main_value: Mapped[float | None] = mapped_column(Double(), nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(20), nullable=True)
    gates_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary_json: Mapped[str] = mapped_column(Text, nullable=False)
    results_digest: Mapped[str] = mapped_column(String(71), nullable=False)
    results_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        CheckConstraint("kind IN ('evaluation', 'comparison')", name="kind_known"),
        CheckConstraint(
            "verdict IS NULL OR verdict IN ('pass', 'fail', 'inconclusive')", name="verdict_known"
        ),
        Index("ix_evaluations_project_created", "project_id", "created_at"),
        Index("ix_evaluations_model_version_id", "model_version_id"),
        Index("ix_evaluations_dataset_version_id", "dataset_version_id"),
    )


class EvaluationMetricRow(Base):
    """A measured value of an evaluation: a headline metric, a fairness disparity (with
    its ``attribute``) or the business value; ``low``/``high`` its interval."""

    __tablename__ = "evaluation_metrics"

    evaluation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("evaluations.id"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(63), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(300), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    value: Mapped[float | None] = mapped_column(Double(), nullable=True)
    low: Mapped[float | None] = mapped_column(Double(), nullable=True)
    high: Mapped[float | None] = mapped_column(Double(), nullable=True)


@dataclass(frozen=True)
class StoredMetric:
    """One metric row as stored (``attribute`` is '' for whole-data metrics)."""

    metric: str
    attribute: str
    value: float | None
    low: float | None
    high: float | None


class EvaluationRepository(abc.ABC):
    """Evaluations of one store, inside one unit of work.

    Contract:
    - evaluations are immutable: :meth:`add` inserts a row with its metric rows; there is
      no update and no delete;
    - :meth:`find` returns None for an unknown id; :meth:`find_prefix` returns every row
      whose id starts with the prefix (at most ``limit``);
    - :meth:`list` is newest first, filtered by every given argument;
    - rows returned are snapshots callers must not modify.
    """

    @abc.abstractmethod
    def add(self, row: EvaluationRow, metrics: Sequence[StoredMetric]) -> None: ...

    @abc.abstractmethod
    def find(self, evaluation_id: str) -> EvaluationRow | None: ...

    @abc.abstractmethod
    def find_prefix(self, prefix: str, limit: int = 10) -> list[EvaluationRow]: ...

    @abc.abstractmethod
    def metrics(self, evaluation_id: str) -> list[StoredMetric]: ...

    @abc.abstractmethod
    def list(
        self,
        project_id: str,
        *,
        kind: str | None = None,
        model_name: str | None = None,
        model_version_id: str | None = None,
        dataset_version_id: str | None = None,
        limit: int | None = None,
    ) -> list[EvaluationRow]: ...

    @abc.abstractmethod
    def on_datasets(
        self, dataset_version_ids: Sequence[str], *, limit: int | None = None
    ) -> builtins.list[EvaluationRow]:
        """Evaluations and comparisons on any of ``dataset_version_ids`` (in every
        project), in one query: oldest first (at most ``limit``)."""


class SqlEvaluationRepository(EvaluationRepository):
    """Evaluations in a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, row: EvaluationRow, metrics: Sequence[StoredMetric]) -> None:
        self._session.add(row)
        self._session.flush()
        for position, item in enumerate(metrics):
            self._session.add(
                EvaluationMetricRow(
                    evaluation_id=row.id,
                    metric=item.metric,
                    attribute=item.attribute,
                    position=position,
                    value=item.value,
                    low=item.low,
                    high=item.high,
                )
            )
        self._session.flush()

    def find(self, evaluation_id: str) -> EvaluationRow | None:
        return self._session.get(EvaluationRow, evaluation_id)

    def find_prefix(self, prefix: str, limit: int = 10) -> list[EvaluationRow]:
        rows = self._session.execute(
            select(EvaluationRow)
            .where(EvaluationRow.id.startswith(prefix, autoescape=True))
            .order_by(EvaluationRow.id)
            .limit(limit)
        ).scalars()
        return list(rows)

    def metrics(self, evaluation_id: str) -> list[StoredMetric]:
        rows = self._session.execute(
            select(EvaluationMetricRow)
            .where(EvaluationMetricRow.evaluation_id == evaluation_id)
            .order_by(EvaluationMetricRow.position)
        ).scalars()
        return [StoredMetric(r.metric, r.attribute, r.value, r.low, r.high) for r in rows]

    def list(
        self,
        project_id: str,
        *,
        kind: str | None = None,
        model_name: str | None = None,
        model_version_id: str | None = None,
        dataset_version_id: str | None = None,
        limit: int | None = None,
    ) -> list[EvaluationRow]:
        query = select(EvaluationRow).where(EvaluationRow.project_id == project_id)
        if kind is not None:
            query = query.where(EvaluationRow.kind == kind)
        if model_name is not None:
            query = query.where(EvaluationRow.model_name == model_name)
        if model_version_id is not None:
            query = query.where(EvaluationRow.model_version_id == model_version_id)
        if dataset_version_id is not None:
            query = query.where(EvaluationRow.dataset_version_id == dataset_version_id)
        query = query.order_by(EvaluationRow.created_at.desc(), EvaluationRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return list(self._session.execute(query).scalars())

    def on_datasets(
        self, dataset_version_ids: Sequence[str], *, limit: int | None = None
    ) -> builtins.list[EvaluationRow]:
        if not dataset_version_ids:
            return []
        query = (
            select(EvaluationRow)
            .where(EvaluationRow.dataset_version_id.in_(list(dataset_version_ids)))
            .order_by(EvaluationRow.created_at, EvaluationRow.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return list(self._session.execute(query).scalars())
