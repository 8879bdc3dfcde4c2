"""Autolog on real fits: params, training metrics, safe model artifacts, inputs."""

from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlsteward as ms
import mlsteward.tracking


@pytest.fixture
def frame() -> tuple[pd.DataFrame, pd.Series]:
    x, y = make_classification(n_samples=300, n_features=5, random_state=0)
    columns = [f"f{i}" for i in range(5)]
    return pd.DataFrame(x, columns=columns), pd.Series(y, name="label")


def _runs(st: Any) -> list[Any]:
    return st.search_runs("acs", experiment="auto", max_results=100)


def test_a_classifier_fit_is_logged(st: Any, frame: tuple[pd.DataFrame, pd.Series]) -> None:
    x, y = frame
    original = LogisticRegression.fit
    st.autolog("acs", experiment="auto")
    assert LogisticRegression.fit is not original
    model = LogisticRegression(C=0.5, max_iter=200).fit(x, y)

    [summary] = _runs(st)
    run = st.runs.get(summary.id)
    assert run.status == "finished" and run.name == "LogisticRegression"
    assert run.params["C"] == "0.5" and run.params["max_iter"] == "200"
    predicted = model.predict(x)
    assert run.metrics["training_accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert run.metrics["training_f1"] == pytest.approx(f1_score(y, predicted))
    assert run.metrics["training_roc_auc"] == pytest.approx(
        roc_auc_score(y, model.predict_proba(x)[:, 1])
    )
    assert run.metrics["training_score"] == pytest.approx(model.score(x, y))
    assert run.tags["steward.autolog"] == "sklearn"
    assert run.tags["steward.input.training.rows"] == "300"
    assert run.tags["steward.input.training.columns"] == "f0,f1,f2,f3,f4"
    assert len(run.tags["steward.input.training.hash"]) == 64

    [candidate] = run.models
    assert candidate.format == "skops" and candidate.path == "model/model.skops"
    assert candidate.estimator_class == "sklearn.linear_model._logistic.LogisticRegression"
    data = st.runs.read_artifact(run.id, candidate.path)
    loaded = sio.loads(data, trusted=list(candidate.untrusted_types))
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert candidate.meta["classes"] == [0, 1]
    assert st.audit_log(action="run.model")[0].entity_id == run.id

    st.autolog(disable=True)
    assert LogisticRegression.fit is original
    LogisticRegression().fit(x, y)
    assert len(_runs(st)) == 1


def test_only_the_outermost_fit_is_logged(st: Any, frame: tuple[pd.DataFrame, pd.Series]) -> None:
    x, y = frame
    st.autolog("acs", experiment="auto")
    make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(x, y)
    runs = _runs(st)
    assert sorted(r.name for r in runs) == ["GridSearchCV", "Pipeline"]
    pipeline = next(r for r in runs if r.name == "Pipeline")
    assert pipeline.params["logisticregression__C"] == "1.0"
    assert pipeline.params["steps"].startswith("[('standardscaler'")
    grid = next(r for r in runs if r.name == "GridSearchCV")
    assert grid.params["best_C"] == str(search.best_params_["C"])
    assert grid.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert grid.params["estimator"] == "LogisticRegression"


def test_regressor_metrics_and_fits_inside_an_active_run(st: Any) -> None:
    x, y = make_regression(n_samples=200, n_features=3, noise=5.0, random_state=1)
    st.autolog("acs", experiment="auto")
    with st.start_run("acs", experiment="manual") as run:
        model = LinearRegression().fit(x, y)
        with pytest.warns(ms.tracking.AutologWarning, match="'fit_intercept' .* already 'True'"):
            second = LinearRegression(fit_intercept=False).fit(x, y)  # a second model
    assert _runs(st) == []  # logged into the active run, no run of its own
    got = st.runs.get(run.id)
    predicted = model.predict(x)
    [first_r2, _second_r2] = st.runs.history(run.id, "training_r2")
    assert first_r2.value == pytest.approx(r2_score(y, predicted))
    assert got.metrics["training_r2"] == pytest.approx(r2_score(y, second.predict(x)))
    [first_mae, _] = st.runs.history(run.id, "training_mae")
    assert first_mae.value == pytest.approx(mean_absolute_error(y, predicted))
    [first_rmse, _] = st.runs.history(run.id, "training_rmse")
    assert first_rmse.value == pytest.approx(math.sqrt(mean_squared_error(y, predicted)))
    assert [m.path for m in got.models] == ["model-2/model.skops", "model/model.skops"]
    assert got.tags["steward.input.training.shape"] == "200x3"


def test_a_registered_training_frame_becomes_an_input(
    st: Any, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    from mlsteward.data import register_dataset

    x, y = frame
    version = register_dataset(st.store, "acs", "features", x)
    st.autolog("acs", experiment="auto")
    HistGradientBoostingClassifier(max_iter=5).fit(x, y)
    [summary] = _runs(st)
    run = st.runs.get(summary.id)
    assert [(i.role, i.ref) for i in run.inputs] == [("training", version.ref)]
    [candidate] = run.models
    assert any("TreePredictor" in t for t in candidate.untrusted_types)


def test_a_failing_fit_fails_its_run_and_raises(st: Any) -> None:
    st.autolog("acs", experiment="auto")
    with pytest.raises(ValueError):
        LogisticRegression().fit([[1.0], [2.0]], [0, 0])  # one class only
    [run] = _runs(st)
    assert run.status == "failed"


def test_autolog_needs_a_project(st: Any) -> None:
    with pytest.raises(ms.NotFound, match="Project 'nope'"):
        st.autolog("nope")
    with pytest.raises(ms.InvalidInput, match="Unknown frameworks"):
        st.autolog("acs", frameworks=["torch"])


def test_lightgbm_models_are_saved_natively(st: Any, frame: tuple[pd.DataFrame, pd.Series]) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    x, y = frame
    st.autolog("acs", experiment="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eval_set is deprecated in newer LightGBM releases
        model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(
            x, y, eval_set=[(x[:100], y[:100])], eval_names=["valid"], eval_metric="binary_logloss"
        )
    [summary] = _runs(st)
    run = st.runs.get(summary.id)
    assert run.name == "LGBMClassifier" and run.tags["steward.autolog"] == "lightgbm"
    assert run.params["n_estimators"] == "10"
    assert len(st.runs.history(run.id, "eval_valid_binary_logloss")) == 10
    [candidate] = run.models
    assert candidate.format == "lightgbm-text"
    booster = lightgbm.Booster(model_str=st.runs.read_artifact(run.id, candidate.path).decode())
    assert np.allclose(booster.predict(x), model.predict_proba(x)[:, 1])


def test_xgboost_models_are_saved_natively(st: Any, frame: tuple[pd.DataFrame, pd.Series]) -> None:
    xgboost = pytest.importorskip("xgboost")
    x, y = frame
    st.autolog("acs", experiment="auto")
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    [summary] = _runs(st)
    run = st.runs.get(summary.id)
    assert run.tags["steward.autolog"] == "xgboost" and run.params["max_depth"] == "2"
    [candidate] = run.models
    assert candidate.format == "xgboost-ubj"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.ubj"
        path.write_bytes(st.runs.read_artifact(run.id, candidate.path))
        loaded = xgboost.XGBClassifier()
        loaded.load_model(path)
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
