"""The store: one metadata database, one artifact store, one audit trail.

Services receive a :class:`Store` and work in units of work::

    with store.transaction() as tx:         # a write transaction
        tx.projects.add(project)
        tx.audit("project.create", "project", project.name, {...})

Everything done in a transaction, the audit event included, commits together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mlsteward.core import AuditEvent, Config, StoreUnavailable, load_config
from mlsteward.store._artifacts import ArtifactStore, open_artifact_store
from mlsteward.store._audit import append_event
from mlsteward.store._engine import WRITE_OPTION, make_engine, sqlite_path
from mlsteward.store._migrate import SchemaState, ensure_schema, schema_state, upgrade
from mlsteward.store.metadata import SqlProjectRepository

__all__ = [
    "Store",
    "Transaction",
    "open_store",
    "read_schema_state",
    "store_home",
    "upgrade_store",
]


def _redact(uri: str) -> str:
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return uri


class Transaction:
    """A unit of work: a session in a write transaction, plus the actor who acts."""

    def __init__(self, store: Store, session: Session) -> None:
        self.store = store
        self.session = session
        self.projects = SqlProjectRepository(session)

    @property
    def artifacts(self) -> ArtifactStore:
        return self.store.artifacts

    def audit(
        self,
        action: str,
        entity_kind: str,
        entity_id: str,
        payload: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append an audit event to this transaction."""
        return append_event(
            self.session,
            actor=self.store.actor,
            action=action,
            entity_kind=entity_kind,
            entity_id=entity_id,
            payload=payload,
        )


class Store:
    """Metadata database + artifact store + actor. Thread-safe; share one per process.

    ``config`` is the configuration the store was opened with (None when built by hand);
    stages read their settings from it (e.g. the run heartbeat interval).
    """

    def __init__(
        self,
        uri: str,
        engine: Engine,
        artifacts: ArtifactStore,
        actor: str,
        config: Config | None = None,
    ) -> None:
        self.uri = uri
        self.engine = engine
        self.artifacts = artifacts
        self.actor = actor
        self.config = config
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})

    @property
    def display_uri(self) -> str:
        return _redact(self.uri)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write unit of work, committed on success and rolled back on any error."""
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield Transaction(self, session)

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def schema(self) -> SchemaState:
        with self.engine.connect() as connection:
            return schema_state(connection)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.display_uri!r}, artifacts={self.artifacts.uri!r})"


def _check_reachable(engine: Engine, uri: str) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise StoreUnavailable(
            f"Cannot connect to the metadata store {_redact(uri)}: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}. "
            "Check that the database server is running and the URI (STEWARD_URI or --uri) "
            "is right."
        ) from exc


def open_store(
    config: Config | None = None,
    *,
    uri: str | None = None,
    artifacts: str | None = None,
    actor: str | None = None,
    create: bool = True,
    check_schema: bool = True,
) -> Store:
    """Open (and on first use create) the store that ``config`` names.

    A database at an older schema revision is refused with a message naming
    ``steward db upgrade``; pass ``check_schema=False`` only to upgrade it.
    """
    if config is None:
        config = load_config({"uri": uri, "artifacts": artifacts, "actor": actor})
    else:
        overrides = {"uri": uri, "artifacts": artifacts, "actor": actor}
        if any(v is not None for v in overrides.values()):
            config = load_config(
                {
                    "uri": uri or config.uri,
                    "artifacts": artifacts or config.artifacts,
                    "actor": actor or config.actor,
                    "home": str(config.home),
                    "run_heartbeat_seconds": config.run_heartbeat_seconds,
                    "run_stale_seconds": config.run_stale_seconds,
                }
            )
    db_file = sqlite_path(config.uri)
    if db_file is not None and not create and not db_file.exists():
        raise StoreUnavailable(
            f"No Steward store at {config.uri}. Create one with: steward --uri {config.uri} init"
        )
    engine = make_engine(config.uri)
    _check_reachable(engine, config.uri)
    try:
        if check_schema:
            ensure_schema(engine, _redact(config.uri), db_file)
        artifact_store = open_artifact_store(config.artifacts, config.artifacts_options)
    except BaseException:
        engine.dispose()
        raise
    return Store(config.uri, engine, artifact_store, config.actor, config)


def read_schema_state(uri: str) -> SchemaState:
    """The schema revision of the database at ``uri``, read without migrating it."""
    engine = make_engine(uri)
    try:
        _check_reachable(engine, uri)
        with engine.connect() as connection:
            return schema_state(connection)
    finally:
        engine.dispose()


def upgrade_store(uri: str, revision: str = "head") -> tuple[SchemaState, SchemaState]:
    """Upgrade the database at ``uri``; return the states before and after."""
    engine = make_engine(uri)
    try:
        _check_reachable(engine, uri)
        with engine.connect() as connection:
            before = schema_state(connection)
        after = upgrade(engine, sqlite_path(uri), revision)
        return before, after
    finally:
        engine.dispose()


def store_home(store: Store) -> Path | None:
    """Directory of an embedded store (where its SQLite file lives)."""
    path = sqlite_path(store.uri)
    return None if path is None else path.parent
