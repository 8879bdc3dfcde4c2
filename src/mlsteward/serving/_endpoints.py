"""Endpoints and deployments in the store: deploy a model version with a strategy.

``deploy(store, "acs@3", "acs-prod", strategy="canary")`` checks that the version may be
deployed (not retired; its latest evaluation did not fail a required gate, unless an
override reason is given), creates the endpoint on first use, records a deployment and
sets the endpoint's routes with the registry (so that the registry refuses to retire a
routed version), all in one transaction with its audit events:

============  =================================================================
strategy      routes right after ``deploy``
============  =================================================================
direct        the candidate takes 100 % (the previous versions leave the endpoint)
canary        the candidate takes the first step (5 %), the baseline the rest
blue-green    the candidate takes 100 %, the baseline stays routed at 0 % (standby)
shadow        the baseline keeps 100 %; the candidate gets a copy of every request
============  =================================================================

The rollout then moves on in the model server (``_rollout``) or by hand
(``steward rollout promote|rollback``). Every route change bumps the endpoint's
``routes_version``, which model servers poll.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from mlsteward.charter import CharterVersion, list_charters
from mlsteward.core import Conflict, InvalidInput, NotFound, new_id, utcnow, validate_name
from mlsteward.registry import RouteSpec, check_deployable, list_routes, set_routes
from mlsteward.serving._gatecheck import check_evaluation
from mlsteward.serving._records import (
    STRATEGIES,
    Deployment,
    Endpoint,
    Guardrails,
    RolloutEvent,
    Strategy,
)
from mlsteward.store import Store, Transaction
from mlsteward.store.metadata import (
    DeploymentRow,
    EndpointRow,
    ModelRouteRow,
    ModelVersionRow,
    RegisteredModelRow,
    RolloutEventRow,
    SqlModelRepository,
    SqlProjectRepository,
    SqlServingRepository,
)

__all__ = [
    "apply_routes",
    "deploy",
    "deployment_record",
    "get_deployment",
    "get_endpoint",
    "list_endpoints",
    "parse_duration",
    "resolve_guardrails",
    "version_ref",
]

DEFAULT_STEPS = (5, 25, 50, 100)
DEFAULT_MIN_REQUESTS = 500
DEFAULT_MIN_DURATION_S = 600.0
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: str | float | int) -> float:
    """Seconds in a duration: ``30`` / ``"30s"``, ``"10m"``, ``"2h"``, ``"1d"``, ``"1w"``.

    >>> parse_duration("10m"), parse_duration(2.5)
    (600.0, 2.5)
    """
    if isinstance(value, bool):
        raise InvalidInput(f"A duration is a number of seconds or text like 10m, got {value!r}.")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise InvalidInput(
                f"Invalid duration {value!r}: expected a number and a unit among s, m, h, d, "
                "w (e.g. 30s, 10m, 2h)."
            )
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds < 0:
        raise InvalidInput(f"A duration cannot be negative, got {value!r}.")
    return seconds


def version_ref(session: Session, version_id: str) -> str:
    """``name@version`` of a model version id."""
    row = session.get(ModelVersionRow, version_id)
    if row is None:  # pragma: no cover - foreign keys
        raise NotFound(f"No model version has the id {version_id!r}.")
    model = session.get(RegisteredModelRow, row.model_id)
    assert model is not None
    return f"{model.name}@{row.version}"


def _latest_charter(store: Store, project: str) -> CharterVersion | None:
    charters = list_charters(store, project)
    return charters[-1] if charters else None


def resolve_guardrails(
    charter: CharterVersion | None, overrides: Mapping[str, Any] | None = None
) -> Guardrails:
    """Guardrails from the charter's constraints and drift settings, then ``overrides``."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if charter is not None:
        doc = charter.charter
        cite = f"charter {charter.ref}"
        if doc.constraints.max_error_rate is not None:
            values["max_error_rate"] = float(doc.constraints.max_error_rate)
            sources["max_error_rate"] = f"{cite} constraints.max_error_rate"
        for name in ("latency_p95_ms", "latency_p99_ms"):
            bound = getattr(doc.constraints, name)
            if bound is not None:
                values[name] = float(bound)
                sources[name] = f"{cite} constraints.{name}"
        values["max_score_psi"] = float(doc.monitoring.drift.psi)
        sources["max_score_psi"] = f"{cite} monitoring.drift.psi"
    for key, value in (overrides or {}).items():
        values[key] = value
        sources[key] = "override"
    return Guardrails.from_dict({**values, "sources": sources})


# -- records ------------------------------------------------------------------------------
def _event(row: RolloutEventRow) -> RolloutEvent:
    return RolloutEvent(
        seq=row.seq,
        time=row.time,
        action=row.action,
        from_weight=row.from_weight,
        to_weight=row.to_weight,
        reason=row.reason,
        measurements=json.loads(row.measurements_json),
        actor=row.actor,
    )


def deployment_record(session: Session, row: DeploymentRow, *, events: bool = True) -> Deployment:
    repo = SqlServingRepository(session)
    endpoint = repo.endpoint_by_id(row.endpoint_id)
    assert endpoint is not None
    project = SqlProjectRepository(session).list()
    project_name = next(p.name for p in project if p.id == endpoint.project_id)
    return Deployment(
        id=row.id,
        endpoint=endpoint.name,
        project=project_name,
        number=row.number,
        model=version_ref(session, row.model_version_id),
        model_version_id=row.model_version_id,
        baseline=None
        if row.baseline_version_id is None
        else version_ref(session, row.baseline_version_id),
        baseline_version_id=row.baseline_version_id,
        strategy=row.strategy,  # type: ignore[arg-type]  # constrained by the table
        state=row.state,  # type: ignore[arg-type]  # constrained by the table
        step=row.step,
        steps=tuple(json.loads(row.steps_json)),
        weight=row.weight,
        min_requests=row.min_requests,
        min_duration_s=row.min_duration_s,
        auto_rollback=row.auto_rollback,
        guardrails=Guardrails.from_dict(json.loads(row.guardrails_json)),
        evaluation=json.loads(row.evaluation_json),
        override_reason=row.override_reason,
        reason=row.reason,
        step_started_at=row.step_started_at,
        revision=row.revision,
        created_at=row.created_at,
        created_by=row.created_by,
        finished_at=row.finished_at,
        events=tuple(_event(e) for e in repo.events(row.id)) if events else (),
    )


def _find_endpoint(session: Session, name: str) -> EndpointRow:
    validate_name("endpoint", name)
    repo = SqlServingRepository(session)
    row = repo.find_endpoint(name)
    if row is None:
        known = [e.name for e in repo.list_endpoints()]
        hint = f" Endpoints: {', '.join(known[:20])}." if known else " There is none yet."
        raise NotFound(
            f"Endpoint {name!r} does not exist.{hint} Create it by deploying a model: "
            f"steward deploy NAME@VERSION --endpoint {name} --project PROJECT"
        )
    return row


def get_endpoint(store: Store, name: str) -> Endpoint:
    """The endpoint ``name`` with its routes and its latest deployment."""
    with store.reader() as session:
        row = _find_endpoint(session, name)
        project = next(p for p in SqlProjectRepository(session).list() if p.id == row.project_id)
        deployments = SqlServingRepository(session).deployments(row.id)
        latest = deployment_record(session, deployments[-1]) if deployments else None
        record = Endpoint(
            id=row.id,
            name=row.name,
            project=project.name,
            description=row.description,
            routes_version=row.routes_version,
            routes=(),
            created_at=row.created_at,
            created_by=row.created_by,
            deployment=latest,
        )
    routes = tuple(list_routes(store, project.name, endpoint=name))
    return replace(record, routes=routes)


def list_endpoints(store: Store, project: str | None = None) -> list[Endpoint]:
    """Endpoints (of ``project`` when given), by name."""
    with store.reader() as session:
        project_id = None
        if project is not None:
            project_id = SqlProjectRepository(session).get(project).id
        names = [r.name for r in SqlServingRepository(session).list_endpoints(project_id)]
    return [get_endpoint(store, name) for name in names]


def get_deployment(store: Store, endpoint: str, number: int | None = None) -> Deployment:
    """A deployment of ``endpoint`` (the latest by default), with its events."""
    with store.reader() as session:
        row = _find_endpoint(session, endpoint)
        rows = SqlServingRepository(session).deployments(row.id)
        if not rows:
            raise NotFound(
                f"Endpoint {endpoint!r} has no deployment yet. Deploy a model with: "
                f"steward deploy NAME@VERSION --endpoint {endpoint}"
            )
        if number is None:
            return deployment_record(session, rows[-1])
        for item in rows:
            if item.number == number:
                return deployment_record(session, item)
        raise NotFound(
            f"Endpoint {endpoint!r} has no deployment #{number}; its deployments are 1 to "
            f"{rows[-1].number}."
        )


# -- routes -------------------------------------------------------------------------------
def apply_routes(
    tx: Transaction,
    endpoint: EndpointRow,
    project: str,
    routes: Sequence[tuple[str, float, str]],
) -> None:
    """Replace the endpoint's routes with ``(version id, weight %, mode)`` triples (through
    the registry, audited there) and bump its ``routes_version``."""
    specs = [RouteSpec(version_ref(tx.session, vid), weight, mode) for vid, weight, mode in routes]
    set_routes(tx, project, endpoint.name, specs)
    SqlServingRepository(tx.session).bump_routes_version(endpoint.id, utcnow())


def _live_baseline(routes: Sequence[ModelRouteRow]) -> str | None:
    live = [r for r in routes if r.mode == "live" and r.weight > 0]
    if not live:
        return None
    return max(live, key=lambda r: (r.weight, r.registered_at)).model_version_id


def _check_strategy(strategy: object) -> Strategy:
    if strategy not in STRATEGIES:
        raise InvalidInput(
            f"Unknown rollout strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}."
        )
    return strategy


def _check_steps(steps: Sequence[int]) -> tuple[int, ...]:
    values = tuple(steps)
    ok = (
        bool(values)
        and all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 100 for s in values)
        and all(b > a for a, b in itertools.pairwise(values))
        and values[-1] == 100
    )
    if not ok:
        raise InvalidInput(
            f"Invalid canary steps {list(values)}: expected increasing traffic percentages "
            "from 1 to 100 ending at 100, e.g. 5,25,50,100."
        )
    return values


def _project_for(store: Store, project: str | None, endpoint: str) -> str:
    with store.reader() as session:
        existing = SqlServingRepository(session).find_endpoint(endpoint)
        projects = SqlProjectRepository(session).list()
    if existing is not None:
        owner = next(p.name for p in projects if p.id == existing.project_id)
        if project is not None and project != owner:
            raise Conflict(
                f"Endpoint {endpoint!r} belongs to project {owner!r}, not {project!r}. "
                "Endpoint names are unique in a store: choose another endpoint name."
            )
        return owner
    if project is not None:
        return project
    if len(projects) == 1:
        return projects[0].name
    names = ", ".join(p.name for p in projects[:20]) or "none yet"
    raise InvalidInput(
        f"Which project does the new endpoint {endpoint!r} belong to? Pass --project NAME "
        f"(project=NAME). Projects: {names}."
    )


def deploy(
    store: Store,
    ref: str,
    endpoint: str,
    *,
    project: str | None = None,
    strategy: Strategy | None = None,
    override_reason: str | None = None,
    steps: Sequence[int] | None = None,
    min_requests: int | None = None,
    min_duration: str | float | None = None,
    guardrails: Mapping[str, Any] | None = None,
    auto_rollback: bool | None = None,
    description: str = "",
) -> Deployment:
    """Deploy the version ``ref`` to ``endpoint`` (see the module docstring).

    Defaults come from the project's charter (``rollout``: strategy, steps, minimum
    requests and duration per step, auto rollback; guardrails from its constraints);
    without a charter: canary steps 5, 25, 50, 100, 500 requests and 10 minutes per step.
    When the strategy is not given and the endpoint serves nothing yet, it is ``direct``.
    """
    validate_name("endpoint", endpoint)
    project = _project_for(store, project, endpoint)
    version = check_deployable(store, project, ref)
    evaluation = check_evaluation(store, version, endpoint, override_reason)
    charter = _latest_charter(store, project)
    rollout = charter.charter.rollout if charter is not None else None
    explicit = strategy is not None
    chosen: Strategy = _check_strategy(strategy) if strategy is not None else "canary"
    if strategy is None and rollout is not None:
        chosen = _check_strategy(rollout.strategy)
    if steps is not None:
        chosen_steps = _check_steps(steps)
    elif rollout is not None and rollout.steps is not None:
        chosen_steps = _check_steps(rollout.steps)
    else:
        chosen_steps = DEFAULT_STEPS
    requests = (
        min_requests
        if min_requests is not None
        else (rollout.min_requests_per_step if rollout is not None else DEFAULT_MIN_REQUESTS)
    )
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
        raise InvalidInput(f"min_requests is a whole number >= 1, got {requests!r}.")
    duration = parse_duration(
        min_duration
        if min_duration is not None
        else (rollout.min_duration_per_step if rollout is not None else DEFAULT_MIN_DURATION_S)
    )
    auto = (
        auto_rollback
        if auto_rollback is not None
        else (rollout.auto_rollback if rollout is not None else True)
    )
    rails = resolve_guardrails(charter, guardrails)
    now = utcnow()
    with store.transaction() as tx:
        repo = SqlServingRepository(tx.session)
        owner = tx.projects.get(project)
        row = repo.find_endpoint(endpoint)
        if row is None:
            row = EndpointRow(
                id=new_id(),
                project_id=owner.id,
                name=endpoint,
                description=description,
                routes_version=0,
                created_at=now,
                created_by=store.actor,
                updated_at=now,
            )
            repo.add_endpoint(row)
            tx.audit("serving.endpoint.create", "endpoint", endpoint, {"project": project})
        running = repo.running_deployment(row.id)
        if running is not None:
            current = deployment_record(tx.session, running, events=False)
            raise Conflict(
                f"Endpoint {endpoint!r} has a rollout in progress ({current.describe()}). "
                f"Finish it first: steward rollout promote {endpoint} (or rollback "
                f"{endpoint}), then deploy {version.ref}."
            )
        routes = SqlModelRepository(tx.session).routes(owner.id, endpoint)
        baseline = _live_baseline(routes)
        if baseline == version.id:
            raise Conflict(
                f"Endpoint {endpoint!r} already sends its traffic to {version.ref}; nothing "
                "to deploy. Deploy another version, or see: steward endpoints show "
                f"{endpoint}"
            )
        if baseline is None and chosen != "direct":
            if explicit:
                raise InvalidInput(
                    f"Endpoint {endpoint!r} serves no model yet, so a {chosen} rollout has "
                    f"nothing to compare {version.ref} with. Deploy it with --strategy "
                    "direct first."
                )
            chosen = "direct"
        step = -1
        weight = 100.0
        state = "running"
        if chosen == "direct":
            plan = [(version.id, 100.0, "live")]
            state = "promoted"
        elif chosen == "canary":
            step, weight = 0, float(chosen_steps[0])
            assert baseline is not None
            plan = [(baseline, 100.0 - weight, "live"), (version.id, weight, "live")]
        elif chosen == "blue-green":
            assert baseline is not None
            plan = [(version.id, 100.0, "live"), (baseline, 0.0, "standby")]
        else:
            weight = 0.0
            assert baseline is not None
            plan = [(baseline, 100.0, "live"), (version.id, 100.0, "shadow")]
        apply_routes(
            tx,
            row,
            project,
            [(vid, w, "live" if mode == "standby" else mode) for vid, w, mode in plan],
        )
        deployment = repo.add_deployment(
            DeploymentRow(
                id=new_id(),
                endpoint_id=row.id,
                number=0,
                model_version_id=version.id,
                baseline_version_id=baseline,
                strategy=chosen,
                state=state,
                step=step,
                weight=weight,
                steps_json=json.dumps(list(chosen_steps) if chosen == "canary" else []),
                min_requests=requests,
                min_duration_s=duration,
                auto_rollback=bool(auto),
                guardrails_json=json.dumps(rails.to_dict(), sort_keys=True),
                evaluation_json=json.dumps(evaluation.to_dict(), sort_keys=True),
                override_reason=override_reason.strip() if override_reason else None,
                reason=None,
                step_started_at=now,
                revision=0,
                created_at=now,
                created_by=store.actor,
                finished_at=now if state == "promoted" else None,
            )
        )
        baseline_ref = None if baseline is None else version_ref(tx.session, baseline)
        summary = {
            "model": version.ref,
            "project": project,
            "deployment": deployment.number,
            "strategy": chosen,
            "baseline": baseline_ref,
            "routes": [
                {"model": version_ref(tx.session, vid), "weight": w, "mode": mode}
                for vid, w, mode in plan
            ],
            "evaluation": evaluation.to_dict(),
        }
        repo.add_event(
            RolloutEventRow(
                id=new_id(),
                deployment_id=deployment.id,
                seq=0,
                time=now,
                action="start" if state == "running" else "direct",
                from_weight=0.0,
                to_weight=weight,
                reason=f"deployed {version.ref} ({chosen})"
                + (f" against {baseline_ref}" if baseline_ref else ""),
                measurements_json=json.dumps({}),
                actor=store.actor,
            )
        )
        tx.audit("serving.deploy", "endpoint", endpoint, summary)
        if override_reason is not None:
            tx.audit(
                "serving.deploy.override",
                "endpoint",
                endpoint,
                {
                    "model": version.ref,
                    "evaluation": evaluation.to_dict(),
                    "override_reason": override_reason.strip(),
                },
            )
        return deployment_record(tx.session, deployment)
