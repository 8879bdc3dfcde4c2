"""Schema revisions: check, create and upgrade the metadata database with Alembic."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from mlsteward.core import SchemaOutdated

__all__ = [
    "VERSION_TABLE",
    "SchemaState",
    "alembic_config",
    "ensure_schema",
    "head_revision",
    "schema_state",
    "upgrade",
]

VERSION_TABLE = "steward_schema_version"
_MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x57E3A2D  # advisory lock id held while migrating


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def schema_state(connection: Connection) -> SchemaState:
    current = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()
    script = ScriptDirectory.from_config(alembic_config())
    known = True
    if current is not None:
        try:
            known = script.get_revision(current) is not None
        except Exception:
            known = False
    return SchemaState(current=current, head=head_revision(), known=known)


@contextlib.contextmanager
def _migration_lock(engine: Engine, sqlite_file: Path | None) -> Iterator[None]:
    if sqlite_file is None:
        yield
        return
    lock_path = sqlite_file.with_name(sqlite_file.name + ".migrate.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, sqlite_file: Path | None = None, revision: str = "head") -> SchemaState:
    """Upgrade the database to ``revision`` (default: head), one process at a time."""
    with _migration_lock(engine, sqlite_file):
        write_engine = engine.execution_options(steward_write=True)
        with write_engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            state = schema_state(connection)
            if not state.known:
                raise _unknown_revision(state)
            if state.current != state.head or revision != "head":
                command.upgrade(alembic_config(connection), revision)
        with engine.connect() as connection:
            return schema_state(connection)


def _unknown_revision(state: SchemaState) -> SchemaOutdated:
    return SchemaOutdated(
        f"The metadata database is at schema revision {state.current!r}, which this version of "
        f"Steward does not know (it knows up to {state.head!r}); it was written by a newer "
        "Steward. Upgrade Steward: pip install --upgrade mlsteward"
    )


def ensure_schema(engine: Engine, uri_for_messages: str, sqlite_file: Path | None) -> SchemaState:
    """Create an empty database at head; refuse one at an older or unknown revision."""
    with engine.connect() as connection:
        state = schema_state(connection)
        tables = set(inspect(connection).get_table_names())
    if state.up_to_date:
        return state
    if not state.known:
        raise _unknown_revision(state)
    if state.current is None:
        if "projects" in tables:
            raise SchemaOutdated(
                f"The database {uri_for_messages} has Steward tables but no schema revision "
                f"table ({VERSION_TABLE}); Steward cannot tell its schema. Point STEWARD_URI "
                "at a fresh database, or restore the revision table from a backup."
            )
        return upgrade(engine, sqlite_file)
    raise SchemaOutdated(
        f"The metadata database {uri_for_messages} is at schema revision {state.current}, "
        f"older than this Steward's {state.head}. Back it up, then run: "
        f"steward db upgrade --uri {uri_for_messages}"
    )
