"""The model registry: registered models, immutable versions, aliases and endpoint routes.

A registered model is a name in a project; its versions are numbered 1, 2, ... and never
change after registration except for their lifecycle state (active, deprecated, retired).
An alias names one version of its model; a route records that an endpoint sends traffic to
a version (serving registers and unregisters routes). The ``registry`` stage turns these
rows into its records (the store layer knows no stage).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from mlsteward.store.metadata._base import Base, UTCDateTime

__all__ = [
    "MODEL_STATES",
    "ModelAliasRow",
    "ModelRepository",
    "ModelRouteRow",
    "ModelVersionDatasetRow",
    "ModelVersionRow",
    "RegisteredModelRow",
    "SqlModelRepository",
]

MODEL_STATES = ("active", "deprecated", "retired")


class RegisteredModelRow(Base):
    """A model name in a project; its versions hang off it."""

    __tablename__ = "registered_models"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(63), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (UniqueConstraint("project_id", "name"),)


class ModelVersionRow(Base):
    """One immutable version of a registered model (only its state may change).

    JSON columns hold what the registry records at registration: the input/output
    signature, the feature pipeline's steps, metrics and params of the source run, the
    pinned requirements and the format's metadata (classes, feature names, ...).
    ``trusted_types`` lists the types beyond skops' defaults the artifact needs, each of
    them in Steward's trusted list; ``pickle_trusted`` records an explicit trust decision
    for a pickle-based artifact (audited as ``model.trust``).
    """

    __tablename__ = "model_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("registered_models.id"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    state_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    state_changed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    flavor: Mapped[str] = mapped_column(String(20), nullable=False)
    format: Mapped[str] = mapped_column(String(30), nullable=False)
    artifact_digest: Mapped[str] = mapped_column(String(71), nullable=False)
    artifact_size: Mapped[int] = mapped_column(BigInteger(), nullable=False)
    artifact_filename: Mapped[str] = mapped_column(String(200), nullable=False)
    model_class: Mapped[str] = mapped_column(String(300), nullable=False)
    trusted_types: Mapped[str] = mapped_column(Text, nullable=False)
    pickle_trusted: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    signature_json: Mapped[str] = mapped_column(Text, nullable=False)
    pipeline_json: Mapped[str] = mapped_column(Text, nullable=False)
    metrics_json: Mapped[str] = mapped_column(Text, nullable=False)
    params_json: Mapped[str] = mapped_column(Text, nullable=False)
    requirements_json: Mapped[str] = mapped_column(Text, nullable=False)
    meta_json: Mapped[str] = mapped_column(Text, nullable=False)
    source_run_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("runs.id"), nullable=True
    )
    source_artifact_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    charter_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("charter_versions.id"), nullable=True
    )
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("state IN ('active', 'deprecated', 'retired')", name="state_known"),
        Index("ix_model_versions_source_run_id", "source_run_id"),
        Index("ix_model_versions_artifact_digest", "artifact_digest"),
    )


class ModelVersionDatasetRow(Base):
    """A dataset version a model version was made from, with its role (training, ...)."""

    __tablename__ = "model_version_datasets"

    model_version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("model_versions.id"), primary_key=True
    )
    dataset_version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dataset_versions.id"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(63), primary_key=True)

    __table_args__ = (Index("ix_model_version_datasets_dataset_version_id", "dataset_version_id"),)


class ModelAliasRow(Base):
    """An alias (``champion``, ``challenger``, ...) naming one version of its model."""

    __tablename__ = "model_aliases"

    model_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("registered_models.id"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(63), primary_key=True)
    model_version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("model_versions.id"), nullable=False
    )
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (Index("ix_model_aliases_model_version_id", "model_version_id"),)


class ModelRouteRow(Base):
    """An endpoint of a project that sends traffic to a model version (``mode`` is
    ``live`` or ``shadow``; ``weight`` is the endpoint's share for it, as serving sets it)."""

    __tablename__ = "model_routes"

    project_id: Mapped[str] = mapped_column(String(32), ForeignKey("projects.id"), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(63), primary_key=True)
    model_version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("model_versions.id"), primary_key=True
    )
    weight: Mapped[float] = mapped_column(Double(), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    registered_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        CheckConstraint("weight >= 0", name="weight_not_negative"),
        Index("ix_model_routes_model_version_id", "model_version_id"),
    )


class ModelRepository(abc.ABC):
    """Registered models, their versions, aliases and routes, inside one unit of work.

    Contract:
    - a model name is unique per project; :meth:`find_model` returns None when missing;
    - :meth:`lock_model` serialises writers of one model (PostgreSQL row lock; SQLite
      write transactions are exclusive already): call it before numbering a version,
      moving an alias or changing a state, so that two writers never get one number and a
      check ("no route", "not retired") holds until the transaction commits;
    - :meth:`add_version` gives the next number of the model (1 for the first);
    - versions are never deleted; only :meth:`set_state` changes a version row;
    - an alias names one version; :meth:`set_alias` inserts or replaces it;
    - a route is unique per (project, endpoint, version);
    - lists are ordered: models by name, versions by number, aliases by name, routes by
      endpoint then version; rows returned are snapshots callers must not modify.
    """

    @abc.abstractmethod
    def add_model(self, row: RegisteredModelRow) -> None: ...

    @abc.abstractmethod
    def find_model(self, project_id: str, name: str) -> RegisteredModelRow | None: ...

    @abc.abstractmethod
    def model_by_id(self, model_id: str) -> RegisteredModelRow | None: ...

    @abc.abstractmethod
    def list_models(self, project_id: str) -> list[RegisteredModelRow]: ...

    @abc.abstractmethod
    def lock_model(self, model_id: str) -> None: ...

    @abc.abstractmethod
    def add_version(self, row: ModelVersionRow) -> ModelVersionRow:
        """Insert ``row`` with the model's next version number (its ``version`` is set)."""

    @abc.abstractmethod
    def find_version(self, model_id: str, version: int) -> ModelVersionRow | None: ...

    @abc.abstractmethod
    def version_by_id(self, version_id: str) -> ModelVersionRow | None: ...

    @abc.abstractmethod
    def latest_version(self, model_id: str) -> ModelVersionRow | None: ...

    @abc.abstractmethod
    def versions(self, model_id: str) -> list[ModelVersionRow]: ...

    @abc.abstractmethod
    def set_state(
        self, version_id: str, state: str, reason: str, at: datetime, by: str
    ) -> None: ...

    @abc.abstractmethod
    def add_datasets(self, rows: list[ModelVersionDatasetRow]) -> None: ...

    @abc.abstractmethod
    def datasets(self, version_id: str) -> list[ModelVersionDatasetRow]: ...

    @abc.abstractmethod
    def versions_from_datasets(
        self, dataset_version_ids: Sequence[str], *, limit: int | None = None
    ) -> list[tuple[ModelVersionDatasetRow, ModelVersionRow, RegisteredModelRow]]:
        """The versions made from any of ``dataset_version_ids`` (with the link, naming
        the role, and the model), in one query: by model name, version, role (at most
        ``limit``)."""

    @abc.abstractmethod
    def versions_from_runs(
        self, run_ids: Sequence[str], *, limit: int | None = None
    ) -> list[tuple[ModelVersionRow, RegisteredModelRow]]:
        """The versions whose source run is one of ``run_ids``, with their model, in one
        query: by model name, then version (at most ``limit``)."""

    @abc.abstractmethod
    def aliases_of(self, version_ids: Sequence[str]) -> list[ModelAliasRow]:
        """The aliases naming any of ``version_ids``, by version id then alias."""

    @abc.abstractmethod
    def endpoint_routes(self, version_ids: Sequence[str]) -> list[ModelRouteRow]:
        """Every route of every endpoint that routes to one of ``version_ids`` (the other
        versions of those endpoints too, so that shares can be computed), in one query:
        by project, endpoint, then version id."""

    @abc.abstractmethod
    def set_alias(self, row: ModelAliasRow) -> None: ...

    @abc.abstractmethod
    def delete_alias(self, model_id: str, alias: str) -> None: ...

    @abc.abstractmethod
    def find_alias(self, model_id: str, alias: str) -> ModelAliasRow | None: ...

    @abc.abstractmethod
    def aliases(self, model_id: str) -> list[ModelAliasRow]: ...

    @abc.abstractmethod
    def add_route(self, row: ModelRouteRow) -> None: ...

    @abc.abstractmethod
    def delete_routes(self, project_id: str, endpoint: str, version_id: str | None = None) -> int:
        """Delete the endpoint's routes (only to ``version_id`` when given); return how many."""

    @abc.abstractmethod
    def routes(
        self,
        project_id: str | None = None,
        endpoint: str | None = None,
        version_id: str | None = None,
    ) -> list[ModelRouteRow]: ...


class SqlModelRepository(ModelRepository):
    """The registry's tables in a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- models -------------------------------------------------------------------------
    def add_model(self, row: RegisteredModelRow) -> None:
        self._session.add(row)
        self._session.flush()

    def find_model(self, project_id: str, name: str) -> RegisteredModelRow | None:
        return self._session.execute(
            select(RegisteredModelRow).where(
                RegisteredModelRow.project_id == project_id, RegisteredModelRow.name == name
            )
        ).scalar_one_or_none()

    def model_by_id(self, model_id: str) -> RegisteredModelRow | None:
        return self._session.get(RegisteredModelRow, model_id)

    def list_models(self, project_id: str) -> list[RegisteredModelRow]:
        rows = self._session.execute(
            select(RegisteredModelRow)
            .where(RegisteredModelRow.project_id == project_id)
            .order_by(RegisteredModelRow.name)
        ).scalars()
        return list(rows)

    def lock_model(self, model_id: str) -> None:
        self._session.execute(
            select(RegisteredModelRow.id).where(RegisteredModelRow.id == model_id).with_for_update()
        )

    # -- versions -----------------------------------------------------------------------
    def add_version(self, row: ModelVersionRow) -> ModelVersionRow:
        self.lock_model(row.model_id)
        latest = self.latest_version(row.model_id)
        row.version = 1 if latest is None else latest.version + 1
        self._session.add(row)
        self._session.flush()
        return row

    def find_version(self, model_id: str, version: int) -> ModelVersionRow | None:
        return self._session.execute(
            select(ModelVersionRow).where(
                ModelVersionRow.model_id == model_id, ModelVersionRow.version == version
            )
        ).scalar_one_or_none()

    def version_by_id(self, version_id: str) -> ModelVersionRow | None:
        return self._session.get(ModelVersionRow, version_id)

    def latest_version(self, model_id: str) -> ModelVersionRow | None:
        return (
            self._session.execute(
                select(ModelVersionRow)
                .where(ModelVersionRow.model_id == model_id)
                .order_by(ModelVersionRow.version.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )

    def versions(self, model_id: str) -> list[ModelVersionRow]:
        rows = self._session.execute(
            select(ModelVersionRow)
            .where(ModelVersionRow.model_id == model_id)
            .order_by(ModelVersionRow.version)
        ).scalars()
        return list(rows)

    def set_state(self, version_id: str, state: str, reason: str, at: datetime, by: str) -> None:
        row = self._session.get(ModelVersionRow, version_id)
        if row is None:  # pragma: no cover - callers resolve the version first
            raise LookupError(f"No model version has the id {version_id!r}.")
        row.state = state
        row.state_reason = reason
        row.state_changed_at = at
        row.state_changed_by = by
        self._session.flush()

    def add_datasets(self, rows: list[ModelVersionDatasetRow]) -> None:
        self._session.add_all(rows)
        self._session.flush()

    def datasets(self, version_id: str) -> list[ModelVersionDatasetRow]:
        rows = self._session.execute(
            select(ModelVersionDatasetRow)
            .where(ModelVersionDatasetRow.model_version_id == version_id)
            .order_by(ModelVersionDatasetRow.role, ModelVersionDatasetRow.dataset_version_id)
        ).scalars()
        return list(rows)

    def versions_from_datasets(
        self, dataset_version_ids: Sequence[str], *, limit: int | None = None
    ) -> list[tuple[ModelVersionDatasetRow, ModelVersionRow, RegisteredModelRow]]:
        if not dataset_version_ids:
            return []
        query = (
            select(ModelVersionDatasetRow, ModelVersionRow, RegisteredModelRow)
            .join(ModelVersionRow, ModelVersionRow.id == ModelVersionDatasetRow.model_version_id)
            .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
            .where(ModelVersionDatasetRow.dataset_version_id.in_(list(dataset_version_ids)))
            .order_by(
                RegisteredModelRow.name,
                ModelVersionRow.version,
                ModelVersionDatasetRow.role,
                ModelVersionDatasetRow.dataset_version_id,
            )
        )
        if limit is not None:
            query = query.limit(limit)
        return [(link, v, m) for link, v, m in self._session.execute(query)]

    def versions_from_runs(
        self, run_ids: Sequence[str], *, limit: int | None = None
    ) -> list[tuple[ModelVersionRow, RegisteredModelRow]]:
        if not run_ids:
            return []
        query = (
            select(ModelVersionRow, RegisteredModelRow)
            .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
            .where(ModelVersionRow.source_run_id.in_(list(run_ids)))
            .order_by(RegisteredModelRow.name, ModelVersionRow.version)
        )
        if limit is not None:
            query = query.limit(limit)
        return [(v, m) for v, m in self._session.execute(query)]

    def aliases_of(self, version_ids: Sequence[str]) -> list[ModelAliasRow]:
        if not version_ids:
            return []
        rows = self._session.execute(
            select(ModelAliasRow)
            .where(ModelAliasRow.model_version_id.in_(list(version_ids)))
            .order_by(ModelAliasRow.model_version_id, ModelAliasRow.alias)
        ).scalars()
        return list(rows)

    def endpoint_routes(self, version_ids: Sequence[str]) -> list[ModelRouteRow]:
        if not version_ids:
            return []
        hit = aliased(ModelRouteRow)
        serving_one = (
            select(hit.endpoint)
            .where(
                hit.project_id == ModelRouteRow.project_id,
                hit.endpoint == ModelRouteRow.endpoint,
                hit.model_version_id.in_(list(version_ids)),
            )
            .exists()
        )
        rows = self._session.execute(
            select(ModelRouteRow)
            .where(serving_one)
            .order_by(
                ModelRouteRow.project_id, ModelRouteRow.endpoint, ModelRouteRow.model_version_id
            )
        ).scalars()
        return list(rows)

    # -- aliases ------------------------------------------------------------------------
    def set_alias(self, row: ModelAliasRow) -> None:
        existing = self._session.get(ModelAliasRow, (row.model_id, row.alias))
        if existing is None:
            self._session.add(row)
        else:
            existing.model_version_id = row.model_version_id
            existing.reason = row.reason
            existing.updated_at = row.updated_at
            existing.updated_by = row.updated_by
        self._session.flush()

    def delete_alias(self, model_id: str, alias: str) -> None:
        self._session.execute(
            delete(ModelAliasRow).where(
                ModelAliasRow.model_id == model_id, ModelAliasRow.alias == alias
            )
        )

    def find_alias(self, model_id: str, alias: str) -> ModelAliasRow | None:
        return self._session.get(ModelAliasRow, (model_id, alias))

    def aliases(self, model_id: str) -> list[ModelAliasRow]:
        rows = self._session.execute(
            select(ModelAliasRow)
            .where(ModelAliasRow.model_id == model_id)
            .order_by(ModelAliasRow.alias)
        ).scalars()
        return list(rows)

    # -- routes -------------------------------------------------------------------------
    def add_route(self, row: ModelRouteRow) -> None:
        self._session.add(row)
        self._session.flush()

    def delete_routes(self, project_id: str, endpoint: str, version_id: str | None = None) -> int:
        stmt = delete(ModelRouteRow).where(
            ModelRouteRow.project_id == project_id, ModelRouteRow.endpoint == endpoint
        )
        if version_id is not None:
            stmt = stmt.where(ModelRouteRow.model_version_id == version_id)
        result = self._session.execute(stmt)
        count: int = getattr(result, "rowcount", 0) or 0
        return count

    def routes(
        self,
        project_id: str | None = None,
        endpoint: str | None = None,
        version_id: str | None = None,
    ) -> list[ModelRouteRow]:
        stmt = select(ModelRouteRow)
        if project_id is not None:
            stmt = stmt.where(ModelRouteRow.project_id == project_id)
        if endpoint is not None:
            stmt = stmt.where(ModelRouteRow.endpoint == endpoint)
        if version_id is not None:
            stmt = stmt.where(ModelRouteRow.model_version_id == version_id)
        rows = self._session.execute(
            stmt.order_by(ModelRouteRow.endpoint, ModelRouteRow.model_version_id)
        ).scalars()
        return list(rows)
