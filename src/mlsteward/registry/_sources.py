"""Where a model version comes from: a run's artifact, a file, or a fitted object.

Each source gives the artifact bytes and format; a run also gives its project, metrics,
params, input dataset versions and recorded environment. Runs are read through the store's
tables (the tracking stage writes them); dataset versions and profiles through the data
stage.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mlsteward.core import InvalidInput, NotFound
from mlsteward.registry._formats import (
    SavedModel,
    filename_for,
    flavor_of,
    format_of_file,
    save_model,
)
from mlsteward.store import Store
from mlsteward.store.metadata import ProjectRow, RunArtifactRow, RunRow, SqlRunRepository

__all__ = ["ModelSource", "from_file", "from_object", "from_run"]

_MIN_RUN_PREFIX = 6


@dataclass(frozen=True)
class ModelSource:
    """What registration starts from (see the module docstring)."""

    saved: SavedModel
    kind: str  # run | file | object
    project: str | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    inputs: tuple[tuple[str, str], ...] = ()  # (dataset version id, role)
    environment: dict[str, Any] | None = None

    def describe(self) -> str:
        if self.kind == "run":
            return f"artifact {self.artifact_path!r} of run {self.run_id}"
        if self.kind == "file":
            return f"file {self.artifact_path}"
        return f"in-memory {self.saved.meta.get('class', 'model')}"


def _resolve_run(session: Session, ref: str) -> RunRow:
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(f"Invalid run reference {ref!r}: expected a run id or id prefix.")
    runs = SqlRunRepository(session)
    row = runs.get(ref)
    if row is not None:
        return row
    if len(ref) < _MIN_RUN_PREFIX:
        raise NotFound(
            f"Run {ref!r} does not exist. Pass the full run id, or a prefix of at least "
            f"{_MIN_RUN_PREFIX} characters."
        )
    found = runs.with_prefix(ref, limit=2)
    if not found:
        raise NotFound(f"No run id starts with {ref!r}. Check the id (steward runs list).")
    if len(found) > 1:
        raise InvalidInput(
            f"Run prefix {ref!r} is ambiguous ({found[0].id}, {found[1].id}, ...): give more "
            "characters."
        )
    return found[0]


def _pick_artifact(run_id: str, artifacts: Sequence[RunArtifactRow], wanted: str | None) -> Any:
    models = [a for a in artifacts if a.kind == "model"]
    if wanted is None:
        if len(models) == 1:
            return models[0]
        if not models:
            listed = ", ".join(a.path for a in artifacts[:20]) or "none"
            raise NotFound(
                f"Run {run_id} logged no model (its artifacts: {listed}). Log one with "
                "run.log_model(model), or pass artifact=PATH (--artifact) to register a model "
                "file the run logged."
            )
        raise InvalidInput(
            f"Run {run_id} logged {len(models)} models: "
            f"{', '.join(a.path for a in models)}. Pass artifact=PATH (--artifact) to choose."
        )
    exact = [a for a in artifacts if a.path == wanted]
    under = [a for a in models if a.path.startswith(wanted.rstrip("/") + "/")]
    found = exact or under
    if len(found) != 1:
        listed = ", ".join(a.path for a in (models or artifacts)[:20]) or "none"
        what = "is ambiguous" if found else "does not exist"
        raise NotFound(
            f"Artifact {wanted!r} of run {run_id} {what}. Its model artifacts: {listed}."
        )
    return found[0]


def _environment(store: Store, digest: str | None) -> dict[str, Any] | None:
    if digest is None:
        return None
    try:
        data = store.artifacts.get(digest, name="recorded environment of the run")
    except NotFound:
        return None
    document: dict[str, Any] = json.loads(data)
    return document


def from_run(
    store: Store, run: str, artifact: str | None = None, format: str | None = None
) -> ModelSource:
    """A model artifact the run logged (the only one, or ``artifact``: a path or the
    directory a model was logged under, e.g. ``model``)."""
    with store.reader() as session:
        row = _resolve_run(session, run)
        repo = SqlRunRepository(session)
        chosen = _pick_artifact(row.id, repo.artifacts(row.id), artifact)
        latest = repo.latest_metrics([row.id]).get(row.id, {})
        metrics = {k: math.nan if m.value is None else m.value for k, m in sorted(latest.items())}
        params = dict(sorted(repo.params([row.id]).get(row.id, {}).items()))
        inputs = tuple((i.dataset_version_id, i.role) for i in repo.inputs(row.id))
        project = session.get(ProjectRow, row.project_id)
        assert project is not None
        project_name = project.name
        path, digest, env_digest = chosen.path, chosen.digest, row.environment_digest
        meta = json.loads(chosen.meta_json)
        is_model = chosen.kind == "model"
        run_id = row.id
    data = store.artifacts.get(digest, name=f"artifact {path!r} of run {run_id}")
    fmt = meta.get("format") if is_model and format is None else None
    fmt = fmt or format_of_file(Path(path), data, format)
    saved = SavedModel(
        data=data,
        format=fmt,
        flavor=flavor_of(fmt),
        filename=Path(path).name or filename_for(fmt),
        meta={k: v for k, v in meta.items() if k in ("classes", "framework_version")},
    )
    return ModelSource(
        saved=saved,
        kind="run",
        project=project_name,
        run_id=run_id,
        artifact_path=path,
        metrics=metrics,
        params=params,
        inputs=inputs,
        environment=_environment(store, env_digest),
    )


def from_file(path: str | os.PathLike[str], format: str | None = None) -> ModelSource:
    source = Path(path)
    if not source.is_file():
        raise NotFound(f"Cannot register model file {source}: no such file.")
    data = source.read_bytes()
    fmt = format_of_file(source, data, format)
    saved = SavedModel(data, fmt, flavor_of(fmt), source.name)
    return ModelSource(saved=saved, kind="file", artifact_path=str(source))


def from_object(model: Any, format: str | None = None) -> ModelSource:
    return ModelSource(saved=save_model(model, format), kind="object")
