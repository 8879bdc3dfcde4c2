"""Slices: declared slices measured right; discovery finds a planted weak slice and, at the
stated false-discovery rate, nothing on data that has none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control
from sklearn import metrics as skm

from mlsteward.evaluation import Outcomes, benjamini_hochberg, point_metrics
from mlsteward.evaluation._slices import column_codes, declared_masks, discover_slices


def _synthetic(n: int, seed: int, planted: bool) -> tuple[pd.DataFrame, Outcomes]:
    """Errors at 10 % everywhere; with ``planted``, 45 % where region is c and the income
    is in its top fifth."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "region": rng.choice(list("abcd"), n),
            "income": rng.lognormal(10, 0.5, n),
            "age": rng.integers(18, 80, n).astype(float),
            "channel": rng.choice(["web", "phone", "shop"], n),
        }
    )
    error_rate = np.full(n, 0.10)
    if planted:
        weak = (frame["region"] == "c") & (frame["income"] > frame["income"].quantile(0.8))
        error_rate[weak.to_numpy()] = 0.45
    y = rng.integers(0, 2, n)
    wrong = rng.random(n) < error_rate
    pred = np.where(wrong, 1 - y, y)
    return frame, Outcomes("binary", y, pred, (0, 1))


def test_the_planted_weak_slice_is_found_first() -> None:
    frame, outcomes = _synthetic(6000, 0, planted=True)
    found, tested, support = discover_slices(frame, list(frame.columns), outcomes, fdr=0.05)
    assert tested > 50 and support == 60
    assert found, "the planted slice was not found"
    top = found[0]
    assert set(top.conditions) == {"region=c", next(c for c in top.conditions if "income" in c)}
    assert any(c.startswith("income=") for c in top.conditions)
    assert top.loss == pytest.approx(0.45, abs=0.07)
    assert top.q_value <= 0.05 and top.effect_size > 0.5
    assert top.rows == pytest.approx(6000 * 0.25 * 0.2, rel=0.25)
    # ranked by effect size, largest first; every one significant at the FDR
    assert [s.effect_size for s in found] == sorted((s.effect_size for s in found), reverse=True)
    assert all(s.q_value <= 0.05 for s in found)


@pytest.mark.parametrize("fdr", [0.05, 0.1])
def test_no_discovery_on_data_without_a_weak_slice(fdr: float) -> None:
    """Under the global null Benjamini-Hochberg keeps the chance of any discovery at about
    the FDR: over 10 datasets, (nearly) none reports a slice."""
    with_findings = 0
    for seed in range(10):
        frame, outcomes = _synthetic(3000, 100 + seed, planted=False)
        found, tested, _ = discover_slices(frame, list(frame.columns), outcomes, fdr=fdr)
        assert tested > 50
        with_findings += bool(found)
    assert with_findings <= 2


def test_regression_discovery_uses_absolute_errors() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    frame = pd.DataFrame({"zone": rng.choice(["x", "y", "z"], n), "size": rng.random(n)})
    y = rng.normal(0, 1, n)
    noise = np.where(frame["zone"] == "z", 3.0, 1.0)
    outcomes = Outcomes("regression", y, y + rng.normal(0, 1, n) * noise)
    found, _, _ = discover_slices(frame, ["zone", "size"], outcomes)
    assert found[0].conditions == ("zone=z",)
    assert found[0].loss > 2 * found[0].rest_loss


def test_benjamini_hochberg_matches_scipy() -> None:
    p = np.random.default_rng(0).random(200) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), false_discovery_control(p, method="bh"))


def test_column_codes_bins_categories_and_missing() -> None:
    ages = pd.Series([18, 25, 30, 41, 55, 63, 70, 88, np.nan, 33.0], name="age")
    codes, labels = column_codes(ages, 4)
    assert len(labels) == 5 and labels[-1] == "age=(missing)"
    assert labels[0].startswith("age=18..")
    assert codes[8] == 4
    assert np.all(np.diff(codes[[0, 1, 3, 4, 7]]) >= 0)  # ordered bins
    edges, edge_labels = column_codes(ages, [0, 40, 100])
    assert edge_labels[:2] == ["age=0..40", "age=40..100"]
    assert edges[3] == 1 and edges[2] == 0
    region = pd.Series(["a", "b", None, "a"], name="region")
    codes, labels = column_codes(region)
    assert labels == ["region=a", "region=b", "region=(missing)"]
    assert codes.tolist() == [0, 1, 2, 0]
    small = pd.Series([1.0, 2.0, 1.0], name="n")  # few distinct numbers: categories
    assert column_codes(small)[1] == ["n=1", "n=2"]


def test_declared_slice_metrics_agree_with_sklearn_on_the_subset() -> None:
    frame, outcomes = _synthetic(2000, 3, planted=True)
    masks = declared_masks(frame, {"region": None, "age": 3})
    assert len(masks) == 4 + 3
    column, mask = masks["region=c"]
    assert column == "region"
    subset = point_metrics(outcomes.subset(mask))
    y, pred = outcomes.y[mask], outcomes.pred[mask]
    assert subset["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert subset["f1"] == pytest.approx(skm.f1_score(y, pred))
