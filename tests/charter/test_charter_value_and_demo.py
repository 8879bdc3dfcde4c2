"""Expected value per 1,000 predictions, and the demo's charter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

import mlsteward as ms
from mlsteward.charter import Charter, charter_gates, expected_value_per_1k


def test_binary_expected_value_from_counts_or_the_sklearn_matrix(doc: dict[str, Any]) -> None:
    charter = Charter.from_dict(doc)  # tp 0, fp -90, fn -30, tn 120
    counts = {"tp": 400, "fp": 100, "fn": 50, "tn": 450}
    expected = 1000 * (400 * 0 + 100 * -90 + 50 * -30 + 450 * 120) / 1000
    assert expected_value_per_1k(charter, confusion=counts) == pytest.approx(expected)
    matrix = np.array([[450, 100], [50, 400]])  # [[tn, fp], [fn, tp]]
    assert expected_value_per_1k(charter, confusion=matrix) == pytest.approx(expected)
    perfect = expected_value_per_1k(charter, confusion={"tp": 1, "fp": 0, "fn": 0, "tn": 1})
    assert perfect == pytest.approx(60_000)


def test_multiclass_and_regression_expected_value(
    regression: dict[str, Any], doc: dict[str, Any]
) -> None:
    doc["task"] = {"type": "multiclass", "target": "k", "prediction_unit": "ticket"}
    doc["success_metrics"] = [{"metric": "accuracy", "threshold": 0.7}]
    doc["business_value"] = {"currency": "EUR", "value_correct": 5, "value_incorrect": -20}
    doc["constraints"] = {}
    multi = Charter.from_dict(doc)
    square = [[8, 1, 1], [0, 9, 1], [2, 0, 8]]  # 25 of 30 correct
    assert expected_value_per_1k(multi, confusion=square) == pytest.approx(
        1000 * (25 * 5 - 5 * 20) / 30
    )
    reg = Charter.from_dict(regression)  # cost 0.01 per unit of absolute error
    assert expected_value_per_1k(reg, errors=[-100, 300]) == pytest.approx(-1000 * 0.01 * 200)
    regression["business_value"]["value_per_prediction"] = 5
    assert expected_value_per_1k(Charter.from_dict(regression), errors=np.array([0.0, 0.0])) == 5000


def test_expected_value_inputs_are_checked(doc: dict[str, Any], regression: dict[str, Any]) -> None:
    charter = Charter.from_dict(doc)
    with pytest.raises(ms.InvalidInput, match="keys tp, fp, fn, tn; missing tn"):
        expected_value_per_1k(charter, confusion={"tp": 1, "fp": 1, "fn": 1})
    with pytest.raises(ms.InvalidInput, match=r"is 2x2 .* got shape \(3, 3\)"):
        expected_value_per_1k(charter, confusion=np.eye(3))
    with pytest.raises(ms.InvalidInput, match="empty \\(no predictions\\)"):
        expected_value_per_1k(charter, confusion=[[0, 0], [0, 0]])
    with pytest.raises(ms.InvalidInput, match="finite and not negative"):
        expected_value_per_1k(charter, confusion=[[1, -1], [0, 0]])
    with pytest.raises(ms.InvalidInput, match="needs the prediction errors"):
        expected_value_per_1k(Charter.from_dict(regression))
    del doc["business_value"]
    with pytest.raises(ms.InvalidInput, match="has no business_value section"):
        expected_value_per_1k(Charter.from_dict(doc), confusion=[[1, 0], [0, 1]])


def test_the_demo_charter_is_a_real_charter_for_the_acs_task() -> None:
    from mlsteward.datasets import load_acs_employment
    from mlsteward.demo._charter import acs_charter_path

    charter = Charter.from_yaml(acs_charter_path())
    assert (charter.task.type, charter.task.target, charter.task.positive_class) == (
        "binary",
        "employed",
        1,
    )
    assert charter.task.prediction_unit == "person"
    assert charter.success_metrics[0].comparison == "roc_auc >= 0.85 on test"
    assert charter.business_value is not None and charter.business_value.value_matrix is not None
    assert charter.constraints.latency_p95_ms == 50
    keys = {g.key for g in charter_gates(charter)}
    for attribute in ("SEX", "RAC1P"):
        assert f"equalized_odds_difference[{attribute}]@test" in keys
    # the input domain describes the bundled data: every feature, every category seen
    frame = load_acs_employment(years=[2015])
    domain = charter.scope.input_domain
    features = [
        c
        for c in frame.columns
        if c not in ("id", "employed", "year", "prediction", "predicted_probability")
    ]
    assert sorted(domain) == sorted(features)
    for name, spec in domain.items():
        if spec.allowed is not None:
            assert set(frame[name].astype(str).unique()) <= set(map(str, spec.allowed)), name
        else:
            assert spec.min is not None and spec.max is not None
            assert spec.min <= frame[name].min() and frame[name].max() <= spec.max
    # the reference model shipped with the data clears the expected-value bar
    tn, fp, fn, tp = (
        int(((frame.employed == a) & (frame.prediction == p)).sum())
        for a, p in ((0, 0), (0, 1), (1, 0), (1, 1))
    )
    value = expected_value_per_1k(charter, confusion={"tp": tp, "fp": fp, "fn": fn, "tn": tn})
    assert value > 30_000


def test_the_demo_step_applies_the_charter(sqlite_client: Any, tmp_path: Path) -> None:
    from mlsteward.demo import STEPS, DemoContext
    from mlsteward.demo._charter import step_charter

    titles = [s.title for s in STEPS]
    assert titles.index("Apply the charter") == titles.index("Create the project") + 1
    ctx = DemoContext(client=sqlite_client, directory=tmp_path, console=Console(quiet=True))
    sqlite_client.create_project(ctx.project)
    summary = step_charter(ctx)
    assert summary.startswith("charter v1 applied (15 gates): roc_auc >= 0.85 on test")
    assert "fairness limits on RAC1P, SEX" in summary
    assert sqlite_client.charters.get(ctx.project).version == 1
    assert ctx.results["charter"].ref == "acs-employment@1"
    assert [e.action for e in sqlite_client.audit_log()] == ["project.create", "charter.apply"]
