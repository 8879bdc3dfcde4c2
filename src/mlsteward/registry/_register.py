"""Registering a model version: from a run, a file or a fitted object, with everything it
came from (see :func:`register_model`). Audited as ``model.create`` (first version of a
name), ``model.register`` and, for an explicitly trusted pickle-based artifact,
``model.trust``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from mlsteward.core import InvalidInput, NotFound, new_id, utcnow, validate_name
from mlsteward.registry._formats import (
    PICKLE_FORMATS,
    check_trusted_types,
    load_artifact,
    model_meta,
)
from mlsteward.registry._pipeline import describe_pipeline
from mlsteward.registry._records import ModelVersion, check_alias
from mlsteward.registry._requirements import current_packages, requirements_for
from mlsteward.registry._service import (
    MAX_DESCRIPTION,
    check_reason,
    default_project,
    entity_id,
    set_alias_in,
    version_record,
)
from mlsteward.registry._signature import Signature, infer_signature
from mlsteward.registry._sources import ModelSource, from_file, from_object, from_run
from mlsteward.store import Store
from mlsteward.store.metadata import (
    ModelVersionDatasetRow,
    ModelVersionRow,
    RegisteredModelRow,
    SqlCharterRepository,
    SqlModelRepository,
)

__all__ = ["register_model"]


def _source(
    store: Store, model: Any, run: Any, artifact: str | None, file: Any, format: str | None
) -> ModelSource:
    given = [n for n, v in (("model", model), ("run", run), ("file", file)) if v is not None]
    if len(given) != 1:
        raise InvalidInput(
            "Register a model from exactly one source: run=RUN_ID (a model the run logged; "
            "artifact=PATH to choose one), file=PATH (a model file) or model=<fitted "
            f"estimator>; got {' and '.join(given) if given else 'none'}."
        )
    if artifact is not None and run is None:
        raise InvalidInput("artifact= chooses a model among a run's artifacts: give run= too.")
    if run is not None:
        return from_run(store, str(getattr(run, "id", run)), artifact, format)
    if file is not None:
        return from_file(file, format)
    return from_object(model, format)


def _datasets(
    store: Store, project: str, source: ModelSource, datasets: Sequence[Any] | None
) -> list[tuple[Any, str]]:
    """(DatasetVersion, role) pairs: the ones given, else the run's inputs; training first."""
    from mlsteward.data import DatasetVersion, dataset_by_id, resolve_dataset

    pairs: list[tuple[Any, str]] = []
    if datasets is not None:
        for ref in datasets:
            version = (
                ref if isinstance(ref, DatasetVersion) else resolve_dataset(store, project, ref)
            )
            if version.project != project:
                raise InvalidInput(
                    f"Dataset {version.ref} belongs to project {version.project!r}, not "
                    f"{project!r}: lineage stays within a project."
                )
            pairs.append((version, version.role or "training"))
    else:
        pairs = [(dataset_by_id(store, vid), role) for vid, role in source.inputs]
    pairs.sort(key=lambda p: 0 if p[1] in ("training", "train") else 1)
    return pairs


def _signature(
    store: Store, model: Any, meta: Mapping[str, Any], pairs: list[tuple[Any, str]], example: Any
) -> Signature:
    from mlsteward.data import read_profile

    profile = physical = None
    source_text = target = None
    if pairs:
        version = pairs[0][0]
        target = version.target
        try:
            profile = read_profile(store, version)
            physical = {c.name: c.physical for c in version.schema}
            source_text = f"profile of {version.short_ref}"
        except NotFound:
            profile = None
    return infer_signature(
        feature_names=meta.get("feature_names"),
        n_features=meta.get("n_features"),
        classes=meta.get("classes"),
        has_proba=bool(meta.get("has_proba")),
        profile=profile,
        physical=physical,
        profile_source=source_text,
        example=example,
        target=target,
    )


def _requirements(source: ModelSource, flavor: str) -> dict[str, Any]:
    env = source.environment
    if env is not None and isinstance(env.get("packages"), Mapping):
        return requirements_for(flavor, env["packages"], python=env.get("python_version"))
    return requirements_for(flavor, current_packages())


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _clean_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        number = float(value)
        out[str(key)] = number if number == number and abs(number) != float("inf") else str(number)
    return out


def register_model(
    store: Store,
    name: str,
    *,
    project: str | None = None,
    model: Any = None,
    run: Any = None,
    artifact: str | None = None,
    file: str | os.PathLike[str] | None = None,
    format: str | None = None,
    trust: bool = False,
    datasets: Sequence[Any] | None = None,
    input_example: Any = None,
    signature: Signature | None = None,
    metrics: Mapping[str, float] | None = None,
    description: str = "",
    alias: str | None = None,
    reason: str | None = None,
) -> ModelVersion:
    """Register a new version of model ``name`` (created on first use).

    The source is one of ``run`` (a run id or run object: the model it logged, or
    ``artifact``), ``file`` (a model file; its format from ``format`` or its name) or
    ``model`` (a fitted estimator, saved with skops or natively). A pickle or joblib
    artifact is refused unless ``trust=True``, which is audited. The version records the
    run, its metrics and params, the dataset versions (the run's inputs, or ``datasets``),
    the project's latest charter version, the feature pipeline, the signature (domain from
    the training data's profile) and requirements pinned to the training environment.
    ``alias`` (with its ``reason``) points an alias at the new version.
    """
    validate_name("model", name)
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"A model description is text of at most {MAX_DESCRIPTION} characters.")
    if alias is not None:
        check_alias(alias)
        reason = check_reason(reason, f"Pointing alias {alias!r} at the new version")
    if hasattr(model, "run_id") and hasattr(model, "digest") and hasattr(model, "path"):
        run, artifact, model = model.run_id, model.path, None  # a tracking CandidateModel
    source = _source(store, model, run, artifact, file, format)
    if project is None:
        project = source.project or default_project(store, None)
    elif source.project is not None and source.project != project:
        raise InvalidInput(
            f"Run {source.run_id} belongs to project {source.project!r}, not {project!r}. "
            f"Register it in {source.project!r} (or leave project out)."
        )
    saved = source.saved
    label = f"{name} (from {source.describe()})"
    is_pickle = saved.format in PICKLE_FORMATS
    loaded = load_artifact(saved.data, saved.format, saved.meta, label=label, trusted=trust)
    trusted_types = check_trusted_types(saved.data, label) if saved.format == "skops" else ()
    meta = {**saved.meta, **model_meta(loaded)}
    pairs = _datasets(store, project, source, datasets)
    sig = signature or _signature(store, loaded, meta, pairs, input_example)
    all_metrics = _clean_metrics({**source.metrics, **(metrics or {})})
    requirements = _requirements(source, saved.flavor)
    digest = store.artifacts.put(saved.data)
    now = utcnow()
    for attempt in range(2):  # two first registrations of one name race (PostgreSQL)
        try:
            with store.transaction() as tx:
                owner = tx.projects.get(project)
                repo = SqlModelRepository(tx.session)
                model_row = repo.find_model(owner.id, name)
                if model_row is None:
                    model_row = RegisteredModelRow(
                        id=new_id(),
                        project_id=owner.id,
                        name=name,
                        description=description,
                        created_at=now,
                        created_by=store.actor,
                    )
                    repo.add_model(model_row)
                    tx.audit(
                        "model.create", "model", entity_id(project, name), {"id": model_row.id}
                    )
                charter = SqlCharterRepository(tx.session).latest(owner.id)
                row = repo.add_version(
                    ModelVersionRow(
                        id=new_id(),
                        model_id=model_row.id,
                        version=0,
                        state="active",
                        flavor=saved.flavor,
                        format=saved.format,
                        artifact_digest=digest,
                        artifact_size=len(saved.data),
                        artifact_filename=saved.filename,
                        model_class=str(meta.get("class", "")),
                        trusted_types=_json(list(trusted_types)),
                        pickle_trusted=bool(is_pickle and trust),
                        signature_json=sig.to_json(),
                        pipeline_json=_json(describe_pipeline(loaded)),
                        metrics_json=_json(all_metrics),
                        params_json=_json(source.params),
                        requirements_json=_json(requirements),
                        meta_json=_json(meta),
                        source_run_id=source.run_id,
                        source_artifact_path=source.artifact_path if source.kind == "run" else None,
                        charter_version_id=None if charter is None else charter.id,
                        description=description,
                        created_at=now,
                        created_by=store.actor,
                    )
                )
                links = {(v.id, role) for v, role in pairs}
                repo.add_datasets(
                    [
                        ModelVersionDatasetRow(
                            model_version_id=row.id, dataset_version_id=v, role=r
                        )
                        for v, r in sorted(links)
                    ]
                )
                tx.audit(
                    "model.register",
                    "model",
                    entity_id(project, name),
                    {
                        "version": row.version,
                        "id": row.id,
                        "artifact_digest": digest,
                        "format": saved.format,
                        "model_class": row.model_class,
                        "source": source.describe(),
                        "source_run_id": source.run_id,
                        "datasets": [f"{v.ref} ({role})" for v, role in pairs],
                        "charter_version": None if charter is None else charter.version,
                        "signature_source": sig.source,
                        "trusted_types": list(trusted_types),
                    },
                )
                if is_pickle:
                    tx.audit(
                        "model.trust",
                        "model",
                        entity_id(project, name),
                        {
                            "version": row.version,
                            "artifact_digest": digest,
                            "format": saved.format,
                            "decision": "trusted explicitly (trust=True): pickle-based artifact",
                        },
                    )
                if alias is not None:
                    assert reason is not None
                    set_alias_in(tx, project, model_row, row, alias, reason)
                return version_record(tx.session, row, model_row, project)
        except IntegrityError:
            if attempt == 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
