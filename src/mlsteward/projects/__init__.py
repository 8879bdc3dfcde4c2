"""Projects: the unit that owns a charter, datasets, runs, models and deployments."""

from mlsteward.projects._service import create_project, get_project, list_projects

__all__ = ["create_project", "get_project", "list_projects"]
