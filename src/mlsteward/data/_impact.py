"""Impact: what was built on a dataset version, in one answer.

From a version, :func:`dataset_impact` walks downstream through every record that names
it: derived versions (lineage children, recursively), runs that read it or a derived
version, model versions made from those versions or runs (with state, aliases and the
endpoints routing traffic to them), evaluations on those versions, and monitoring
references built from them (with the endpoints monitored against them).

The data stage is the first of the lifecycle, so it may not import the later stages;
it does not need to: every later record points back to a dataset version (or a run) by
id, and the store's repositories answer those reverse questions directly. Each hop is
one SQL query over an index (one per level of lineage), never a query per row. The walk
is bounded by ``depth`` (levels of derived versions) and ``limit`` (items per kind);
whatever was cut is said in :attr:`Impact.truncated`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from mlsteward.core import InvalidInput
from mlsteward.data._impact_records import (
    Impact,
    ImpactedDataset,
    ImpactedEndpoint,
    ImpactedEvaluation,
    ImpactedModel,
    ImpactedReference,
    ImpactedRun,
    InputUse,
)
from mlsteward.data._lineage import MAX_DEPTH
from mlsteward.data._records import DatasetVersion
from mlsteward.data._versions import resolve_in
from mlsteward.projects import only_project_name
from mlsteward.store import Store
from mlsteward.store.metadata import (
    ModelRouteRow,
    ModelVersionRow,
    RegisteredModelRow,
    SqlDatasetRepository,
    SqlEvaluationRepository,
    SqlModelRepository,
    SqlMonitoringRepository,
    SqlProjectRepository,
    SqlRunRepository,
)

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "dataset_impact"]

DEFAULT_LIMIT: Final = 500
MAX_LIMIT: Final = 10_000
Path = tuple[str, ...]


def _check_bound(name: str, value: object, default: int, top: int, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise InvalidInput(
            f"{name} must be an integer from 1 to {top} ({meaning}), got {value!r}. "
            f"Pass e.g. {name}=1, or leave the default ({default}); CLI: --{name} N."
        )
    return value


def _project_name(session: Session, project: str | None) -> str:
    """``project``, or the store's only project when None."""
    if project is not None:
        return project
    return only_project_name([p.name for p in SqlProjectRepository(session).list()], None)


def _short(name: str, version: str) -> str:
    return f"{name}@{version[:12]}"


def _share_text(share: float | None, mode: str) -> str:
    if mode != "live":
        return mode
    return "no traffic" if share is None else f"{share:.4g}%"


@dataclass
class _Walk:
    """The state of one impact walk (one reader session)."""

    session: Session
    root: DatasetVersion
    projects: dict[str, str]
    depth: int
    limit: int
    paths: dict[str, Path] = field(default_factory=dict)  # dataset version id -> path
    shorts: dict[str, str] = field(default_factory=dict)  # dataset version id -> short ref
    truncated: list[str] = field(default_factory=list)

    def _capped(self, rows: Sequence[Any], what: str) -> Sequence[Any]:
        if len(rows) > self.limit:
            self.truncated.append(
                f"{what}: only the first {self.limit} are listed; pass a larger limit "
                f"(CLI: --limit) to see more."
            )
            return rows[: self.limit]
        return rows

    # -- derived versions: one query per level ------------------------------------------
    def datasets(self) -> list[ImpactedDataset]:
        repo = SqlDatasetRepository(self.session)
        root = self.root
        self.paths[root.id] = (root.short_ref,)
        self.shorts[root.id] = root.short_ref
        derived: list[ImpactedDataset] = []
        frontier = [root.id]
        level = 0
        while frontier:
            pairs = repo.children_of(frontier)
            fresh = [(e, c) for e, c in pairs if c.id not in self.paths]
            if not fresh:
                break
            if level == self.depth:
                self.truncated.append(
                    f"derived versions: versions more than {self.depth} level(s) below "
                    f"{root.short_ref} were not followed; pass a larger depth (CLI: --depth)."
                )
                break
            level += 1
            frontier = []
            for edge, child in fresh:
                if child.id in self.paths:  # reached twice in one level: first edge wins
                    continue
                if len(derived) == self.limit:
                    self.truncated.append(
                        f"derived versions: only the first {self.limit} are listed; pass a "
                        "larger limit (CLI: --limit) to see more."
                    )
                    return derived
                short = _short(child.name, child.version)
                self.paths[child.id] = (*self.paths[edge.parent_id], edge.method, short)
                self.shorts[child.id] = short
                derived.append(
                    ImpactedDataset(
                        id=child.id,
                        ref=f"{child.name}@{child.version}",
                        project=self.projects.get(child.project_id, child.project_id),
                        role=child.role,
                        rows=child.row_count,
                        method=edge.method,
                        parent_id=edge.parent_id,
                        parent=self.shorts[edge.parent_id],
                        level=level,
                        path=self.paths[child.id],
                    )
                )
                frontier.append(child.id)
        return derived

    # -- runs: one query ------------------------------------------------------------------
    def runs(self) -> list[ImpactedRun]:
        rows = SqlRunRepository(self.session).readers_of(list(self.paths), limit=self.limit + 1)
        found: dict[str, ImpactedRun] = {}
        for item, run, experiment in self._capped(rows, "run inputs"):
            use = InputUse(item.dataset_version_id, self.shorts[item.dataset_version_id], item.role)
            known = found.get(run.id)
            if known is not None:
                found[run.id] = known.with_input(use)
                continue
            found[run.id] = ImpactedRun(
                id=run.id,
                name=run.name,
                project=self.projects.get(run.project_id, run.project_id),
                experiment=experiment,
                status=run.status,
                start_time=run.start_time,
                inputs=(use,),
                path=(*self.paths[item.dataset_version_id], f"run {run.name}"),
            )
        return list(found.values())

    # -- model versions, aliases, routes: four queries -----------------------------------
    def models(
        self, runs: Sequence[ImpactedRun]
    ) -> tuple[list[ImpactedModel], list[ImpactedEndpoint]]:
        repo = SqlModelRepository(self.session)
        run_paths = {r.id: r.path for r in runs}
        by_data = repo.versions_from_datasets(list(self.paths), limit=self.limit + 1)
        by_run = repo.versions_from_runs(list(run_paths), limit=self.limit + 1)
        if len(by_data) > self.limit or len(by_run) > self.limit:
            self.truncated.append(
                f"model versions: more than {self.limit} links were found and only the first "
                f"{self.limit} of each kind were followed; pass a larger limit (CLI: --limit)."
            )
        rows: dict[str, tuple[ModelVersionRow, RegisteredModelRow]] = {}
        uses: dict[str, list[InputUse]] = {}
        for link, version, model in by_data[: self.limit]:
            rows.setdefault(version.id, (version, model))
            uses.setdefault(version.id, []).append(
                InputUse(link.dataset_version_id, self.shorts[link.dataset_version_id], link.role)
            )
        for version, model in by_run[: self.limit]:
            rows.setdefault(version.id, (version, model))
        ordered = sorted(rows.values(), key=lambda vm: (vm[1].name, vm[0].version, vm[0].id))
        ordered = list(self._capped(ordered, "model versions"))
        ids = [v.id for v, _ in ordered]
        aliases: dict[str, list[str]] = {}
        for alias in repo.aliases_of(ids):
            aliases.setdefault(alias.model_version_id, []).append(alias.alias)
        models = []
        for version, model in ordered:
            ref = f"{model.name}@{version.version}"
            data = tuple(uses.get(version.id, ()))
            run_id = version.source_run_id if version.source_run_id in run_paths else None
            if run_id is not None:
                path = (*run_paths[run_id], ref)
            else:
                path = (*self.paths[data[0].dataset_id], ref)
            models.append(
                ImpactedModel(
                    id=version.id,
                    ref=ref,
                    project=self.projects.get(model.project_id, model.project_id),
                    state=version.state,
                    aliases=tuple(aliases.get(version.id, ())),
                    run_id=run_id,
                    datasets=data,
                    created_at=version.created_at,
                    path=path,
                )
            )
        return models, self._endpoints(repo.endpoint_routes(ids), models)

    def _endpoints(
        self, routes: Sequence[ModelRouteRow], models: Sequence[ImpactedModel]
    ) -> list[ImpactedEndpoint]:
        by_id = {m.id: m for m in models}
        totals: dict[tuple[str, str], float] = {}
        for route in routes:
            if route.mode == "live":
                key = (route.project_id, route.endpoint)
                totals[key] = totals.get(key, 0.0) + route.weight
        endpoints = []
        for route in routes:
            model = by_id.get(route.model_version_id)
            if model is None:  # another version of an affected endpoint
                continue
            total = totals.get((route.project_id, route.endpoint), 0.0)
            share = 100.0 * route.weight / total if route.mode == "live" and total > 0 else None
            shown = ", ".join([*model.aliases, _share_text(share, route.mode)])
            endpoints.append(
                ImpactedEndpoint(
                    name=route.endpoint,
                    project=self.projects.get(route.project_id, route.project_id),
                    model=model.ref,
                    model_version_id=model.id,
                    mode=route.mode,
                    weight=route.weight,
                    share=share,
                    path=(*model.path, f"endpoint {route.endpoint} ({shown})"),
                )
            )
        return endpoints

    # -- evaluations: one query -----------------------------------------------------------
    def evaluations(self) -> list[ImpactedEvaluation]:
        rows = SqlEvaluationRepository(self.session).on_datasets(
            list(self.paths), limit=self.limit + 1
        )
        found = []
        for row in self._capped(rows, "evaluations"):
            dataset_id = row.dataset_version_id
            assert dataset_id is not None  # selected by it
            model = row.model_ref or row.model_name
            verdict = row.verdict or "no verdict"
            found.append(
                ImpactedEvaluation(
                    id=row.id,
                    kind=row.kind,
                    project=self.projects.get(row.project_id, row.project_id),
                    model=model,
                    model_version_id=row.model_version_id,
                    dataset_id=dataset_id,
                    dataset=self.shorts[dataset_id],
                    verdict=row.verdict,
                    main_metric=row.main_metric,
                    main_value=row.main_value,
                    created_at=row.created_at,
                    path=(
                        *self.paths[dataset_id],
                        f"{row.kind} {row.id[:8]} of {model} ({verdict})",
                    ),
                )
            )
        return found

    # -- monitoring references and the endpoints monitored against them: two queries ----
    def references(self, models: Sequence[ImpactedModel]) -> list[ImpactedReference]:
        repo = SqlMonitoringRepository(self.session)
        rows = list(
            self._capped(
                repo.references_of(list(self.paths), limit=self.limit + 1),
                "monitoring references",
            )
        )
        monitored: dict[str, list[tuple[str, int, datetime]]] = {}
        for reference_id, endpoint, count, last in repo.monitored_endpoints([r.id for r in rows]):
            monitored.setdefault(reference_id, []).append((endpoint, count, last))
        model_refs = {m.id: m.ref for m in models}
        found = []
        for row in rows:
            dataset_id = row.dataset_version_id
            assert dataset_id is not None  # selected by it
            seen = monitored.get(row.id, [])
            found.append(
                ImpactedReference(
                    id=row.id,
                    project=self.projects.get(row.project_id, row.project_id),
                    dataset_id=dataset_id,
                    dataset=self.shorts[dataset_id],
                    description=row.description,
                    model_version_id=row.model_version_id,
                    model=model_refs.get(row.model_version_id or ""),
                    endpoints=tuple(e for e, _, _ in seen),
                    monitor_runs=sum(c for _, c, _ in seen),
                    last_monitored_at=max((t for _, _, t in seen), default=None),
                    path=(*self.paths[dataset_id], f"monitoring reference {row.id[:8]}"),
                )
            )
        return found


def dataset_impact(
    store: Store,
    project: str | None,
    ref: str | DatasetVersion,
    *,
    depth: int = MAX_DEPTH,
    limit: int = DEFAULT_LIMIT,
) -> Impact:
    """Everything built on the version ``ref`` names (see the module docstring).

    ``project`` may be None when the store has one project. ``depth`` is how many levels
    of derived versions to follow (1: direct children only); ``limit`` caps every kind
    of item. Raises NotFound / InvalidInput (from the resolver) for an unknown or
    malformed reference, InvalidInput for a bad depth or limit.
    """
    depth = _check_bound(
        "depth", depth, MAX_DEPTH, MAX_DEPTH, "levels of derived versions to follow"
    )
    limit = _check_bound("limit", limit, DEFAULT_LIMIT, MAX_LIMIT, "items listed per kind")
    with store.reader() as session:
        name = _project_name(session, project)
        root = resolve_in(session, name, ref)
        projects = {p.id: p.name for p in SqlProjectRepository(session).list()}
        walk = _Walk(session, root, projects, depth, limit)
        datasets = walk.datasets()
        runs = walk.runs()
        models, endpoints = walk.models(runs)
        evaluations = walk.evaluations()
        references = walk.references(models)
        return Impact(
            version=root,
            depth=depth,
            limit=limit,
            datasets=tuple(datasets),
            runs=tuple(runs),
            models=tuple(models),
            endpoints=tuple(endpoints),
            evaluations=tuple(evaluations),
            references=tuple(references),
            truncated=tuple(walk.truncated),
        )
