"""Fairness numbers agree with fairlearn's own functions on the raw rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as fm
from sklearn.metrics import precision_score

from mlsteward.evaluation import Outcomes
from mlsteward.evaluation._bootstrap import run_bootstrap
from mlsteward.evaluation._fairness import (
    FairnessStatistic,
    fairness_groups,
    fairness_report,
    kept_groups,
)
from mlsteward.evaluation._spec import FairnessSpec

METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
)


def _data(seed: int = 0) -> tuple[Outcomes, pd.Series]:
    rng = np.random.default_rng(seed)
    n = 3000
    group = pd.Series(rng.choice(["a", "b", "c", "tiny"], n, p=[0.5, 0.3, 0.19, 0.01]), name="g")
    y = rng.integers(0, 2, n)
    bias = group.map({"a": 0.0, "b": 0.15, "c": -0.1, "tiny": 0.3}).to_numpy()
    p = np.clip(0.25 + 0.4 * y + bias + rng.normal(0, 0.15, n), 0, 1)
    return Outcomes("binary", y, (p >= 0.5).astype(int), (0, 1), p, p, 0.5), group


def _specs(min_group_size: int) -> list[FairnessSpec]:
    return [FairnessSpec(m, "g", None, min_group_size, False) for m in METRICS]


@pytest.mark.parametrize("min_group_size", [1, 100])
def test_disparities_and_group_rates_agree_with_fairlearn(min_group_size: int) -> None:
    outcomes, group = _data()
    groups = {"g": fairness_groups(group)}
    specs = _specs(min_group_size)
    kept = kept_groups(groups, specs)
    [report] = fairness_report(outcomes, groups, specs, kept, "accuracy", None, 0.95)
    keep = group.isin([g for g in ("a", "b", "c", "tiny") if (group == g).sum() >= min_group_size])
    assert keep.sum() < len(group) if min_group_size == 100 else keep.all()
    for disparity in report.disparities:
        expected = getattr(fm, disparity.metric)(
            outcomes.y[keep], outcomes.pred[keep], sensitive_features=group[keep]
        )
        assert disparity.estimate.value == pytest.approx(expected, abs=1e-12), disparity.metric
        assert disparity.excluded == (() if min_group_size == 1 else ("tiny",))
    frame = fm.MetricFrame(
        metrics={
            "selection_rate": fm.selection_rate,
            "true_positive_rate": fm.true_positive_rate,
            "false_positive_rate": fm.false_positive_rate,
            "precision": lambda y, p: precision_score(y, p, zero_division=0),
        },
        y_true=outcomes.y,
        y_pred=outcomes.pred,
        sensitive_features=group,
    ).by_group
    for row in report.groups:
        for rate in ("selection_rate", "true_positive_rate", "false_positive_rate", "precision"):
            assert getattr(row, rate) == pytest.approx(frame.loc[row.group, rate]), (row, rate)
        assert row.rows == int((group == row.group).sum())
        mask = (group == row.group).to_numpy()
        assert row.main_metric == pytest.approx((outcomes.y[mask] == outcomes.pred[mask]).mean())


def test_bootstrap_disparities_are_fairlearns_at_unit_weights() -> None:
    outcomes, group = _data(1)
    groups = {"g": fairness_groups(group)}
    specs = _specs(50)
    kept = kept_groups(groups, specs)
    result = run_bootstrap(
        outcomes.n, [FairnessStatistic(outcomes, groups, specs, kept)], n_boot=200, seed=0
    )
    keep = (group != "tiny").to_numpy()
    for i, spec in enumerate(specs):
        expected = getattr(fm, spec.metric)(
            outcomes.y[keep], outcomes.pred[keep], sensitive_features=group[keep]
        )
        assert result.point[0][str(i)] == pytest.approx(expected, abs=1e-12)
        draws = result.draws[0][str(i)]
        assert draws.shape == (200,) and np.isfinite(draws).all()
        assert draws.std() > 0  # resampled, not repeated
    [report] = fairness_report(outcomes, groups, specs, kept, "accuracy", result.draws[0], 0.95)
    for disparity in report.disparities:
        assert disparity.estimate.interval is not None
        assert disparity.estimate.low <= disparity.estimate.value <= disparity.estimate.high


def test_missing_values_are_a_group_of_their_own() -> None:
    codes, labels = fairness_groups(pd.Series([1.0, 2.0, None, 1.0]))
    assert labels == ["1", "2", "(missing)"]
    assert codes.tolist() == [0, 1, 2, 0]
