"""Registry: registered models, versions, aliases, routes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlsteward.store.metadata import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registered_models"),
        _fk("registered_models", "project_id", "projects"),
        sa.UniqueConstraint("project_id", "name", name="uq_registered_models_project_id_name"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("state_changed_at", UTCDateTime(), nullable=True),
        sa.Column("state_changed_by", sa.String(200), nullable=True),
        sa.Column("flavor", sa.String(20), nullable=False),
        sa.Column("format", sa.String(30), nullable=False),
        sa.Column("artifact_digest", sa.String(71), nullable=False),
        sa.Column("artifact_size", sa.BigInteger(), nullable=False),
        sa.Column("artifact_filename", sa.String(200), nullable=False),
        sa.Column("model_class", sa.String(300), nullable=False),
        sa.Column("trusted_types", sa.Text(), nullable=False),
        sa.Column("pickle_trusted", sa.Boolean(), nullable=False),
        sa.Column("signature_json", sa.Text(), nullable=False),
        sa.Column("pipeline_json", sa.Text(), nullable=False),
        sa.Column("metrics_json", sa.Text(), nullable=False),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("requirements_json", sa.Text(), nullable=False),
        sa.Column("meta_json", sa.Text(), nullable=False),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("source_artifact_path", sa.String(500), nullable=True),
        sa.Column("charter_version_id", sa.String(32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        _fk("model_versions", "model_id", "registered_models"),
        _fk("model_versions", "source_run_id", "runs"),
        _fk("model_versions", "charter_version_id", "charter_versions"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
        sa.CheckConstraint("version >= 1", name="ck_model_versions_version_positive"),
        sa.CheckConstraint(
            "state IN ('active', 'deprecated', 'retired')", name="ck_model_versions_state_known"
        ),
    )
    op.create_index("ix_model_versions_source_run_id", "model_versions", ["source_run_id"])
    op.create_index("ix_model_versions_artifact_digest", "model_versions", ["artifact_digest"])
    op.create_table(
        "model_version_datasets",
        sa.Column("model_version_id", sa.String(32), nullable=False),
        sa.Column("dataset_version_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(63), nullable=False),
        sa.PrimaryKeyConstraint(
            "model_version_id", "dataset_version_id", "role", name="pk_model_version_datasets"
        ),
        _fk("model_version_datasets", "model_version_id", "model_versions"),
        _fk("model_version_datasets", "dataset_version_id", "dataset_versions"),
    )
    op.create_index(
        "ix_model_version_datasets_dataset_version_id",
        "model_version_datasets",
        ["dataset_version_id"],
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(63), nullable=False),
        sa.Column("model_version_id", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "alias", name="pk_model_aliases"),
        _fk("model_aliases", "model_id", "registered_models"),
        _fk("model_aliases", "model_version_id", "model_versions"),
    )
    op.create_index("ix_model_aliases_model_version_id", "model_aliases", ["model_version_id"])
    op.create_table(
        "model_routes",
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(63), nullable=False),
        sa.Column("model_version_id", sa.String(32), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "endpoint", "model_version_id", name="pk_model_routes"
        ),
        _fk("model_routes", "project_id", "projects"),
        _fk("model_routes", "model_version_id", "model_versions"),
        sa.CheckConstraint("weight >= 0", name="ck_model_routes_weight_not_negative"),
    )
    op.create_index("ix_model_routes_model_version_id", "model_routes", ["model_version_id"])


def downgrade() -> None:
    op.drop_index("ix_model_routes_model_version_id", table_name="model_routes")
    op.drop_table("model_routes")
    op.drop_index("ix_model_aliases_model_version_id", table_name="model_aliases")
    op.drop_table("model_aliases")
    op.drop_index(
        "ix_model_version_datasets_dataset_version_id", table_name="model_version_datasets"
    )
    op.drop_table("model_version_datasets")
    op.drop_index("ix_model_versions_artifact_digest", table_name="model_versions")
    op.drop_index("ix_model_versions_source_run_id", table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
