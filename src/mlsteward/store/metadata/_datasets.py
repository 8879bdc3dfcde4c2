"""Datasets: immutable versions, lineage edges, check runs and results, compliance tags.

JSON documents (schemas, parameters, details) are stored as canonical JSON text, the same
on every backend. The repository returns detached rows; the ``data`` stage turns them
into its records (the store layer knows no stage).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlsteward.store.metadata._base import Base, UTCDateTime

__all__ = [
    "DatasetCheckResultRow",
    "DatasetCheckRunRow",
    "DatasetComplianceTagRow",
    "DatasetLineageRow",
    "DatasetRepository",
    "DatasetVersionRow",
    "SqlDatasetRepository",
]


class DatasetVersionRow(Base):
    """One immutable dataset version: ``version`` is the content hash of its data."""

    __tablename__ = "dataset_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(63), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    hash_method: Mapped[str] = mapped_column(String(40), nullable=False)
    role: Mapped[str | None] = mapped_column(String(63), nullable=True)
    schema_json: Mapped[str] = mapped_column(Text, nullable=False)
    row_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    column_count: Mapped[int] = mapped_column(Integer, nullable=False)
    artifact_digest: Mapped[str] = mapped_column(String(71), nullable=False)
    artifact_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    profile_digest: Mapped[str | None] = mapped_column(String(71), nullable=True)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    license: Mapped[str | None] = mapped_column(String(200), nullable=True)
    consent: Mapped[str | None] = mapped_column(Text, nullable=True)
    time_column: Mapped[str | None] = mapped_column(String(300), nullable=True)
    target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        UniqueConstraint("project_id", "name", "version"),
        Index("ix_dataset_versions_project_name_created", "project_id", "name", "created_at"),
    )


class DatasetLineageRow(Base):
    """A parent -> child edge: how the child was made from the parent."""

    __tablename__ = "dataset_lineage"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), nullable=False
    )
    child_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), nullable=False
    )
    method: Mapped[str] = mapped_column(String(50), nullable=False)
    params_json: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        UniqueConstraint("parent_id", "child_id"),
        Index("ix_dataset_lineage_child_id", "child_id"),
    )


class DatasetCheckRunRow(Base):
    """One run of a check spec on a version."""

    __tablename__ = "dataset_check_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), nullable=False
    )
    reference_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), nullable=True
    )
    spec_json: Mapped[str] = mapped_column(Text, nullable=False)
    passed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (Index("ix_dataset_check_runs_version_created", "version_id", "created_at"),)


class DatasetCheckResultRow(Base):
    """The outcome of one check of a run."""

    __tablename__ = "dataset_check_results"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dataset_check_runs.id"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    severity: Mapped[str] = mapped_column(String(10), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    details_json: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (UniqueConstraint("run_id", "position"),)


class DatasetComplianceTagRow(Base):
    """A compliance tag on a version (``column`` is '' for the whole dataset)."""

    __tablename__ = "dataset_compliance_tags"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), nullable=False
    )
    column: Mapped[str] = mapped_column(String(300), nullable=False)
    tag: Mapped[str] = mapped_column(String(100), nullable=False)
    source: Mapped[str] = mapped_column(String(100), nullable=False)
    details_json: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (UniqueConstraint("version_id", "column", "tag"),)


class DatasetRepository(abc.ABC):
    """Dataset versions of one store, inside one unit of work.

    Contract:
    - versions are immutable: once added, no column of a version row changes; a version is
      unique per (project, name, content hash) and :meth:`add_version` of an existing one
      raises :class:`sqlalchemy.exc.IntegrityError` (callers look it up first);
    - lineage edges are unique per (parent, child); :meth:`add_edge` of an existing edge
      is a no-op returning False;
    - a check run is added with all its results at once; runs are never changed;
    - compliance tags are unique per (version, column, tag); adding an existing one is a
      no-op returning False;
    - lists are ordered: versions and check runs newest first, edges by creation, tags by
      column then tag, results by position; rows returned are snapshots that callers must
      not modify.
    """

    @abc.abstractmethod
    def add_version(self, row: DatasetVersionRow) -> None: ...

    @abc.abstractmethod
    def get_version(self, version_id: str) -> DatasetVersionRow | None: ...

    @abc.abstractmethod
    def versions(
        self, project_id: str, name: str | None = None, *, prefix: str | None = None
    ) -> list[DatasetVersionRow]:
        """Versions of a project (of one name; whose hash starts with ``prefix``)."""

    @abc.abstractmethod
    def add_edge(self, row: DatasetLineageRow) -> bool: ...

    @abc.abstractmethod
    def edges(
        self, *, parent_id: str | None = None, child_id: str | None = None
    ) -> list[DatasetLineageRow]: ...

    @abc.abstractmethod
    def children_of(
        self, parent_ids: Sequence[str]
    ) -> list[tuple[DatasetLineageRow, DatasetVersionRow]]:
        """The edges from any of ``parent_ids`` with their child versions, in one query,
        ordered by edge creation (one level of a descendants walk)."""

    @abc.abstractmethod
    def add_check_run(
        self, run: DatasetCheckRunRow, results: Sequence[DatasetCheckResultRow]
    ) -> None: ...

    @abc.abstractmethod
    def check_runs(self, version_id: str) -> list[DatasetCheckRunRow]:
        """Check runs of a version, newest first."""

    @abc.abstractmethod
    def check_results(self, run_id: str) -> list[DatasetCheckResultRow]: ...

    @abc.abstractmethod
    def add_tag(self, row: DatasetComplianceTagRow) -> bool: ...

    @abc.abstractmethod
    def tags(self, version_id: str) -> list[DatasetComplianceTagRow]: ...

    def find_version(self, project_id: str, name: str, version: str) -> DatasetVersionRow | None:
        """The version of ``name`` with exactly this content hash, if any."""
        for row in self.versions(project_id, name, prefix=version):
            if row.version == version:
                return row
        return None


class SqlDatasetRepository(DatasetRepository):
    """Dataset versions in a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add_version(self, row: DatasetVersionRow) -> None:
        self._session.add(row)
        self._session.flush()

    def get_version(self, version_id: str) -> DatasetVersionRow | None:
        return self._session.get(DatasetVersionRow, version_id)

    def versions(
        self, project_id: str, name: str | None = None, *, prefix: str | None = None
    ) -> list[DatasetVersionRow]:
        query = select(DatasetVersionRow).where(DatasetVersionRow.project_id == project_id)
        if name is not None:
            query = query.where(DatasetVersionRow.name == name)
        if prefix:
            query = query.where(DatasetVersionRow.version.startswith(prefix, autoescape=True))
        query = query.order_by(DatasetVersionRow.created_at.desc(), DatasetVersionRow.id.desc())
        return list(self._session.execute(query).scalars())

    def add_edge(self, row: DatasetLineageRow) -> bool:
        existing = self._session.execute(
            select(DatasetLineageRow.id).where(
                DatasetLineageRow.parent_id == row.parent_id,
                DatasetLineageRow.child_id == row.child_id,
            )
        ).first()
        if existing is not None:
            return False
        self._session.add(row)
        self._session.flush()
        return True

    def edges(
        self, *, parent_id: str | None = None, child_id: str | None = None
    ) -> list[DatasetLineageRow]:
        query = select(DatasetLineageRow)
        if parent_id is not None:
            query = query.where(DatasetLineageRow.parent_id == parent_id)
        if child_id is not None:
            query = query.where(DatasetLineageRow.child_id == child_id)
        query = query.order_by(DatasetLineageRow.created_at, DatasetLineageRow.id)
        return list(self._session.execute(query).scalars())

    def children_of(
        self, parent_ids: Sequence[str]
    ) -> list[tuple[DatasetLineageRow, DatasetVersionRow]]:
        if not parent_ids:
            return []
        query = (
            select(DatasetLineageRow, DatasetVersionRow)
            .join(DatasetVersionRow, DatasetVersionRow.id == DatasetLineageRow.child_id)
            .where(DatasetLineageRow.parent_id.in_(list(parent_ids)))
            .order_by(DatasetLineageRow.created_at, DatasetLineageRow.id)
        )
        return [(edge, child) for edge, child in self._session.execute(query)]

    def add_check_run(
        self, run: DatasetCheckRunRow, results: Sequence[DatasetCheckResultRow]
    ) -> None:
        self._session.add(run)
        self._session.flush()
        self._session.add_all(list(results))
        self._session.flush()

    def check_runs(self, version_id: str) -> list[DatasetCheckRunRow]:
        query = (
            select(DatasetCheckRunRow)
            .where(DatasetCheckRunRow.version_id == version_id)
            .order_by(DatasetCheckRunRow.created_at.desc(), DatasetCheckRunRow.id.desc())
        )
        return list(self._session.execute(query).scalars())

    def check_results(self, run_id: str) -> list[DatasetCheckResultRow]:
        query = (
            select(DatasetCheckResultRow)
            .where(DatasetCheckResultRow.run_id == run_id)
            .order_by(DatasetCheckResultRow.position)
        )
        return list(self._session.execute(query).scalars())

    def add_tag(self, row: DatasetComplianceTagRow) -> bool:
        existing = self._session.execute(
            select(DatasetComplianceTagRow.id).where(
                DatasetComplianceTagRow.version_id == row.version_id,
                DatasetComplianceTagRow.column == row.column,
                DatasetComplianceTagRow.tag == row.tag,
            )
        ).first()
        if existing is not None:
            return False
        self._session.add(row)
        self._session.flush()
        return True

    def tags(self, version_id: str) -> list[DatasetComplianceTagRow]:
        query = (
            select(DatasetComplianceTagRow)
            .where(DatasetComplianceTagRow.version_id == version_id)
            .order_by(DatasetComplianceTagRow.column, DatasetComplianceTagRow.tag)
        )
        return list(self._session.execute(query).scalars())
