"""The audit hash chain: intact chains verify, every kind of tampering is named.

Tampering is done the way an intruder with database access would do it: with SQL on the
tables, behind Steward's back, on every metadata backend.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text

import mlsteward as ms
from mlsteward.core import AuditVerification
from mlsteward.projects import create_project
from mlsteward.store import (
    GENESIS_HASH,
    Store,
    append_event,
    canonical_json,
    event_hash,
    query_events,
    verify_chain,
)
from mlsteward.store.metadata import AuditEventRow, AuditHeadRow

NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]


@pytest.fixture
def chain(store: Store) -> Store:
    """A store whose audit chain holds five events, #1..#5, one per project."""
    for name in NAMES:
        create_project(store, name, f"project {name}")
    return store


def _verify(store: Store) -> AuditVerification:
    with store.reader() as session:
        return verify_chain(session)


def _sql(store: Store, statement: str, **params: Any) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(statement), params)


def _rows(store: Store) -> list[AuditEventRow]:
    with store.reader() as session:
        return list(session.execute(select(AuditEventRow).order_by(AuditEventRow.seq)).scalars())


def _insert_row(store: Store, **values: Any) -> None:
    with store.engine.begin() as connection:
        connection.execute(insert(AuditEventRow.__table__).values(**values))


def _forged(seq: int, prev_hash: str, *, actor: str = "mallory") -> dict[str, Any]:
    """An event row made by someone who knows the hash recipe."""
    payload = '{"name":"forged"}'
    digest = hashlib.sha256(payload.encode()).hexdigest()
    time = datetime(2026, 1, 1, tzinfo=UTC)
    fields = {
        "seq": seq,
        "time": time,
        "actor": actor,
        "action": "project.create",
        "entity_kind": "project",
        "entity_id": "forged",
        "payload_digest": digest,
        "prev_hash": prev_hash,
    }
    return {**fields, "payload": payload, "hash": event_hash(**fields)}


# -- the intact chain ------------------------------------------------------------------
def test_an_empty_chain_verifies(store: Store) -> None:
    assert _verify(store) == AuditVerification(ok=True, count=0)


def test_an_untouched_chain_verifies(chain: Store) -> None:
    assert _verify(chain) == AuditVerification(ok=True, count=5)


def test_hashes_follow_the_documented_recipe(chain: Store) -> None:
    """Recompute every link independently of Steward's code (module docstring recipe)."""
    prev = "0" * 64
    rows = _rows(chain)
    assert [r.entity_id for r in rows] == NAMES
    for seq, row in enumerate(rows, start=1):
        payload = json.loads(row.payload)
        assert payload["name"] == NAMES[seq - 1]
        assert row.payload == json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert row.payload_digest == hashlib.sha256(row.payload.encode()).hexdigest()
        assert row.prev_hash == prev
        time = row.time.astimezone(UTC).isoformat(timespec="microseconds")
        material = [seq, time, "tester", "project.create", "project", row.entity_id]
        material += [row.payload_digest, prev]
        expected = hashlib.sha256(
            json.dumps(material, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
        assert row.hash == expected
        prev = row.hash
    assert GENESIS_HASH == "0" * 64
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def test_appending_after_verification_keeps_the_chain_intact(chain: Store) -> None:
    assert _verify(chain).count == 5
    create_project(chain, "foxtrot")
    assert _verify(chain) == AuditVerification(ok=True, count=6)


# -- tampering -------------------------------------------------------------------------
def _edit_payload(store: Store) -> None:
    _sql(store, "UPDATE audit_events SET payload = :p WHERE seq = 3", p='{"name":"mallory"}')


def _edit_payload_and_digest(store: Store) -> None:
    payload = '{"name":"mallory"}'
    digest = hashlib.sha256(payload.encode()).hexdigest()
    _sql(
        store,
        "UPDATE audit_events SET payload = :p, payload_digest = :d WHERE seq = 3",
        p=payload,
        d=digest,
    )


def _edit_actor(store: Store) -> None:
    _sql(store, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")


def _edit_entity(store: Store) -> None:
    _sql(store, "UPDATE audit_events SET entity_id = 'other' WHERE seq = 3")


def _edit_time(store: Store) -> None:
    row = _rows(store)[2]
    with store.engine.begin() as connection:
        table = AuditEventRow.__table__
        connection.execute(
            table.update().where(table.c.seq == 3).values(time=row.time - timedelta(days=1))
        )


def _delete_middle(store: Store) -> None:
    _sql(store, "DELETE FROM audit_events WHERE seq = 3")


def _delete_newest(store: Store) -> None:
    _sql(store, "DELETE FROM audit_events WHERE seq = 5")


def _delete_newest_two(store: Store) -> None:
    _sql(store, "DELETE FROM audit_events WHERE seq >= 4")


def _insert_naive_at_end(store: Store) -> None:
    _insert_row(store, **{**_forged(6, _rows(store)[-1].hash), "hash": "f" * 64})


def _insert_forged_at_end(store: Store) -> None:
    """A well-formed event appended with SQL: only the head row can tell."""
    _insert_row(store, **_forged(6, _rows(store)[-1].hash))


def _renumber_from(store: Store, seq: int) -> None:
    last = _rows(store)[-1].seq
    for s in range(last, seq - 1, -1):  # one by one, newest first: no key collisions
        _sql(store, "UPDATE audit_events SET seq = :n WHERE seq = :s", n=s + 1, s=s)


def _insert_naive_in_middle(store: Store) -> None:
    _renumber_from(store, 3)
    _insert_row(store, **{**_forged(3, _rows(store)[1].hash), "hash": "e" * 64})


def _insert_forged_in_middle(store: Store) -> None:
    _renumber_from(store, 3)
    _insert_row(store, **_forged(3, _rows(store)[1].hash))
    _sql(store, "UPDATE audit_head SET seq = 6")


def _swap(store: Store, a: int, b: int) -> None:
    _sql(store, "UPDATE audit_events SET seq = -1 WHERE seq = :a", a=a)
    _sql(store, "UPDATE audit_events SET seq = :a WHERE seq = :b", a=a, b=b)
    _sql(store, "UPDATE audit_events SET seq = :b WHERE seq = -1", b=b)


def _swap_adjacent(store: Store) -> None:
    _swap(store, 2, 3)


def _swap_distant(store: Store) -> None:
    _swap(store, 2, 5)


def _edit_head(store: Store) -> None:
    _sql(store, "UPDATE audit_head SET hash = :h", h="a" * 64)


def _rewrite_newest(store: Store) -> None:
    """Replace the newest event by a well-formed forgery; only the head still knows."""
    newest = _rows(store)[-1]
    _sql(store, "DELETE FROM audit_events WHERE seq = 5")
    _insert_row(store, **_forged(5, newest.prev_hash))


# (tampering, first bad event, events verified before it, words the reason must contain)
TAMPERING = {
    "edit payload": (_edit_payload, 3, 2, ["event #3", "charlie", "payload was edited"]),
    "edit payload and digest": (_edit_payload_and_digest, 3, 2, ["event #3", "hash mismatch"]),
    "edit actor": (_edit_actor, 3, 2, ["event #3", "by mallory", "fields were edited"]),
    "edit entity": (_edit_entity, 3, 2, ["event #3", "'other'", "fields were edited"]),
    "edit time": (_edit_time, 3, 2, ["event #3", "charlie", "hash mismatch"]),
    "delete middle row": (_delete_middle, 4, 2, ["event #4", "event #3 is missing"]),
    "delete newest row": (_delete_newest, 5, 4, ["ends at event #4", "head records event #5"]),
    "delete newest rows": (_delete_newest_two, 4, 3, ["ends at event #3", "deleted"]),
    "insert at end": (_insert_naive_at_end, 6, 5, ["event #6", "mallory", "hash mismatch"]),
    "insert forged at end": (
        _insert_forged_at_end,
        6,
        5,
        ["event #6", "mallory", "after the newest event the head records (#5)", "inserted"],
    ),
    "insert in middle": (_insert_naive_in_middle, 3, 2, ["event #3", "mallory"]),
    "insert forged in middle": (
        _insert_forged_in_middle,
        4,
        3,
        ["event #4", "charlie", "does not match event #3", "inserted"],
    ),
    "swap adjacent rows": (_swap_adjacent, 2, 1, ["event #2", "charlie", "reordered"]),
    "swap distant rows": (_swap_distant, 2, 1, ["event #2", "echo", "reordered"]),
    "edit head": (_edit_head, 5, 4, ["Event #5", "head"]),
    "rewrite newest with its hash": (_rewrite_newest, 5, 4, ["Event #5", "rewritten"]),
}


def _snapshot(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with store.engine.connect() as connection:
        events = connection.execute(select(AuditEventRow.__table__)).mappings().all()
        heads = connection.execute(select(AuditHeadRow.__table__)).mappings().all()
    return [dict(e) for e in events], [dict(h) for h in heads]


def _restore(store: Store, snapshot: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    events, heads = snapshot
    with store.engine.begin() as connection:
        connection.execute(delete(AuditEventRow.__table__))
        connection.execute(delete(AuditHeadRow.__table__))
        connection.execute(insert(AuditEventRow.__table__), events)
        connection.execute(insert(AuditHeadRow.__table__), heads)


def test_tampering_is_detected_and_names_the_event(chain: Store, subtests: pytest.Subtests) -> None:
    """Each case starts again from the pristine chain (restored rows, one store per backend:
    creating a fresh database per case would cost more than all the checks)."""
    pristine = _snapshot(chain)
    for case, (tamper, first_bad, good, words) in TAMPERING.items():
        with subtests.test(case):
            _restore(chain, pristine)
            assert _verify(chain) == AuditVerification(ok=True, count=5)
            tamper(chain)
            result = _verify(chain)
            assert not result.ok
            assert result.first_bad_seq == first_bad, result.reason
            assert result.count == good, result.reason
            assert result.reason is not None
            for word in words:
                assert word in result.reason, (word, result.reason)


def test_verification_is_the_same_through_the_sdk(chain: Store) -> None:
    client = ms.Client(chain)
    assert client.verify_audit() == AuditVerification(ok=True, count=5)
    _delete_middle(chain)
    assert client.verify_audit().first_bad_seq == 4


# -- query_events ----------------------------------------------------------------------
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def history(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """Six events an hour apart from T0, by two actors, on projects and a dataset."""
    times: Iterator[datetime] = (T0 + timedelta(hours=h) for h in range(100))
    monkeypatch.setattr("mlsteward.store._audit.utcnow", lambda: next(times))
    spec = [
        ("alice", "project.create", "project", "acs"),
        ("bob", "project.create", "project", "adult"),
        ("alice", "project.update", "project", "acs"),
        ("alice", "dataset.register", "dataset", "acs"),
        ("bob", "project.update", "project", "acs"),
        ("carol", "project.create", "project", "credit"),
    ]
    with store.transaction() as tx:
        for actor, action, kind, entity in spec:
            append_event(
                tx.session,
                actor=actor,
                action=action,
                entity_kind=kind,
                entity_id=entity,
                payload={"by": actor},
            )
    return store


def _seqs(store: Store, **filters: Any) -> list[int]:
    with store.reader() as session:
        return [e.seq for e in query_events(session, **filters)]


def test_query_without_filters_is_every_event_in_order(history: Store) -> None:
    with history.reader() as session:
        events = query_events(session)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.time for e in events] == [T0 + timedelta(hours=h) for h in range(6)]
    assert all(e.time.tzinfo is not None and e.time.utcoffset() == timedelta(0) for e in events)
    assert events[0].payload == {"by": "alice"}
    assert _verify(history) == AuditVerification(ok=True, count=6)


QUERIES: list[tuple[dict[str, Any], list[int]]] = [
    ({"entity_kind": "project"}, [1, 2, 3, 5, 6]),
    ({"entity_kind": "project", "entity_id": "acs"}, [1, 3, 5]),
    ({"entity_kind": "dataset", "entity_id": "acs"}, [4]),
    ({"entity_id": "acs"}, [1, 3, 4, 5]),
    ({"actor": "alice"}, [1, 3, 4]),
    ({"actor": "nobody"}, []),
    ({"action": "project.update"}, [3, 5]),
    ({"actor": "bob", "action": "project.update"}, [5]),
    ({"since": T0 + timedelta(hours=2)}, [3, 4, 5, 6]),  # inclusive
    ({"until": T0 + timedelta(hours=2)}, [1, 2, 3]),  # inclusive
    (
        {"since": T0 + timedelta(minutes=30), "until": T0 + timedelta(hours=3, minutes=1)},
        [2, 3, 4],
    ),
    ({"since": T0 + timedelta(hours=9)}, []),
    # naive times are UTC; other zones are converted
    ({"since": (T0 + timedelta(hours=4)).replace(tzinfo=None)}, [5, 6]),
    ({"until": datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))}, [1]),
    ({"limit": 2}, [1, 2]),
    ({"limit": 2, "newest_first": True}, [6, 5]),
    ({"actor": "alice", "limit": 1, "newest_first": True}, [4]),
    ({"limit": 100}, [1, 2, 3, 4, 5, 6]),
]


def test_query_filters(history: Store, subtests: pytest.Subtests) -> None:
    for filters, expected in QUERIES:
        with subtests.test(**{k: str(v) for k, v in filters.items()}):
            assert _seqs(history, **filters) == expected


def test_query_filters_through_the_sdk(history: Store) -> None:
    client = ms.Client(history)
    events = client.audit_log(entity_kind="project", entity_id="acs", actor="alice")
    assert [(e.seq, e.action) for e in events] == [(1, "project.create"), (3, "project.update")]


def test_an_empty_time_range_is_refused(history: Store) -> None:
    with history.reader() as session, pytest.raises(ms.InvalidInput) as info:
        query_events(session, since=T0 + timedelta(days=1), until=T0)
    message = str(info.value)
    assert "time range is empty" in message
    assert "2026-03-02T12:00:00+00:00" in message and "Swap them" in message


@pytest.mark.parametrize("limit", [0, -3])
def test_a_bad_limit_is_refused(history: Store, limit: int) -> None:
    with history.reader() as session, pytest.raises(ValueError, match="limit must be at least 1"):
        query_events(session, limit=limit)


def test_write_after_head_row_deleted_is_a_clear_error(store: Any) -> None:
    from sqlalchemy import text

    import mlsteward as ms
    from mlsteward.projects import create_project

    create_project(store, "first")
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    with pytest.raises(ms.IntegrityViolation, match="head row"):
        create_project(store, "second")
    names = [p.name for p in ms.Client(store).list_projects()]
    assert names == ["first"]
