"""Project operations: validated, audited, one transaction each."""

from __future__ import annotations

from mlsteward.core import InvalidInput, Project, new_id, utcnow, validate_name
from mlsteward.store import Store

__all__ = ["create_project", "get_project", "list_projects", "only_project_name", "project_or_only"]

MAX_DESCRIPTION = 10_000


def create_project(store: Store, name: str, description: str = "") -> Project:
    """Create a project. Raises AlreadyExists for a taken name, InvalidInput for a bad one."""
    validate_name("project", name)
    if not isinstance(description, str):
        raise InvalidInput(f"Project description must be text, got {type(description).__name__}.")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"Project description is {len(description)} characters long; "
            f"the limit is {MAX_DESCRIPTION}. Shorten it."
        )
    project = Project(
        id=new_id(),
        name=name,
        description=description,
        created_at=utcnow(),
        created_by=store.actor,
    )
    with store.transaction() as tx:
        tx.projects.add(project)
        tx.audit("project.create", "project", name, project.to_dict())
    return project


def get_project(store: Store, name: str) -> Project:
    """The project called ``name``; NotFound (with the known names) otherwise."""
    from mlsteward.store.metadata import SqlProjectRepository

    with store.reader() as session:
        return SqlProjectRepository(session).get(name)


def list_projects(store: Store) -> list[Project]:
    from mlsteward.store.metadata import SqlProjectRepository

    with store.reader() as session:
        return SqlProjectRepository(session).list()


def only_project_name(names: list[str], project: str | None) -> str:
    """``project``, or the only name of ``names`` (the store's projects) when None; an
    error saying which to pass otherwise."""
    if project is not None:
        return project
    if len(names) == 1:
        return names[0]
    known = f" Projects: {', '.join(names[:20])}." if names else " There is no project yet."
    raise InvalidInput(
        f"Which project? The store has {len(names)} projects; pass project=NAME "
        f"(CLI: --project NAME).{known}"
    )


def project_or_only(store: Store, project: str | None) -> str:
    """``project``, or the store's only project when None."""
    if project is not None:
        return project
    return only_project_name([p.name for p in list_projects(store)], None)
