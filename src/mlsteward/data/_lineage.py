"""Lineage: where a version came from (parents, recursively) and what was made from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy.orm import Session

from mlsteward.data._records import DatasetVersion, LineageEdge, LineageNode
from mlsteward.data._versions import resolve_in, to_record
from mlsteward.store import Store
from mlsteward.store.metadata import ProjectRow, SqlDatasetRepository

__all__ = ["MAX_DEPTH", "Lineage", "dataset_lineage", "lineage_edges"]

MAX_DEPTH: Final = 20


@dataclass(frozen=True)
class Lineage:
    """A version with its ancestors (``parents``, each with their parents) and descendants
    (``children``, each with their children), up to a depth."""

    version: DatasetVersion
    parents: tuple[LineageNode, ...]
    children: tuple[LineageNode, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.version.ref,
            "role": self.version.role,
            "rows": self.version.row_count,
            "parents": [p.to_dict() for p in self.parents],
            "children": [c.to_dict() for c in self.children],
        }


def _walk(
    session: Session,
    version_id: str,
    direction: Literal["parents", "children"],
    depth: int,
    seen: frozenset[str],
) -> tuple[LineageNode, ...]:
    if depth <= 0:
        return ()
    repo = SqlDatasetRepository(session)
    edges = (
        repo.edges(child_id=version_id)
        if direction == "parents"
        else repo.edges(parent_id=version_id)
    )
    nodes = []
    for edge in edges:
        other_id = edge.parent_id if direction == "parents" else edge.child_id
        if other_id in seen:  # lineage is acyclic by construction; guard anyway
            continue
        row = repo.get_version(other_id)
        if row is None:
            continue
        project = session.get(ProjectRow, row.project_id)
        assert project is not None
        nodes.append(
            LineageNode(
                version=to_record(session, row, project.name),
                method=edge.method,
                params=json.loads(edge.params_json),
                children=_walk(session, other_id, direction, depth - 1, seen | {other_id}),
            )
        )
    return tuple(nodes)


def dataset_lineage(
    store: Store, project: str, ref: str | DatasetVersion, *, depth: int = MAX_DEPTH
) -> Lineage:
    """The lineage of a version: ancestors and descendants up to ``depth`` levels.

    In ``parents`` a node's ``children`` are *its* parents (the tree grows away from the
    version in both directions); ``method``/``params`` describe the edge to the node.
    """
    with store.reader() as session:
        version = resolve_in(session, project, ref)
        start = frozenset({version.id})
        return Lineage(
            version,
            _walk(session, version.id, "parents", depth, start),
            _walk(session, version.id, "children", depth, start),
        )


def lineage_edges(store: Store, project: str, ref: str | DatasetVersion) -> list[LineageEdge]:
    """The direct edges of a version (to its parents and to its children)."""
    with store.reader() as session:
        version = resolve_in(session, project, ref)
        repo = SqlDatasetRepository(session)
        edges = []
        for row in [*repo.edges(child_id=version.id), *repo.edges(parent_id=version.id)]:
            parent, child = repo.get_version(row.parent_id), repo.get_version(row.child_id)
            assert parent is not None and child is not None
            edges.append(
                LineageEdge.from_row(
                    row, f"{parent.name}@{parent.version}", f"{child.name}@{child.version}"
                )
            )
        return edges
