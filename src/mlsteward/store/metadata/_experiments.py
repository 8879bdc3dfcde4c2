"""Experiments (named groups of runs in a project): table and repository."""

from __future__ import annotations

import abc
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlsteward.store.metadata._base import Base, UTCDateTime

__all__ = ["ExperimentRepository", "ExperimentRow", "SqlExperimentRepository"]


class ExperimentRow(Base):
    """One experiment; its name is unique within its project."""

    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (UniqueConstraint("project_id", "name"),)


class ExperimentRepository(abc.ABC):
    """Experiments of one store, inside one unit of work.

    Contract:
    - ``(project_id, name)`` is unique: :meth:`add` of a taken name raises the backend's
      integrity error (callers get-or-create inside one write transaction, which SQLite
      serialises and PostgreSQL's unique constraint guards);
    - :meth:`find` and :meth:`get` return None for a missing experiment;
    - :meth:`list` is ordered by name; rows returned are snapshots callers must not modify.
    """

    @abc.abstractmethod
    def add(self, row: ExperimentRow) -> None: ...

    @abc.abstractmethod
    def find(self, project_id: str, name: str) -> ExperimentRow | None: ...

    @abc.abstractmethod
    def get(self, experiment_id: str) -> ExperimentRow | None: ...

    @abc.abstractmethod
    def list(self, project_id: str) -> list[ExperimentRow]: ...


class SqlExperimentRepository(ExperimentRepository):
    """Experiments in a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, row: ExperimentRow) -> None:
        self._session.add(row)
        self._session.flush()

    def find(self, project_id: str, name: str) -> ExperimentRow | None:
        return self._session.execute(
            select(ExperimentRow).where(
                ExperimentRow.project_id == project_id, ExperimentRow.name == name
            )
        ).scalar_one_or_none()

    def get(self, experiment_id: str) -> ExperimentRow | None:
        return self._session.get(ExperimentRow, experiment_id)

    def list(self, project_id: str) -> list[ExperimentRow]:
        query = (
            select(ExperimentRow)
            .where(ExperimentRow.project_id == project_id)
            .order_by(ExperimentRow.name)
        )
        return list(self._session.execute(query).scalars())
