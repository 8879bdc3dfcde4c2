"""Projects: the unit that owns a charter, datasets, runs, models and deployments."""

from mlsteward.projects._service import (
    create_project,
    get_project,
    list_projects,
    only_project_name,
    project_or_only,
)

__all__ = [
    "create_project",
    "get_project",
    "list_projects",
    "only_project_name",
    "project_or_only",
]
