"""Fixtures of the registry tests: a small synthetic task, fitted models, a tracked run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

PROJECT = "reg"


def make_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "hours": rng.normal(40.0, 6.0, n).round(2),
            "sex": rng.choice(["f", "m"], n),
            "edu": rng.integers(1, 5, n),
        }
    )
    frame["y"] = ((frame["age"] > 45) ^ (frame["sex"] == "f")).astype(int)
    return frame


def pipeline_model() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["age", "hours"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "edu"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=300)),
        ]
    )


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="session")
def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="y")


@pytest.fixture(scope="session")
def fitted_pipeline(frame: pd.DataFrame) -> Any:
    return pipeline_model().fit(frame.drop(columns="y"), frame["y"])


@dataclass
class Trained:
    """A project with a registered training dataset and a finished run that logged a
    fitted pipeline, its metrics and its input."""

    client: Any
    project: str
    run_id: str
    dataset: Any
    model: Any
    features: pd.DataFrame


def train_run(client: Any, frame: pd.DataFrame, model: Any, *, name: str = "run") -> Trained:
    project = PROJECT
    if project not in {p.name for p in client.list_projects()}:
        client.create_project(project)
    dataset = client.datasets.register(project, "train", frame, target="y")
    features = frame.drop(columns="y")
    with client.start_run(project, "registry-tests", name=name) as run:
        run.log_input(dataset, "training")
        run.log_params({"C": 1.0})
        run.log_metrics({"val_roc_auc": 0.91, "val_accuracy": 0.84})
        run.log_model(model)
    return Trained(client, project, run.id, dataset, model, features)


@pytest.fixture(scope="session")
def new_pipeline() -> Any:
    """A factory of unfitted preprocessing + logistic regression pipelines."""
    return pipeline_model


@pytest.fixture(scope="session")
def train() -> Any:
    """``train(client, frame, model, name=...)``: a project, dataset and run (see Trained)."""
    return train_run


@pytest.fixture
def trained(sqlite_client: Any, frame: pd.DataFrame, fitted_pipeline: Any) -> Trained:
    return train_run(sqlite_client, frame, fitted_pipeline)
