"""Serving: endpoints, deployments, routes, rollouts, feedback.

Endpoints and deployments (with the state of their rollout) and the events of each
rollout. Routes are the registry's ``model_routes`` (revision 0005); predictions and
feedback are Parquet segments, not tables.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlsteward.store.metadata import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("routes_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_endpoints"),
        _fk("endpoints", "project_id", "projects"),
        sa.UniqueConstraint("name", name="uq_endpoints_name"),
    )
    op.create_index("ix_endpoints_project_id", "endpoints", ["project_id"])
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("endpoint_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.String(32), nullable=False),
        sa.Column("baseline_version_id", sa.String(32), nullable=True),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("steps_json", sa.Text(), nullable=False),
        sa.Column("min_requests", sa.Integer(), nullable=False),
        sa.Column("min_duration_s", sa.Double(), nullable=False),
        sa.Column("auto_rollback", sa.Boolean(), nullable=False),
        sa.Column("guardrails_json", sa.Text(), nullable=False),
        sa.Column("evaluation_json", sa.Text(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("step_started_at", UTCDateTime(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        _fk("deployments", "endpoint_id", "endpoints"),
        _fk("deployments", "model_version_id", "model_versions"),
        _fk("deployments", "baseline_version_id", "model_versions"),
        sa.UniqueConstraint("endpoint_id", "number", name="uq_deployments_endpoint_id_number"),
        sa.CheckConstraint(
            "strategy IN ('direct', 'canary', 'blue-green', 'shadow')",
            name="ck_deployments_strategy_known",
        ),
        sa.CheckConstraint(
            "state IN ('running', 'promoted', 'rolled_back', 'superseded')",
            name="ck_deployments_state_known",
        ),
        sa.CheckConstraint("weight >= 0 AND weight <= 100", name="ck_deployments_weight_percent"),
    )
    op.create_index("ix_deployments_model_version_id", "deployments", ["model_version_id"])
    op.create_table(
        "rollout_events",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("deployment_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_weight", sa.Double(), nullable=True),
        sa.Column("to_weight", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("measurements_json", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollout_events"),
        _fk("rollout_events", "deployment_id", "deployments"),
        sa.UniqueConstraint("deployment_id", "seq", name="uq_rollout_events_deployment_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("rollout_events")
    op.drop_index("ix_deployments_model_version_id", table_name="deployments")
    op.drop_table("deployments")
    op.drop_index("ix_endpoints_project_id", table_name="endpoints")
    op.drop_table("endpoints")
