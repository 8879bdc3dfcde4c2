"""The rollout decision as a pure function of observed requests (no server, no store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from mlsteward.serving import Deployment, Guardrails, judge_rollout

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _deployment(**changes: object) -> Deployment:
    base = Deployment(
        id="d", endpoint="acs", project="p", number=2, model="acs@2", model_version_id="v2",
        baseline="acs@1", baseline_version_id="v1", strategy="canary", state="running", step=0,
        steps=(10, 50, 100), weight=10.0, min_requests=50, min_duration_s=60.0,
        auto_rollback=True, guardrails=Guardrails(latency_p95_ms=50.0), evaluation={},
        override_reason=None, reason=None, step_started_at=NOW - timedelta(minutes=5),
        revision=0, created_at=NOW, created_by="t", finished_at=None,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def _observed(
    candidate: np.ndarray, baseline: np.ndarray, *, errors: int = 0, latency: float = 5.0
) -> pa.Table:
    n, m = len(candidate), len(baseline)
    return pa.table(
        {
            "model": ["acs"] * (n + m + errors),
            "model_version": [2] * n + [1] * m + [2] * errors,
            "shadow": [False] * (n + m + errors),
            "status": ["ok"] * (n + m) + ["error"] * errors,
            "latency_ms": [latency] * n + [5.0] * m + [1.0] * errors,
            "score": list(candidate) + list(baseline) + [None] * errors,
            "prediction": [1] * (n + m + errors),
        }
    )


def test_same_scores_in_small_samples_pass_and_shifted_scores_fail() -> None:
    rng = np.random.default_rng(0)
    deployment = _deployment()
    for seed in range(20):  # small samples of one distribution: no false alarm
        rng = np.random.default_rng(seed)
        same = judge_rollout(deployment, _observed(rng.beta(2, 5, 200), rng.beta(2, 5, 2000)), NOW)
        assert same.action == "advance", same.reason
    shifted = judge_rollout(deployment, _observed(rng.beta(5, 2, 200), rng.beta(2, 5, 2000)), NOW)
    assert shifted.action == "rollback"
    assert "score_psi broke" in shifted.reason


def test_errors_latency_waiting_and_the_last_step() -> None:
    rng = np.random.default_rng(1)
    good = rng.beta(2, 5, 300)
    errors = judge_rollout(_deployment(), _observed(good, good, errors=5), NOW)
    assert errors.action == "rollback" and "error_rate broke: error_rate = 0.01" in errors.reason
    slow = judge_rollout(_deployment(), _observed(good, good, latency=80.0), NOW)
    assert slow.action == "rollback" and "latency_p95_ms = 80; needs <= 50" in slow.reason
    fresh = _deployment(step_started_at=NOW - timedelta(seconds=10))
    waiting = judge_rollout(fresh, _observed(good[:20], good), NOW)
    assert waiting.action == "hold"
    assert waiting.reason == "waiting: 20 of 50 candidate requests, 10 of 60 s"
    last = judge_rollout(_deployment(step=2, weight=100.0), _observed(good, good[:0]), NOW)
    assert last.action == "promote"
    manual = judge_rollout(_deployment(auto_rollback=False), _observed(good, good, errors=9), NOW)
    assert manual.action == "hold" and "auto rollback is off" in manual.reason
    table = _observed(good, good)
    flags = pa.array([True] * len(good) + [False] * len(good))
    copies = table.set_column(table.column_names.index("shadow"), "shadow", flags)
    shadow = judge_rollout(_deployment(strategy="shadow"), copies, NOW)
    assert shadow.action == "hold" and "steward rollout promote acs" in shadow.reason
    assert shadow.candidate_requests == len(good)
    ignored = judge_rollout(_deployment(strategy="shadow"), _observed(good, good), NOW)
    assert ignored.candidate_requests == 0  # live rows of the candidate are not its shadow
