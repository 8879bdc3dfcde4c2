"""Metadata tables and repositories (SQLAlchemy 2). Each aggregate has its own module."""

from mlsteward.store.metadata._audit import AuditEventRow, AuditHeadRow
from mlsteward.store.metadata._base import Base, UTCDateTime
from mlsteward.store.metadata._projects import (
    ProjectRepository,
    ProjectRow,
    SqlProjectRepository,
)

__all__ = [
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "ProjectRepository",
    "ProjectRow",
    "SqlProjectRepository",
    "UTCDateTime",
]
