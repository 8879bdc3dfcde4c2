"""Lineage of a model version: charter version -> dataset versions -> run -> model version,
then what happened downstream (evaluations, deployments).

The registry knows its own downstream facts (the endpoints routing traffic to a version);
later stages add theirs through :func:`add_lineage_provider`, a function that returns
:class:`LineageNode` children of the model version (the evaluation stage registers one for
its stored evaluations), so that the registry never imports a later stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlsteward.core import StewardError
from mlsteward.registry._pipeline import pipeline_summary
from mlsteward.registry._records import ModelVersion
from mlsteward.registry._routes import list_routes
from mlsteward.registry._service import default_project, resolve_model
from mlsteward.store import Store
from mlsteward.store.metadata import ExperimentRow, SqlRunRepository

__all__ = [
    "Lineage",
    "LineageNode",
    "LineageProvider",
    "add_lineage_provider",
    "lineage",
    "lineage_providers",
]


@dataclass(frozen=True)
class LineageNode:
    """One node of a lineage tree: ``kind`` (charter, data, dataset, run, model, endpoint,
    evaluation, ...), a one-line ``label``, an optional ``ref`` and ``details``."""

    kind: str
    label: str
    ref: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[LineageNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "ref": self.ref,
            "details": dict(self.details),
            "children": [c.to_dict() for c in self.children],
        }


LineageProvider = Callable[[Store, ModelVersion], Sequence[LineageNode]]
"""Returns nodes downstream of a model version (evaluations, deployments, ...). It reads
the store only, and raises a StewardError (shown in the tree) when it cannot answer."""

_PROVIDERS: dict[str, LineageProvider] = {}


def add_lineage_provider(name: str, provider: LineageProvider) -> None:
    """Add (or replace) the provider called ``name``."""
    _PROVIDERS[name] = provider


def lineage_providers() -> dict[str, LineageProvider]:
    return dict(_PROVIDERS)


@dataclass(frozen=True)
class Lineage:
    """The chain that led to a model version, and what followed it."""

    version: ModelVersion
    charter: LineageNode
    data: LineageNode
    run: LineageNode
    model: LineageNode
    downstream: tuple[LineageNode, ...] = ()

    def tree(self) -> LineageNode:
        """charter -> data -> run -> model -> downstream, as one tree."""
        from dataclasses import replace

        model = replace(self.model, children=self.downstream)
        run = replace(self.run, children=(model,))
        data = replace(self.data, children=(run,))
        return replace(self.charter, children=(data,))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.ref,
            "project": self.version.project,
            "charter": self.charter.to_dict(),
            "data": self.data.to_dict(),
            "run": self.run.to_dict(),
            "model_version": self.model.to_dict(),
            "downstream": [n.to_dict() for n in self.downstream],
        }


def _charter(version: ModelVersion) -> LineageNode:
    if version.charter is None:
        return LineageNode("charter", "charter: none (the project had no charter at registration)")
    ref = version.charter
    return LineageNode(
        "charter",
        f"charter {ref.ref} (sha256 {ref.content_hash[:12]})",
        ref.ref,
        ref.to_dict(),
    )


def _short(ref: str) -> str:
    name, _, version = ref.partition("@")
    return f"{name}@{version[:12]}"


def _data(store: Store, version: ModelVersion) -> LineageNode:
    from mlsteward.data import dataset_by_id

    if not version.datasets:
        return LineageNode("data", "data: not recorded (registered without a run or datasets)")
    children = []
    for ds in version.datasets:
        parents: tuple[str, ...] = ()
        try:
            parents = dataset_by_id(store, ds.id).parents
        except StewardError:
            parents = ()
        rows = f", {ds.rows:,} rows" if ds.rows is not None else ""
        shown = [_short(p) for p in parents]
        origin = f"; from {', '.join(shown)}" if shown else ""
        label = f"{ds.short_ref} ({ds.role}{rows}{origin})"
        children.append(
            LineageNode("dataset", label, ds.ref, {**ds.to_dict(), "parents": list(parents)})
        )
    label = "data: " + "; ".join(c.label for c in children)
    return LineageNode("data", label, None, {"datasets": [dict(c.details) for c in children]})


def _run(store: Store, version: ModelVersion) -> LineageNode:
    if version.source_run_id is None:
        return LineageNode("run", "run: none (registered from a file or an in-memory model)")
    with store.reader() as session:
        row = SqlRunRepository(session).get(version.source_run_id)
        if row is None:  # pragma: no cover - a foreign key
            return LineageNode("run", f"run {version.source_run_id} (missing)")
        experiment = session.get(ExperimentRow, row.experiment_id)
        details = {
            "id": row.id,
            "name": row.name,
            "experiment": None if experiment is None else experiment.name,
            "status": row.status,
            "git_commit": row.git_commit,
            "git_dirty": row.git_dirty,
            "start_time": row.start_time.isoformat(),
            "artifact": version.source_artifact_path,
        }
    metrics = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in list(version.metrics.items())[:4]
    )
    commit = f", git {row.git_commit[:10]}" if row.git_commit else ""
    label = (
        f"run {row.id[:12]} {details['name']!r} (experiment {details['experiment']!r}, "
        f"{row.status}{commit}){'; ' + metrics if metrics else ''}"
    )
    return LineageNode("run", label, row.id, details)


def _model(version: ModelVersion) -> LineageNode:
    aliases = f"; aliases {', '.join(version.aliases)}" if version.aliases else ""
    label = (
        f"model {version.ref} ({version.state}{aliases}; {pipeline_summary(version.pipeline)}; "
        f"{version.format})"
    )
    return LineageNode("model", label, version.ref, version.to_dict())


def _routes(store: Store, version: ModelVersion) -> list[LineageNode]:
    return [
        LineageNode("endpoint", f"deployed: {route.describe()}", route.endpoint, route.to_dict())
        for route in list_routes(store, version.project, ref=version.ref)
    ]


def lineage(store: Store, project: str | None, ref: str) -> Lineage:
    """The lineage of the version ``ref`` names (see the module docstring)."""
    version = resolve_model(store, default_project(store, project), ref)
    downstream: list[LineageNode] = []
    for name, provider in sorted(_PROVIDERS.items()):
        try:
            downstream.extend(provider(store, version))
        except StewardError as exc:
            downstream.append(LineageNode(name, f"{name}: unavailable ({exc.message})"))
    downstream.extend(_routes(store, version))
    return Lineage(
        version=version,
        charter=_charter(version),
        data=_data(store, version),
        run=_run(store, version),
        model=_model(version),
        downstream=tuple(downstream),
    )
