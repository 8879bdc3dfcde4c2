"""One window, without a store: a regressor's reference, its estimated and realized error,
data quality against a domain, operations and alerts."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest
from monitoring_logs import START

from mlsteward.monitoring import MonitorThresholds, Reference, Window, build_reference
from mlsteward.monitoring._quality import Domain
from mlsteward.monitoring._runner import WindowContext, evaluate_window


class Linear:
    """A fitted regressor: y = 2 x0 - x1 (predict takes a DataFrame)."""

    def predict(self, frame: object) -> np.ndarray:
        return 2 * frame["x0"].to_numpy() - frame["x1"].to_numpy()  # type: ignore[index]


def _rows(n: int, rng: np.random.Generator, shift: float = 0.0) -> dict[str, np.ndarray]:
    x0 = rng.normal(shift, 1, n)
    x1 = rng.normal(0, 1, n)
    noise = rng.normal(0, 0.3 + np.abs(x0), n)
    return {"x0": x0, "x1": x1, "y": 2 * x0 - x1 + noise}


def _window_table(data: dict[str, np.ndarray], status: list[str]) -> pa.Table:
    n = len(data["x0"])
    prediction = 2 * data["x0"] - data["x1"]
    return pa.table(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "time": pa.array(
                [START + timedelta(minutes=i) for i in range(n)], pa.timestamp("us", tz="UTC")
            ),
            "model_version": ["reg@1"] * n,
            "x0": data["x0"],
            "x1": data["x1"],
            "prediction": prediction,
            "probability": pa.array([None] * n, pa.float64()),
            "latency_ms": np.linspace(1, 10, n),
            "status": status,
            "error": pa.array(
                [None if s == "ok" else "x0: not a number" for s in status], pa.string()
            ),
            "label": data["y"],
        }
    )


def test_a_regressor_window_is_estimated_realized_and_judged() -> None:
    rng = np.random.default_rng(0)
    reference = _rows(8000, rng)
    performance = _rows(6000, rng)
    built = build_reference(
        {"x0": reference["x0"], "x1": reference["x1"]},
        features=["x0", "x1"],
        kinds={"x0": "numeric", "x1": "numeric"},
        task="regression",
        performance_data=performance,
        target="y",
        scorer=Linear(),
    )
    assert built.estimator is None and built.regression_rows is not None
    context = WindowContext(
        reference=built,
        thresholds=MonitorThresholds(),
        domains={"x0": Domain("numeric", "charter", low=-3.0, high=3.0)},
        multivariate=True,
        cost_per_hour=1.0,
    )
    data = _rows(3000, rng, shift=1.0)  # covariate shift: larger |x0|, larger errors
    status = ["ok"] * 2900 + ["rejected"] * 100
    window = Window(0, "time", START, START + timedelta(days=1), 3000)
    result = evaluate_window(context, window, _window_table(data, status))
    realized = result.realized.metrics["mae"]
    estimated = result.estimated["mae"]
    assert abs(estimated.value - realized) / realized < 0.1
    # coverage counts the answered predictions (rejected requests got no prediction)
    assert result.realized.labelled == 2900 and result.realized.coverage == 1.0
    assert result.drift is not None and [f.feature for f in result.drift.drifted][:1] == ["x0"]
    assert result.operations.rejected == 100 and result.operations.error_rate == 0.0
    assert result.operations.cost_per_1k == pytest.approx(24 / 3000 * 1000)
    x0 = result.quality.feature("x0") if result.quality else None
    assert x0 is not None and x0.out_of_domain == int(np.sum(np.abs(data["x0"][:2900]) > 3))
    kinds = {(a.kind, a.subject, a.metric) for a in result.alerts}
    assert ("drift", "x0", "wasserstein") in kinds
    assert ("quality", "requests", "rejected_share") in kinds
    rejected = next(a for a in result.alerts if a.metric == "rejected_share")
    assert "x0: not a number (100)" in rejected.message
    assert ("quality", "x0", "out_of_domain_share") in kinds
    assert result.domain is not None and result.domain.drifted
    # the loss models are fitted once, stored with the reference and read back as they were
    document, parts = built.to_document()
    assert "regressor" in parts and document["regressor"]["reference_rows"] == 6000
    reloaded = Reference.from_document(json.loads(json.dumps(document)), parts)
    assert reloaded._regressor is not None  # no refit on first use
    again = evaluate_window(
        WindowContext(
            reference=reloaded,
            thresholds=MonitorThresholds(),
            domains={},
            multivariate=False,
            cost_per_hour=None,
        ),
        window,
        _window_table(data, status),
    )
    assert again.estimated["mae"] == estimated
    assert again.estimated["rmse"] == result.estimated["rmse"]
