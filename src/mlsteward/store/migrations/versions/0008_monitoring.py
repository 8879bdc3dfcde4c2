"""Monitoring: monitor runs, window results, alerts, stored reference summaries.

Reference summaries (per-column drift summaries, a row sample, the PCA model and the
performance estimator of a reference) are artifacts; ``monitor_references`` finds them
by key. A run's full results are an artifact too; its windows' headlines and its alerts
are rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlsteward.store.metadata import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "monitor_references",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("dataset_version_id", sa.String(32), nullable=True),
        sa.Column("model_version_id", sa.String(32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("summary_digest", sa.String(71), nullable=False),
        sa.Column("summary_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_references"),
        _fk("monitor_references", "project_id", "projects"),
        _fk("monitor_references", "dataset_version_id", "dataset_versions"),
        _fk("monitor_references", "model_version_id", "model_versions"),
        sa.UniqueConstraint("key", name="uq_monitor_references_key"),
    )
    op.create_index("ix_monitor_references_project_id", "monitor_references", ["project_id"])
    op.create_table(
        "monitor_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(63), nullable=False),
        sa.Column("endpoint_id", sa.String(32), nullable=True),
        sa.Column("model_version_id", sa.String(32), nullable=True),
        sa.Column("model_ref", sa.String(200), nullable=True),
        sa.Column("reference_id", sa.String(32), nullable=True),
        sa.Column("charter_version_id", sa.String(32), nullable=True),
        sa.Column("window_spec", sa.String(32), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=True),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("labelled_count", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("critical_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("info_count", sa.Integer(), nullable=False),
        sa.Column("results_digest", sa.String(71), nullable=False),
        sa.Column("results_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_runs"),
        _fk("monitor_runs", "project_id", "projects"),
        _fk("monitor_runs", "endpoint_id", "endpoints"),
        _fk("monitor_runs", "model_version_id", "model_versions"),
        _fk("monitor_runs", "reference_id", "monitor_references"),
        _fk("monitor_runs", "charter_version_id", "charter_versions"),
        sa.CheckConstraint(
            "verdict IS NULL OR verdict IN ('pass', 'fail', 'inconclusive')",
            name="ck_monitor_runs_verdict_known",
        ),
    )
    op.create_index("ix_monitor_runs_endpoint_created", "monitor_runs", ["endpoint", "created_at"])
    op.create_index("ix_monitor_runs_project_id", "monitor_runs", ["project_id"])
    op.create_table(
        "monitor_windows",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("labelled_count", sa.BigInteger(), nullable=False),
        sa.Column("drift_share", sa.Double(), nullable=True),
        sa.Column("drifted_json", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("metrics_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_monitor_windows"),
        _fk("monitor_windows", "run_id", "monitor_runs"),
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=True),
        sa.Column("window_end", UTCDateTime(), nullable=True),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("metric", sa.String(63), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_alerts"),
        _fk("monitor_alerts", "run_id", "monitor_runs"),
        sa.UniqueConstraint("run_id", "seq", name="uq_monitor_alerts_run_id_seq"),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical')",
            name="ck_monitor_alerts_severity_known",
        ),
    )
    op.create_index("ix_monitor_alerts_subject", "monitor_alerts", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_monitor_alerts_subject", table_name="monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_table("monitor_windows")
    op.drop_index("ix_monitor_runs_project_id", table_name="monitor_runs")
    op.drop_index("ix_monitor_runs_endpoint_created", table_name="monitor_runs")
    op.drop_table("monitor_runs")
    op.drop_index("ix_monitor_references_project_id", table_name="monitor_references")
    op.drop_table("monitor_references")
