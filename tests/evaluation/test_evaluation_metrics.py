"""Every headline metric agrees with scikit-learn on the same inputs, edge cases included."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.preprocessing import label_binarize

from mlsteward.evaluation import HEADLINE, Outcomes, point_metrics
from mlsteward.evaluation._metrics import calibration_table, confusion_matrix


def _binary(n: int, seed: int, *, decimals: int | None = 2, threshold: float = 0.5) -> Outcomes:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    if decimals is not None:
        p = np.round(p, decimals)  # many ties
    pred = (p >= threshold).astype(int)
    return Outcomes("binary", y, pred, (0, 1), p, p, threshold)


def _sklearn_binary(o: Outcomes) -> dict[str, float]:
    assert o.proba is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = len(np.unique(o.y)) < 2
        return {
            "accuracy": skm.accuracy_score(o.y, o.pred),
            "balanced_accuracy": skm.balanced_accuracy_score(o.y, o.pred),
            "precision": skm.precision_score(o.y, o.pred, zero_division=0),
            "recall": skm.recall_score(o.y, o.pred, zero_division=0),
            "f1": skm.f1_score(o.y, o.pred, zero_division=0),
            "roc_auc": math.nan if single else skm.roc_auc_score(o.y, o.proba),
            "pr_auc": math.nan if o.y.sum() == 0 else skm.average_precision_score(o.y, o.proba),
            "log_loss": skm.log_loss(o.y, o.proba, labels=[0, 1]),
            "brier_score": skm.brier_score_loss(o.y, o.proba, labels=[0, 1]),
        }


def assert_close(ours: dict[str, float], reference: dict[str, float]) -> None:
    for name, expected in reference.items():
        got = ours[name]
        if math.isnan(expected):
            assert math.isnan(got), f"{name}: expected NaN, got {got}"
        else:
            assert got == pytest.approx(expected, rel=1e-10, abs=1e-12), name


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_binary_metrics_agree_with_sklearn(seed: int, threshold: float) -> None:
    outcomes = _binary(800, seed, threshold=threshold)
    ours = point_metrics(outcomes)
    assert set(ours) == set(HEADLINE["binary"])
    assert_close(ours, _sklearn_binary(outcomes))


def test_binary_metrics_without_ties_agree_with_sklearn() -> None:
    outcomes = _binary(500, 7, decimals=None)
    assert_close(point_metrics(outcomes), _sklearn_binary(outcomes))


def test_all_equal_scores() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.full(300, 0.4)
    outcomes = Outcomes("binary", y, (p >= 0.5).astype(int), (0, 1), p, p, 0.5)
    ours = point_metrics(outcomes)
    assert_close(ours, _sklearn_binary(outcomes))
    assert ours["roc_auc"] == 0.5  # every pair tied
    assert ours["pr_auc"] == pytest.approx(y.mean())
    assert ours["precision"] == 0.0 and ours["recall"] == 0.0  # nothing predicted positive


@pytest.mark.parametrize("label", [0, 1])
def test_a_single_class(label: int) -> None:
    """What a resample with one class looks like: AUC undefined (NaN, as sklearn says)."""
    rng = np.random.default_rng(4)
    p = rng.random(50)
    y = np.full(50, label)
    outcomes = Outcomes("binary", y, (p >= 0.5).astype(int), (0, 1), p, p, 0.5)
    ours = point_metrics(outcomes)
    with pytest.warns(UndefinedMetricWarning, match="Only one class"):
        assert math.isnan(skm.roc_auc_score(y, p))
    assert math.isnan(ours["roc_auc"])
    assert_close(ours, _sklearn_binary(outcomes))


def test_confusion_matrix_and_calibration_agree_with_sklearn() -> None:
    outcomes = _binary(1000, 5, decimals=3)
    assert outcomes.proba is not None
    np.testing.assert_array_equal(
        confusion_matrix(outcomes), skm.confusion_matrix(outcomes.y, outcomes.pred)
    )
    prob_true, prob_pred = calibration_curve(outcomes.y, outcomes.proba, n_bins=10)
    table = calibration_table(outcomes.proba, outcomes.y)
    np.testing.assert_allclose([r["observed"] for r in table], prob_true)
    np.testing.assert_allclose([r["predicted"] for r in table], prob_pred)
    counts = np.array([r["count"] for r in table])
    expected_ece = float(np.sum(counts * np.abs(prob_true - prob_pred)) / outcomes.n)
    assert point_metrics(outcomes)["ece"] == pytest.approx(expected_ece, rel=1e-12)


def test_multiclass_metrics_agree_with_sklearn() -> None:
    rng = np.random.default_rng(11)
    k, n = 4, 1200
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += 0.6
    proba /= proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    ours = point_metrics(Outcomes("multiclass", y, pred, tuple("abcd"), proba))
    reference = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, average="macro"),
        "recall": skm.recall_score(y, pred, average="macro"),
        "f1": skm.f1_score(y, pred, average="macro"),
        "roc_auc": skm.roc_auc_score(y, proba, multi_class="ovr"),
        "pr_auc": skm.average_precision_score(label_binarize(y, classes=range(k)), proba),
        "log_loss": skm.log_loss(y, proba),
        "brier_score": skm.brier_score_loss(y, proba, scale_by_half=True),
    }
    assert_close(ours, reference)
    # top-label expected calibration error, by hand
    confidence, correct = proba.max(axis=1), (pred == y).astype(float)
    bins = np.minimum((confidence * 10).astype(int), 9)
    bins[np.isclose(confidence * 10, bins)] -= 1  # calibration_curve's bins are (a, b]
    bins = np.clip(bins, 0, 9)
    ece = (
        sum(
            abs(correct[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).sum()
            for b in range(10)
            if (bins == b).any()
        )
        / n
    )
    assert ours["ece"] == pytest.approx(ece, rel=1e-9)


@pytest.mark.parametrize("constant", [False, True])
def test_regression_metrics_agree_with_sklearn(constant: bool) -> None:
    rng = np.random.default_rng(9)
    y = np.full(400, 3.0) if constant else rng.normal(5, 2, 400)
    pred = y + rng.normal(0, 0.7, 400)
    ours = point_metrics(Outcomes("regression", y, pred))
    reference = {
        "mae": skm.mean_absolute_error(y, pred),
        "rmse": skm.root_mean_squared_error(y, pred),
        "mape": skm.mean_absolute_percentage_error(y, pred),
        "r2": skm.r2_score(y, pred),
    }
    assert_close(ours, reference)
    perfect = point_metrics(Outcomes("regression", y, y.copy()))
    assert perfect["r2"] == skm.r2_score(y, y) == 1.0
    assert perfect["mae"] == 0.0


def test_models_without_probabilities_measure_what_they_can() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    score = rng.normal(size=200) + y  # a decision function: ranks, no probabilities
    outcomes = Outcomes("binary", y, (score > 0.5).astype(int), (0, 1), None, score, None)
    ours = point_metrics(outcomes)
    assert "log_loss" not in ours and "ece" not in ours
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert ours["pr_auc"] == pytest.approx(skm.average_precision_score(y, score))
