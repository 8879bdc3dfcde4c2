"""Routes: which endpoints send traffic to which model versions (the API serving calls).

Serving registers a route when an endpoint starts sending traffic to a version (live, or
a shadow copy) and unregisters it when the version leaves the endpoint. The registry uses
routes to refuse retiring a version that an endpoint still routes traffic to, naming the
endpoint. A route registered with weight 0 still counts: the endpoint keeps the version
ready (a blue-green standby, a rollback target) until serving unregisters it.

Every function takes a :class:`Store` (one transaction of its own) or an open
:class:`Transaction`, so that serving can record a deployment and its routes together.
Each change is audited on the model (``model.route.register`` /
``model.route.unregister``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session

from mlsteward.core import Conflict, InvalidInput, utcnow, validate_name
from mlsteward.registry._records import Route
from mlsteward.registry._service import entity_id, resolve_in
from mlsteward.store import Store, Transaction
from mlsteward.store.metadata import (
    ModelRouteRow,
    ModelVersionRow,
    RegisteredModelRow,
    SqlModelRepository,
    SqlProjectRepository,
)

__all__ = [
    "ROUTE_MODES",
    "RouteSpec",
    "list_routes",
    "register_route",
    "set_routes",
    "unregister_route",
]

ROUTE_MODES: Final = ("live", "shadow")


@dataclass(frozen=True)
class RouteSpec:
    """A route to set: the model reference, its weight and mode."""

    ref: str
    weight: float = 1.0
    mode: str = "live"


@contextmanager
def _unit(target: Store | Transaction) -> Iterator[Transaction]:
    if isinstance(target, Transaction):
        yield target
        return
    with target.transaction() as tx:
        yield tx


def _check(endpoint: str, weight: float, mode: str) -> None:
    validate_name("endpoint", endpoint)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise InvalidInput(f"A route weight is a finite number >= 0, got {weight!r}.")
    if weight < 0:
        raise InvalidInput(f"A route weight is a number >= 0, got {weight!r}.")
    if mode not in ROUTE_MODES:
        raise InvalidInput(f"Invalid route mode {mode!r}: expected 'live' or 'shadow'.")


def _record(
    session: Session, row: ModelRouteRow, project: str, names: dict[str, tuple[str, int]]
) -> Route:
    if row.model_version_id not in names:
        version = session.get(ModelVersionRow, row.model_version_id)
        assert version is not None
        model = session.get(RegisteredModelRow, version.model_id)
        assert model is not None
        names[row.model_version_id] = (model.name, version.version)
    name, number = names[row.model_version_id]
    return Route(
        project=project,
        endpoint=row.endpoint,
        name=name,
        version=number,
        model_version_id=row.model_version_id,
        weight=row.weight,
        mode=row.mode,
        registered_at=row.registered_at,
        registered_by=row.registered_by,
    )


def _register(tx: Transaction, project: str, endpoint: str, spec: RouteSpec) -> Route:
    _check(endpoint, spec.weight, spec.mode)
    owner, model, version = resolve_in(tx.session, project, spec.ref)
    repo = SqlModelRepository(tx.session)
    repo.lock_model(model.id)
    tx.session.refresh(version)
    label = f"{model.name}@{version.version}"
    if version.state == "retired":
        raise Conflict(
            f"Cannot route endpoint {endpoint!r} to model {label} of project {project!r}: it is "
            f"retired ({version.state_reason}). Route to an active version."
        )
    repo.delete_routes(owner.id, endpoint, version.id)
    row = ModelRouteRow(
        project_id=owner.id,
        endpoint=endpoint,
        model_version_id=version.id,
        weight=float(spec.weight),
        mode=spec.mode,
        registered_at=utcnow(),
        registered_by=tx.store.actor,
    )
    repo.add_route(row)
    tx.audit(
        "model.route.register",
        "model",
        entity_id(owner.name, model.name),
        {
            "version": version.version,
            "endpoint": endpoint,
            "weight": float(spec.weight),
            "mode": spec.mode,
        },
    )
    return _record(tx.session, row, owner.name, {version.id: (model.name, version.version)})


def register_route(
    target: Store | Transaction,
    project: str,
    endpoint: str,
    ref: str,
    *,
    weight: float = 1.0,
    mode: str = "live",
) -> Route:
    """Record that ``endpoint`` sends traffic to the version ``ref`` names (replacing the
    weight and mode of an existing route). Refused for a retired version."""
    with _unit(target) as tx:
        return _register(tx, project, endpoint, RouteSpec(ref, weight, mode))


def _unregister(tx: Transaction, project: str, endpoint: str, ref: str | None) -> int:
    validate_name("endpoint", endpoint)
    owner = SqlProjectRepository(tx.session).get(project)
    repo = SqlModelRepository(tx.session)
    version_id = None
    if ref is not None:
        _, _, version = resolve_in(tx.session, project, ref)
        version_id = version.id
    routes = repo.routes(owner.id, endpoint, version_id)
    names: dict[str, tuple[str, int]] = {}
    records = [_record(tx.session, r, owner.name, names) for r in routes]
    removed = repo.delete_routes(owner.id, endpoint, version_id)
    for route in records:
        tx.audit(
            "model.route.unregister",
            "model",
            entity_id(owner.name, route.name),
            {"version": route.version, "endpoint": endpoint},
        )
    return removed


def unregister_route(
    target: Store | Transaction, project: str, endpoint: str, ref: str | None = None
) -> int:
    """Remove the endpoint's route to ``ref`` (every route of the endpoint when None);
    return how many were removed."""
    with _unit(target) as tx:
        return _unregister(tx, project, endpoint, ref)


def set_routes(
    target: Store | Transaction,
    project: str,
    endpoint: str,
    routes: Sequence[RouteSpec] | Mapping[str, float],
) -> list[Route]:
    """Replace every route of ``endpoint`` with ``routes`` (``{ref: weight}`` for live
    routes, or RouteSpecs), in one transaction: either all are set or none."""
    specs = (
        [RouteSpec(ref, weight) for ref, weight in routes.items()]
        if isinstance(routes, Mapping)
        else list(routes)
    )
    with _unit(target) as tx:
        _unregister(tx, project, endpoint, None)
        return [_register(tx, project, endpoint, spec) for spec in specs]


def list_routes(
    store: Store,
    project: str | None = None,
    *,
    endpoint: str | None = None,
    ref: str | None = None,
) -> list[Route]:
    """Routes (of a project, an endpoint, or to one version), by endpoint."""
    if ref is not None and project is None:
        raise InvalidInput("Listing the routes to a model version needs its project.")
    with store.reader() as session:
        projects = {p.id: p.name for p in SqlProjectRepository(session).list()}
        project_id = None
        version_id = None
        if project is not None:
            project_id = SqlProjectRepository(session).get(project).id
        if ref is not None and project is not None:
            _, _, version = resolve_in(session, project, ref)
            version_id = version.id
        rows = SqlModelRepository(session).routes(project_id, endpoint, version_id)
        names: dict[str, tuple[str, int]] = {}
        return [_record(session, r, projects[r.project_id], names) for r in rows]
