"""Multiclass classifiers: realized metrics against scikit-learn, confidence-based
estimation (points, intervals, calibration), and a window of a multiclass model."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest
from monitoring_logs import START

from mlsteward.core import InvalidInput
from mlsteward.monitoring import (
    ClassifierEstimator,
    MonitorThresholds,
    MulticlassEstimator,
    Window,
    build_reference,
    multiclass_metrics,
)
from mlsteward.monitoring._runner import WindowContext, evaluate_window


def _labels(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per row, drawn from its probabilities."""
    u = rng.random((probabilities.shape[0], 1))
    return np.minimum(
        (u > np.cumsum(probabilities, axis=1)).sum(axis=1), probabilities.shape[1] - 1
    )


def test_realized_metrics_agree_with_scikit_learn() -> None:
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), 3000)
    y = _labels(p, rng)
    predicted = p.argmax(axis=1)
    ours = multiclass_metrics(y, predicted, p, classes=4)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert ours["precision"] == pytest.approx(precision_score(y, predicted, average="macro"))
    assert ours["recall"] == pytest.approx(recall_score(y, predicted, average="macro"))
    assert ours["f1"] == pytest.approx(f1_score(y, predicted, average="macro"))
    assert ours["roc_auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    # a label the model does not know (-1) is a miss, and belongs to no class's recall
    y_unknown = y.copy()
    y_unknown[:100] = -1
    with_unknown = multiclass_metrics(y_unknown, predicted, classes=4)
    assert with_unknown["accuracy"] == pytest.approx(
        np.mean((y_unknown == predicted) & (y_unknown >= 0))
    )


def test_point_estimates_are_the_metrics_of_the_expected_confusion_matrix() -> None:
    from sklearn.metrics import auc

    rng = np.random.default_rng(1)
    p = np.round(rng.dirichlet(np.ones(3) * 2, 2500), 2)
    p /= p.sum(axis=1, keepdims=True)
    estimated = MulticlassEstimator(classes=3).estimate(p, seed=0)
    predicted = p.argmax(axis=1)
    rows = np.arange(p.shape[0])
    assert estimated["accuracy"].value == pytest.approx(p[rows, predicted].mean())
    e_tp = np.array([p[predicted == c, c].sum() for c in range(3)])
    n_pred = np.bincount(predicted, minlength=3)
    recall = e_tp / p.sum(axis=0)
    assert estimated["precision"].value == pytest.approx(np.mean(e_tp / n_pred))
    assert estimated["recall"].value == pytest.approx(recall.mean())
    assert estimated["f1"].value == pytest.approx(np.mean(2 * e_tp / (n_pred + p.sum(axis=0))))
    # ROC AUC: each class's expected ROC curve (sklearn's trapezoid over every distinct
    # probability), averaged; the binary estimator gives the same per class
    areas = []
    for c in range(3):
        s = p[:, c]
        thresholds = np.unique(s)[::-1]
        tpr = [0.0] + [s[s >= t].sum() / s.sum() for t in thresholds]
        fpr = [0.0] + [(1 - s[s >= t]).sum() / (1 - s).sum() for t in thresholds]
        areas.append(auc(fpr, tpr))
        binary = ClassifierEstimator().estimate(s, draws=100)["roc_auc"].value
        assert binary == pytest.approx(areas[-1])
    assert estimated["roc_auc"].value == pytest.approx(np.mean(areas))
    assert all(e.low <= e.value <= e.high for e in estimated.values())


def test_intervals_cover_at_their_level_when_the_probabilities_are_calibrated() -> None:
    rng = np.random.default_rng(2)
    reference = rng.dirichlet(np.ones(4) * 0.8, 20_000)
    estimator = MulticlassEstimator.fit(reference, _labels(reference, rng))
    assert not estimator.calibrated  # calibrated already: isotonic does not help
    hits, errors = [], []
    for i in range(120):
        window = rng.dirichlet(np.array([0.5, 0.7, 0.9, 1.1]), 1500)  # covariate shift
        labels = _labels(window, rng)
        estimated = estimator.estimate(window, seed=i)
        realized = multiclass_metrics(labels, window.argmax(axis=1), window, classes=4)
        metrics = ("accuracy", "f1", "roc_auc")
        hits.append([estimated[m].covers(realized[m]) for m in metrics])
        errors.append([abs(estimated[m].value - realized[m]) for m in metrics])
    coverage = np.mean(hits, axis=0)
    assert np.all(coverage >= 0.88), coverage
    assert np.all(coverage <= 0.995), coverage  # not trivially wide
    assert np.all(np.mean(errors, axis=0) < 0.015), np.mean(errors, axis=0)


def test_calibration_is_applied_only_when_it_helps() -> None:
    rng = np.random.default_rng(3)
    truth = rng.dirichlet(np.ones(3) * 1.5, 15_000)
    labels = _labels(truth, rng)
    overconfident = truth**3 / (truth**3).sum(axis=1, keepdims=True)
    fixed = MulticlassEstimator.fit(overconfident, labels)
    assert fixed.calibrated
    check = fixed.calibration_check
    assert check["brier_calibrated_out_of_fold"] < check["brier_raw"]
    assert np.abs(fixed.probabilities(overconfident) - truth).mean() < 0.03
    window = rng.dirichlet(np.ones(3) * 1.5, 3000)
    raw = window**3 / (window**3).sum(axis=1, keepdims=True)
    window_labels = _labels(window, rng)
    estimated = fixed.estimate(raw, seed=1)["accuracy"]
    realized = multiclass_metrics(window_labels, raw.argmax(axis=1), classes=3)["accuracy"]
    assert estimated.covers(realized)
    naive = MulticlassEstimator(classes=3).estimate(raw, seed=1)["accuracy"]
    assert not naive.covers(realized)  # the raw scores overstate the accuracy
    assert MulticlassEstimator.from_dict(fixed.to_dict()) == fixed


def test_multiclass_errors_say_what_to_pass() -> None:
    with pytest.raises(InvalidInput, match="one column per class"):
        MulticlassEstimator.fit(np.full(100, 0.3), np.zeros(100))
    with pytest.raises(InvalidInput, match="at least two classes"):
        MulticlassEstimator.fit(np.full((100, 3), 1 / 3), np.zeros(100))
    with pytest.raises(InvalidInput, match="model has 3 classes"):
        MulticlassEstimator(classes=3).estimate(np.full((10, 2), 0.5))
    with pytest.raises(InvalidInput, match="class indices from 0 to 2"):
        multiclass_metrics([0, 5], [0, 1], classes=3)


class _Softmax:
    """A fixed three-class model over two inputs, for the window test."""

    classes_ = np.array(["a", "b", "c"])

    def predict_proba(self, frame: object) -> np.ndarray:
        x = np.column_stack([frame["x0"], frame["x1"]])  # type: ignore[index]
        logits = np.column_stack([x[:, 0], x[:, 1], -x[:, 0] - x[:, 1]])
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, frame: object) -> np.ndarray:
        return self.classes_[self.predict_proba(frame).argmax(axis=1)]


def test_a_multiclass_window_is_estimated_and_realized() -> None:
    rng = np.random.default_rng(4)
    model = _Softmax()

    def world(n: int, shift: float) -> dict[str, np.ndarray]:
        x0, x1 = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
        p = model.predict_proba({"x0": x0, "x1": x1})
        return {"x0": x0, "x1": x1, "y": model.classes_[_labels(p, rng)]}

    reference, performance = world(6000, 0.0), world(6000, 0.0)
    built = build_reference(
        {"x0": reference["x0"], "x1": reference["x1"]},
        features=["x0", "x1"],
        kinds={"x0": "numeric", "x1": "numeric"},
        task="multiclass",
        performance_data=performance,
        target="y",
        scorer=model,
        classes=["a", "b", "c"],
    )
    assert isinstance(built.estimator, MulticlassEstimator)
    data = world(4000, 2.0)  # covariate shift: class a, more confidently
    p = model.predict_proba(data)
    n = 4000
    table = pa.table(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "time": pa.array(
                [START + timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")
            ),
            "model_version": ["m@1"] * n,
            "x0": data["x0"],
            "x1": data["x1"],
            "prediction": model.classes_[p.argmax(axis=1)],
            "probability": p.max(axis=1),
            "probabilities": pa.array(p.tolist(), pa.list_(pa.float64())),
            "latency_ms": np.full(n, 2.0),
            "status": ["ok"] * n,
            "error": pa.array([None] * n, pa.string()),
            "label": data["y"],
        }
    )
    context = WindowContext(reference=built, thresholds=MonitorThresholds(), multivariate=False)
    window = Window(0, "time", START, START + timedelta(days=1), n)
    result = evaluate_window(context, window, table)
    realized = result.realized.metrics
    assert set(realized) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    for metric in ("accuracy", "f1", "roc_auc"):
        estimate = result.estimated[metric]
        assert abs(estimate.value - realized[metric]) < 0.03, (metric, estimate, realized)
        assert estimate.low < estimate.high
    # the estimate moved with the shift, away from the reference's own accuracy
    reference_accuracy = built.estimator.reference_metrics["accuracy"]
    assert abs(result.estimated["accuracy"].value - reference_accuracy) > 0.01
