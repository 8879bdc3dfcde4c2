"""Make the old-schema database files that tests/store/test_migrations.py upgrades.

Run from the repository root: ``.venv/bin/python tests/store/assets/make_assets.py``.
Each file is a store written at a released schema revision, with rows in it. Add a file
when a release changes the schema; never regenerate an existing one with a newer Steward
(that would test nothing): rows are written with plain SQL in the shape of that revision.

steward-0001.db: revision 0001, one project ("legacy") and its audit event.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from mlsteward.store import canonical_json, event_hash, make_engine, upgrade

HERE = Path(__file__).parent
CREATED_AT = datetime(2026, 11, 1, 9, 30, 0, 123456, tzinfo=UTC)
PROJECT = {
    "id": "0190a8f2c5e07d2a9b3c4d5e6f708192",
    "name": "legacy",
    "description": "Made at schema 0001 by make_assets.py",
    "created_at": CREATED_AT.isoformat(),
    "created_by": "asset-maker",
}
EVENT_TIME = datetime(2026, 11, 1, 9, 30, 0, 234567, tzinfo=UTC)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite (UTC)


def make_0001(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "steward.db"
        engine = make_engine(f"sqlite:///{db}")
        state = upgrade(engine, db, "0001")
        engine.dispose()
        assert state.current == "0001", state

        payload = canonical_json(PROJECT)
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        own = event_hash(
            seq=1,
            time=EVENT_TIME,
            actor="asset-maker",
            action="project.create",
            entity_kind="project",
            entity_id="legacy",
            payload_digest=digest,
            prev_hash="0" * 64,
        )
        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO projects (id, name, description, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    PROJECT["id"],
                    PROJECT["name"],
                    PROJECT["description"],
                    CREATED_AT.strftime(SQLITE_TIME),
                    PROJECT["created_by"],
                ),
            )
            conn.execute(
                "INSERT INTO audit_events (seq, time, actor, action, entity_kind, entity_id, "
                "payload, payload_digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    1,
                    EVENT_TIME.strftime(SQLITE_TIME),
                    "asset-maker",
                    "project.create",
                    "project",
                    "legacy",
                    payload,
                    digest,
                    "0" * 64,
                    own,
                ),
            )
            conn.execute("UPDATE audit_head SET seq = 1, hash = ? WHERE id = 1", (own,))
        conn.close()
        with sqlite3.connect(db) as conn:  # one self-contained file: no -wal beside it
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("VACUUM")
        conn.close()
        shutil.copyfile(db, target)


if __name__ == "__main__":
    make_0001(HERE / "steward-0001.db")
    print(f"wrote {HERE / 'steward-0001.db'}")
