"""One window of a monitor run: read it, measure everything, judge it, raise alerts.

:class:`WindowContext` holds what every window of a run shares (the reference, the
thresholds, the charter, the domains, the skew data); :func:`evaluate_window` turns the
rows of one window (an Arrow table, as :meth:`LogReader.read` returns them) into a
:class:`WindowResult`. Everything is columnar on the window's rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.monitoring._alerts import window_alerts
from mlsteward.monitoring._drift import DriftReport, compare_columns
from mlsteward.monitoring._estimation import ClassifierEstimator, MetricEstimate
from mlsteward.monitoring._fairness import as_measurements, limits_of, window_fairness
from mlsteward.monitoring._multiclass import MulticlassEstimator, probability_matrix
from mlsteward.monitoring._multivariate import (
    DomainClassifierResult,
    PCADriftResult,
    domain_classifier,
    encode,
)
from mlsteward.monitoring._operations import error_mask, operations, rejected_mask
from mlsteward.monitoring._performance import realized_performance
from mlsteward.monitoring._quality import Domain, check_quality
from mlsteward.monitoring._records import WindowResult
from mlsteward.monitoring._reference import OUTPUT_CLASS, OUTPUT_SCORE, Reference
from mlsteward.monitoring._skew import OfflineRows, SkewReport, training_serving_skew
from mlsteward.monitoring._summary import (
    CategoricalSummary,
    category_key,
    category_keys,
    class_indices,
)
from mlsteward.monitoring._tables import DataSummary, column_items, summarise_window
from mlsteward.monitoring._thresholds import MonitorThresholds
from mlsteward.monitoring._windows import Window

if TYPE_CHECKING:
    from mlsteward.charter import CharterVersion, GateReport, Measurement

__all__ = ["WindowContext", "evaluate_window"]

MIN_LABELS_FOR_GATES = 100


@dataclass
class WindowContext:
    """What every window of a run shares."""

    reference: Reference
    thresholds: MonitorThresholds
    charter: CharterVersion | None = None
    domains: Mapping[str, Domain] = field(default_factory=dict)
    reference_name: str = "reference"
    multivariate: bool = True
    cost_per_hour: float | None = None
    skew_rows: OfflineRows | None = None
    entity: str | None = None
    entity_column: str | None = None
    scorer: Callable[[pa.Table], np.ndarray] | None = None
    bridge: dict[tuple[str, float], float] = field(default_factory=dict)
    _sample_codes: np.ndarray | None = None

    def sample_codes(self) -> np.ndarray | None:
        if self._sample_codes is None and self.reference.sample is not None:
            _, items = column_items(self.reference.sample)
            self._sample_codes = encode(items, self.reference.inputs.columns, frequencies=False)
        return self._sample_codes


def _scores(table: pa.Table) -> np.ndarray | None:
    column = table.column("probability")
    if column.null_count == table.num_rows:
        return None
    values = pc.cast(column, pa.float64())
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _output_drift(ctx: WindowContext, table: pa.Table) -> DriftReport | None:
    outputs = ctx.reference.outputs
    if outputs is None or table.num_rows == 0:
        return None
    data: dict[str, Any] = {}
    if OUTPUT_SCORE in outputs.columns:
        scores = _scores(table) if ctx.reference.task != "regression" else None
        if ctx.reference.task == "regression":
            scores = np.asarray(
                pc.cast(table.column("prediction"), pa.float64()).to_numpy(zero_copy_only=False)
            )
        if scores is not None:
            data[OUTPUT_SCORE] = scores
    if OUTPUT_CLASS in outputs.columns:
        data[OUTPUT_CLASS] = pa.array(category_keys(table.column("prediction")), pa.string())
    if not data:
        return None
    summary = DataSummary(outputs.row_count, {k: outputs.columns[k] for k in data})
    current = summarise_window(summary, data, workers=1)
    return compare_columns(
        summary, current, ctx.thresholds.drift, outputs=list(data), bridge=ctx.bridge
    )


def _multivariate(
    ctx: WindowContext, items: Mapping[str, Any], rows: int, seed: int
) -> tuple[DomainClassifierResult | None, PCADriftResult | None]:
    reference = ctx.reference
    if not ctx.multivariate or rows < 20 or len(reference.features) < 2:
        return None, None
    pca = None
    if reference.pca is not None:
        matrix = encode(items, reference.inputs.columns, frequencies=True)
        pca = reference.pca.check(
            matrix, threshold=ctx.thresholds.pca_change, p_value=ctx.thresholds.p_value
        )
    domain = None
    sample = ctx.sample_codes()
    if sample is not None:
        codes = encode(items, reference.inputs.columns, frequencies=False)
        categorical = [isinstance(s, CategoricalSummary) for s in reference.inputs.columns.values()]
        domain = domain_classifier(
            sample,
            codes,
            categorical=categorical,
            threshold=ctx.thresholds.domain_auc,
            p_value=ctx.thresholds.p_value,
            seed=seed,
        )
    return domain, pca


def _estimate(
    ctx: WindowContext, table: pa.Table, items: Mapping[str, Any], seed: int
) -> dict[str, MetricEstimate]:
    reference = ctx.reference
    if table.num_rows == 0:
        return {}
    if reference.task == "regression":
        regressor = reference.regressor()
        if regressor is None:
            return {}
        predictions = np.asarray(
            pc.cast(table.column("prediction"), pa.float64()).to_numpy(zero_copy_only=False)
        )
        x = encode(items, reference.inputs.columns, frequencies=True)
        finite = np.isfinite(predictions)
        return regressor.estimate(x[finite], predictions[finite])
    if isinstance(reference.estimator, MulticlassEstimator):
        return _estimate_multiclass(reference.estimator, reference.classes, table, seed)
    if not isinstance(reference.estimator, ClassifierEstimator) or reference.task != "binary":
        return {}
    scores = _scores(table)
    if scores is None:
        return {}
    finite = np.isfinite(scores)
    predicted = category_keys(table.column("prediction")) == category_key(reference.positive_class)
    if table.column("prediction").null_count == table.num_rows:
        predicted = scores >= reference.threshold
    return reference.estimator.estimate(scores[finite], predicted[finite], seed=seed)


def _estimate_multiclass(
    estimator: MulticlassEstimator, classes: Sequence[Any] | None, table: pa.Table, seed: int
) -> dict[str, MetricEstimate]:
    """The multiclass estimate over the rows that logged every class's probability."""
    if "probabilities" not in table.column_names or not classes:
        return {}
    matrix, usable = probability_matrix(table.column("probabilities"), estimator.classes)
    if not usable.any():
        return {}
    keys = [category_key(c) for c in classes]
    predicted = class_indices(category_keys(table.column("prediction")), keys)[usable]
    if (predicted < 0).any():  # no usable prediction: the class the probabilities favour
        predicted = np.where(predicted < 0, matrix.argmax(axis=1), predicted)
    return estimator.estimate(matrix, predicted, seed=seed)


def _gates(
    ctx: WindowContext,
    drift: DriftReport | None,
    realized: Mapping[str, float],
    labelled: int,
    estimated: Mapping[str, MetricEstimate],
    measured_ops: Mapping[str, float],
    fairness: Sequence[Measurement] = (),
) -> GateReport | None:
    if ctx.charter is None:
        return None
    from mlsteward.charter import Measurement, charter_gates, evaluate_gates

    measurements: list[Measurement] = [Measurement(k, float(v)) for k, v in measured_ops.items()]
    if drift is not None:
        measurements.append(Measurement("drift_share", drift.drift_share))
    metrics = set()
    for gate in charter_gates(ctx.charter, "monitoring"):
        metrics.add(gate.metric)
    for metric in sorted(metrics):
        value = realized.get(metric)
        if value is not None and not math.isnan(value) and labelled >= MIN_LABELS_FOR_GATES:
            measurements.append(Measurement(metric, float(value)))
        elif metric in estimated:
            e = estimated[metric]
            measurements.append(
                Measurement(metric, e.value, (e.low, e.high), confidence=e.confidence)
            )
    measured = {m.metric for m in measurements}
    disparities = {(m.metric, m.attribute) for m in fairness}
    measurements.extend(fairness)
    keys = [
        g.key
        for g in charter_gates(ctx.charter, "monitoring")
        if (g.attribute is None and g.metric in measured)
        or (g.attribute is not None and (g.metric, g.attribute) in disparities)
    ]
    if not keys:
        return None
    return evaluate_gates(ctx.charter, measurements, stage="monitoring", keys=keys)


def _skew(ctx: WindowContext, table: pa.Table) -> SkewReport | None:
    if ctx.skew_rows is None or ctx.entity is None:
        return None
    column = ctx.entity_column or ctx.entity
    if column not in table.column_names:
        return None
    return training_serving_skew(
        table,
        ctx.skew_rows,
        entity=ctx.entity,
        served_entity=column,
        features=ctx.reference.features,
        kinds=ctx.reference.kinds,
        threshold=ctx.thresholds.skew_mismatch_share,
        score=ctx.scorer,
        served_scores=_scores(table),
        decision_threshold=ctx.reference.threshold,
    )


def evaluate_window(ctx: WindowContext, window: Window, table: pa.Table) -> WindowResult:
    """Every measurement, the gates and the alerts of one window (see the module docstring)."""
    reference = ctx.reference
    if window.kind == "time":
        duration = (window.end - window.start).total_seconds()
    else:
        duration = max((window.end - window.start).total_seconds(), 1.0)
    ops = operations(table, duration, cost_per_hour=ctx.cost_per_hour)
    good = table.filter(pa.array(~error_mask(table.column("status")))) if table.num_rows else table
    notes: list[str] = []
    versions: dict[str, int] = {}
    if good.num_rows:
        counted = pc.value_counts(good.column("model_version"))
        versions = {
            str(v): int(n)
            for v, n in zip(
                counted.field("values").to_pylist(),
                counted.field("counts").to_pylist(),
                strict=True,
            )
        }
    _, items = column_items(good.select(reference.features))
    drift = None
    if good.num_rows:
        current = summarise_window(reference.inputs, items, workers=1)
        drift = compare_columns(
            reference.inputs,
            current,
            ctx.thresholds.drift,
            bridge=ctx.bridge,
            reference_name=ctx.reference_name,
            current_name=window.label(),
        )
        outputs = _output_drift(ctx, good)
        if outputs is not None:
            drift = DriftReport(
                drift.features + outputs.features,
                drift.reference_rows,
                drift.current_rows,
                drift.config,
                drift.reference,
                drift.current,
            )
    quality = check_quality(items, reference.kinds, ctx.domains) if good.num_rows else None
    domain, pca = _multivariate(ctx, items, good.num_rows, seed=window.index)
    realized = realized_performance(
        good, reference.task, positive_class=reference.positive_class, classes=reference.classes
    )
    estimated = _estimate(ctx, good, items, seed=window.index)
    if reference.estimator is None and reference.task in ("binary", "multiclass"):
        notes.append(
            "No performance estimate: the reference has no labelled held-out data (pass a "
            "performance reference: a dataset version with the target, such as the test split)."
        )
    skew = _skew(ctx, good)
    fairness = None
    if ctx.charter is not None and reference.task == "binary" and good.num_rows:
        limits = limits_of(ctx.charter.charter)
        if limits:
            fairness = window_fairness(
                good, limits, positive_class=reference.positive_class, seed=window.index
            )
    gates = _gates(
        ctx,
        drift,
        realized.metrics,
        realized.labelled,
        estimated,
        ops.measurements(),
        [] if fairness is None else as_measurements(fairness),
    )
    reference_metrics = (
        dict(reference.estimator.reference_metrics) if reference.estimator is not None else {}
    )
    rejections: list[tuple[str, int]] = []
    if ops.rejected:
        refused = table.filter(pa.array(rejected_mask(table.column("status"))))
        counted_errors = pc.value_counts(refused.column("error"))
        rejections = sorted(
            (
                (str(v)[:200], int(n))
                for v, n in zip(
                    counted_errors.field("values").to_pylist(),
                    counted_errors.field("counts").to_pylist(),
                    strict=True,
                )
                if v is not None
            ),
            key=lambda kv: -kv[1],
        )
    alerts = window_alerts(
        operations=ops,
        rejections=rejections,
        drift=drift,
        domain=domain,
        pca=pca,
        quality=quality,
        estimated=estimated,
        realized=realized,
        reference_metrics=reference_metrics,
        skew=skew,
        gates=gates,
        thresholds=ctx.thresholds,
        reference=ctx.reference_name,
    )
    return WindowResult(
        window=window,
        drift=drift,
        domain=domain,
        pca=pca,
        realized=realized,
        estimated=estimated,
        quality=quality,
        operations=ops,
        skew=skew,
        gates=gates,
        alerts=tuple(a.at(window.index, window.start, window.end) for a in alerts),
        model_versions=versions,
        notes=tuple(notes) + (() if fairness is None else fairness.notes),
        fairness=fairness,
    )
