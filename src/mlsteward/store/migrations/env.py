"""Alembic environment: Steward always hands over an open connection."""

from __future__ import annotations

from alembic import context

from mlsteward.store._migrate import VERSION_TABLE
from mlsteward.store.metadata import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline SQL generation
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=Base.metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
