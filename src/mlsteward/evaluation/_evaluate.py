"""Orchestration: one call evaluates a model on data and judges it by the charter.

:func:`evaluate` resolves the inputs, calls the model once on every row, runs one
vectorised bootstrap for every interval (headline metrics, declared slices, fairness
disparities, business value), discovers the worst slices, runs the robustness checks,
asks the gate engine for the verdict, and (given a store and a project) records it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsteward.charter import (
    METRICS,
    Charter,
    CharterVersion,
    GateReport,
    Measurement,
    evaluate_gates,
)
from mlsteward.core import InvalidInput
from mlsteward.evaluation._bootstrap import (
    Estimate,
    KernelStatistic,
    Statistic,
    run_bootstrap,
)
from mlsteward.evaluation._business import BusinessReport, BusinessStatistic, business_report
from mlsteward.evaluation._fairness import (
    FairnessReport,
    FairnessStatistic,
    fairness_groups,
    fairness_report,
    kept_groups,
)
from mlsteward.evaluation._inputs import (
    CharterInput,
    resolve_charter,
    resolve_data,
    resolve_model,
)
from mlsteward.evaluation._metrics import (
    Array,
    MetricKernel,
    Outcomes,
    TaskType,
    calibration_table,
    confusion_matrix,
    curve_points,
)
from mlsteward.evaluation._records import Evaluation, EvaluationSettings
from mlsteward.evaluation._robustness import RobustnessReport, run_robustness
from mlsteward.evaluation._slices import (
    SliceReport,
    SliceStatistic,
    declared_masks,
    declared_slices,
    discover_slices,
    slice_metric,
)
from mlsteward.evaluation._spec import EvaluationSpec, SliceInput, build_spec, predict_outcomes
from mlsteward.store import Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Progress", "RunResult", "evaluate", "run_evaluation"]

Progress = Callable[[str], None]


@dataclass
class RunResult:
    """An evaluation and what a comparison needs besides: outcomes and resampled values."""

    evaluation: Evaluation
    outcomes: Outcomes
    metric_draws: dict[str, Array]
    slice_draws: dict[str, Array]
    slice_masks: dict[str, tuple[str, Array]]
    spec: EvaluationSpec
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    def __init__(self, progress: Progress | None) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextmanager
    def step(self, name: str, message: str) -> Iterator[None]:
        if self.progress is not None:
            self.progress(message)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def _curves(outcomes: Outcomes) -> dict[str, Any]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    curves: dict[str, Any] = {}
    if outcomes.task == "regression":
        residuals = outcomes.pred - outcomes.y
        counts, edges = np.histogram(residuals, bins=30)
        quantiles = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
        curves["residuals"] = {
            "edges": edges.tolist(),
            "counts": counts.tolist(),
            "mean": float(residuals.mean()),
            "std": float(residuals.std()),
            "quantiles": dict(
                zip(map(str, quantiles), np.quantile(residuals, quantiles).tolist(), strict=True)
            ),
        }
        return curves
    labels = [str(c) for c in outcomes.classes]
    curves["confusion"] = {"labels": labels, "matrix": confusion_matrix(outcomes).tolist()}
    if (
        outcomes.task == "binary"
        and outcomes.score is not None
        and 0 < outcomes.y.sum() < outcomes.n
    ):
        fpr, tpr, _ = roc_curve(outcomes.y, outcomes.score)
        keep = curve_points(fpr, tpr)
        curves["roc"] = {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}
        precision, recall, _ = precision_recall_curve(outcomes.y, outcomes.score)
        keep = curve_points(recall, precision)
        curves["pr"] = {"recall": recall[keep].tolist(), "precision": precision[keep].tolist()}
    if outcomes.proba is not None:
        if outcomes.task == "binary":
            curves["calibration"] = calibration_table(outcomes.proba, outcomes.y)
        else:
            confidence = outcomes.proba.max(axis=1)
            curves["calibration"] = calibration_table(confidence, outcomes.correct)
    return curves


def _clip(metric: str, value: float) -> float:
    spec = METRICS.get(metric)
    if spec is None or not np.isfinite(value):
        return value
    return float(min(max(value, spec.low), spec.high))


def _measurement(
    metric: str, estimate: Estimate, on: str | None, attribute: str | None = None
) -> Measurement:
    interval = None
    if estimate.interval is not None:
        interval = (_clip(metric, estimate.interval[0]), _clip(metric, estimate.interval[1]))
    return Measurement(
        metric,
        _clip(metric, estimate.value),
        interval,
        on=on,
        attribute=attribute,
        confidence=estimate.confidence if interval is not None else None,
    )


def _gates(
    charter: Charter | CharterVersion,
    spec: EvaluationSpec,
    metrics: Mapping[str, Estimate],
    slices: SliceReport,
    fairness: Sequence[FairnessReport],
    business: BusinessReport | None,
    size_mb: float | None,
) -> GateReport:
    measurements = [_measurement(name, est, spec.on) for name, est in metrics.items()]
    limited = {(f.metric, f.attribute) for f in spec.fairness if f.threshold is not None}
    for report in fairness:
        for disparity in report.disparities:
            if (disparity.metric, disparity.attribute) in limited:
                measurements.append(
                    _measurement(disparity.metric, disparity.estimate, spec.on, disparity.attribute)
                )
    if business is not None:
        measurements.append(_measurement("expected_value_per_1k", business.per_1k, spec.on))
    if size_mb is not None:
        measurements.append(Measurement("model_size_mb", size_mb))
    # gates on a declared slice (``on: SEX=2``) are judged on that slice's metrics
    doc = charter.charter if isinstance(charter, CharterVersion) else charter
    wanted = {item.on for item in doc.success_metrics} - {spec.on}
    for item in slices.declared:
        if item.name in wanted:
            for name, value in item.metrics.items():
                estimate = item.estimate if name == item.metric else Estimate(value)
                measurements.append(_measurement(name, estimate, item.name))
    return evaluate_gates(charter, measurements, stage="evaluation")


def run_evaluation(
    store: Store | None,
    model: Any,
    dataset: Any,
    charter: CharterInput = None,
    *,
    project: str | None = None,
    sensitive_features: Sequence[str] | None = None,
    slices: SliceInput | None = None,
    target: str | None = None,
    features: Sequence[str] | None = None,
    task: TaskType | None = None,
    positive_class: Any = None,
    threshold: float | None = None,
    main_metric: str | None = None,
    on: str | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    fdr: float = 0.05,
    robustness: bool = True,
    robustness_rows: int = 5000,
    discover: bool = True,
    progress: Progress | None = None,
) -> RunResult:
    """:func:`evaluate` without recording, returning what a comparison needs too."""
    if not 0 < confidence < 1:
        raise InvalidInput(
            f"confidence is a fraction between 0 and 1 (e.g. 0.95), got {confidence}."
        )
    if not 0 < fdr < 1:
        raise InvalidInput(f"fdr is a false-discovery rate between 0 and 1 (e.g. 0.05), got {fdr}.")
    clock = _Clock(progress)
    with clock.step("load", "loading the model, the data and the charter"):
        resolved = resolve_model(store, project, model)
        project = project or resolved.project
        doc, version = resolve_charter(store, project, charter)
        frame, data_info, dataset_version = resolve_data(store, project, dataset)
        spec = build_spec(
            frame=frame,
            data=data_info,
            model=resolved,
            charter=doc,
            target=target,
            features=features,
            task=task,
            positive_class=positive_class,
            threshold=threshold,
            main_metric=main_metric,
            on=on,
            sensitive_features=sensitive_features,
            slices=slices,
            dataset_target=None if dataset_version is None else dataset_version.target,
        )
        labelled = frame[spec.target].notna().to_numpy()
        unlabelled = int((~labelled).sum())
        if unlabelled:
            frame = frame.loc[labelled].reset_index(drop=True)
        if len(frame) == 0:
            raise InvalidInput(
                f"No row of the data has a label in {spec.target!r}; nothing to evaluate."
            )
    with clock.step("predict", f"predicting {len(frame):,} rows"):
        outcomes = predict_outcomes(resolved, frame, spec)
    with clock.step("curves", "computing curves"):
        curves = _curves(outcomes)
    masks = declared_masks(frame, spec.slices)
    groups = {a: fairness_groups(frame[a]) for a in spec.sensitive} if spec.fairness else {}
    kept = kept_groups(groups, spec.fairness)
    statistics: list[Statistic] = [KernelStatistic(MetricKernel(outcomes))]
    statistics.append(SliceStatistic(outcomes, {k: m for k, (_, m) in masks.items()}))
    if spec.fairness:
        statistics.append(FairnessStatistic(outcomes, groups, spec.fairness, kept))
    if spec.value is not None:
        statistics.append(BusinessStatistic(outcomes, spec.value))
    position = {s.name: i for i, s in enumerate(statistics)}
    with clock.step("bootstrap", f"bootstrapping {n_boot:,} resamples"):
        boot = run_bootstrap(outcomes.n, statistics, n_boot=n_boot, seed=seed)
    for key, seconds in boot.timings.items():
        clock.timings[f"bootstrap.{key}"] = seconds
    metric_point, metric_draws = boot.point[0], boot.draws[0]
    metrics = {
        name: Estimate.of(metric_point[name], metric_draws.get(name), confidence)
        for name in outcomes.metric_names()
    }
    with clock.step("slices", "measuring declared slices and discovering the worst"):
        overall_slice = _overall_slice_metric(outcomes, metric_point)
        declared = declared_slices(
            outcomes,
            masks,
            overall_slice,
            boot.point[1],
            boot.draws[1] if n_boot else None,
            confidence,
        )
        search = list(dict.fromkeys([*spec.features, *spec.sensitive]))
        discovered, tested, support = (
            discover_slices(frame, search, outcomes, fdr=fdr) if discover else ([], 0, 0)
        )
        slice_report = SliceReport(
            metric=slice_metric(outcomes.task),
            declared=tuple(declared),
            discovered=tuple(discovered),
            tested=tested,
            fdr=fdr,
            min_support=support,
            max_depth=2,
            columns=tuple(search) if discover else (),
        )
    fairness: list[FairnessReport] = []
    if spec.fairness:
        with clock.step("fairness", "measuring fairness"):
            fairness = fairness_report(
                outcomes,
                groups,
                spec.fairness,
                kept,
                spec.main_metric,
                boot.draws[position["fairness"]] if n_boot else None,
                confidence,
            )
    business = None
    if spec.value is not None:
        with clock.step("business", "computing business value"):
            draws = boot.draws[position["business"]]["per_1k"] if n_boot else None
            business = business_report(outcomes, spec.value, draws, confidence)
    robust: RobustnessReport | None = None
    if robustness:
        with clock.step("robustness", "checking robustness"):
            robust = run_robustness(
                resolved, frame, outcomes, spec, sample_rows=robustness_rows, seed=seed
            )
    gates = None
    target_charter = version if version is not None else doc
    if target_charter is not None:
        with clock.step("gates", "judging the charter's gates"):
            gates = _gates(
                target_charter,
                spec,
                metrics,
                slice_report,
                fairness,
                business,
                resolved.info.size_mb,
            )
    evaluation = Evaluation(
        model=resolved.info,
        data=data_info,
        task=spec.task,
        target=spec.target,
        main_metric=spec.main_metric,
        on=spec.on,
        settings=EvaluationSettings(n_boot, confidence, seed, fdr, robustness_rows),
        metrics=metrics,
        curves=curves,
        slices=slice_report,
        fairness=tuple(fairness),
        robustness=robust,
        business=business,
        gates=gates,
        classes=outcomes.classes,
        positive_class=spec.positive_class,
        threshold=spec.threshold,
        features=tuple(spec.features),
        project=project,
        charter_ref=None if version is None else version.ref,
        charter_version_id=None if version is None else version.id,
        rows_without_label=unlabelled,
        notes=tuple(spec.notes),
        timings=clock.timings,
        created_by=None if store is None else store.actor,
    )
    return RunResult(
        evaluation=evaluation,
        outcomes=outcomes,
        metric_draws=metric_draws,
        slice_draws=boot.draws[1],
        slice_masks=masks,
        spec=spec,
        timings=clock.timings,
    )


def _overall_slice_metric(outcomes: Outcomes, point: Mapping[str, float]) -> float:
    """The whole data's slice metric (accuracy or MAE)."""
    return float(point[slice_metric(outcomes.task)])


def evaluate(
    store: Store | None,
    model: Any,
    dataset: pd.DataFrame | Any,
    charter: CharterInput = None,
    *,
    project: str | None = None,
    sensitive_features: Sequence[str] | None = None,
    slices: SliceInput | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    record: bool = True,
    progress: Progress | None = None,
    **options: Any,
) -> Evaluation:
    """Evaluate ``model`` on ``dataset``; judge it by the charter; record it.

    ``model`` is a registry reference (``NAME@V``, ``NAME@alias``; needs a store and a
    project) or any object with ``predict`` (and ``predict_proba``); ``dataset`` a
    dataset reference or a pandas DataFrame; ``charter`` a Charter, a stored version, a
    file path, a version number, or None for the project's latest charter (no charter:
    sensible defaults, no gates judged). ``sensitive_features`` and ``slices`` override
    the charter's. Further options: ``target``, ``features``, ``task``,
    ``positive_class``, ``threshold``, ``main_metric``, ``on`` (the dataset role gates
    are matched to), ``confidence``, ``fdr``, ``robustness``, ``robustness_rows``,
    ``discover``.

    With a store and a project the evaluation is stored (unless ``record=False``),
    linked to the model version, dataset version and charter version, with its verdict.
    """
    result = run_evaluation(
        store,
        model,
        dataset,
        charter,
        project=project,
        sensitive_features=sensitive_features,
        slices=slices,
        n_boot=n_boot,
        seed=seed,
        progress=progress,
        **options,
    )
    evaluation = result.evaluation
    if record and store is not None and evaluation.project is not None:
        from mlsteward.evaluation._service import record_evaluation

        start = time.perf_counter()
        evaluation = record_evaluation(store, evaluation.project, evaluation)
        timings = dict(evaluation.timings)
        timings["record"] = time.perf_counter() - start
        evaluation = _with_timings(evaluation, timings)
    return evaluation


def _with_timings(evaluation: Evaluation, timings: dict[str, float]) -> Evaluation:
    from dataclasses import replace

    return replace(evaluation, timings=timings)
