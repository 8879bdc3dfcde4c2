"""The vectorised bootstrap: the same draws as a slow loop, the same values as scikit-learn
on each resample, intervals that cover the truth."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from mlsteward.evaluation import Estimate, Outcomes, Resampler, interval
from mlsteward.evaluation._bootstrap import KernelStatistic, run_bootstrap
from mlsteward.evaluation._metrics import MetricKernel


def _outcomes(n: int, seed: int, positive_rate: float = 0.5) -> Outcomes:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_rate).astype(int)
    p = np.round(np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), 2)
    return Outcomes("binary", y, (p >= 0.5).astype(int), (0, 1), p, p, 0.5)


def test_same_seed_same_indices_as_a_loop() -> None:
    n, n_boot = 37, 25
    rng = np.random.default_rng(123)
    loop = np.stack([rng.integers(0, n, size=n) for _ in range(n_boot)])
    np.testing.assert_array_equal(Resampler(n, n_boot, seed=123).indices(), loop)
    # chunking (memory bound) does not change the draws
    small = Resampler(n, n_boot, seed=123, max_elements=n * 4)
    assert small.chunk == 4
    np.testing.assert_array_equal(small.indices(), loop)
    weights = np.concatenate(list(small.chunks()))
    np.testing.assert_array_equal(
        weights, np.stack([np.bincount(row, minlength=n) for row in loop])
    )


def test_weights_in_another_row_order_are_the_same_draws() -> None:
    r = Resampler(20, 6, seed=5)
    order = np.random.default_rng(0).permutation(20)
    plain = np.concatenate(list(r.chunks()))
    ordered = np.concatenate(list(r.chunks(order)))
    np.testing.assert_array_equal(ordered, plain[:, order])


def _reference(o: Outcomes, idx: np.ndarray) -> dict[str, float]:
    y, p, pred = o.y[idx], o.proba[idx], o.pred[idx]  # type: ignore[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = len(np.unique(y)) == 2
        return {
            "accuracy": skm.accuracy_score(y, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred, zero_division=0),
            "recall": skm.recall_score(y, pred, zero_division=0),
            "f1": skm.f1_score(y, pred, zero_division=0),
            "roc_auc": skm.roc_auc_score(y, p) if both else math.nan,
            "pr_auc": skm.average_precision_score(y, p) if y.sum() else math.nan,
            "log_loss": skm.log_loss(y, p, labels=[0, 1]),
            "brier_score": skm.brier_score_loss(y, p, labels=[0, 1]),
        }


@pytest.mark.parametrize("positive_rate", [0.5, 0.04])
def test_every_resample_matches_a_slow_reference_loop(positive_rate: float) -> None:
    """On a small case (with resamples of a single class when positives are rare) each
    vectorised resample equals scikit-learn on the resampled rows."""
    o = _outcomes(60, 1, positive_rate)
    n_boot = 80
    result = run_bootstrap(
        o.n, [KernelStatistic(MetricKernel(o))], n_boot=n_boot, seed=9, max_elements=60 * 7
    )
    draws = result.draws[0]
    indices = Resampler(o.n, n_boot, seed=9).indices()
    single_class = 0
    for b in range(n_boot):
        expected = _reference(o, indices[b])
        single_class += math.isnan(expected["roc_auc"])
        for name, value in expected.items():
            got = draws[name][b]
            if math.isnan(value):
                assert math.isnan(got), (b, name)
            else:
                assert got == pytest.approx(value, rel=1e-9, abs=1e-12), (b, name)
    if positive_rate < 0.1:
        assert single_class > 0  # the edge case was exercised
    # the point estimate is the same code with every weight 1
    assert result.point[0]["roc_auc"] == pytest.approx(skm.roc_auc_score(o.y, o.proba))


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_intervals_cover_the_true_value(metric: str) -> None:
    """Datasets drawn from a population with a known value: the 95% interval covers it
    in about 95% of them."""
    covered, trials, widths = 0, 60, []
    for seed in range(trials):
        rng = np.random.default_rng(1000 + seed)
        n = 400
        y = rng.integers(0, 2, n)
        if metric == "accuracy":
            correct = rng.random(n) < 0.8  # true accuracy 0.8
            pred = np.where(correct, y, 1 - y)
            score = pred.astype(float)
            truth = 0.8
        else:
            d = 1.0  # binormal scores: true AUC = Phi(d / sqrt(2))
            score = rng.normal(0, 1, n) + d * y
            pred = (score > 0.5).astype(int)
            truth = 0.5 * (1 + math.erf(d / 2))
        o = Outcomes("binary", y, pred, (0, 1), None, score, 0.5)
        result = run_bootstrap(n, [KernelStatistic(MetricKernel(o))], n_boot=300, seed=seed)
        bounds = interval(result.draws[0][metric])
        assert bounds is not None
        covered += bounds[0] <= truth <= bounds[1]
        widths.append(bounds[1] - bounds[0])
    assert 0.85 <= covered / trials <= 1.0
    if metric == "accuracy":  # and not by being too wide: the normal width is 0.078
        assert float(np.mean(widths)) == pytest.approx(2 * 1.96 * math.sqrt(0.16 / 400), rel=0.1)


def test_estimates_keep_the_point_inside_and_refuse_degenerate_intervals() -> None:
    draws = np.array([0.50, 0.52, 0.55, 0.56, 0.60])
    estimate = Estimate.of(0.45, draws)
    assert estimate.low == 0.45 and estimate.high is not None and estimate.high <= 0.60
    mostly_undefined = np.array([0.5, np.nan, np.nan, np.nan])
    assert Estimate.of(0.5, mostly_undefined).interval is None
    assert Estimate.of(0.5, None).interval is None
    assert Estimate.from_dict(estimate.to_dict()) == estimate


def test_bad_settings_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match="n_boot is the number of resamples"):
        Resampler(10, -1)
    with pytest.raises(ValueError, match="the data is empty"):
        Resampler(0, 10)
