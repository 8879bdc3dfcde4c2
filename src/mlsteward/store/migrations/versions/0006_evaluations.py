"""Evaluations: stored evaluations and gate verdicts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlsteward.store.metadata import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_kind", sa.String(300), nullable=False),
        sa.Column("model_ref", sa.String(200), nullable=True),
        sa.Column("model_version_id", sa.String(32), nullable=True),
        sa.Column("baseline_ref", sa.String(200), nullable=True),
        sa.Column("baseline_version_id", sa.String(32), nullable=True),
        sa.Column("dataset_name", sa.String(200), nullable=False),
        sa.Column("dataset_ref", sa.String(200), nullable=True),
        sa.Column("dataset_version_id", sa.String(32), nullable=True),
        sa.Column("charter_version_id", sa.String(32), nullable=True),
        sa.Column("charter_ref", sa.String(100), nullable=True),
        sa.Column("task", sa.String(20), nullable=False),
        sa.Column("on_role", sa.String(100), nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("main_metric", sa.String(63), nullable=False),
        sa.Column("main_value", sa.Double(), nullable=True),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("gates_json", sa.Text(), nullable=True),
        sa.Column("summary_json", sa.Text(), nullable=False),
        sa.Column("results_digest", sa.String(71), nullable=False),
        sa.Column("results_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evaluations"),
        _fk("evaluations", "project_id", "projects"),
        _fk("evaluations", "model_version_id", "model_versions"),
        _fk("evaluations", "baseline_version_id", "model_versions"),
        _fk("evaluations", "dataset_version_id", "dataset_versions"),
        _fk("evaluations", "charter_version_id", "charter_versions"),
        sa.CheckConstraint(
            "kind IN ('evaluation', 'comparison')", name="ck_evaluations_kind_known"
        ),
        sa.CheckConstraint(
            "verdict IS NULL OR verdict IN ('pass', 'fail', 'inconclusive')",
            name="ck_evaluations_verdict_known",
        ),
    )
    op.create_index("ix_evaluations_project_created", "evaluations", ["project_id", "created_at"])
    op.create_index("ix_evaluations_model_version_id", "evaluations", ["model_version_id"])
    op.create_index("ix_evaluations_dataset_version_id", "evaluations", ["dataset_version_id"])
    op.create_table(
        "evaluation_metrics",
        sa.Column("evaluation_id", sa.String(32), nullable=False),
        sa.Column("metric", sa.String(63), nullable=False),
        sa.Column("attribute", sa.String(300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("low", sa.Double(), nullable=True),
        sa.Column("high", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint(
            "evaluation_id", "metric", "attribute", name="pk_evaluation_metrics"
        ),
        _fk("evaluation_metrics", "evaluation_id", "evaluations"),
    )


def downgrade() -> None:
    op.drop_table("evaluation_metrics")
    op.drop_index("ix_evaluations_dataset_version_id", table_name="evaluations")
    op.drop_index("ix_evaluations_model_version_id", table_name="evaluations")
    op.drop_index("ix_evaluations_project_created", table_name="evaluations")
    op.drop_table("evaluations")
