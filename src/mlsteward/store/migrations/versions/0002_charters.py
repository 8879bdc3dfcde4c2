"""Charters: versioned problem definitions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlsteward.store.metadata import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "charter_versions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charter_versions"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_charter_versions_project_id_projects"
        ),
        sa.UniqueConstraint("project_id", "version", name="uq_charter_versions_project_id_version"),
        sa.CheckConstraint("version >= 1", name="ck_charter_versions_version_positive"),
    )


def downgrade() -> None:
    op.drop_table("charter_versions")
