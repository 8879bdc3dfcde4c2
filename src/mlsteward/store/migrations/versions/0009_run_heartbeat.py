"""Run heartbeats: ``runs.heartbeat_at``, the last sign of life of a running run's process.

Existing runs keep NULL: staleness then falls back to their start time. Batch mode with
``recreate="never"``: both SQLite (3.35+) and PostgreSQL add and drop a plain nullable
column in place, and copying ``runs`` (which many tables reference, itself included)
to a new table on SQLite would trip its foreign keys.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlsteward.store.metadata import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.drop_column("heartbeat_at")
