"""Label-free performance estimation: tracks realized performance on ACS 2016-2018, covers
it with its intervals, checks calibration before applying it; direct loss estimation."""

from __future__ import annotations

import numpy as np
import pytest

from mlsteward.core import InvalidInput
from mlsteward.monitoring import ClassifierEstimator, RegressorEstimator, binary_metrics

NOT_FEATURES = ["employed", "id", "year", "prediction", "predicted_probability"]


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # OpenMP on a shared machine: oversubscription
        yield


@pytest.fixture(scope="module")
def acs_model() -> tuple[object, object, list[str]]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mlsteward.datasets import load_acs_employment

    acs = load_acs_employment()
    features = [c for c in acs.columns if c not in NOT_FEATURES]
    y2015 = acs[acs["year"] == 2015].sample(frac=1.0, random_state=0)
    train, held_out = y2015.iloc[:20_000], y2015.iloc[20_000:40_000]
    from threadpoolctl import threadpool_limits

    model = HistGradientBoostingClassifier(max_iter=40, random_state=0)
    with threadpool_limits(limits=1):
        model.fit(train[features], train["employed"])
    return model, (acs, held_out), features


def test_estimated_performance_tracks_realized_performance_on_acs(acs_model) -> None:
    model, (acs, held_out), features = acs_model
    scores = model.predict_proba(held_out[features])[:, 1]
    estimator = ClassifierEstimator.fit(scores, held_out["employed"])
    errors: dict[str, list[float]] = {m: [] for m in ("roc_auc", "accuracy", "f1")}
    covered: dict[str, list[bool]] = {m: [] for m in errors}
    for year in (2016, 2017, 2018):
        rows = acs[acs["year"] == year].sample(frac=1.0, random_state=year)
        year_scores = model.predict_proba(rows[features])[:, 1]
        labels = rows["employed"].to_numpy()
        for start in range(0, 60_000, 5000):  # twelve windows of 5,000 per year
            s = year_scores[start : start + 5000]
            estimated = estimator.estimate(s, seed=start)
            realized = binary_metrics(labels[start : start + 5000], s, s >= 0.5)
            for metric in errors:
                errors[metric].append(abs(estimated[metric].value - realized[metric]))
                covered[metric].append(estimated[metric].covers(realized[metric]))
    mae = {m: float(np.mean(v)) for m, v in errors.items()}
    coverage = {m: float(np.mean(v)) for m, v in covered.items()}
    print(f"ACS 2016-2018, 36 windows of 5,000: MAE {mae}, coverage {coverage}")
    assert len(errors["roc_auc"]) == 36
    # ACS changes a little from year to year (employment rates), so P(y|x) is not quite
    # the reference's: the estimate is off by well under a point of AUC and accuracy.
    assert mae["roc_auc"] < 0.008, mae
    assert mae["accuracy"] < 0.012, mae
    assert mae["f1"] < 0.012, mae
    assert coverage["roc_auc"] >= 0.75, coverage
    assert coverage["accuracy"] >= 0.75, coverage
    assert coverage["f1"] >= 0.75, coverage
    widths = [estimated[m].high - estimated[m].low for m in errors]
    assert all(0.005 < w < 0.06 for w in widths), widths


def test_intervals_cover_at_their_level_when_the_scores_are_calibrated() -> None:
    rng = np.random.default_rng(1)
    reference = rng.beta(2, 2, 20_000)
    estimator = ClassifierEstimator.fit(reference, rng.random(20_000) < reference)
    assert not estimator.calibrated  # calibrated scores: isotonic does not help
    hits = []
    for i in range(120):
        scores = rng.beta(2.5, 2, 1000)  # covariate shift only
        labels = rng.random(1000) < scores
        estimated = estimator.estimate(scores, seed=i, draws=300)
        realized = binary_metrics(labels, scores, scores >= 0.5)
        hits.append([estimated[m].covers(realized[m]) for m in ("roc_auc", "accuracy", "f1")])
    coverage = np.mean(hits, axis=0)
    assert np.all(coverage >= 0.89), coverage
    assert np.all(coverage <= 0.995), coverage  # not trivially wide


def test_calibration_is_applied_only_when_it_helps() -> None:
    rng = np.random.default_rng(2)
    truth = rng.beta(2, 2, 15_000)
    labels = rng.random(15_000) < truth
    overconfident = np.clip(0.5 + 1.8 * (truth - 0.5), 0, 1)
    fixed = ClassifierEstimator.fit(overconfident, labels)
    assert fixed.calibrated
    check = fixed.calibration_check
    assert check["brier_calibrated_out_of_fold"] < check["brier_raw"]
    # the calibrated probabilities recover the truth
    assert np.abs(fixed.probabilities(overconfident) - truth).mean() < 0.03
    # and the estimate of a window follows the calibrated, not the raw, scores
    window = rng.beta(2, 2, 3000)
    raw = np.clip(0.5 + 1.8 * (window - 0.5), 0, 1)
    window_labels = rng.random(3000) < window
    estimated = fixed.estimate(raw)["accuracy"]
    assert estimated.covers(binary_metrics(window_labels, raw, raw >= 0.5)["accuracy"])
    assert ClassifierEstimator.from_dict(fixed.to_dict()) == fixed


def test_estimator_errors_say_what_to_pass() -> None:
    with pytest.raises(InvalidInput, match="both classes"):
        ClassifierEstimator.fit(np.full(100, 0.3), np.zeros(100))
    with pytest.raises(InvalidInput, match="predict_proba"):
        ClassifierEstimator.fit(np.linspace(-2, 2, 100), np.arange(100) % 2)


def test_direct_loss_estimation_tracks_the_error_of_a_regressor() -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(3)

    def world(n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(shift, 1, (n, 3))
        noise = rng.normal(0, 0.2 + np.abs(x[:, 0]), n)  # the error grows with |x0|
        return x, x @ np.array([1.0, -2.0, 0.5]) + noise

    x_train, y_train = world(4000, 0.0)
    model = LinearRegression().fit(x_train, y_train)
    x_ref, y_ref = world(6000, 0.0)
    estimator = RegressorEstimator.fit(x_ref, model.predict(x_ref), y_ref, max_iter=60)
    errors, covered = [], []
    for shift in (0.0, 0.5, 1.0, 1.5):  # covariate shift: larger |x0|, larger errors
        x, y = world(3000, shift)
        predicted = model.predict(x)
        estimated = estimator.estimate(x, predicted)["mae"]
        realized = float(np.abs(y - predicted).mean())
        errors.append(abs(estimated.value - realized) / realized)
        covered.append(estimated.covers(realized))
    assert max(errors) < 0.1, errors  # within 10 % of the realized MAE
    assert sum(covered) >= 3, covered


def test_point_estimates_are_the_metrics_of_the_expected_confusion_matrix() -> None:
    from sklearn.metrics import auc

    rng = np.random.default_rng(4)
    estimator = ClassifierEstimator(threshold=0.5)  # no calibration: probabilities = scores
    scores = np.round(rng.beta(2, 3, 4000), 2)  # 2 decimals: many ties
    estimated = estimator.estimate(scores, seed=1)
    # independent reference: expected TPR and FPR at every distinct threshold, sklearn's
    # trapezoidal area
    thresholds = np.unique(scores)[::-1]
    tpr = [0.0] + [scores[scores >= t].sum() / scores.sum() for t in thresholds]
    fpr = [0.0] + [(1 - scores[scores >= t]).sum() / (1 - scores).sum() for t in thresholds]
    assert estimated["roc_auc"].value == pytest.approx(auc(fpr, tpr), abs=1e-12)
    chosen = scores >= 0.5
    e_tp, e_pos, n_pred = scores[chosen].sum(), scores.sum(), chosen.sum()
    assert estimated["precision"].value == pytest.approx(e_tp / n_pred)
    assert estimated["recall"].value == pytest.approx(e_tp / e_pos)
    assert estimated["f1"].value == pytest.approx(2 * e_tp / (n_pred + e_pos))
    expected_correct = scores[chosen].sum() + (1 - scores[~chosen]).sum()
    assert estimated["accuracy"].value == pytest.approx(expected_correct / scores.size)
    # and each point lies inside its interval
    assert all(e.low <= e.value <= e.high for e in estimated.values())


def test_expected_roc_area_by_hand() -> None:
    # scores 0.9, 0.5, 0.5, 0.2 as probabilities: expected positives 2.1, negatives 1.9.
    # Each score group's expected positives times the expected negatives below it, plus
    # half of the negatives in the group itself (a tie is one threshold):
    # 0.9 x (1.8 + 0.1 / 2) + 1.0 x (0.8 + 1.0 / 2) + 0.2 x (0 + 0.8 / 2)
    estimated = ClassifierEstimator().estimate(np.array([0.9, 0.5, 0.5, 0.2]), draws=100)
    by_hand = (0.9 * 1.85 + 1.0 * 1.3 + 0.2 * 0.4) / (2.1 * 1.9)
    assert estimated["roc_auc"].value == pytest.approx(by_hand, abs=1e-12)
