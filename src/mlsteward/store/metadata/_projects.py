"""Projects: table and repository."""

from __future__ import annotations

import abc
from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlsteward.core import AlreadyExists, NotFound, Project
from mlsteward.store.metadata._base import Base, UTCDateTime

__all__ = ["ProjectRepository", "ProjectRow", "SqlProjectRepository"]


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    def to_record(self) -> Project:
        return Project(
            id=self.id,
            name=self.name,
            description=self.description,
            created_at=self.created_at,
            created_by=self.created_by,
        )


class ProjectRepository(abc.ABC):
    """Projects of one store, inside one unit of work.

    Contract:
    - names are unique: :meth:`add` raises :class:`AlreadyExists` for a taken name and
      leaves the unit of work usable;
    - :meth:`get` raises :class:`NotFound` naming the project; :meth:`find` returns None;
    - :meth:`list` is ordered by name;
    - records returned are immutable snapshots.
    """

    @abc.abstractmethod
    def add(self, project: Project) -> None: ...

    @abc.abstractmethod
    def find(self, name: str) -> Project | None: ...

    @abc.abstractmethod
    def list(self) -> list[Project]: ...

    def get(self, name: str) -> Project:
        project = self.find(name)
        if project is None:
            known = [p.name for p in self.list()]
            hint = (
                f" Known projects: {', '.join(known[:10])}." if known else " No project exists yet."
            )
            raise NotFound(
                f"Project {name!r} does not exist.{hint} "
                f"Create it with: steward projects create {name}"
            )
        return project


class SqlProjectRepository(ProjectRepository):
    """Projects in a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, project: Project) -> None:
        if self.find(project.name) is not None:
            raise AlreadyExists(
                f"Project {project.name!r} already exists. Choose another name, "
                f"or use the existing one (steward projects show {project.name})."
            )
        self._session.add(
            ProjectRow(
                id=project.id,
                name=project.name,
                description=project.description,
                created_at=project.created_at,
                created_by=project.created_by,
            )
        )
        self._session.flush()

    def find(self, name: str) -> Project | None:
        row = self._session.execute(
            select(ProjectRow).where(ProjectRow.name == name)
        ).scalar_one_or_none()
        return None if row is None else row.to_record()

    def list(self) -> list[Project]:
        rows = self._session.execute(select(ProjectRow).order_by(ProjectRow.name)).scalars()
        return [row.to_record() for row in rows]
