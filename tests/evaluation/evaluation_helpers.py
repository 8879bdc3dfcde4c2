"""Helpers of the evaluation tests: a small synthetic task, models, a charter document."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PROJECT = "evals"


def make_frame(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Two numeric and two categorical features, a sensitive attribute, a binary label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype(float),
            "hours": rng.normal(40.0, 8.0, n).round(1),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "plan": rng.choice(["basic", "plus"], n, p=[0.7, 0.3]),
            "sex": rng.choice(["f", "m"], n),
        }
    )
    logit = 0.06 * (frame["age"] - 50) + 0.08 * (frame["hours"] - 40) + (frame["plan"] == "plus")
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def pipeline_model(features: tuple[str, ...] = ("age", "hours", "region", "plan")) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in features if f in ("age", "hours")]
    categorical = [f for f in features if f not in numeric]
    return Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), numeric),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )


FEATURES = ["age", "hours", "region", "plan"]


def charter_document(**overrides: Any) -> dict[str, Any]:
    """A valid binary charter over :func:`make_frame`; ``overrides`` replace sections."""
    document: dict[str, Any] = {
        "objective": {
            "statement": "Predict y.",
            "decision": "Who gets a letter.",
            "owners": [{"name": "Team", "contact": "team@example.org"}],
        },
        "task": {
            "type": "binary",
            "target": "y",
            "prediction_unit": "person",
            "positive_class": 1,
            "decision_threshold": 0.5,
        },
        "success_metrics": [
            {"metric": "roc_auc", "threshold": 0.6, "on": "test"},
            {"metric": "accuracy", "threshold": 0.55, "on": "test"},
            {"metric": "expected_value_per_1k", "threshold": -1e9, "on": "test", "required": False},
        ],
        "business_value": {
            "currency": "USD",
            "value_matrix": {"tp": 10, "fp": -5, "fn": -20, "tn": 0},
        },
        "constraints": {
            "fairness": [
                {
                    "metric": "demographic_parity_difference",
                    "sensitive_attributes": ["sex"],
                    "max_disparity": 0.5,
                    "min_group_size": 30,
                }
            ]
        },
        "scope": {
            "intended_use": "tests",
            "input_domain": {
                "age": {"min": 18, "max": 90},
                "hours": {"min": 0, "max": 80},
                "region": {"allowed": ["north", "south", "east", "west"]},
                "plan": {"allowed": ["basic", "plus"]},
            },
        },
    }
    document.update(overrides)
    return document
