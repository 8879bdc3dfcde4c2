"""The records of an impact analysis (see :mod:`mlsteward.data._impact`).

Every item carries ``path``: the steps from the analysed version to it, e.g.
``acs-2015@3f2a… -> split -> acs-2015-train@77aa… -> run r1 -> employment@1 ->
endpoint acs (champion, 100%)``; ``path_text`` joins them with arrows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from mlsteward.data._records import DatasetVersion

__all__ = [
    "Impact",
    "ImpactNode",
    "ImpactSummary",
    "ImpactedDataset",
    "ImpactedEndpoint",
    "ImpactedEvaluation",
    "ImpactedModel",
    "ImpactedReference",
    "ImpactedRun",
    "InputUse",
]

ARROW = " -> "


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class InputUse:
    """A dataset version (of the impact) used by a run or a model version, with its role."""

    dataset_id: str
    dataset: str
    role: str

    def to_dict(self) -> dict[str, Any]:
        return {"dataset_id": self.dataset_id, "dataset": self.dataset, "role": self.role}


@dataclass(frozen=True)
class _Reached:
    path: tuple[str, ...]

    @property
    def path_text(self) -> str:
        return ARROW.join(self.path)


@dataclass(frozen=True)
class ImpactedDataset(_Reached):
    """A version derived from the analysed one (``level`` 1: a direct child)."""

    id: str
    ref: str
    project: str
    role: str | None
    rows: int
    method: str
    parent_id: str
    parent: str
    level: int

    @property
    def short_ref(self) -> str:
        name, _, version = self.ref.partition("@")
        return f"{name}@{version[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "project": self.project,
            "role": self.role,
            "rows": self.rows,
            "method": self.method,
            "parent": self.parent,
            "level": self.level,
            "path": self.path_text,
        }


@dataclass(frozen=True)
class ImpactedRun(_Reached):
    """A run that read the version or a derived one (``inputs``: which, in what role)."""

    id: str
    name: str
    project: str
    experiment: str
    status: str
    start_time: datetime
    inputs: tuple[InputUse, ...]

    def with_input(self, use: InputUse) -> ImpactedRun:
        return replace(self, inputs=(*self.inputs, use))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "project": self.project,
            "experiment": self.experiment,
            "status": self.status,
            "start_time": self.start_time.isoformat(),
            "inputs": [i.to_dict() for i in self.inputs],
            "path": self.path_text,
        }


@dataclass(frozen=True)
class ImpactedModel(_Reached):
    """A model version made from the data (``datasets``, with the registry's roles) or
    from one of the runs (``run_id``), with its state and aliases."""

    id: str
    ref: str
    project: str
    state: str
    aliases: tuple[str, ...]
    run_id: str | None
    datasets: tuple[InputUse, ...]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "project": self.project,
            "state": self.state,
            "aliases": list(self.aliases),
            "run_id": self.run_id,
            "datasets": [d.to_dict() for d in self.datasets],
            "created_at": self.created_at.isoformat(),
            "path": self.path_text,
        }


@dataclass(frozen=True)
class ImpactedEndpoint(_Reached):
    """An endpoint routing traffic to an affected model version: ``weight`` as stored,
    ``share`` the percentage of the endpoint's live traffic (None for shadow routes)."""

    name: str
    project: str
    model: str
    model_version_id: str
    mode: str
    weight: float
    share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "project": self.project,
            "model": self.model,
            "model_version_id": self.model_version_id,
            "mode": self.mode,
            "weight": self.weight,
            "share": self.share,
            "path": self.path_text,
        }


@dataclass(frozen=True)
class ImpactedEvaluation(_Reached):
    """An evaluation (or comparison) on the version or a derived one, with its verdict."""

    id: str
    kind: str
    project: str
    model: str
    model_version_id: str | None
    dataset_id: str
    dataset: str
    verdict: str | None
    main_metric: str
    main_value: float | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "project": self.project,
            "model": self.model,
            "model_version_id": self.model_version_id,
            "dataset": self.dataset,
            "verdict": self.verdict,
            "main_metric": self.main_metric,
            "main_value": self.main_value,
            "created_at": self.created_at.isoformat(),
            "path": self.path_text,
        }


@dataclass(frozen=True)
class ImpactedReference(_Reached):
    """A monitoring reference built from the version or a derived one, and the endpoints
    monitored against it (``monitor_runs`` runs, the latest at ``last_monitored_at``)."""

    id: str
    project: str
    dataset_id: str
    dataset: str
    description: str
    model_version_id: str | None
    model: str | None
    endpoints: tuple[str, ...]
    monitor_runs: int
    last_monitored_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "dataset": self.dataset,
            "description": self.description,
            "model_version_id": self.model_version_id,
            "model": self.model,
            "endpoints": list(self.endpoints),
            "monitor_runs": self.monitor_runs,
            "last_monitored_at": _when(self.last_monitored_at),
            "path": self.path_text,
        }


@dataclass(frozen=True)
class ImpactSummary:
    """Counts per kind and the endpoints serving an affected model; ``str()`` is one line:
    ``3 derived versions, 7 runs, 2 model versions (1 champion), 1 endpoint serving it: acs``.
    """

    dataset: str
    derived: int
    runs: int
    models: int
    champions: int
    evaluations: int
    references: int
    endpoints: tuple[str, ...]
    truncated: bool

    @property
    def empty(self) -> bool:
        counts = (self.derived, self.runs, self.models, self.evaluations, self.references)
        return not any(counts) and not self.endpoints

    def text(self) -> str:
        if self.empty:
            return (
                f"Nothing was built on {self.dataset}: no derived versions, runs, model "
                "versions, evaluations or monitoring references."
            )
        champions = f" ({self.champions} champion)" if self.champions else ""
        parts = [
            _plural(self.derived, "derived version"),
            _plural(self.runs, "run"),
            _plural(self.models, "model version") + champions,
        ]
        if self.evaluations:
            parts.append(_plural(self.evaluations, "evaluation"))
        if self.references:
            parts.append(_plural(self.references, "monitoring reference"))
        serving = _plural(len(self.endpoints), "endpoint") + " serving it"
        parts.append(serving + (": " + ", ".join(self.endpoints) if self.endpoints else ""))
        line = ", ".join(parts)
        return line + (" (truncated: see the notes)" if self.truncated else "")

    def __str__(self) -> str:
        return self.text()

    def to_dict(self) -> dict[str, Any]:
        return {
            "derived_versions": self.derived,
            "runs": self.runs,
            "model_versions": self.models,
            "champions": self.champions,
            "evaluations": self.evaluations,
            "monitoring_references": self.references,
            "endpoints": list(self.endpoints),
            "truncated": self.truncated,
            "text": self.text(),
        }


@dataclass(frozen=True)
class ImpactNode:
    """One node of the impact tree: ``kind`` (dataset, run, model, endpoint, evaluation,
    reference), a one-line ``label``, the node's ``children``."""

    kind: str
    label: str
    children: tuple[ImpactNode, ...] = ()


@dataclass(frozen=True)
class Impact:
    """Everything built on ``version``, each item with the path that reaches it."""

    version: DatasetVersion
    depth: int
    limit: int
    datasets: tuple[ImpactedDataset, ...]
    runs: tuple[ImpactedRun, ...]
    models: tuple[ImpactedModel, ...]
    endpoints: tuple[ImpactedEndpoint, ...]
    evaluations: tuple[ImpactedEvaluation, ...]
    references: tuple[ImpactedReference, ...]
    truncated: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing was built on the version."""
        return self.summary().empty

    def summary(self) -> ImpactSummary:
        names = tuple(dict.fromkeys(e.name for e in self.endpoints))
        return ImpactSummary(
            dataset=self.version.short_ref,
            derived=len(self.datasets),
            runs=len(self.runs),
            models=len(self.models),
            champions=sum("champion" in m.aliases for m in self.models),
            evaluations=len(self.evaluations),
            references=len(self.references),
            endpoints=names,
            truncated=bool(self.truncated),
        )

    def paths(self) -> list[str]:
        """Every item's path as text, in walk order (data, runs, models, endpoints,
        evaluations, references)."""
        items: list[_Reached] = [
            *self.datasets,
            *self.runs,
            *self.models,
            *self.endpoints,
            *self.evaluations,
            *self.references,
        ]
        return [i.path_text for i in items]

    def tree(self) -> ImpactNode:
        """dataset -> derived versions -> runs -> model versions -> endpoints; evaluations
        and monitoring references hang under their dataset version."""
        under: dict[str, list[tuple[str, str]]] = {}  # parent key -> [(child key, kind)]
        labels: dict[str, tuple[str, str]] = {}

        def add(parent: str, key: str, kind: str, label: str) -> None:
            under.setdefault(parent, []).append((key, kind))
            labels[key] = (kind, label)

        for d in self.datasets:
            role = f"{d.role}, " if d.role else ""
            add(
                f"d:{d.parent_id}",
                f"d:{d.id}",
                "dataset",
                f"{d.method} -> {d.short_ref} ({role}{d.rows:,} rows)",
            )
        for r in self.runs:
            reads = "; ".join(f"{u.dataset} as {u.role}" for u in r.inputs)
            label = f"run {r.name} [{r.id[:8]}] (experiment {r.experiment!r}, {r.status}; reads {reads})"
            add(f"d:{r.inputs[0].dataset_id}", f"r:{r.id}", "run", label)
        for m in self.models:
            aliases = f"; {', '.join(m.aliases)}" if m.aliases else ""
            parent = f"r:{m.run_id}" if m.run_id else f"d:{m.datasets[0].dataset_id}"
            roles = ", ".join(f"{u.role} {u.dataset}" for u in m.datasets)
            made = f"; made from {roles}" if roles and not m.run_id else ""
            add(parent, f"m:{m.id}", "model", f"model {m.ref} ({m.state}{aliases}{made})")
        for e in self.endpoints:
            share = (
                "shadow"
                if e.mode != "live"
                else ("no traffic" if e.share is None else f"{e.share:.4g}% of traffic")
            )
            add(
                f"m:{e.model_version_id}",
                f"e:{e.name}:{e.model_version_id}",
                "endpoint",
                f"endpoint {e.name} ({share})",
            )
        for ev in self.evaluations:
            value = "" if ev.main_value is None else f", {ev.main_metric}={ev.main_value:.4g}"
            label = f"{ev.kind} {ev.id[:8]} of {ev.model}: {ev.verdict or 'no verdict'}{value}"
            add(f"d:{ev.dataset_id}", f"v:{ev.id}", "evaluation", label)
        for ref in self.references:
            monitors = (
                f"; monitors {', '.join(ref.endpoints)}"
                if ref.endpoints
                else "; not used by a monitor run yet"
            )
            add(
                f"d:{ref.dataset_id}",
                f"f:{ref.id}",
                "reference",
                f"monitoring reference {ref.id[:8]} ({ref.description}){monitors}",
            )

        def build(key: str) -> tuple[ImpactNode, ...]:
            return tuple(
                ImpactNode(kind, labels[child][1], build(child))
                for child, kind in under.get(key, [])
            )

        v = self.version
        role = f"{v.role}, " if v.role else ""
        return ImpactNode(
            "dataset", f"{v.short_ref} ({role}{v.row_count:,} rows)", build(f"d:{v.id}")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.version.ref,
            "project": self.version.project,
            "depth": self.depth,
            "limit": self.limit,
            "summary": self.summary().to_dict(),
            "derived_versions": [d.to_dict() for d in self.datasets],
            "runs": [r.to_dict() for r in self.runs],
            "model_versions": [m.to_dict() for m in self.models],
            "endpoints": [e.to_dict() for e in self.endpoints],
            "evaluations": [e.to_dict() for e in self.evaluations],
            "monitoring_references": [r.to_dict() for r in self.references],
            "truncated": list(self.truncated),
        }
