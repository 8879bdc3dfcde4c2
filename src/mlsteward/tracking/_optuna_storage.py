"""Optuna's RDB storage inside Steward's metadata database.

Optuna creates its own tables (:data:`OPTUNA_TABLES`, plus its Alembic table
``alembic_version``) next to Steward's; none of their names is one of Steward's, and
Steward's schema revision lives in ``steward_schema_version``, so the two schemas never
meet. Several processes (or machines, on PostgreSQL) share a study through these tables.

- PostgreSQL: the first creation of Optuna's tables is serialised with an advisory lock
  so that workers starting together do not race.
- SQLite: creation is serialised with a file lock; afterwards every transaction of
  Optuna's engine begins with ``BEGIN IMMEDIATE`` and waits up to 60 s for a busy
  database, like Steward's own writers, so that concurrent workers queue instead of failing
  with "database is locked".
"""

from __future__ import annotations

import contextlib
import fcntl
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, event, text

from mlsteward.core import MissingDependency
from mlsteward.store import Store, sqlite_path

__all__ = ["OPTUNA_TABLES", "open_optuna_storage"]

OPTUNA_TABLES = frozenset(
    {
        "alembic_version",
        "studies",
        "study_directions",
        "study_system_attributes",
        "study_user_attributes",
        "trial_heartbeats",
        "trial_intermediate_values",
        "trial_params",
        "trial_system_attributes",
        "trial_user_attributes",
        "trial_values",
        "trials",
        "version_info",
    }
)
_PG_LOCK_KEY = 0x57E3A2E
_BUSY_TIMEOUT_S = 60


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is a dependency
        raise MissingDependency("Tuning needs optuna: pip install optuna") from exc
    return optuna


@contextlib.contextmanager
def _creation_lock(store: Store) -> Iterator[None]:
    db_file = sqlite_path(store.uri)
    if db_file is not None:
        lock_path = db_file.with_name(db_file.name + ".optuna.lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if store.backend == "postgresql":
        with store.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                connection.commit()
        return
    yield  # pragma: no cover - no other backend


def _serialise_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners are dropped


def open_optuna_storage(
    store: Store, stale_trial_callback: Callable[[Any, Any], None] | None = None
) -> Any:
    """An ``optuna.storages.RDBStorage`` on the store's metadata database.

    Trials of a worker that died (no heartbeat for 2 minutes) are failed by the next
    worker, which calls ``stale_trial_callback(study, trial)`` for each.
    """
    optuna = _import_optuna()
    url = store.engine.url.render_as_string(hide_password=False)
    sqlite = sqlite_path(store.uri) is not None
    engine_kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": _BUSY_TIMEOUT_S}} if sqlite else {"pool_pre_ping": True}
    )
    with _creation_lock(store), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=30,
            grace_period=120,
            heartbeat_stale_trial_callback=stale_trial_callback,
        )
    if sqlite:
        _serialise_sqlite(storage.engine)
    return storage
