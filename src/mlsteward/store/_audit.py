"""The audit trail: an append-only hash chain written in the same transaction as each change.

Each event's ``hash`` is the SHA-256 of its sequence number, time, actor, action, entity,
payload digest and the previous event's hash. ``audit_head`` names the last event. Editing a
payload, editing any column, deleting, inserting or reordering rows therefore breaks the
chain at a point that :func:`verify_chain` names. The chain proves integrity against
accidental or casual edits; someone who can rewrite every row and the head can rebuild a
consistent chain, so keep database write access restricted (or export hashes elsewhere).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from mlsteward.core import (
    AuditEvent,
    AuditVerification,
    IntegrityViolation,
    InvalidInput,
    ensure_utc,
    utcnow,
)
from mlsteward.store.metadata import AuditEventRow, AuditHeadRow

__all__ = [
    "GENESIS_HASH",
    "append_event",
    "canonical_json",
    "event_hash",
    "iter_events",
    "query_events",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
_EVENTS_TABLE = cast(Table, AuditEventRow.__table__)
_HEAD_TABLE = cast(Table, AuditHeadRow.__table__)
# statements built once (their compiled form is cached): an append is on every change's path
_INSERT_EVENT = insert(_EVENTS_TABLE)
_UPDATE_HEAD = (
    update(_HEAD_TABLE)
    .where(_HEAD_TABLE.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_SQLITE_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_SQLITE_INSERT = (
    "INSERT INTO audit_events (seq, time, actor, action, entity_kind, entity_id, payload, "
    "payload_digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_UPDATE_HEAD = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
_TIME_PROCESSORS: dict[int, Callable[[datetime], Any]] = {}


def _sqlite_time_processor(dialect: Dialect) -> Callable[[datetime], Any]:
    """How the ``time`` column binds a datetime on this dialect (SQLAlchemy's own processor)."""
    key = id(dialect)
    if key not in _TIME_PROCESSORS:
        process = _EVENTS_TABLE.c.time.type.dialect_impl(dialect).bind_processor(dialect)
        _TIME_PROCESSORS[key] = process if process is not None else (lambda value: value)
    return _TIME_PROCESSORS[key]


_HEAD_FOR_UPDATE = (
    select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1).with_for_update()
)


def canonical_json(payload: Any) -> str:
    """The one JSON spelling of a payload: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def _time_text(value: datetime) -> str:
    return ensure_utc(value).isoformat(timespec="microseconds")


def event_hash(
    *,
    seq: int,
    time: datetime,
    actor: str,
    action: str,
    entity_kind: str,
    entity_id: str,
    payload_digest: str,
    prev_hash: str,
) -> str:
    """Hash of one event over every field but the payload itself (covered by its digest)."""
    material = canonical_json(
        [seq, _time_text(time), actor, action, entity_kind, entity_id, payload_digest, prev_hash]
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_kind: str,
    entity_id: str,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (which must be a write transaction).

    The head row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite write
    transactions are already exclusive), so concurrent writers extend one chain.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    # On SQLite the write transaction is already exclusive (BEGIN IMMEDIATE), and an append
    # is on the path of every change: use the DB-API cursor of the same connection with
    # fixed SQL, binding values through the column types' own processors.
    cursor = connection.connection.dbapi_connection.cursor() if sqlite else None  # type: ignore[union-attr]
    if cursor is not None:
        cursor.execute(_SQLITE_HEAD)
        head = cursor.fetchone()
    else:
        head = connection.execute(_HEAD_FOR_UPDATE).first()
    if head is None:  # created by the first migration, so someone removed it
        has_events = connection.execute(select(AuditEventRow.seq).limit(1)).first() is not None
        if has_events:
            raise IntegrityViolation(
                "The audit trail's head row (table audit_head) is missing, so no new event can "
                "be chained. Run `steward audit verify` and restore the database from a backup."
            )
        connection.execute(insert(_HEAD_TABLE).values(id=1, seq=0, hash=GENESIS_HASH))
        head_seq, head_hash = 0, GENESIS_HASH
    else:
        head_seq, head_hash = int(head[0]), str(head[1])
    text = canonical_json(payload or {})
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    seq = head_seq + 1
    now = utcnow()
    own = event_hash(
        seq=seq,
        time=now,
        actor=actor,
        action=action,
        entity_kind=entity_kind,
        entity_id=entity_id,
        payload_digest=digest,
        prev_hash=head_hash,
    )
    if cursor is not None:
        time_value = _sqlite_time_processor(connection.dialect)(now)
        cursor.execute(
            _SQLITE_INSERT,
            (seq, time_value, actor, action, entity_kind, entity_id, text, digest, head_hash, own),
        )
        cursor.execute(_SQLITE_UPDATE_HEAD, (seq, own))
        cursor.close()
    else:
        connection.execute(
            _INSERT_EVENT,
            {
                "seq": seq,
                "time": now,
                "actor": actor,
                "action": action,
                "entity_kind": entity_kind,
                "entity_id": entity_id,
                "payload": text,
                "payload_digest": digest,
                "prev_hash": head_hash,
                "hash": own,
            },
        )
        connection.execute(_UPDATE_HEAD, {"new_seq": seq, "new_hash": own})
    loaded = json.loads(text)
    return AuditEvent(
        seq=seq,
        time=now,
        actor=actor,
        action=action,
        entity_kind=entity_kind,
        entity_id=entity_id,
        payload=loaded if isinstance(loaded, dict) else {"_value": loaded},
        payload_digest=digest,
        prev_hash=head_hash,
        hash=own,
    )


def _to_record(row: AuditEventRow) -> AuditEvent:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {"_unreadable": row.payload}
    return AuditEvent(
        seq=row.seq,
        time=row.time,
        actor=row.actor,
        action=row.action,
        entity_kind=row.entity_kind,
        entity_id=row.entity_id,
        payload=payload if isinstance(payload, dict) else {"_value": payload},
        payload_digest=row.payload_digest,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def iter_events(session: Session, batch: int = 1000) -> Iterator[AuditEventRow]:
    """Every event in sequence order, read in batches."""
    last = 0
    while True:
        rows = list(
            session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.seq > last)
                .order_by(AuditEventRow.seq)
                .limit(batch)
            ).scalars()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def query_events(
    session: Session,
    *,
    entity_kind: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[AuditEvent]:
    """Events matching every given filter, in sequence order."""
    if since is not None and until is not None and ensure_utc(since) > ensure_utc(until):
        raise InvalidInput(
            f"The time range is empty: since ({since.isoformat()}) is after until "
            f"({until.isoformat()}). Swap them."
        )
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}.")
    stmt = select(AuditEventRow)
    if entity_kind is not None:
        stmt = stmt.where(AuditEventRow.entity_kind == entity_kind)
    if entity_id is not None:
        stmt = stmt.where(AuditEventRow.entity_id == entity_id)
    if actor is not None:
        stmt = stmt.where(AuditEventRow.actor == actor)
    if action is not None:
        stmt = stmt.where(AuditEventRow.action == action)
    if since is not None:
        stmt = stmt.where(AuditEventRow.time >= ensure_utc(since))
    if until is not None:
        stmt = stmt.where(AuditEventRow.time <= ensure_utc(until))
    stmt = stmt.order_by(AuditEventRow.seq.desc() if newest_first else AuditEventRow.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_to_record(row) for row in session.execute(stmt).scalars()]


def _describe(row: AuditEventRow) -> str:
    return f"event #{row.seq} ({row.action} {row.entity_kind} {row.entity_id!r} by {row.actor})"


def verify_chain(session: Session) -> AuditVerification:
    """Recompute the whole chain; report the first event that does not fit."""
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for row in iter_events(session):
        if row.seq != expected_seq:
            return AuditVerification(
                False,
                count,
                row.seq,
                f"{_describe(row)} follows event #{expected_seq - 1}: "
                f"event #{expected_seq} is missing (deleted) or events were renumbered.",
            )
        digest = hashlib.sha256(row.payload.encode("utf-8")).hexdigest()
        if digest != row.payload_digest:
            return AuditVerification(
                False,
                count,
                row.seq,
                f"{_describe(row)}: its payload was edited (digest mismatch).",
            )
        if row.prev_hash != prev:
            return AuditVerification(
                False,
                count,
                row.seq,
                f"{_describe(row)}: its previous-hash does not match event #{row.seq - 1}; "
                "an event was inserted, deleted or reordered here.",
            )
        recomputed = event_hash(
            seq=row.seq,
            time=row.time,
            actor=row.actor,
            action=row.action,
            entity_kind=row.entity_kind,
            entity_id=row.entity_id,
            payload_digest=row.payload_digest,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            return AuditVerification(
                False,
                count,
                row.seq,
                f"{_describe(row)}: its fields were edited, or it was inserted or moved "
                "(hash mismatch).",
            )
        prev = row.hash
        expected_seq += 1
        count += 1
    head = session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1)).scalar_one_or_none()
    head_seq, head_hash = (0, GENESIS_HASH) if head is None else (head.seq, head.hash)
    if head_seq < count:
        # rows after the newest event Steward wrote: the first of them is the bad one
        extra = session.execute(
            select(AuditEventRow).where(AuditEventRow.seq == head_seq + 1)
        ).scalar_one()
        return AuditVerification(
            False,
            head_seq,
            extra.seq,
            f"{_describe(extra)} comes after the newest event the head records "
            f"(#{head_seq}): events were inserted at the end of the chain, or the head "
            "was edited.",
        )
    if head_seq > count:
        return AuditVerification(
            False,
            count,
            count + 1,
            f"The chain ends at event #{count} but the head records event #{head_seq}: "
            "the newest events were deleted, or the head was edited.",
        )
    if head_hash != prev:
        return AuditVerification(
            False,
            max(count - 1, 0),
            count,
            f"Event #{count}, the newest, does not have the hash the head records: it was "
            "rewritten (hash recomputed), or the head was edited.",
        )
    return AuditVerification(True, count)
