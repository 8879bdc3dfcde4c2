"""Tracking: experiments, runs, params, metrics, artifacts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlsteward.store.metadata import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=f"fk_{table}_run_id_runs")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_experiments_project_id_projects"
        ),
        sa.UniqueConstraint("project_id", "name", name="uq_experiments_project_id_name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("experiment_id", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("git_dirty", sa.Boolean(), nullable=True),
        sa.Column("source", sa.String(1000), nullable=True),
        sa.Column("python_version", sa.String(50), nullable=False),
        sa.Column("platform", sa.String(200), nullable=False),
        sa.Column("environment_digest", sa.String(71), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_runs_project_id_projects"
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name="fk_runs_experiment_id_experiments"
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["runs.id"], name="fk_runs_parent_id_runs"),
    )
    op.create_index("ix_runs_project_start", "runs", ["project_id", "start_time"])
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_parent_id", "runs", ["parent_id"])
    op.create_table(
        "run_params",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_run_params"),
        _run_fk("run_params"),
    )
    op.create_index("ix_run_params_key_value", "run_params", ["key", "value"])
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_run_tags"),
        _run_fk("run_tags"),
    )
    op.create_index("ix_run_tags_key", "run_tags", ["key"])
    op.create_table(
        "metric_points",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metric_points"),
        _run_fk("metric_points"),
    )
    op.create_index("ix_metric_points_run_key_step", "metric_points", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_latest_metrics"),
        _run_fk("latest_metrics"),
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.create_table(
        "run_artifacts",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("meta_json", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "path", name="pk_run_artifacts"),
        _run_fk("run_artifacts"),
    )
    op.create_index("ix_run_artifacts_digest", "run_artifacts", ["digest"])
    op.create_table(
        "run_inputs",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("dataset_version_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(63), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "dataset_version_id", "role", name="pk_run_inputs"),
        _run_fk("run_inputs"),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name="fk_run_inputs_dataset_version_id_dataset_versions",
        ),
    )
    op.create_index("ix_run_inputs_dataset_version_id", "run_inputs", ["dataset_version_id"])


def downgrade() -> None:
    op.drop_index("ix_run_inputs_dataset_version_id", table_name="run_inputs")
    op.drop_table("run_inputs")
    op.drop_index("ix_run_artifacts_digest", table_name="run_artifacts")
    op.drop_table("run_artifacts")
    op.drop_index("ix_latest_metrics_key_value", table_name="latest_metrics")
    op.drop_table("latest_metrics")
    op.drop_index("ix_metric_points_run_key_step", table_name="metric_points")
    op.drop_table("metric_points")
    op.drop_index("ix_run_tags_key", table_name="run_tags")
    op.drop_table("run_tags")
    op.drop_index("ix_run_params_key_value", table_name="run_params")
    op.drop_table("run_params")
    op.drop_index("ix_runs_parent_id", table_name="runs")
    op.drop_index("ix_runs_experiment_start", table_name="runs")
    op.drop_index("ix_runs_project_start", table_name="runs")
    op.drop_table("runs")
    op.drop_table("experiments")
