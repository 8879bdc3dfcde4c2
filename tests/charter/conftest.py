"""Charter documents shared by the charter tests: fresh dicts each call, edit freely."""

from __future__ import annotations

from typing import Any

import pytest


def binary_doc() -> dict[str, Any]:
    """A small valid charter of a binary task."""
    return {
        "objective": {
            "statement": "Predict employment.",
            "decision": "Outreach to people predicted not employed.",
            "owners": [{"name": "Analytics", "contact": "analytics@example.org"}],
        },
        "task": {
            "type": "binary",
            "target": "employed",
            "prediction_unit": "person",
            "positive_class": 1,
        },
        "success_metrics": [
            {"metric": "roc_auc", "threshold": 0.85},
            {"metric": "accuracy", "threshold": 0.8, "on": "validation"},
            {"metric": "ece", "threshold": 0.05, "required": False},
        ],
        "business_value": {
            "currency": "USD",
            "value_matrix": {"tp": 0, "fp": -90, "fn": -30, "tn": 120},
        },
        "constraints": {
            "latency_p95_ms": 50,
            "fairness": [
                {
                    "metric": "equalized_odds_difference",
                    "sensitive_attributes": ["SEX", "RAC1P"],
                    "max_disparity": 0.15,
                }
            ],
        },
        "scope": {
            "intended_use": "Benefits outreach.",
            "input_domain": {
                "AGEP": {"min": 0, "max": 99},
                "SEX": {"allowed": ["1", "2"]},
            },
        },
    }


def regression_doc() -> dict[str, Any]:
    """A small valid charter of a regression task."""
    doc = binary_doc()
    doc["task"] = {"type": "regression", "target": "price", "prediction_unit": "house"}
    doc["success_metrics"] = [
        {"metric": "mae", "threshold": 25_000},
        {"metric": "r2", "threshold": 0.6},
    ]
    doc["business_value"] = {"currency": "EUR", "cost_per_unit_error": 0.01}
    doc["constraints"] = {"latency_p95_ms": 20}
    doc["scope"] = {"intended_use": "Listing price suggestions."}
    return doc


@pytest.fixture
def doc() -> dict[str, Any]:
    return binary_doc()


@pytest.fixture
def regression() -> dict[str, Any]:
    return regression_doc()
