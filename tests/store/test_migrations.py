"""Schema migrations: creation at head, models == migrations, refusals, old-schema assets."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

import mlsteward
import mlsteward as ms
from mlsteward.cli import run
from mlsteward.store import (
    VERSION_TABLE,
    Store,
    head_revision,
    make_engine,
    open_store,
    read_schema_state,
    sqlite_path,
    upgrade,
    upgrade_store,
)
from mlsteward.store.metadata import AuditHeadRow, Base

ASSETS = Path(__file__).parent / "assets"
MIGRATIONS = Path(mlsteward.__file__).parent / "store" / "migrations"
FOUNDATION_TABLES = {"projects", "audit_events", "audit_head", VERSION_TABLE}


def _revisions_on_disk() -> list[str]:
    """Revision ids in the order the files chain them (read independently of Steward)."""
    script = ScriptDirectory(str(MIGRATIONS))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _tables(uri: str) -> set[str]:
    engine = make_engine(uri)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _set_revision(uri: str, revision: str) -> None:
    engine = make_engine(uri)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(f"UPDATE {VERSION_TABLE} SET version_num = :r"), {"r": revision}
            )
    finally:
        engine.dispose()


def _upgrade_to(uri: str, revision: str) -> None:
    engine = make_engine(uri)
    try:
        upgrade(engine, sqlite_path(uri), revision)
    finally:
        engine.dispose()


def test_the_revisions_form_one_line_ending_at_head() -> None:
    revisions = _revisions_on_disk()
    assert revisions[0] == "0001"
    assert revisions[-1] == head_revision()
    assert len(set(revisions)) == len(revisions)
    assert len(ScriptDirectory(str(MIGRATIONS)).get_heads()) == 1  # no branches


def test_an_empty_database_is_upgraded_to_head(store_uri: str) -> None:
    engine = make_engine(store_uri)
    try:
        with engine.connect() as connection:
            assert inspect(connection).get_table_names() == []
        state = upgrade(engine, sqlite_path(store_uri))
        assert (state.current, state.head, state.up_to_date) == (head_revision(),) * 2 + (True,)
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= FOUNDATION_TABLES
            head = connection.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one()
            assert tuple(head) == (0, "0" * 64)
        again = upgrade(engine, sqlite_path(store_uri))  # idempotent
        assert again.current == head_revision()
    finally:
        engine.dispose()


def test_open_store_creates_an_empty_database_at_head(store_uri: str, tmp_path: Path) -> None:
    with open_store(uri=store_uri, artifacts=str(tmp_path / "a")) as store:
        assert store.schema().current == head_revision()
    assert _tables(store_uri) >= FOUNDATION_TABLES


def _import_every_module() -> None:
    """Import every module, so every table of every stage is in Base.metadata."""
    for info in pkgutil.walk_packages(mlsteward.__path__, "mlsteward."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)


def test_models_match_migrations(store: Store) -> None:
    """Autogenerate finds nothing to do: every model change has its migration."""
    _import_every_module()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], (
        "The SQLAlchemy models and the Alembic migrations disagree; write a migration "
        f"(alembic revision --autogenerate) for: {differences}"
    )


# -- refusals ----------------------------------------------------------------------------
def test_an_older_schema_is_refused_naming_the_upgrade_command(
    store_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _upgrade_to(store_uri, "0001")
    assert read_schema_state(store_uri).current == "0001"
    with pytest.raises(ms.SchemaOutdated) as info:
        open_store(uri=store_uri, artifacts=str(tmp_path / "a"))
    message = str(info.value)
    assert "schema revision 0001, older than this Steward's " + head_revision() in message
    assert "Back it up" in message
    assert f"steward db upgrade --uri {store_uri}" in message
    assert info.value.exit_code == 9

    # the command the message names, pasted as is, upgrades the database
    command = message.split("then run: ", 1)[1].split()
    assert command[:3] == ["steward", "db", "upgrade"]
    assert run(command[1:]) == 0
    assert f"from 0001 to {head_revision()}" in capsys.readouterr().out
    with open_store(uri=store_uri, artifacts=str(tmp_path / "a")) as store:
        assert store.schema().up_to_date
    assert run(["--uri", store_uri, "db", "upgrade"]) == 0
    assert "Already at revision" in capsys.readouterr().out


def test_the_cli_refuses_an_older_schema_too(
    store_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _upgrade_to(store_uri, "0001")
    assert run(["--uri", store_uri, "projects", "list"]) == 9
    err = capsys.readouterr().err
    assert "steward db upgrade" in err and "Traceback" not in err
    assert run(["--uri", store_uri, "db", "status"]) == 0
    assert "revision 0001" in capsys.readouterr().out
    assert run(["--uri", store_uri, "db", "upgrade"]) == 0
    assert run(["--uri", store_uri, "projects", "list"]) == 0


def test_a_newer_unknown_revision_is_refused_saying_upgrade_steward(
    store_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _upgrade_to(store_uri, "head")
    _set_revision(store_uri, "9999_from_the_future")
    with pytest.raises(ms.SchemaOutdated) as info:
        open_store(uri=store_uri, artifacts=str(tmp_path / "a"))
    message = str(info.value)
    assert "'9999_from_the_future', which this version of Steward does not know" in message
    assert "written by a newer Steward" in message
    assert "pip install --upgrade mlsteward" in message
    # and the upgrade command does not try to "upgrade" it
    assert run(["--uri", store_uri, "db", "upgrade"]) == 9
    assert "Upgrade Steward" in capsys.readouterr().err
    assert run(["--uri", store_uri, "db", "status"]) == 0
    out = capsys.readouterr().out
    assert "written by a newer Steward" in out and "needs: steward db upgrade" not in out
    assert read_schema_state(store_uri).current == "9999_from_the_future"


def test_tables_without_a_revision_table_are_refused(store_uri: str, tmp_path: Path) -> None:
    _upgrade_to(store_uri, "head")
    engine = make_engine(store_uri)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    finally:
        engine.dispose()
    with pytest.raises(ms.SchemaOutdated, match="has Steward tables but no schema revision"):
        open_store(uri=store_uri, artifacts=str(tmp_path / "a"))


# -- assets made at released schemas -------------------------------------------------------
def test_the_0001_asset_upgrades_to_head_and_keeps_its_data(tmp_path: Path) -> None:
    db = tmp_path / "steward.db"
    shutil.copyfile(ASSETS / "steward-0001.db", db)  # never touch the committed file
    uri = f"sqlite:///{db}"
    assert read_schema_state(uri).current == "0001"
    with pytest.raises(ms.SchemaOutdated, match="steward db upgrade"):
        ms.connect(uri, artifacts=str(tmp_path / "a"))

    before, after = upgrade_store(uri)
    assert (before.current, after.current) == ("0001", head_revision())

    with ms.connect(uri, artifacts=str(tmp_path / "a"), actor="tester") as client:
        legacy = client.get_project("legacy")
        assert legacy.description == "Made at schema 0001 by make_assets.py"
        assert legacy.created_by == "asset-maker"
        assert legacy.created_at.isoformat() == "2026-11-01T09:30:00.123456+00:00"
        assert client.verify_audit().count == 1
        assert client.verify_audit().ok
        # the upgraded store keeps working: the chain continues from the old event
        client.create_project("after-upgrade")
        assert [p.name for p in client.list_projects()] == ["after-upgrade", "legacy"]
        assert (client.verify_audit().ok, client.verify_audit().count) == (True, 2)


def test_a_missing_store_is_refused_when_creation_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'nowhere' / 'steward.db'}"
    with pytest.raises(ms.StoreUnavailable) as info:
        open_store(uri=uri, artifacts=str(tmp_path / "a"), create=False)
    command = str(info.value).split("Create one with: ", 1)[1].split()
    assert command == ["steward", "--uri", uri, "init"]
    assert not (tmp_path / "nowhere").exists()
    assert run(command[1:]) == 0  # the command it names works
    capsys.readouterr()
    with open_store(uri=uri, artifacts=str(tmp_path / "a"), create=False) as store:
        assert store.schema().up_to_date
