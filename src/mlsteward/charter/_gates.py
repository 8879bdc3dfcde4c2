"""The gate engine: one pure function from a charter and measurements to verdicts.

Evaluation, rollouts and monitoring all judge models with :func:`evaluate_gates`; nothing
here reads or writes the store.

Gates
=====
Every threshold in a charter is a gate. Its key names what it needs measured:
``metric@on`` for success metrics, ``metric[attribute]@on`` for fairness limits (one gate
per sensitive attribute), the metric alone for constraints and monitoring limits.

================================  =========================  ========================
source                            metric (key)               judged at (stages)
================================  =========================  ========================
success_metrics[i]                its metric, ``@on``        evaluation, monitoring
constraints.fairness[i]           its metric, per attribute  evaluation, monitoring
constraints.latency_p95_ms        latency_p95_ms             rollout, monitoring
constraints.latency_p99_ms        latency_p99_ms             rollout, monitoring
constraints.max_error_rate        error_rate                 rollout, monitoring
constraints.max_cost_per_1k       cost_per_1k                rollout, monitoring
constraints.max_model_size_mb     model_size_mb              evaluation, rollout
monitoring.drift.max_drift_share  drift_share                monitoring
================================  =========================  ========================

Verdict of one gate
===================
The metric's registered direction says whether the threshold is a minimum (higher is
better: pass when the value is >= the threshold) or a maximum (lower is better: pass when
<=). With a confidence interval (low, high) the interval decides, not the point value:

- ``pass`` when the whole interval is on the good side (the threshold itself included);
- ``fail`` when the whole interval is strictly on the bad side;
- ``inconclusive`` when the interval straddles the threshold;
- ``not_measured`` when no measurement matches the gate (or its value is NaN).

Without an interval the value alone decides (pass or fail, never inconclusive). The
verdict is monotone: moving the value and interval in the metric's good direction never
lowers it in the order fail < inconclusive < pass.

Overall verdict
===============
- ``fail`` if any required gate fails;
- otherwise ``inconclusive`` if any required gate is inconclusive or not measured;
- otherwise ``pass``.

Optional gates (``required: false``) never change the overall verdict; when they fail or
are inconclusive they are listed as warnings. Only ``pass`` lets a model through.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from mlsteward.charter._metrics import METRICS, Direction, format_number
from mlsteward.charter._records import CharterVersion
from mlsteward.charter._schema import Charter
from mlsteward.charter._verdicts import (
    STAGES,
    Gate,
    GateReport,
    GateStatus,
    GateVerdict,
    Measurement,
    Measurements,
    OverallVerdict,
    Stage,
)
from mlsteward.core import InvalidInput

__all__ = ["charter_gates", "evaluate_gates", "judge", "overall_verdict"]


def _status(direction: Direction, threshold: float, low: float, high: float) -> GateStatus:
    if direction == "higher":
        if low >= threshold:
            return "pass"
        return "fail" if high < threshold else "inconclusive"
    if high <= threshold:
        return "pass"
    return "fail" if low > threshold else "inconclusive"


def judge(gate: Gate, measurement: Measurement | None) -> GateVerdict:
    """The verdict of one gate on one measurement (None: not measured). Pure."""
    if measurement is None:
        return GateVerdict(gate, "not_measured", reason=f"{_subject(gate)} was not measured")
    if math.isnan(measurement.value):
        return GateVerdict(
            gate,
            "not_measured",
            interval=measurement.interval,
            confidence=measurement.confidence,
            reason=f"{_subject(gate)} was measured as NaN (undefined on this data)",
        )
    low, high = measurement.interval or (measurement.value, measurement.value)
    status = _status(gate.direction, gate.threshold, low, high)
    shown = f"{_subject(gate)} = {measurement.describe()}"
    bar = f"{gate.operator} {format_number(gate.threshold)}"
    if status == "pass":
        reason = f"{shown} {bar}" + (": the whole interval passes" if measurement.interval else "")
    elif status == "fail":
        reason = f"{shown}; needs {bar}" + (
            ": the whole interval fails" if measurement.interval else ""
        )
    else:
        reason = f"{shown} straddles the threshold: needs {bar}; measure on more data to decide"
    return GateVerdict(
        gate,
        status,
        value=measurement.value,
        interval=measurement.interval,
        confidence=measurement.confidence,
        reason=reason,
    )


def _subject(gate: Gate) -> str:
    return (
        gate.metric
        + (f" for {gate.attribute}" if gate.attribute else "")
        + (f" on {gate.on}" if gate.on else "")
    )


def overall_verdict(verdicts: Iterable[GateVerdict]) -> OverallVerdict:
    """fail if a required gate fails; else inconclusive if a required gate is inconclusive
    or not measured; else pass. Optional gates do not count."""
    required = [v.status for v in verdicts if v.gate.required]
    if "fail" in required:
        return "fail"
    if "inconclusive" in required or "not_measured" in required:
        return "inconclusive"
    return "pass"


# -- gates of a charter -------------------------------------------------------------------------
_CONSTRAINT_GATES: tuple[tuple[str, str, tuple[Stage, ...]], ...] = (
    ("latency_p95_ms", "latency_p95_ms", ("rollout", "monitoring")),
    ("latency_p99_ms", "latency_p99_ms", ("rollout", "monitoring")),
    ("max_error_rate", "error_rate", ("rollout", "monitoring")),
    ("max_cost_per_1k", "cost_per_1k", ("rollout", "monitoring")),
    ("max_model_size_mb", "model_size_mb", ("evaluation", "rollout")),
)


def _check_stage(stage: str | None) -> None:
    if stage is not None and stage not in STAGES:
        raise InvalidInput(f"Unknown stage {stage!r}; expected one of {', '.join(STAGES)}.")


def charter_gates(charter: Charter | CharterVersion, stage: Stage | None = None) -> list[Gate]:
    """Every gate of a charter (only those judged at ``stage`` when given), in the order
    success metrics, fairness limits, constraints, monitoring."""
    _check_stage(stage)
    doc = charter.charter if isinstance(charter, CharterVersion) else charter
    gates: list[Gate] = []
    for index, item in enumerate(doc.success_metrics):
        gates.append(
            Gate(
                metric=item.metric,
                direction=METRICS[item.metric].direction,
                threshold=item.threshold,
                required=item.required,
                source=f"success_metrics[{index}]",
                on=item.on,
                stages=("evaluation", "monitoring"),
            )
        )
    for index, limit in enumerate(doc.constraints.fairness):
        for attribute in limit.sensitive_attributes:
            gates.append(
                Gate(
                    metric=limit.metric,
                    direction=METRICS[limit.metric].direction,
                    threshold=limit.threshold,
                    required=limit.required,
                    source=f"constraints.fairness[{index}]",
                    on=limit.on,
                    attribute=attribute,
                    stages=("evaluation", "monitoring"),
                )
            )
    for name, metric, stages in _CONSTRAINT_GATES:
        bound = getattr(doc.constraints, name)
        if bound is not None:
            gates.append(
                Gate(
                    metric=metric,
                    direction="lower",
                    threshold=bound,
                    required=True,
                    source=f"constraints.{name}",
                    stages=stages,
                )
            )
    gates.append(
        Gate(
            metric="drift_share",
            direction="lower",
            threshold=doc.monitoring.drift.max_drift_share,
            required=True,
            source="monitoring.drift.max_drift_share",
            stages=("monitoring",),
        )
    )
    return [g for g in gates if stage is None or stage in g.stages]


def _normalise(measurements: Measurements) -> list[Measurement]:
    if isinstance(measurements, Mapping):
        items = [Measurement.parse(str(k), v) for k, v in measurements.items()]
    else:
        items = list(measurements)
        for item in items:
            if not isinstance(item, Measurement):
                raise InvalidInput(
                    f"Measurements are a mapping of key to value or Measurement objects, got "
                    f"{type(item).__name__}."
                )
    seen: set[str] = set()
    for item in items:
        if item.key in seen:
            raise InvalidInput(f"{item.key} is measured twice; give one measurement per key.")
        seen.add(item.key)
    return items


def _match(gate: Gate, measurements: list[Measurement]) -> Measurement | None:
    candidates = [
        m
        for m in measurements
        if m.metric == gate.metric
        and m.attribute == gate.attribute
        and (m.on is None or gate.on is None or m.on == gate.on)
    ]
    exact = [m for m in candidates if m.on == gate.on]
    chosen = exact or candidates
    if len(chosen) > 1:
        raise InvalidInput(
            f"Gate {gate.key} ({gate.source}) matches several measurements: "
            f"{', '.join(m.key for m in chosen)}. Give one, or name its role (METRIC@ROLE)."
        )
    return chosen[0] if chosen else None


def evaluate_gates(
    charter: Charter | CharterVersion,
    measurements: Measurements,
    *,
    stage: Stage | None = None,
    keys: Iterable[str] | None = None,
) -> GateReport:
    """Judge a charter's gates on measured values and return the report.

    ``measurements`` maps gate-style keys (``roc_auc@test``, ``latency_p95_ms``,
    ``equalized_odds_difference[SEX]@test``) to a value or ``(value, low, high)``, or is
    an iterable of :class:`Measurement`. ``stage`` keeps the gates judged at that stage;
    ``keys`` keeps only the named gates. Pure: no store, no clock.

    >>> from mlsteward.charter import CHARTER_TEMPLATE
    >>> charter = Charter.from_yaml_text(CHARTER_TEMPLATE)  # roc_auc >= 0.8, recall >= 0.7
    >>> report = evaluate_gates(
    ...     charter, {"roc_auc@test": (0.81, 0.79, 0.83), "recall@test": 0.6}, stage="evaluation"
    ... )
    >>> [(v.gate.key, v.status) for v in report.gates][:2], report.verdict
    ([('roc_auc@test', 'inconclusive'), ('recall@test', 'fail')], 'fail')
    """
    gates = charter_gates(charter, stage)
    if keys is not None:
        wanted = list(keys)
        known = {g.key for g in gates}
        unknown = [k for k in wanted if k not in known]
        if unknown:
            raise InvalidInput(
                f"No gate {', '.join(map(repr, unknown))} in this charter"
                f"{f' at stage {stage}' if stage else ''}; gates: {', '.join(sorted(known))}."
            )
        gates = [g for g in gates if g.key in wanted]
    items = _normalise(measurements)
    used: set[str] = set()
    verdicts = []
    for gate in gates:
        measurement = _match(gate, items)
        if measurement is not None:
            used.add(measurement.key)
        verdicts.append(judge(gate, measurement))
    version = charter if isinstance(charter, CharterVersion) else None
    doc = version.charter if version is not None else charter
    assert isinstance(doc, Charter)
    return GateReport(
        verdict=overall_verdict(verdicts),
        gates=tuple(verdicts),
        project=version.project if version is not None else None,
        charter_version=version.version if version is not None else None,
        content_hash=version.content_hash if version is not None else doc.content_hash(),
        stage=stage,
        unmatched_measurements=tuple(m.key for m in items if m.key not in used),
    )
