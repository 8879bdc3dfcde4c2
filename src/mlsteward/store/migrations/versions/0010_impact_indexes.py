"""Indexes for impact analysis: the monitoring references built from a dataset version
(``monitor_references.dataset_version_id``) and the monitor runs made against a reference
(``monitor_runs.reference_id``), so that "what was built on this version" reads one index
per hop instead of scanning both tables.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_monitor_references_dataset_version_id", "monitor_references", ["dataset_version_id"]
    )
    op.create_index("ix_monitor_runs_reference_id", "monitor_runs", ["reference_id"])


def downgrade() -> None:
    op.drop_index("ix_monitor_runs_reference_id", table_name="monitor_runs")
    op.drop_index("ix_monitor_references_dataset_version_id", table_name="monitor_references")
