"""Robustness checks, business value and champion vs challenger, against hand computations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import FEATURES
from scipy import stats

from mlsteward.charter import Charter, expected_value_per_1k
from mlsteward.core import InvalidInput
from mlsteward.evaluation import Outcomes, compare, evaluate, mcnemar
from mlsteward.evaluation._bootstrap import run_bootstrap
from mlsteward.evaluation._business import BusinessStatistic, business_report


# -- robustness -------------------------------------------------------------------------------
class RefusesOutOfDomain:
    """Validates like a registry Predictor: refuses values outside its domain."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes_ = model.classes_

    def _check(self, x: pd.DataFrame) -> None:
        if x.isna().any().any():
            raise InvalidInput("missing values are not allowed")
        if ((x["age"] < 18) | (x["age"] > 90)).any():
            raise InvalidInput("age out of range")

    def predict(self, x: pd.DataFrame) -> Any:
        self._check(x)
        return self.model.predict(x)

    def predict_proba(self, x: pd.DataFrame) -> Any:
        self._check(x)
        return self.model.predict_proba(x)


def _checks(evaluation: Any) -> dict[str, Any]:
    return {c.name: c for c in evaluation.robustness.checks}


def test_a_model_that_crashes_on_missing_values_fails_that_check_only(
    model: Any, frame: pd.DataFrame, charter: Charter
) -> None:
    evaluation = evaluate(None, model, frame, charter, n_boot=50, robustness_rows=400)
    checks = _checks(evaluation)
    missing = checks["missing_values"]
    assert (missing.status, missing.outcome) == ("fail", "crashed")
    assert "NaN" in (missing.error or "")
    assert evaluation.verdict is not None and evaluation.metrics["roc_auc"].value > 0.6
    for name in ("noise_0.1sd", "noise_0.3sd", "out_of_range", "unseen_categories", "edge_cases"):
        assert checks[name].outcome == "predicted", name
        assert checks[name].flipped is not None and 0 <= checks[name].flipped <= 1
    assert checks["noise_0.3sd"].flipped >= checks["noise_0.1sd"].flipped > 0
    assert checks["unseen_categories"].columns == ("region", "plan")
    assert checks["edge_cases"].details and checks["edge_cases"].status == "pass"
    assert evaluation.robustness is not None and evaluation.robustness.rows == 400


def test_a_model_that_refuses_invalid_input_handles_it(
    model: Any, frame: pd.DataFrame, charter: Charter
) -> None:
    evaluation = evaluate(
        None, RefusesOutOfDomain(model), frame, charter, n_boot=0, robustness_rows=300
    )
    checks = _checks(evaluation)
    assert (checks["missing_values"].status, checks["missing_values"].outcome) == (
        "pass",
        "refused",
    )
    assert (checks["out_of_range"].status, checks["out_of_range"].outcome) == ("pass", "refused")
    assert checks["edge_cases"].outcome == "predicted"  # 18 and 90 are inside the domain
    assert checks["edge_cases"].status == "pass"


def test_a_model_that_crashes_on_every_perturbation_still_gets_evaluated(
    model: Any, frame: pd.DataFrame
) -> None:
    clean_ids = set(frame.index)

    class Brittle:
        classes_ = model.classes_

        def predict_proba(self, x: pd.DataFrame) -> Any:
            if len(x) != len(clean_ids):
                raise RuntimeError("boom")
            return model.predict_proba(x)

        def predict(self, x: pd.DataFrame) -> Any:
            return self.predict_proba(x).argmax(axis=1)

    evaluation = evaluate(
        None, Brittle(), frame, target="y", features=FEATURES, n_boot=0, robustness_rows=200
    )
    checks = evaluation.robustness.checks if evaluation.robustness else ()
    assert checks and all(c.status == "fail" and c.outcome == "crashed" for c in checks)
    assert all("RuntimeError: boom" in (c.error or "") for c in checks)
    assert evaluation.verdict is None  # no charter: nothing judged


# -- business value ---------------------------------------------------------------------------
def test_expected_value_and_best_threshold_by_hand(charter: Charter) -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.4, 0.7, 0.2, 0.1, 0.55, 0.3, 0.05, 0.6])
    outcomes = Outcomes("binary", y, (p >= 0.5).astype(int), (0, 1), p, p, 0.5)
    value = charter.business_value
    assert value is not None and value.value_matrix is not None
    # at 0.5: tp = 2 (0.9, 0.8), fp = 3 (0.7, 0.6, 0.55), fn = 2 (0.4, 0.3), tn = 3
    tp, fp, fn, tn = 2, 3, 2, 3
    by_hand = 1000 * (tp * 10 + fp * -5 + fn * -20 + tn * 0) / 10
    report = business_report(outcomes, value, None, 0.95)
    assert report.per_1k.value == pytest.approx(by_hand) == -3500.0
    assert report.per_1k.value == expected_value_per_1k(
        value, confusion={"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    )
    # brute force over every threshold
    best = max(
        (
            1000 * ((y == 1) & (p >= t)).sum() * 10
            + 1000 * ((y == 0) & (p >= t)).sum() * -5
            + 1000 * ((y == 1) & (p < t)).sum() * -20
        )
        / 10
        for t in [*p, 1.1]
    )
    assert report.best_per_1k == pytest.approx(best)
    assert report.best_threshold == pytest.approx(0.3)  # every positive caught
    assert report.gain == pytest.approx(best - by_hand)
    result = run_bootstrap(10, [BusinessStatistic(outcomes, value)], n_boot=20, seed=0)
    assert result.point[0]["per_1k"] == pytest.approx(by_hand)


# -- champion vs challenger -------------------------------------------------------------------
def test_mcnemar_by_hand() -> None:
    # 3 rows only the champion gets right, 12 only the challenger: exact test (15 < 25)
    champion = np.array([1] * 3 + [0] * 12 + [1] * 40 + [0] * 5)
    challenger = np.array([0] * 3 + [1] * 12 + [1] * 40 + [0] * 5)
    result = mcnemar(champion, challenger)
    assert (result.champion_only, result.challenger_only) == (3, 12)
    assert (result.both_right, result.both_wrong) == (40, 5)
    hand = 2 * sum(stats.binom.pmf(k, 15, 0.5) for k in range(4))  # 2 * P(X <= 3)
    assert result.p_value == pytest.approx(hand) == pytest.approx(0.03515625)
    assert result.p_value == pytest.approx(stats.binomtest(3, 15, 0.5).pvalue)
    assert result.method == "exact binomial"
    # many discordant rows: chi-square with continuity correction
    champion = np.array([1] * 30 + [0] * 50)
    challenger = np.array([0] * 30 + [1] * 50)
    result = mcnemar(champion, challenger)
    statistic = (abs(30 - 50) - 1) ** 2 / 80
    assert result.statistic == pytest.approx(statistic) == pytest.approx(4.5125)
    assert result.p_value == pytest.approx(stats.chi2.sf(statistic, 1))
    assert result.method.startswith("chi-square")
    assert mcnemar(champion, champion).p_value == 1.0


def test_champion_vs_challenger_on_the_same_rows(
    model: Any, weak_model: Any, frame: pd.DataFrame, charter: Charter
) -> None:
    comparison = compare(
        None, model, weak_model, frame, charter, slices=["region", "sex"], n_boot=200, seed=3
    )
    auc = comparison.difference("roc_auc")
    assert auc.difference.value == pytest.approx(auc.challenger - auc.champion)
    assert auc.difference.high is not None and auc.difference.high < 0
    assert auc.better == "champion" == comparison.better
    assert comparison.champion.metrics["roc_auc"].value == pytest.approx(auc.champion)
    test = comparison.mcnemar
    assert test is not None
    assert test.both_right + test.both_wrong + test.champion_only + test.challenger_only == len(
        frame
    )
    assert test.champion_only > test.challenger_only and test.p_value < 0.05
    assert len(comparison.slices) == 4 + 2
    assert comparison.wins + comparison.losses + comparison.ties == 6
    assert comparison.losses >= 1 and comparison.wins == 0
    for s in comparison.slices:
        assert s.difference.value == pytest.approx(s.challenger - s.champion)
    assert "champion better" in comparison.summary()
    # the same seed draws the same resamples: a model against itself differs by exactly 0
    same = compare(None, model, model, frame, charter, n_boot=50, seed=3, robustness=False)
    assert all(d.difference.value == 0 and d.better == "tie" for d in same.metrics)
    assert same.difference("accuracy").difference.interval == (0.0, 0.0)


def test_an_edge_case_that_crashes_is_named(
    model: Any, frame: pd.DataFrame, charter: Charter
) -> None:
    class NoOldAge:
        classes_ = model.classes_

        def predict_proba(self, x: pd.DataFrame) -> Any:
            if (x["age"] >= 90).any():
                raise OverflowError("age 90 is out of the table")
            return model.predict_proba(x)

        def predict(self, x: pd.DataFrame) -> Any:
            return self.predict_proba(x).argmax(axis=1)

    data = frame[frame["age"] < 90]
    evaluation = evaluate(None, NoOldAge(), data, charter, n_boot=0, robustness_rows=300)
    edge = _checks(evaluation)["edge_cases"]
    assert (edge.status, edge.outcome) == ("fail", "crashed")
    assert edge.error is not None and "age = 90" in edge.error and "OverflowError" in edge.error
    outcomes = {(d["column"], d["edge"]): d["outcome"] for d in edge.details}
    assert outcomes == {
        ("age", "min"): "predicted",
        ("age", "max"): "crashed",
        ("hours", "min"): "predicted",
        ("hours", "max"): "predicted",
    }
