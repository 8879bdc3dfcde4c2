"""Registry operations against the store: resolve, list, aliases, states.

Every change is one transaction with its audit event (entity ``model:PROJECT/NAME``):
``model.create``, ``model.register``, ``model.trust`` (a pickle-based artifact trusted
explicitly), ``model.alias.set``, ``model.alias.delete``, ``model.deprecate``,
``model.retire``. Versions are numbered 1, 2, ... per model and immutable; only their
state moves, one way: ``active`` -> ``deprecated`` -> ``retired`` (or ``active`` ->
``retired``).

Retiring is refused while an endpoint routes traffic to the version (naming the endpoint:
serving unregisters it first) and while an alias points to it (naming the aliases: move
or delete them first, each with its reason), so that ``NAME@ALIAS`` never names a version
that cannot be deployed. An alias cannot be set on a retired version.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlsteward.core import (
    Conflict,
    InvalidInput,
    NotFound,
    Project,
    utcnow,
)
from mlsteward.projects import project_or_only
from mlsteward.registry._records import (
    CharterRef,
    DatasetRef,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    check_alias,
    parse_model_ref,
)
from mlsteward.registry._signature import Signature
from mlsteward.store import Store, Transaction
from mlsteward.store.metadata import (
    CharterVersionRow,
    DatasetVersionRow,
    ModelAliasRow,
    ModelVersionRow,
    RegisteredModelRow,
    SqlModelRepository,
    SqlProjectRepository,
)

__all__ = [
    "MAX_DESCRIPTION",
    "check_deployable",
    "check_reason",
    "default_project",
    "delete_alias",
    "deprecate_version",
    "entity_id",
    "get_model",
    "list_models",
    "list_versions",
    "resolve_in",
    "resolve_model",
    "retire_version",
    "set_alias",
    "set_alias_in",
    "version_record",
]

MAX_REASON = 2_000
MAX_DESCRIPTION = 10_000


def entity_id(project: str, name: str) -> str:
    """The audit trail's id of a model: ``PROJECT/NAME``."""
    return f"{project}/{name}"


def default_project(store: Store, project: str | None) -> str:
    """``project``, or the store's only project when None."""
    return project_or_only(store, project)


def check_reason(reason: object, what: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(
            f"{what} needs a reason: pass reason='...' (CLI: --reason '...'), e.g. 'best ROC "
            "AUC on the 2015 test split'. The reason is kept in the audit trail."
        )
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            f"The reason is {len(reason)} characters long; the limit is {MAX_REASON}."
        )
    return reason.strip()


# -- records ------------------------------------------------------------------------------
def _dataset_refs(session: Session, version_id: str) -> tuple[DatasetRef, ...]:
    links = SqlModelRepository(session).datasets(version_id)
    if not links:
        return ()
    rows = {
        r.id: r
        for r in session.execute(
            select(DatasetVersionRow).where(
                DatasetVersionRow.id.in_([link.dataset_version_id for link in links])
            )
        ).scalars()
    }
    out = []
    for link in links:
        row = rows[link.dataset_version_id]
        out.append(DatasetRef(row.id, row.name, row.version, link.role, row.row_count))
    out.sort(key=lambda d: (d.role not in ("training", "train"), d.role, d.name))
    return tuple(out)


def _charter_ref(session: Session, charter_id: str | None, project: str) -> CharterRef | None:
    if charter_id is None:
        return None
    row = session.get(CharterVersionRow, charter_id)
    if row is None:  # pragma: no cover - a foreign key
        return None
    return CharterRef(row.id, project, row.version, row.content_hash)


def version_record(
    session: Session, row: ModelVersionRow, model: RegisteredModelRow, project: str
) -> ModelVersion:
    """The record of a version row (aliases, datasets and charter loaded)."""
    aliases = tuple(
        a.alias
        for a in SqlModelRepository(session).aliases(model.id)
        if a.model_version_id == row.id
    )
    return ModelVersion(
        id=row.id,
        project=project,
        name=model.name,
        version=row.version,
        state=row.state,  # type: ignore[arg-type]  # constrained by the table
        state_reason=row.state_reason,
        state_changed_at=row.state_changed_at,
        flavor=row.flavor,
        format=row.format,
        artifact_digest=row.artifact_digest,
        artifact_size=row.artifact_size,
        artifact_filename=row.artifact_filename,
        model_class=row.model_class,
        trusted_types=tuple(json.loads(row.trusted_types)),
        pickle_trusted=row.pickle_trusted,
        signature=Signature.from_json(row.signature_json),
        pipeline=json.loads(row.pipeline_json),
        metrics=json.loads(row.metrics_json),
        params=json.loads(row.params_json),
        requirements=json.loads(row.requirements_json),
        meta=json.loads(row.meta_json),
        source_run_id=row.source_run_id,
        source_artifact_path=row.source_artifact_path,
        charter=_charter_ref(session, row.charter_version_id, project),
        datasets=_dataset_refs(session, row.id),
        aliases=aliases,
        description=row.description,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _model_record(session: Session, model: RegisteredModelRow, project: str) -> RegisteredModel:
    repo = SqlModelRepository(session)
    versions = repo.versions(model.id)
    numbers = {v.id: v.version for v in versions}
    states: dict[str, int] = {}
    for v in versions:
        states[v.state] = states.get(v.state, 0) + 1
    return RegisteredModel(
        id=model.id,
        project=project,
        name=model.name,
        description=model.description,
        created_at=model.created_at,
        created_by=model.created_by,
        latest_version=versions[-1].version if versions else None,
        version_count=len(versions),
        aliases={a.alias: numbers[a.model_version_id] for a in repo.aliases(model.id)},
        states=states,
    )


# -- resolution ---------------------------------------------------------------------------
def _find_model(session: Session, project: Project, name: str) -> RegisteredModelRow:
    repo = SqlModelRepository(session)
    row = repo.find_model(project.id, name)
    if row is None:
        known = [m.name for m in repo.list_models(project.id)]
        hint = f" Models in it: {', '.join(known[:20])}." if known else " It has none yet."
        raise NotFound(
            f"Model {name!r} does not exist in project {project.name!r}.{hint} Register one "
            f"with: steward models register {name} --project {project.name} --run RUN_ID"
        )
    return row


def resolve_in(
    session: Session, project: str, ref: str
) -> tuple[Project, RegisteredModelRow, ModelVersionRow]:
    """(project, model row, version row) that ``ref`` names, inside an open session."""
    parsed = parse_model_ref(ref)
    owner = SqlProjectRepository(session).get(project)
    model = _find_model(session, owner, parsed.name)
    repo = SqlModelRepository(session)
    if parsed.version is not None:
        row = repo.find_version(model.id, parsed.version)
        if row is None:
            latest = repo.latest_version(model.id)
            top = 0 if latest is None else latest.version
            raise NotFound(
                f"Model {parsed.name!r} in project {project!r} has no version "
                f"{parsed.version}; its versions are 1 to {top}. See them with: steward models "
                f"list {parsed.name} --project {project}"
            )
        return owner, model, row
    if parsed.alias == "latest":
        row = repo.latest_version(model.id)
        if row is None:  # pragma: no cover - a model is created with its first version
            raise NotFound(f"Model {parsed.name!r} in project {project!r} has no version yet.")
        return owner, model, row
    assert parsed.alias is not None
    alias = repo.find_alias(model.id, parsed.alias)
    if alias is None:
        numbers = {v.id: v.version for v in repo.versions(model.id)}
        known = [f"{a.alias} (-> {numbers[a.model_version_id]})" for a in repo.aliases(model.id)]
        listed = f" Its aliases: {', '.join(known)}." if known else " It has no alias yet."
        raise NotFound(
            f"Model {parsed.name!r} in project {project!r} has no alias {parsed.alias!r}."
            f"{listed} Set one with: steward models alias {parsed.name}@VERSION "
            f"{parsed.alias} --reason '...' --project {project}"
        )
    row = repo.version_by_id(alias.model_version_id)
    assert row is not None
    return owner, model, row


def resolve_model(store: Store, project: str | None, ref: str) -> ModelVersion:
    """The version ``ref`` names (``NAME@VERSION``, ``NAME@ALIAS``, ``NAME@latest``)."""
    project = default_project(store, project)
    with store.reader() as session:
        owner, model, row = resolve_in(session, project, ref)
        return version_record(session, row, model, owner.name)


def get_model(store: Store, project: str | None, name: str) -> RegisteredModel:
    project = default_project(store, project)
    with store.reader() as session:
        owner = SqlProjectRepository(session).get(project)
        return _model_record(session, _find_model(session, owner, name), owner.name)


def list_models(store: Store, project: str | None) -> list[RegisteredModel]:
    """Models of the project, by name."""
    project = default_project(store, project)
    with store.reader() as session:
        owner = SqlProjectRepository(session).get(project)
        rows = SqlModelRepository(session).list_models(owner.id)
        return [_model_record(session, r, owner.name) for r in rows]


def list_versions(store: Store, project: str | None, name: str) -> list[ModelVersion]:
    """Versions of a model, oldest first."""
    project = default_project(store, project)
    with store.reader() as session:
        owner = SqlProjectRepository(session).get(project)
        model = _find_model(session, owner, name)
        rows = SqlModelRepository(session).versions(model.id)
        return [version_record(session, r, model, owner.name) for r in rows]


# -- aliases ------------------------------------------------------------------------------
def set_alias_in(
    tx: Transaction,
    project: str,
    model: RegisteredModelRow,
    row: ModelVersionRow,
    alias: str,
    reason: str,
) -> ModelAlias:
    repo = SqlModelRepository(tx.session)
    repo.lock_model(model.id)
    tx.session.refresh(row)
    if row.state == "retired":
        raise Conflict(
            f"Model {model.name}@{row.version} in project {project!r} is retired; an alias "
            "cannot point to it (a retired version cannot be deployed). Choose an active "
            "version."
        )
    previous = repo.find_alias(model.id, alias)
    previous_version = None
    if previous is not None:
        old = repo.version_by_id(previous.model_version_id)
        previous_version = None if old is None else old.version
    now = utcnow()
    repo.set_alias(
        ModelAliasRow(
            model_id=model.id,
            alias=alias,
            model_version_id=row.id,
            reason=reason,
            updated_at=now,
            updated_by=tx.store.actor,
        )
    )
    tx.audit(
        "model.alias.set",
        "model",
        entity_id(project, model.name),
        {
            "alias": alias,
            "version": row.version,
            "previous_version": previous_version,
            "reason": reason,
        },
    )
    return ModelAlias(
        project, model.name, alias, row.version, reason, now, tx.store.actor, previous_version
    )


def set_alias(
    store: Store, project: str | None, ref: str, alias: str, *, reason: str
) -> ModelAlias:
    """Point ``alias`` at the version ``ref`` names (moving it if set), with a reason."""
    check_alias(alias)
    reason = check_reason(reason, f"Moving alias {alias!r}")
    project = default_project(store, project)
    with store.transaction() as tx:
        owner, model, row = resolve_in(tx.session, project, ref)
        return set_alias_in(tx, owner.name, model, row, alias, reason)


def delete_alias(
    store: Store, project: str | None, name: str, alias: str, *, reason: str
) -> ModelAlias:
    """Remove an alias (``NAME@ALIAS`` then no longer resolves); returns what it was."""
    check_alias(alias)
    reason = check_reason(reason, f"Deleting alias {alias!r}")
    project = default_project(store, project)
    with store.transaction() as tx:
        owner, model, row = resolve_in(tx.session, project, f"{parse_model_ref(name).name}@{alias}")
        SqlModelRepository(tx.session).delete_alias(model.id, alias)
        tx.audit(
            "model.alias.delete",
            "model",
            entity_id(owner.name, model.name),
            {"alias": alias, "version": row.version, "reason": reason},
        )
        return ModelAlias(
            owner.name, model.name, alias, row.version, reason, utcnow(), store.actor, row.version
        )


# -- states -------------------------------------------------------------------------------
def deprecate_version(store: Store, project: str | None, ref: str, *, reason: str) -> ModelVersion:
    """Mark a version deprecated: still loadable and deployable, flagged as on its way out.
    A deprecated version stays as is; a retired one cannot be deprecated."""
    reason = check_reason(reason, f"Deprecating {ref}")
    project = default_project(store, project)
    with store.transaction() as tx:
        owner, model, row = resolve_in(tx.session, project, ref)
        repo = SqlModelRepository(tx.session)
        repo.lock_model(model.id)
        tx.session.refresh(row)
        if row.state == "retired":
            raise Conflict(
                f"Model {model.name}@{row.version} in project {project!r} is already retired "
                f"({row.state_reason}); retirement is final."
            )
        if row.state == "active":
            repo.set_state(row.id, "deprecated", reason, utcnow(), store.actor)
            tx.audit(
                "model.deprecate",
                "model",
                entity_id(owner.name, model.name),
                {"version": row.version, "reason": reason},
            )
        return version_record(tx.session, row, model, owner.name)


def retire_version(store: Store, project: str | None, ref: str, *, reason: str) -> ModelVersion:
    """Retire a version: it can no longer be deployed or aliased (final).

    Refused while an endpoint routes traffic to it (naming the endpoints) or an alias
    points to it (naming the aliases)."""
    reason = check_reason(reason, f"Retiring {ref}")
    project = default_project(store, project)
    with store.transaction() as tx:
        owner, model, row = resolve_in(tx.session, project, ref)
        repo = SqlModelRepository(tx.session)
        repo.lock_model(model.id)
        tx.session.refresh(row)
        label = f"{model.name}@{row.version}"
        if row.state == "retired":
            return version_record(tx.session, row, model, owner.name)
        routes = repo.routes(version_id=row.id)
        if routes:
            listed = ", ".join(
                f"endpoint {r.endpoint!r} ({r.mode}, weight {r.weight:g})" for r in routes
            )
            raise Conflict(
                f"Cannot retire model {label} of project {project!r}: {listed} still routes "
                f"traffic to it. Shift the traffic to another version and remove {label} from "
                "the endpoint first (steward deploy / steward rollout), then retire it."
            )
        aliases = [a.alias for a in repo.aliases(model.id) if a.model_version_id == row.id]
        if aliases:
            raise Conflict(
                f"Cannot retire model {label} of project {project!r}: the alias(es) "
                f"{', '.join(aliases)} point to it. Move them to another version (steward "
                f"models alias {model.name}@VERSION {aliases[0]} --reason '...') or delete them "
                f"(steward models alias {model.name} {aliases[0]} --delete --reason '...') first."
            )
        previous_state = row.state
        repo.set_state(row.id, "retired", reason, utcnow(), store.actor)
        tx.audit(
            "model.retire",
            "model",
            entity_id(owner.name, model.name),
            {"version": row.version, "previous_state": previous_state, "reason": reason},
        )
        tx.session.refresh(row)
        return version_record(tx.session, row, model, owner.name)


def check_deployable(store: Store, project: str | None, ref: str) -> ModelVersion:
    """The version ``ref`` names, or :class:`Conflict` when it is retired.

    Serving calls this before deploying; a deprecated version is deployable (its
    ``state`` says so, for a warning)."""
    version = resolve_model(store, project, ref)
    if version.state == "retired":
        raise Conflict(
            f"Model {version.ref} of project {version.project!r} is retired "
            f"({version.state_reason}) and cannot be deployed. Deploy an active version "
            f"(steward models list {version.name} --project {version.project})."
        )
    return version
