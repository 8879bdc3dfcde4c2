"""Conformance suite of the metadata store, run on every backend through ``store``.

A new metadata backend is done when this file passes against it (STYLE.md habit 2).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select

import mlsteward as ms
from mlsteward.core import Project, new_id, utcnow
from mlsteward.projects import create_project, list_projects
from mlsteward.store import Store, head_revision, verify_chain
from mlsteward.store.metadata import AuditEventRow, AuditHeadRow, ProjectRow, SqlProjectRepository


def _project(name: str, *, created_at: datetime | None = None, description: str = "") -> Project:
    return Project(
        id=new_id(),
        name=name,
        description=description,
        created_at=created_at or utcnow(),
        created_by="tester",
    )


def _names(store: Store) -> list[str]:
    with store.reader() as session:
        return [p.name for p in SqlProjectRepository(session).list()]


def _event_count(store: Store) -> int:
    with store.reader() as session:
        return int(session.execute(select(func.count()).select_from(AuditEventRow)).scalar_one())


def _head(store: Store) -> tuple[int, str]:
    with store.reader() as session:
        head = session.execute(select(AuditHeadRow)).scalar_one()
        return head.seq, head.hash


def test_a_fresh_store_is_at_head_and_empty(store: Store) -> None:
    assert store.schema().current == head_revision()
    assert store.schema().up_to_date
    assert _names(store) == []
    assert _head(store) == (0, "0" * 64)


# -- projects repository ---------------------------------------------------------------
def test_add_find_get_list(store: Store) -> None:
    created = [_project(n) for n in ("zeta", "alpha", "mid-1", "mid.0", "beta_2")]
    with store.transaction() as tx:
        for project in created:
            tx.projects.add(project)
    with store.reader() as session:
        repo = SqlProjectRepository(session)
        listed = repo.list()
        assert [p.name for p in listed] == sorted(p.name for p in created)
        assert {p.name: p for p in listed} == {p.name: p for p in created}
        assert repo.find("alpha") == created[1]
        assert repo.get("zeta") == created[0]
        assert repo.find("nope") is None


def test_get_missing_names_the_project_and_the_known_ones(store: Store) -> None:
    with store.reader() as session, pytest.raises(ms.NotFound) as info:
        SqlProjectRepository(session).get("ghost")
    assert "Project 'ghost' does not exist. No project exists yet." in str(info.value)
    assert "steward projects create ghost" in str(info.value)
    with store.transaction() as tx:
        tx.projects.add(_project("one"))
        tx.projects.add(_project("two"))
    with store.reader() as session, pytest.raises(LookupError, match="Known projects: one, two"):
        SqlProjectRepository(session).get("ghost")


def test_records_are_immutable_snapshots(store: Store) -> None:
    with store.transaction() as tx:
        tx.projects.add(_project("acs"))
        record = tx.projects.get("acs")
    attribute = "name"
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, attribute, "other")
    assert _names(store) == ["acs"]


def test_names_are_unique(store: Store) -> None:
    with store.transaction() as tx:
        tx.projects.add(_project("acs", description="first"))
    with (
        pytest.raises(ms.AlreadyExists, match="Project 'acs' already exists"),
        store.transaction() as tx,
    ):
        tx.projects.add(_project("acs", description="second"))
    with store.reader() as session:
        assert SqlProjectRepository(session).get("acs").description == "first"


def test_already_exists_leaves_the_unit_of_work_usable(store: Store) -> None:
    with store.transaction() as tx:
        tx.projects.add(_project("acs"))
        with pytest.raises(ms.AlreadyExists):
            tx.projects.add(_project("acs"))
        tx.projects.add(_project("adult"))
        tx.audit("project.create", "project", "adult", {"name": "adult"})
    assert _names(store) == ["acs", "adult"]
    assert _event_count(store) == 1


def test_the_database_itself_enforces_unique_names(store: Store) -> None:
    """Two writers that both checked first cannot both insert: the schema refuses."""
    with store.transaction() as tx:
        tx.projects.add(_project("acs"))
    with pytest.raises(sqlalchemy.exc.IntegrityError), store.transaction() as tx:
        tx.session.add(
            ProjectRow(
                id=new_id(),
                name="acs",
                description="",
                created_at=utcnow(),
                created_by="x",
            )
        )
        tx.session.flush()
    assert _names(store) == ["acs"]


# -- transactions ----------------------------------------------------------------------
def test_an_error_after_audit_rolls_back_everything(store: Store) -> None:
    create_project(store, "kept")
    head_before = _head(store)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as tx:
        tx.projects.add(_project("lost"))
        event = tx.audit("project.create", "project", "lost", {"name": "lost"})
        assert event.seq == 2
        raise Boom
    assert _names(store) == ["kept"]
    assert _event_count(store) == 1
    assert _head(store) == head_before
    # the chain continues from where it was, as if the failed unit never happened
    create_project(store, "next")
    with store.reader() as session:
        events = session.execute(select(AuditEventRow).order_by(AuditEventRow.seq)).scalars()
        assert [(e.seq, e.entity_id) for e in events] == [(1, "kept"), (2, "next")]
        assert verify_chain(session).ok


def test_a_failed_create_project_writes_nothing(store: Store) -> None:
    create_project(store, "acs")
    with pytest.raises(ms.AlreadyExists):
        create_project(store, "acs", "again")
    with pytest.raises(ms.InvalidInput):
        create_project(store, "Not Valid")
    assert [p.description for p in list_projects(store)] == [""]
    assert _event_count(store) == 1


def test_uncommitted_work_is_invisible_to_readers(store: Store) -> None:
    seen: list[list[str]] = []
    with store.transaction() as tx:
        tx.projects.add(_project("pending"))
        tx.audit("project.create", "project", "pending")
        # a reader on another thread (its own connection) must not see the unit of work
        reader = threading.Thread(target=lambda: seen.append(_names(store)))
        reader.start()
        reader.join(timeout=30)
    assert seen == [[]]
    assert _names(store) == ["pending"]


# -- values round trip -----------------------------------------------------------------
def test_timestamps_come_back_timezone_aware_utc(store: Store) -> None:
    before = datetime.now(UTC)
    project = create_project(store, "acs")
    after = datetime.now(UTC)
    plus5 = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2021, 6, 1, 12, 0, 0, 123456, tzinfo=plus5)
    naive = datetime(2020, 1, 2, 3, 4, 5, 678901)
    with store.transaction() as tx:
        tx.projects.add(_project("local-time", created_at=local))
        tx.projects.add(_project("naive-time", created_at=naive))
    with store.reader() as session:
        repo = SqlProjectRepository(session)
        stored = repo.get("acs").created_at
        from_local = repo.get("local-time").created_at
        from_naive = repo.get("naive-time").created_at
        event_time = session.execute(select(AuditEventRow.time)).scalar_one()
    for value in (stored, from_local, from_naive, event_time):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
    assert stored == project.created_at  # microseconds kept
    assert before <= event_time <= after
    assert from_local == local  # the same instant ...
    assert (from_local.hour, from_local.minute) == (6, 30)  # ... expressed in UTC
    assert from_naive == naive.replace(tzinfo=UTC)  # naive values are taken as UTC


def test_text_round_trips_exactly(store: Store) -> None:
    description = "Beschäftigung – 就业 ✓ \"quoted\" 'single' \\ back\nslash\ttab " + "x" * 9_000
    create_project(store, "unicode", description)
    with store.reader() as session:
        assert SqlProjectRepository(session).get("unicode").description == description
        payload = session.execute(select(AuditEventRow.payload)).scalar_one()
        assert json.loads(payload)["description"] == description
        assert "Beschäftigung – 就业 ✓" in payload  # UTF-8 kept, not \\u-escaped
        assert verify_chain(session).ok


def test_a_second_store_on_the_same_database_sees_the_same_data(
    store: Store, store_uri: str, tmp_path: Any
) -> None:
    create_project(store, "shared")
    other = ms.connect(store_uri, artifacts=str(tmp_path / "other-artifacts"), actor="bob")
    try:
        other.create_project("from-bob")
        assert [p.name for p in other.list_projects()] == ["from-bob", "shared"]
        assert other.get_project("from-bob").created_by == "bob"
    finally:
        other.close()
    assert _names(store) == ["from-bob", "shared"]
    with store.reader() as session:
        result = verify_chain(session)
    assert (result.ok, result.count) == (True, 2)
