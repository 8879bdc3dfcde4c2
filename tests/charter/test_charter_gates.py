"""The gate engine: verdict table, overall rule, records, and monotonicity properties."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlsteward as ms
from mlsteward.charter import (
    Charter,
    CharterVersion,
    Gate,
    GateReport,
    GateVerdict,
    Measurement,
    charter_gates,
    evaluate_gates,
    judge,
    overall_verdict,
)
from mlsteward.charter._verdicts import status_rank

DOC: dict[str, Any] = {
    "objective": {
        "statement": "s",
        "decision": "d",
        "owners": [{"name": "o", "contact": "o@example.org"}],
    },
    "task": {"type": "binary", "target": "y", "prediction_unit": "person", "positive_class": 1},
    "success_metrics": [
        {"metric": "roc_auc", "threshold": 0.85},
        {"metric": "log_loss", "threshold": 0.4},
        {"metric": "ece", "threshold": 0.05, "required": False},
    ],
    "constraints": {
        "latency_p95_ms": 50,
        "max_model_size_mb": 100,
        "fairness": [
            {
                "metric": "equalized_odds_difference",
                "sensitive_attributes": ["SEX", "RAC1P"],
                "max_disparity": 0.15,
            },
            {
                "metric": "demographic_parity_ratio",
                "sensitive_attributes": ["SEX"],
                "min_ratio": 0.8,
                "required": False,
            },
        ],
    },
    "scope": {"intended_use": "u"},
}
CHARTER = Charter.from_dict(DOC)
VERSION = CharterVersion(
    project="acs",
    version=3,
    charter=CHARTER,
    content_hash=CHARTER.content_hash(),
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    created_by="tester",
    note="",
    id="0" * 32,
)
ALL_KEYS = [
    "roc_auc@test",
    "log_loss@test",
    "ece@test",
    "equalized_odds_difference[SEX]@test",
    "equalized_odds_difference[RAC1P]@test",
    "demographic_parity_ratio[SEX]@test",
    "latency_p95_ms",
    "model_size_mb",
    "drift_share",
]


def test_gates_come_from_success_metrics_constraints_and_monitoring() -> None:
    gates = charter_gates(CHARTER)
    assert [g.key for g in gates] == ALL_KEYS
    by_key = {g.key: g for g in gates}
    assert by_key["roc_auc@test"].source == "success_metrics[0]"
    assert by_key["roc_auc@test"].direction == "higher"
    assert by_key["log_loss@test"].direction == "lower"
    assert by_key["equalized_odds_difference[RAC1P]@test"].source == "constraints.fairness[0]"
    assert by_key["equalized_odds_difference[RAC1P]@test"].attribute == "RAC1P"
    assert by_key["demographic_parity_ratio[SEX]@test"].direction == "higher"
    assert by_key["demographic_parity_ratio[SEX]@test"].threshold == 0.8
    assert by_key["latency_p95_ms"].source == "constraints.latency_p95_ms"
    assert by_key["drift_share"].source == "monitoring.drift.max_drift_share"
    assert by_key["drift_share"].threshold == 0.3
    assert [g.required for g in gates] == [True, True, False, True, True, False, True, True, True]
    assert by_key["demographic_parity_ratio[SEX]@test"].describe() == (
        "demographic_parity_ratio for SEX >= 0.8 on test"
    )


@pytest.mark.parametrize(
    ("stage", "keys"),
    [
        ("evaluation", [k for k in ALL_KEYS if k not in ("latency_p95_ms", "drift_share")]),
        ("rollout", ["latency_p95_ms", "model_size_mb"]),
        ("monitoring", [k for k in ALL_KEYS if k != "model_size_mb"]),
    ],
)
def test_each_stage_judges_its_gates(stage: Any, keys: list[str]) -> None:
    assert [g.key for g in charter_gates(CHARTER, stage)] == keys
    report = evaluate_gates(CHARTER, {}, stage=stage)
    assert [v.gate.key for v in report.gates] == keys
    assert report.stage == stage


# -- the verdict table ---------------------------------------------------------------------
NAN = math.nan
VERDICTS: list[tuple[str, Any, str]] = [
    # roc_auc >= 0.85 (higher is better)
    ("roc_auc@test", 0.9, "pass"),
    ("roc_auc@test", 0.85, "pass"),
    ("roc_auc@test", 0.849, "fail"),
    ("roc_auc@test", (0.87, 0.85, 0.89), "pass"),  # low on the threshold passes
    ("roc_auc@test", (0.86, 0.84, 0.88), "inconclusive"),
    ("roc_auc@test", (0.84, 0.80, 0.85), "inconclusive"),  # high on the threshold
    ("roc_auc@test", (0.83, 0.80, 0.849), "fail"),
    ("roc_auc@test", NAN, "not_measured"),
    ("roc_auc@test", None, "not_measured"),
    # latency_p95_ms <= 50 (lower is better)
    ("latency_p95_ms", 40, "pass"),
    ("latency_p95_ms", 50, "pass"),
    ("latency_p95_ms", 50.5, "fail"),
    ("latency_p95_ms", (45, 40, 50), "pass"),
    ("latency_p95_ms", (48, 45, 52), "inconclusive"),
    ("latency_p95_ms", (55, 50, 60), "inconclusive"),
    ("latency_p95_ms", (55, 50.5, 60), "fail"),
    ("latency_p95_ms", None, "not_measured"),
    # fairness limits, per attribute
    ("equalized_odds_difference[SEX]@test", 0.1, "pass"),
    ("equalized_odds_difference[RAC1P]@test", 0.2, "fail"),
    ("equalized_odds_difference[RAC1P]@test", (0.14, 0.1, 0.19), "inconclusive"),
    ("demographic_parity_ratio[SEX]@test", 0.79, "fail"),
    ("demographic_parity_ratio[SEX]@test", (0.9, 0.82, 0.95), "pass"),
]


@pytest.mark.parametrize(("key", "measured", "status"), VERDICTS)
def test_verdict_table(key: str, measured: Any, status: str) -> None:
    measurements = {} if measured is None else {key: measured}
    verdict = evaluate_gates(VERSION, measurements).verdict_of(key)
    assert verdict.status == status
    if measured is None:
        assert verdict.value is None and verdict.interval is None
    elif isinstance(measured, tuple):
        assert verdict.value == measured[0]
        assert verdict.interval == (measured[1], measured[2])


def test_reasons_say_value_interval_and_bar() -> None:
    report = evaluate_gates(
        CHARTER,
        [
            Measurement("roc_auc", 0.86, (0.84, 0.88), on="test", confidence=0.95),
            Measurement("latency_p95_ms", 61.5),
            Measurement("log_loss", 0.3, on="test"),
        ],
    )
    assert report.verdict_of("roc_auc@test").reason == (
        "roc_auc on test = 0.86 (95% interval 0.84 to 0.88) straddles the threshold: needs "
        ">= 0.85; measure on more data to decide"
    )
    assert report.verdict_of("latency_p95_ms").reason == "latency_p95_ms = 61.5; needs <= 50"
    assert report.verdict_of("log_loss@test").reason == "log_loss on test = 0.3 <= 0.4"
    assert report.verdict_of("ece@test").reason == "ece on test was not measured"
    assert report.verdict_of("roc_auc@test").confidence == 0.95


# -- the overall verdict -------------------------------------------------------------------
GOOD = {
    "roc_auc@test": 0.9,
    "log_loss@test": 0.3,
    "ece@test": 0.01,
    "equalized_odds_difference[SEX]@test": 0.05,
    "equalized_odds_difference[RAC1P]@test": 0.05,
    "demographic_parity_ratio[SEX]@test": 0.95,
    "latency_p95_ms": 20,
    "model_size_mb": 10,
    "drift_share": 0.0,
}


@pytest.mark.parametrize(
    ("changes", "overall", "warnings"),
    [
        ({}, "pass", []),
        ({"ece@test": 0.2}, "pass", ["ece@test"]),  # an optional gate fails: a warning
        (
            {"demographic_parity_ratio[SEX]@test": (0.8, 0.7, 0.9)},
            "pass",
            ["demographic_parity_ratio[SEX]@test"],
        ),
        ({"ece@test": None}, "pass", []),  # optional, not measured
        ({"roc_auc@test": (0.86, 0.84, 0.88)}, "inconclusive", []),
        ({"drift_share": None}, "inconclusive", []),  # required, not measured
        ({"roc_auc@test": 0.8}, "fail", []),
        ({"roc_auc@test": 0.8, "log_loss@test": None, "latency_p95_ms": (50, 40, 60)}, "fail", []),
        ({"equalized_odds_difference[RAC1P]@test": 0.3}, "fail", []),
    ],
)
def test_overall_verdict_respects_required(
    changes: dict[str, Any], overall: str, warnings: list[str]
) -> None:
    measurements = {**GOOD, **changes}
    measurements = {k: v for k, v in measurements.items() if v is not None}
    report = evaluate_gates(VERSION, measurements)
    assert report.verdict == overall
    assert report.passed is (overall == "pass")
    assert [v.gate.key for v in report.warnings] == warnings
    blocking = [v.gate.key for v in report.blocking]
    assert [v.gate.key for v in report.failures] == [
        k for k in blocking if report.verdict_of(k).status == "fail"
    ]
    assert (overall == "pass") is (blocking == [])


def test_no_measurements_is_inconclusive_and_require_pass_explains() -> None:
    report = evaluate_gates(VERSION, {"roc_auc@test": 0.7}, stage="evaluation")
    assert report.verdict == "fail"
    with pytest.raises(ms.GateFailed) as info:
        report.require_pass("Model acs@2")
    message = str(info.value)
    assert message.startswith("Model acs@2 failed the required gates of charter acs@3:\n")
    assert "  roc_auc@test (success_metrics[0]): roc_auc on test = 0.7; needs >= 0.85\n" in message
    assert "  log_loss@test (success_metrics[1]): log_loss on test was not measured\n" in message
    assert info.value.exit_code == 6
    evaluate_gates(VERSION, GOOD).require_pass()  # passes silently
    inconclusive = evaluate_gates(CHARTER, {k: v for k, v in GOOD.items() if k != "drift_share"})
    with pytest.raises(ms.GateFailed, match="did not pass \\(inconclusive\\) the required gates:"):
        inconclusive.require_pass()


def test_reports_are_records_that_round_trip_and_cite_the_charter() -> None:
    report = evaluate_gates(
        VERSION,
        {**GOOD, "roc_auc@test": (0.86, 0.84, 0.88), "accuracy@test": 0.8},
        stage="evaluation",
    )
    data = report.to_dict()
    text = json.dumps(data)  # JSON-safe
    assert GateReport.from_dict(json.loads(text)) == report
    assert data["project"] == "acs" and data["charter_version"] == 3
    assert data["content_hash"] == CHARTER.content_hash()
    assert report.charter_ref == "acs@3"
    # measured, but judged by no gate at this stage (or by none at all: a typo shows here)
    assert data["unmatched_measurements"] == ["latency_p95_ms", "drift_share", "accuracy@test"]
    roc = data["gates"][0]
    assert roc["status"] == "inconclusive"
    assert roc["value"] == 0.86 and roc["interval"] == [0.84, 0.88]
    assert roc["gate"] == {
        "key": "roc_auc@test",
        "metric": "roc_auc",
        "direction": "higher",
        "threshold": 0.85,
        "required": True,
        "source": "success_metrics[0]",
        "on": "test",
        "attribute": None,
        "stages": ["evaluation", "monitoring"],
    }
    verdict = report.gates[0]
    assert GateVerdict.from_dict(verdict.to_dict()) == verdict
    with pytest.raises(AttributeError):
        verdict.status = "pass"  # type: ignore[misc]
    nan = evaluate_gates(CHARTER, {"roc_auc@test": math.nan}).to_dict()
    assert json.loads(json.dumps(nan, allow_nan=False))["gates"][0]["value"] is None


def test_a_plain_charter_is_cited_by_content_hash_only() -> None:
    report = evaluate_gates(CHARTER, GOOD)
    assert report.project is None and report.charter_version is None
    assert report.content_hash == CHARTER.content_hash()
    assert report.charter_ref is None


# -- measurements ----------------------------------------------------------------------------
def test_a_measurement_without_role_stands_for_every_role_exact_wins() -> None:
    doc = {
        **DOC,
        "success_metrics": [
            {"metric": "roc_auc", "threshold": 0.85},
            {"metric": "roc_auc", "threshold": 0.8, "on": "production"},
        ],
    }
    charter = Charter.from_dict(doc)
    report = evaluate_gates(charter, {"roc_auc": 0.82}, keys=["roc_auc@test", "roc_auc@production"])
    assert [v.status for v in report.gates] == ["fail", "pass"]
    report = evaluate_gates(charter, {"roc_auc": 0.82, "roc_auc@test": 0.9}, stage="evaluation")
    assert report.verdict_of("roc_auc@test").status == "pass"
    assert report.verdict_of("roc_auc@production").value == 0.82


@pytest.mark.parametrize(
    ("measurements", "message"),
    [
        ({"roc_acu@test": 0.9}, "unknown metric 'roc_acu'; did you mean 'roc_auc'?"),
        (
            {"roc_auc@test": 1.3},
            "Measured roc_auc must be between 0 and 1, got 1.3; check how it was computed.",
        ),
        (
            {"roc_auc@test": (0.9, 0.95, 0.85)},
            r"must satisfy low <= high, got \(0.95, 0.85\); swap them",
        ),
        ({"roc_auc@test": True}, "The measured value of roc_auc must be a number, got True"),
        ({"roc_auc@test": "0.9"}, "must be a number, got '0.9'"),
        ({"roc_auc@test": (0.9, 0.8)}, "must be a number or \\(value, low, high\\)"),
        ({"roc auc": 0.9}, "is not METRIC, METRIC@ROLE or METRIC\\[ATTRIBUTE\\]@ROLE"),
        (
            {"latency_p95_ms@prod": 40, "latency_p95_ms@staging": 41},
            "Gate latency_p95_ms \\(constraints.latency_p95_ms\\) matches several measurements: "
            "latency_p95_ms@prod, latency_p95_ms@staging",
        ),
    ],
)
def test_bad_measurements_are_refused(measurements: dict[str, Any], message: str) -> None:
    with pytest.raises(ms.InvalidInput, match=message):
        evaluate_gates(CHARTER, measurements)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(
        ms.InvalidInput,
        match="Unknown stage 'deploy'; expected one of evaluation, rollout, monitoring",
    ):
        evaluate_gates(CHARTER, {}, stage="deploy")  # type: ignore[arg-type]
    with pytest.raises(
        ms.InvalidInput, match="No gate 'latency_p95_ms' in this charter at stage evaluation"
    ):
        evaluate_gates(CHARTER, {}, stage="evaluation", keys=["latency_p95_ms"])
    with pytest.raises(ms.InvalidInput, match="roc_auc@test is measured twice"):
        evaluate_gates(CHARTER, [Measurement("roc_auc", 0.9, on="test")] * 2)
    with pytest.raises(ms.InvalidInput, match="confidence level of roc_auc is a fraction"):
        Measurement("roc_auc", 0.9, confidence=95)
    with pytest.raises(ms.InvalidInput, match="given under the key 'f1@test'"):
        evaluate_gates(CHARTER, {"f1@test": Measurement("roc_auc", 0.9, on="test")})


# -- properties ------------------------------------------------------------------------------
_unit = st.floats(0, 1, allow_nan=False)
_latency = st.floats(0, 1000, allow_nan=False)


@st.composite
def _measured(
    draw: st.DrawFn, values: st.SearchStrategy[float]
) -> tuple[float, tuple[float, float] | None]:
    points = sorted(draw(st.lists(values, min_size=3, max_size=3)))
    if draw(st.booleans()):
        return points[1], (points[0], points[2])
    return points[1], None


def _shift(measured: tuple[float, tuple[float, float] | None], delta: float) -> Any:
    value, interval = measured
    if interval is None:
        return value + delta
    return (value + delta, interval[0] + delta, interval[1] + delta)


def _as_input(measured: tuple[float, tuple[float, float] | None]) -> Any:
    return _shift(measured, 0.0)


def _rank(report: GateReport, key: str) -> int:
    rank = status_rank(report.verdict_of(key).status)
    assert rank is not None
    return rank


def _overall_rank(report: GateReport) -> int:
    rank = status_rank(report.verdict)
    assert rank is not None
    return rank


@settings(max_examples=150, deadline=None)
@given(
    threshold=_unit,
    measured=_measured(_unit),
    fraction=st.floats(0, 1, allow_nan=False),
)
def test_improving_a_higher_is_better_metric_never_lowers_its_verdict(
    threshold: float, measured: tuple[float, tuple[float, float] | None], fraction: float
) -> None:
    """roc_auc: moving value and interval up never turns pass into fail or inconclusive,
    nor inconclusive into fail; fail may become anything. The overall verdict follows."""
    doc = {**DOC, "success_metrics": [{"metric": "roc_auc", "threshold": threshold}]}
    charter = Charter.from_dict(doc)
    top = measured[1][1] if measured[1] else measured[0]
    delta = (1 - top) * fraction  # stay inside roc_auc's range
    before = evaluate_gates(charter, {"roc_auc@test": _as_input(measured)}, keys=["roc_auc@test"])
    after = evaluate_gates(
        charter, {"roc_auc@test": _shift(measured, delta)}, keys=["roc_auc@test"]
    )
    assert _rank(after, "roc_auc@test") >= _rank(before, "roc_auc@test")
    assert _overall_rank(after) >= _overall_rank(before)
    if before.verdict_of("roc_auc@test").status == "pass":
        assert after.verdict_of("roc_auc@test").status == "pass"


@settings(max_examples=150, deadline=None)
@given(
    threshold=_latency.filter(lambda x: x > 0),
    measured=_measured(_latency),
    fraction=st.floats(0, 1, allow_nan=False),
)
def test_improving_a_lower_is_better_metric_never_lowers_its_verdict(
    threshold: float, measured: tuple[float, tuple[float, float] | None], fraction: float
) -> None:
    """latency_p95_ms: moving value and interval down never lowers the verdict; moving
    them up (worsening) never raises it."""
    doc = {**DOC, "constraints": {"latency_p95_ms": threshold}}
    charter = Charter.from_dict(doc)
    bottom = measured[1][0] if measured[1] else measured[0]
    delta = bottom * fraction  # stay at or above 0
    key = ["latency_p95_ms"]
    before = evaluate_gates(charter, {"latency_p95_ms": _as_input(measured)}, keys=key)
    better = evaluate_gates(charter, {"latency_p95_ms": _shift(measured, -delta)}, keys=key)
    worse = evaluate_gates(charter, {"latency_p95_ms": _shift(measured, delta)}, keys=key)
    assert _rank(better, "latency_p95_ms") >= _rank(before, "latency_p95_ms")
    assert _rank(worse, "latency_p95_ms") <= _rank(before, "latency_p95_ms")
    assert _overall_rank(better) >= _overall_rank(before) >= _overall_rank(worse)


@settings(max_examples=150, deadline=None)
@given(
    direction=st.sampled_from(["higher", "lower"]),
    threshold=st.floats(-1e6, 1e6, allow_nan=False),
    measured=_measured(st.floats(-1e6, 1e6, allow_nan=False)),
)
def test_an_interval_never_contradicts_its_point_value(
    direction: Any, threshold: float, measured: tuple[float, tuple[float, float] | None]
) -> None:
    """With the value inside its interval: an interval pass is a point pass, an interval
    fail is a point fail; the interval can only add doubt (inconclusive)."""
    value, interval = measured
    gate = Gate("expected_value_per_1k", direction, threshold, True, "test")
    with_interval = judge(gate, Measurement("expected_value_per_1k", value, interval)).status
    point = judge(gate, Measurement("expected_value_per_1k", value)).status
    assert point in ("pass", "fail")
    if with_interval != "inconclusive":
        assert with_interval == point


_STATUSES = ["pass", "fail", "inconclusive", "not_measured"]


@settings(max_examples=150, deadline=None)
@given(
    gates=st.lists(st.tuples(st.sampled_from(_STATUSES), st.booleans()), min_size=1, max_size=6),
    index=st.integers(0, 5),
    better=st.sampled_from(["pass", "inconclusive"]),
)
def test_the_overall_verdict_is_monotone_in_each_gate(
    gates: list[tuple[Any, bool]], index: int, better: Any
) -> None:
    """Raising one gate's verdict never lowers the overall one; making a gate optional
    never lowers it either."""
    index %= len(gates)

    def verdicts(items: list[tuple[Any, bool]]) -> list[GateVerdict]:
        return [
            GateVerdict(Gate("f1", "higher", 0.5, required, f"g{i}"), status)
            for i, (status, required) in enumerate(items)
        ]

    base = overall_verdict(verdicts(gates))
    status, required = gates[index]
    current = status_rank(status)
    if current is None or status_rank(better) >= current:  # type: ignore[operator]
        raised = [*gates[:index], (better, required), *gates[index + 1 :]]
        assert status_rank(overall_verdict(verdicts(raised))) >= status_rank(base)  # type: ignore[operator]
    optional = [*gates[:index], (status, False), *gates[index + 1 :]]
    assert status_rank(overall_verdict(verdicts(optional))) >= status_rank(base)  # type: ignore[operator]
