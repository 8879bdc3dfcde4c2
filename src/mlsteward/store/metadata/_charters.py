"""Charter versions: table and repository.

A charter version is stored as canonical JSON text with its SHA-256, the same on every
backend. The repository returns :class:`StoredCharterVersion` snapshots; the ``charter``
stage turns them into its records (the store layer knows no stage).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlsteward.core import new_id
from mlsteward.store.metadata._base import Base, UTCDateTime
from mlsteward.store.metadata._projects import ProjectRow

__all__ = ["CharterRepository", "CharterVersionRow", "SqlCharterRepository", "StoredCharterVersion"]


class CharterVersionRow(Base):
    """One immutable version of a project's charter; versions are numbered 1, 2, ..."""

    __tablename__ = "charter_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (
        UniqueConstraint("project_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    def to_record(self) -> StoredCharterVersion:
        return StoredCharterVersion(
            id=self.id,
            project_id=self.project_id,
            version=self.version,
            content=self.content,
            content_hash=self.content_hash,
            created_at=self.created_at,
            created_by=self.created_by,
            note=self.note,
        )


@dataclass(frozen=True)
class StoredCharterVersion:
    """A charter version as stored: ``content`` is canonical JSON, ``content_hash`` its
    SHA-256 (hex)."""

    id: str
    project_id: str
    version: int
    content: str
    content_hash: str
    created_at: datetime
    created_by: str
    note: str


class CharterRepository(abc.ABC):
    """Charter versions of one store, inside one unit of work.

    Contract:
    - :meth:`add` gives the new version the next number of its project (1 for the first)
      and serialises concurrent adds for one project (two writers never get one number);
    - versions are immutable: there is no update and no delete;
    - :meth:`find` and :meth:`latest` return None when there is no such version;
      :meth:`list` is ordered by version number;
    - records returned are immutable snapshots.
    """

    @abc.abstractmethod
    def add(
        self,
        project_id: str,
        *,
        content: str,
        content_hash: str,
        created_at: datetime,
        created_by: str,
        note: str = "",
    ) -> StoredCharterVersion: ...

    @abc.abstractmethod
    def find(self, project_id: str, version: int) -> StoredCharterVersion | None: ...

    @abc.abstractmethod
    def latest(self, project_id: str) -> StoredCharterVersion | None: ...

    @abc.abstractmethod
    def list(self, project_id: str) -> list[StoredCharterVersion]: ...


class SqlCharterRepository(CharterRepository):
    """Charter versions in a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        project_id: str,
        *,
        content: str,
        content_hash: str,
        created_at: datetime,
        created_by: str,
        note: str = "",
    ) -> StoredCharterVersion:
        # Lock the project row: concurrent adds for one project queue here (PostgreSQL;
        # SQLite write transactions are already exclusive).
        self._session.execute(
            select(ProjectRow.id).where(ProjectRow.id == project_id).with_for_update()
        )
        latest = self.latest(project_id)
        row = CharterVersionRow(
            id=new_id(),
            project_id=project_id,
            version=1 if latest is None else latest.version + 1,
            content=content,
            content_hash=content_hash,
            created_at=created_at,
            created_by=created_by,
            note=note,
        )
        self._session.add(row)
        self._session.flush()
        return row.to_record()

    def find(self, project_id: str, version: int) -> StoredCharterVersion | None:
        row = self._session.execute(
            select(CharterVersionRow).where(
                CharterVersionRow.project_id == project_id, CharterVersionRow.version == version
            )
        ).scalar_one_or_none()
        return None if row is None else row.to_record()

    def latest(self, project_id: str) -> StoredCharterVersion | None:
        row = (
            self._session.execute(
                select(CharterVersionRow)
                .where(CharterVersionRow.project_id == project_id)
                .order_by(CharterVersionRow.version.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )
        return None if row is None else row.to_record()

    def list(self, project_id: str) -> list[StoredCharterVersion]:
        rows = self._session.execute(
            select(CharterVersionRow)
            .where(CharterVersionRow.project_id == project_id)
            .order_by(CharterVersionRow.version)
        ).scalars()
        return [row.to_record() for row in rows]
