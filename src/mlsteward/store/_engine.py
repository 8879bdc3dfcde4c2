"""Engines for the supported metadata backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from mlsteward.core import ConfigError, normalize_store_uri

__all__ = ["WRITE_OPTION", "make_engine", "sqlite_path"]

WRITE_OPTION = "steward_write"
SQLITE_BUSY_TIMEOUT_MS = 60_000


def sqlite_path(uri: str) -> Path | None:
    """The database file of a SQLite URI, or None for another backend."""
    url = make_url(normalize_store_uri(uri))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def make_engine(uri: str) -> Engine:
    """Create the engine for ``uri``.

    SQLite: WAL journal, a busy timeout, foreign keys on, and transactions begun by us:
    ``BEGIN IMMEDIATE`` for write units of work (so concurrent writers queue instead of
    failing with "database is locked" on lock upgrade) and plain ``BEGIN`` for readers.
    """
    url_text = normalize_store_uri(uri)
    try:
        url = make_url(url_text)
    except ArgumentError as exc:
        raise ConfigError(f"Config 'STEWARD_URI' is not a valid URI: {uri!r} ({exc}).") from exc
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(uri)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            if connection.get_execution_options().get(WRITE_OPTION):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
