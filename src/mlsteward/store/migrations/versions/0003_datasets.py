"""Datasets: versions, profiles, checks, lineage.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlsteward.store.metadata import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("hash_method", sa.String(40), nullable=False),
        sa.Column("role", sa.String(63), nullable=True),
        sa.Column("schema_json", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("column_count", sa.Integer(), nullable=False),
        sa.Column("artifact_digest", sa.String(71), nullable=False),
        sa.Column("artifact_size", sa.BigInteger(), nullable=False),
        sa.Column("profile_digest", sa.String(71), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("license", sa.String(200), nullable=True),
        sa.Column("consent", sa.Text(), nullable=True),
        sa.Column("time_column", sa.String(300), nullable=True),
        sa.Column("target", sa.String(300), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_dataset_versions_project_id_projects"
        ),
        sa.UniqueConstraint(
            "project_id", "name", "version", name="uq_dataset_versions_project_id_name_version"
        ),
    )
    op.create_index(
        "ix_dataset_versions_project_name_created",
        "dataset_versions",
        ["project_id", "name", "created_at"],
    )
    op.create_table(
        "dataset_lineage",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=False),
        sa.Column("child_id", sa.String(32), nullable=False),
        sa.Column("method", sa.String(50), nullable=False),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_lineage"),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["dataset_versions.id"],
            name="fk_dataset_lineage_parent_id_dataset_versions",
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["dataset_versions.id"],
            name="fk_dataset_lineage_child_id_dataset_versions",
        ),
        sa.UniqueConstraint("parent_id", "child_id", name="uq_dataset_lineage_parent_id_child_id"),
    )
    op.create_index("ix_dataset_lineage_child_id", "dataset_lineage", ["child_id"])
    op.create_table(
        "dataset_check_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("version_id", sa.String(32), nullable=False),
        sa.Column("reference_id", sa.String(32), nullable=True),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_check_runs"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name="fk_dataset_check_runs_version_id_dataset_versions",
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["dataset_versions.id"],
            name="fk_dataset_check_runs_reference_id_dataset_versions",
        ),
    )
    op.create_index(
        "ix_dataset_check_runs_version_created",
        "dataset_check_runs",
        ["version_id", "created_at"],
    )
    op.create_table(
        "dataset_check_results",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_check_results"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["dataset_check_runs.id"],
            name="fk_dataset_check_results_run_id_dataset_check_runs",
        ),
        sa.UniqueConstraint("run_id", "position", name="uq_dataset_check_results_run_id_position"),
    )
    op.create_table(
        "dataset_compliance_tags",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("version_id", sa.String(32), nullable=False),
        sa.Column("column", sa.String(300), nullable=False),
        sa.Column("tag", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_compliance_tags"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name="fk_dataset_compliance_tags_version_id_dataset_versions",
        ),
        sa.UniqueConstraint(
            "version_id", "column", "tag", name="uq_dataset_compliance_tags_version_id_column_tag"
        ),
    )


def downgrade() -> None:
    op.drop_table("dataset_compliance_tags")
    op.drop_table("dataset_check_results")
    op.drop_index("ix_dataset_check_runs_version_created", table_name="dataset_check_runs")
    op.drop_table("dataset_check_runs")
    op.drop_index("ix_dataset_lineage_child_id", table_name="dataset_lineage")
    op.drop_table("dataset_lineage")
    op.drop_index("ix_dataset_versions_project_name_created", table_name="dataset_versions")
    op.drop_table("dataset_versions")
