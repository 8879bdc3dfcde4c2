"""Monitor runs: resolve what to compare, run every window, store the results.

:func:`monitor` runs over an endpoint's prediction log (or any log directory) between two
times, window by window, against a reference; the run, its windows' headlines and its
alerts are stored (``monitor_runs``, ``monitor_windows``, ``monitor_alerts``) with the
full results as an artifact, in one audited transaction. :mod:`._history` saves them and
reads them back.

Defaults, each overridable:

- project and model: the endpoint's (its live route with the largest weight), else the
  model version most of the log's rows name;
- drift reference: the model version's training dataset version;
- performance reference (output drift, performance estimation): its test, else its
  validation dataset version (labelled rows the model did not train on);
- window: the charter's ``monitoring.window`` (default 1d); thresholds: the charter's
  (see :mod:`._thresholds`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from threadpoolctl import threadpool_limits

from mlsteward.core import InvalidInput, NotFound, ensure_utc
from mlsteward.monitoring._history import save_run
from mlsteward.monitoring._quality import domains_from
from mlsteward.monitoring._records import MonitorRun, WindowResult
from mlsteward.monitoring._reference import Reference, build_reference, load_or_build_reference
from mlsteward.monitoring._runner import WindowContext, evaluate_window
from mlsteward.monitoring._skew import OfflineRows
from mlsteward.monitoring._thresholds import MonitorThresholds
from mlsteward.monitoring._windows import LogReader, parse_window
from mlsteward.store import Store
from mlsteward.store.metadata import (
    SqlProjectRepository,
    SqlServingRepository,
)

__all__ = ["monitor"]

_TRAINING_ROLES = ("training", "train")
_PERFORMANCE_ROLES = ("test", "validation", "valid", "holdout")


def _when(value: datetime | str | None, what: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return None if value is None else ensure_utc(value)
    try:
        return ensure_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(
            f"Invalid {what} time {value!r}: expected ISO 8601 such as 2017-01-01 or "
            "2017-01-01T12:00:00+00:00."
        ) from None


def _project_and_endpoint(
    store: Store, endpoint: str, project: str | None
) -> tuple[str, str, str | None]:
    """(project name, project id, endpoint id or None)."""
    with store.reader() as session:
        row = SqlServingRepository(session).find_endpoint(endpoint)
        projects = SqlProjectRepository(session)
        if row is not None:
            owner = next(p for p in projects.list() if p.id == row.project_id)
            if project is not None and project != owner.name:
                raise InvalidInput(
                    f"Endpoint {endpoint!r} belongs to project {owner.name!r}, not {project!r}."
                )
            return owner.name, owner.id, row.id
        names = [p.name for p in projects.list()]
        if project is None:
            if len(names) != 1:
                raise NotFound(
                    f"No endpoint {endpoint!r} in the store, and the store has {len(names)} "
                    f"projects; name the project (--project NAME) to monitor a log that no "
                    "registered endpoint wrote."
                )
            project = names[0]
        return project, projects.get(project).id, None


def _model_version(
    store: Store,
    project: str,
    endpoint: str,
    model: str | None,
    log: LogReader,
    start: datetime | None,
    end: datetime | None,
) -> Any:
    """The model given, else the version that answered most of the monitored rows, else
    the endpoint's live route with the largest weight."""
    from mlsteward.registry import list_routes, resolve_model

    if model is not None:
        return resolve_model(store, project, model)
    named = log.model_versions(start, end)
    if named:
        value = max(named, key=lambda k: named[k])
        try:
            return resolve_model(store, project, value)
        except (InvalidInput, NotFound) as exc:
            raise InvalidInput(
                f"The log of {endpoint!r} names model {value!r}, which is not a model version "
                f"of project {project!r} ({exc.message}); pass model=NAME@VERSION (--model)."
            ) from None
    routes = [r for r in list_routes(store, project, endpoint=endpoint) if r.mode == "live"]
    if routes:
        best = max(routes, key=lambda r: r.weight)
        return resolve_model(store, project, best.ref)
    raise InvalidInput(
        f"Which model does endpoint {endpoint!r} serve? Its log names no model version and "
        "it has no routes; pass model=NAME@VERSION (--model)."
    )


def _charter(store: Store, project: str) -> Any:
    from mlsteward.charter import get_charter

    try:
        return get_charter(store, project)
    except NotFound:
        return None


def _dataset(store: Store, project: str, ref: Any) -> Any:
    from mlsteward.data import resolve_dataset

    return resolve_dataset(store, project, ref)


def _pick(version: Any, roles: Sequence[str]) -> Any:
    for role in roles:
        for item in version.datasets:
            if item.role == role:
                return item
    return None


def _kinds(version: Any, data_types: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    features: list[str] = []
    kinds: dict[str, str] = {}
    for spec in version.signature.inputs:
        kind = spec.type if spec.type != "any" else data_types.get(spec.name, "any")
        if kind == "numeric":
            kinds[spec.name] = "numeric"
        elif kind in ("categorical", "boolean"):
            kinds[spec.name] = "categorical"
        else:
            continue  # datetime, text, id: not compared by distribution
        features.append(spec.name)
    return features, kinds


def _reference(
    store: Store,
    project: str,
    project_id: str,
    version: Any,
    charter: Any,
    reference: str | None,
    performance_reference: str | None,
) -> tuple[Reference, str]:
    from mlsteward.data import load_table
    from mlsteward.registry import load_model

    drift_ref = reference
    if drift_ref is None:
        found = _pick(version, _TRAINING_ROLES)
        if found is None:
            raise InvalidInput(
                f"Model {version.ref} records no training dataset version to compare with; "
                "pass reference=NAME@VERSION (--reference) naming the data it was trained on."
            )
        drift_ref = found.ref
    drift_version = _dataset(store, project, drift_ref)
    perf_version = None
    if performance_reference is not None:
        perf_version = _dataset(store, project, performance_reference)
    else:
        found = _pick(version, _PERFORMANCE_ROLES)
        if found is not None:
            perf_version = _dataset(store, project, found.ref)
    features, kinds = _kinds(version, drift_version.column_types)
    if not features:
        raise InvalidInput(
            f"Model {version.ref}'s signature has no numeric or categorical inputs to monitor."
        )
    task = charter.charter.task.type if charter is not None else version.signature.task
    if task not in ("binary", "multiclass", "regression"):
        classes = version.classes or version.signature.classes
        task = "binary" if classes is not None and len(classes) == 2 else "multiclass"
        if version.signature.task == "regression":
            task = "regression"
    positive = charter.charter.task.positive_class if charter is not None else None
    classes = version.classes
    if positive is None:
        positive = classes[-1] if classes else 1
    threshold = charter.charter.task.threshold if charter is not None else 0.5
    target = None if perf_version is None else perf_version.target
    parts = {
        "dataset": drift_version.id,
        "performance": None if perf_version is None else perf_version.id,
        "model": version.id,
        "features": features,
        "kinds": kinds,
        "positive": str(positive),
        "threshold": threshold,
        "task": task,
    }
    name = drift_version.short_ref
    describe = {
        "dataset": drift_version.ref,
        "performance_dataset": None if perf_version is None else perf_version.ref,
        "model": version.ref,
    }

    def build() -> Reference:
        data = load_table(store, drift_version, features)
        perf = scorer = None
        if perf_version is not None and target is not None:
            perf = load_table(store, perf_version, [*features, target])
            scorer = load_model(store, project, version.ref, domain="off")
        return build_reference(
            data,
            features=features,
            kinds=kinds,
            task=task,
            performance_data=perf,
            target=target,
            scorer=scorer,
            positive_class=positive,
            threshold=threshold,
            classes=classes,
            describe=describe,
        )

    built = load_or_build_reference(
        store,
        project_id,
        parts,
        build,
        dataset_version_id=drift_version.id,
        model_version_id=version.id,
        description=f"{version.ref} against {drift_version.short_ref}"
        + ("" if perf_version is None else f" (performance: {perf_version.short_ref})"),
    )
    return built, name


def _skew_context(
    store: Store,
    project: str,
    refs: str | Sequence[str] | None,
    entity: str | None,
    features: list[str],
) -> pa.Table | None:
    if refs is None or entity is None:
        return None
    from mlsteward.data import load_table

    tables = []
    for ref in [refs] if isinstance(refs, str) else list(refs):
        version = _dataset(store, project, ref)
        if entity not in version.columns:
            raise InvalidInput(
                f"The skew reference {version.short_ref} has no entity column {entity!r}; its "
                f"columns are {', '.join(version.columns[:30])}."
            )
        columns = [entity, *[f for f in features if f in version.columns]]
        tables.append(load_table(store, version, columns))
    return pa.concat_tables(tables, promote_options="permissive")


def monitor(
    store: Store,
    endpoint: str,
    *,
    project: str | None = None,
    model: str | None = None,
    reference: str | None = None,
    performance_reference: str | None = None,
    skew_reference: str | Sequence[str] | None = None,
    entity: str | None = None,
    entity_column: str | None = None,
    log: str | Path | LogReader | None = None,
    feedback: str | Path | None = None,
    log_root: Path | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    window: str | int | None = None,
    cost_per_hour: float | None = None,
    include_shadow: bool = False,
    multivariate: bool = True,
    thresholds: Mapping[str, Any] | None = None,
    save: bool = True,
) -> MonitorRun:
    """Monitor ``endpoint``'s log from ``start`` to ``end`` window by window (see the
    module docstring for every default); store and return the run."""
    project, project_id, endpoint_id = _project_and_endpoint(store, endpoint, project)
    if isinstance(log, LogReader):
        prediction_log = log
    elif log is not None:
        prediction_log = LogReader(log, feedback, endpoint=endpoint)
    elif log_root is not None:
        prediction_log = LogReader.for_endpoint(log_root, endpoint)
    else:
        prediction_log = LogReader.of_store(store, endpoint)
    begin, finish = _when(start, "start"), _when(end, "end")
    if begin is not None and finish is not None and finish <= begin:
        raise InvalidInput(
            f"The end ({finish.isoformat()}) must be after the start ({begin.isoformat()})."
        )
    version = _model_version(store, project, endpoint, model, prediction_log, begin, finish)
    charter = _charter(store, project)
    spec = parse_window(
        window if window is not None else (charter.charter.monitoring.window if charter else "1d")
    )
    limits = MonitorThresholds.from_charter(charter, **dict(thresholds or {}))
    ref, ref_name = _reference(
        store, project, project_id, version, charter, reference, performance_reference
    )
    from mlsteward.registry import load_model

    scorer = None
    skew_table = _skew_context(store, project, skew_reference, entity, ref.features)
    skew_rows = None if skew_table is None or entity is None else OfflineRows(skew_table, entity)
    if skew_rows is not None and ref.task == "binary":
        predictor = load_model(store, project, version.ref, domain="off")
        index = 1
        if ref.classes:
            from mlsteward.monitoring._summary import category_key

            keys = [category_key(c) for c in ref.classes]
            index = keys.index(category_key(ref.positive_class))

        def scorer(rows: pa.Table) -> Any:
            return predictor.predict_proba(rows.select(ref.features).to_pandas())[:, index]

    context = WindowContext(
        reference=ref,
        thresholds=limits,
        charter=charter,
        domains=domains_from(ref.features, ref.kinds, charter=charter, signature=version.signature),
        reference_name=ref_name,
        multivariate=multivariate,
        cost_per_hour=cost_per_hour,
        skew_rows=skew_rows,
        entity=entity,
        entity_column=entity_column,
        scorer=scorer,
    )
    inputs = set(prediction_log.layout.inputs)
    absent = [f for f in ref.features if f not in inputs]
    if absent:
        raise InvalidInput(
            f"The log of {endpoint!r} does not record the model's input(s) "
            f"{', '.join(map(repr, absent[:10]))}; it records {', '.join(sorted(inputs)[:20])}."
        )
    read_features = list(ref.features)
    extra: list[str] = []
    served_entity = entity_column or entity
    if served_entity is not None and skew_rows is not None:
        if served_entity == "request_id":
            pass  # always read
        elif served_entity in inputs:
            read_features.append(served_entity)
        elif served_entity in prediction_log.layout.columns:
            extra.append(served_entity)
        else:
            raise InvalidInput(
                f"The log of {endpoint!r} has no entity column {served_entity!r} (neither an "
                "input nor a column of its own); skew needs the id both sides share "
                "(entity_column=request_id when request ids are the entity ids)."
            )
    windows = prediction_log.windows(spec, begin, finish, include_shadow=include_shadow)
    results: list[WindowResult] = []
    # models in the loop (domain classifier, replays) run on small windows: one native
    # thread each avoids OpenMP oversubscription, which costs far more than it gains here
    with threadpool_limits(limits=1):
        for item in windows:
            table = prediction_log.read(
                item, features=read_features, include_shadow=include_shadow, extra=extra
            )
            results.append(evaluate_window(context, item, table))
    if log is None or not isinstance(log, LogReader):
        prediction_log.close()
    return save_run(
        store,
        project=project,
        project_id=project_id,
        endpoint=endpoint,
        endpoint_id=endpoint_id,
        version=version,
        charter=charter,
        reference=ref,
        window=str(spec),
        start=begin,
        end=finish,
        results=results,
        thresholds=limits,
        save=save,
    )
