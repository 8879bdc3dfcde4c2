"""A multiclass model monitored end to end: ACS marital status (five classes) predicted
from the other ACS answers, 2016 traffic in the serving log, labels for the first month."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from monitoring_logs import START, spread, write_log

import mlsteward as ms

PROJECT = "acs-mar"
ENDPOINT = "marital"
NOT_FEATURES = ["MAR", "employed", "id", "year", "prediction", "predicted_probability"]


@pytest.fixture(scope="module")
def acs() -> pd.DataFrame:
    from mlsteward.datasets import load_acs_employment

    return load_acs_employment()


def test_a_multiclass_endpoint_gets_estimated_and_realized_performance(
    sqlite_client: ms.Client, acs: pd.DataFrame, tmp_path: Path
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from mlsteward.serving import LabelSpec, write_feedback

    st = sqlite_client
    st.create_project(PROJECT)
    y2015 = acs[acs["year"] == 2015].sample(n=16_000, random_state=0)
    y2015 = y2015.drop(columns=["prediction", "predicted_probability"]).reset_index(drop=True)
    features = [c for c in y2015.columns if c not in NOT_FEATURES]
    train = st.datasets.register(
        PROJECT, "mar-train", y2015.iloc[:10_000], role="train", target="MAR",
        column_types={"id": "id"},
    )  # fmt: skip
    valid = st.datasets.register(
        PROJECT, "mar-valid", y2015.iloc[10_000:], role="validation", target="MAR",
        column_types={"id": "id"},
    )  # fmt: skip
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(
            y2015.iloc[:10_000][features], y2015.iloc[:10_000]["MAR"].astype(str)
        )
    version = st.models.register("marital", project=PROJECT, model=model, datasets=[train, valid])
    classes = [str(c) for c in model.classes_]
    assert len(classes) == 5
    traffic = acs[acs["year"] == 2016].sample(n=4000, random_state=1).reset_index(drop=True)
    with threadpool_limits(limits=1):
        probabilities = model.predict_proba(traffic[features])
    predicted = [classes[i] for i in probabilities.argmax(axis=1)]
    times = spread(START, 60, len(traffic), seed=2)
    ids = write_log(
        tmp_path, ENDPOINT, times=times, inputs={c: traffic[c].tolist() for c in features},
        scores=probabilities.max(axis=1), probabilities=probabilities, predictions=predicted,
        ids=[str(i) for i in traffic["id"]], model="marital", version=version.version,
    )  # fmt: skip
    first_month = np.array([(t - START).days < 30 for t in times])
    write_feedback(
        tmp_path, ENDPOINT, [i for i, ok in zip(ids, first_month, strict=True) if ok],
        traffic.loc[first_month, "MAR"].astype(str).tolist(), LabelSpec(tuple(classes)),
    )  # fmt: skip

    run = st.monitor(ENDPOINT, project=PROJECT, window="30d")
    assert len(run.windows) == 2
    for item in run.windows:
        estimated = item["performance"]["estimated"]
        assert set(estimated) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
        for metric, e in estimated.items():
            assert 0 < e["low"] <= e["value"] <= e["high"] <= 1, (metric, e)
    realized = run.windows[0]["performance"]["realized"]
    assert realized["coverage"] == 1.0
    truth = traffic.loc[first_month, "MAR"].astype(str).to_numpy()
    chosen = np.asarray(predicted)[first_month]
    assert realized["metrics"]["accuracy"] == pytest.approx(float(np.mean(truth == chosen)))
    from sklearn.metrics import roc_auc_score

    assert realized["metrics"]["roc_auc"] == pytest.approx(
        roc_auc_score(truth, probabilities[first_month], multi_class="ovr", labels=classes)
    )
    estimated = run.windows[0]["performance"]["estimated"]
    for metric in ("accuracy", "roc_auc"):
        assert abs(estimated[metric]["value"] - realized["metrics"][metric]) < 0.03, metric
    assert run.windows[1]["performance"]["realized"]["labelled"] == 0
