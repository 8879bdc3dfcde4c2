"""Fairness in production: the disparities of a window against fairlearn's own
functions, groups left out below the limit's size, intervals, and what cannot be measured."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlsteward.monitoring._fairness import (
    FairnessLimitSpec,
    as_measurements,
    window_fairness,
)


def _window(n: int, seed: int) -> tuple[pa.Table, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c", "tiny"], size=n, p=[0.5, 0.3, 0.19, 0.01])
    base = {"a": 0.6, "b": 0.45, "c": 0.5, "tiny": 0.9}
    predicted = rng.random(n) < np.vectorize(base.get)(group)
    actual = np.where(rng.random(n) < 0.8, predicted, ~predicted)
    labelled = rng.random(n) < 0.7
    label = pa.array([int(a) if ok else None for a, ok in zip(actual, labelled, strict=True)])
    table = pa.table(
        {
            "group": pa.array(group),
            "prediction": pa.array(predicted.astype(np.int64)),
            "label": label,
        }
    )
    return table, {"group": group, "predicted": predicted, "actual": actual, "labelled": labelled}


@pytest.mark.parametrize(
    "metric",
    [
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equal_opportunity_difference",
        "equalized_odds_difference",
    ],
)
def test_disparities_agree_with_fairlearn(metric: str) -> None:
    from fairlearn import metrics as fm

    table, raw = _window(6000, seed=1)
    fairness = window_fairness(table, [FairnessLimitSpec(metric, "group", 100)], seed=0)
    measured = fairness.get(metric, "group")
    assert measured is not None
    # the reference: fairlearn on the rows of the groups kept (100 rows or more; labelled
    # rows for the label-based metrics), as the evaluation does
    rows = raw["labelled"] if metric.startswith("equal") else np.ones(6000, dtype=bool)
    kept_groups = [g for g in ("a", "b", "c", "tiny") if (raw["group"][rows] == g).sum() >= 100]
    assert "tiny" not in kept_groups and measured.left_out == ("tiny",)
    keep = rows & np.isin(raw["group"], kept_groups)
    y_true = raw["actual"][keep].astype(int)
    y_pred = raw["predicted"][keep].astype(int)
    expected = getattr(fm, metric)(y_true, y_pred, sensitive_features=raw["group"][keep])
    assert measured.value == pytest.approx(expected, abs=1e-12)
    assert measured.low <= measured.value <= measured.high
    assert measured.high - measured.low < 0.1  # 6,000 rows: a useful interval
    groups = {g.group: g for g in measured.groups}
    a = raw["group"] == "a"
    assert groups["a"].rows == int(a.sum())
    assert groups["a"].selection_rate == pytest.approx(raw["predicted"][a].mean())
    (measurement,) = as_measurements(fairness)
    assert (measurement.metric, measurement.attribute) == (metric, "group")
    assert measurement.interval == (measured.low, measured.high)


def test_the_interval_covers_the_disparity_of_the_population() -> None:
    # windows drawn from one population: the 95 % interval holds its true disparity
    rng = np.random.default_rng(5)
    rates = {"a": 0.60, "b": 0.52}
    hits = []
    for i in range(100):
        group = rng.choice(["a", "b"], size=1500)
        predicted = rng.random(1500) < np.vectorize(rates.get)(group)
        table = pa.table(
            {
                "group": group,
                "prediction": predicted.astype(np.int64),
                "label": pa.array([None] * 1500, pa.int64()),
            }
        )
        spec = FairnessLimitSpec("demographic_parity_difference", "group", 30)
        d = window_fairness(table, [spec], seed=i).get(spec.metric, "group")
        assert d is not None
        hits.append(d.low <= 0.08 <= d.high)
    assert 0.88 <= np.mean(hits) <= 0.995


def test_what_cannot_be_measured_is_said() -> None:
    table, _ = _window(300, seed=2)
    fairness = window_fairness(
        table,
        [
            FairnessLimitSpec("demographic_parity_difference", "SEX", 30),
            FairnessLimitSpec("equalized_odds_difference", "group", 1000),
        ],
    )
    assert fairness.disparities == ()
    assert any("SEX is not an input of the model" in n for n in fairness.notes)
    assert any("fewer than two groups with 1000 labelled rows" in n for n in fairness.notes)
    missing = pa.table(
        {
            "group": pa.array(["a", None] * 100),
            "prediction": pa.array([1, 0] * 100),
            "label": pa.array([None] * 200, pa.int64()),
        }
    )
    spec = FairnessLimitSpec("demographic_parity_difference", "group", 30)
    d = window_fairness(missing, [spec]).get(spec.metric, "group")
    assert d is not None and d.value == pytest.approx(1.0)  # a missing value is a group
    assert {g.group for g in d.groups} == {"a", "(missing)"}
