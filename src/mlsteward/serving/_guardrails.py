"""Guardrails of a rollout: pure judgements from observed requests to a decision.

:func:`judge_rollout` takes a deployment and the requests observed since its current
step began (columns ``model``, ``model_version``, ``shadow``, ``status``,
``latency_ms``, ``score``, ``prediction`` and, once feedback exists, ``label``) and
decides: ``hold``, ``advance`` (next canary step), ``promote`` or ``rollback``.

The candidate's side is its live rows (its shadow rows for a shadow rollout); the
baseline's side is the baseline's live rows over the same period. Checks:

==================  ===========================================  ==========================
check               measured on                                  judged when
==================  ===========================================  ==========================
error_rate          candidate: failed / (answered + failed)      >= min_samples requests
latency_p95_ms      candidate: 95th percentile, answered rows    >= min_samples, bound set
latency_p99_ms      candidate: 99th percentile, answered rows    >= min_samples, bound set
score_psi           candidate scores vs baseline scores (PSI,    >= min_shift_samples each
                    10 bins at the baseline's deciles, less
                    the 9 (1/n + 1/m) two samples of one
                    distribution show by chance)
performance         accuracy (classifier) or mean absolute       >= min_labels labelled
                    error (regressor), candidate vs baseline     rows each
==================  ===========================================  ==========================

Error rate and latency go through the charter's gate engine (:func:`mlsteward.charter.judge`)
with the bounds the deployment recorded. Any failed check rolls back (or holds, with auto
rollback off). A canary step advances when the candidate has answered ``min_requests``
requests in it, it has lasted ``min_duration_s`` and nothing failed; the last step (100 %)
promotes. Blue-green and shadow rollouts wait for ``steward rollout promote``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from mlsteward.charter import Gate, Measurement, judge
from mlsteward.serving._records import Deployment

__all__ = ["Check", "Decision", "judge_rollout", "population_stability_index"]

Action = Literal["hold", "advance", "promote", "rollback"]
PSI_BINS = 10


@dataclass(frozen=True)
class Check:
    """The verdict of one guardrail: ``pass``, ``fail`` or ``not_measured``."""

    name: str
    status: str
    value: float | None
    threshold: float | None
    reason: str
    samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "value": self.value,
            "threshold": self.threshold,
            "reason": self.reason,
            "samples": self.samples,
        }


@dataclass(frozen=True)
class Decision:
    """What a rollout should do now, why, and the checks it rests on."""

    action: Action
    reason: str
    checks: tuple[Check, ...]
    candidate_requests: int
    baseline_requests: int
    elapsed_s: float

    def measurements(self) -> dict[str, Any]:
        return {
            "candidate_requests": self.candidate_requests,
            "baseline_requests": self.baseline_requests,
            "elapsed_s": round(self.elapsed_s, 3),
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason, **self.measurements()}


def population_stability_index(
    expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS
) -> float:
    """PSI of ``actual`` against ``expected``, with bins at the deciles of ``expected``.

    >>> rng = np.random.default_rng(0)
    >>> population_stability_index(rng.random(5000), rng.random(5000)) < 0.02
    True
    >>> population_stability_index(rng.random(5000), rng.random(5000) ** 4) > 0.5
    True
    """
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1)
    p = np.clip(e / max(len(expected), 1), 1e-4, None)
    q = np.clip(a / max(len(actual), 1), 1e-4, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _side(table: pa.Table, ref: str | None, shadow: bool) -> dict[str, np.ndarray]:
    if ref is None or table.num_rows == 0:
        return {"status": np.array([], dtype=object)}
    name, _, number = ref.rpartition("@")
    models = np.asarray(table.column("model").to_pylist(), dtype=object)
    versions = np.asarray(
        table.column("model_version").fill_null(-1).to_numpy(zero_copy_only=False)
    )
    shadows = np.asarray(table.column("shadow").fill_null(False).to_numpy(zero_copy_only=False))
    statuses = np.asarray(table.column("status").to_pylist(), dtype=object)
    mask = (models == name) & (versions == int(number)) & (shadows == shadow)
    mask &= statuses != "rejected"
    out = {"status": statuses[mask]}
    for column in ("latency_ms", "score"):
        values = table.column(column).to_numpy(zero_copy_only=False)
        out[column] = np.asarray(values, dtype=float)[mask]
    if "label" in table.column_names:
        out["label"] = np.asarray(table.column("label").to_pylist(), dtype=object)[mask]
        out["prediction"] = np.asarray(table.column("prediction").to_pylist(), dtype=object)[mask]
    return out


def _gate_check(gate: Gate, value: float | None, samples: int, needed: int) -> Check:
    if value is None or samples < needed:
        return Check(
            gate.metric,
            "not_measured",
            value,
            gate.threshold,
            f"{gate.metric}: {samples} of {needed} requests needed so far",
            samples,
        )
    verdict = judge(gate, Measurement(gate.metric, value))
    status = "pass" if verdict.status == "pass" else "fail"
    return Check(gate.metric, status, value, gate.threshold, verdict.reason, samples)


def _performance(
    candidate: dict[str, np.ndarray], baseline: dict[str, np.ndarray], deployment: Deployment
) -> Check:
    rails = deployment.guardrails
    if "label" not in candidate or "label" not in baseline:
        return Check(
            "performance", "not_measured", None, rails.max_performance_drop, "no labels yet"
        )
    c_mask = np.array([v is not None for v in candidate["label"]], dtype=bool)
    b_mask = np.array([v is not None for v in baseline["label"]], dtype=bool)
    c_mask &= candidate["status"] == "ok"
    b_mask &= baseline["status"] == "ok"
    n_c, n_b = int(c_mask.sum()), int(b_mask.sum())
    if min(n_c, n_b) < rails.min_labels:
        return Check(
            "performance",
            "not_measured",
            None,
            rails.max_performance_drop,
            f"labelled rows: candidate {n_c}, baseline {n_b}; {rails.min_labels} each needed",
            min(n_c, n_b),
        )
    c_pred, c_label = candidate["prediction"][c_mask], candidate["label"][c_mask]
    b_pred, b_label = baseline["prediction"][b_mask], baseline["label"][b_mask]
    numeric = all(isinstance(v, float) for v in c_label[:50])
    if numeric:
        c_mae = float(np.mean(np.abs(c_pred.astype(float) - c_label.astype(float))))
        b_mae = float(np.mean(np.abs(b_pred.astype(float) - b_label.astype(float))))
        worse = (c_mae - b_mae) / b_mae if b_mae > 0 else 0.0
        status = "fail" if worse > rails.max_performance_drop else "pass"
        reason = (
            f"mean absolute error {c_mae:.4g} (candidate) vs {b_mae:.4g} (baseline): "
            f"{worse:+.1%}; at most +{rails.max_performance_drop:.1%} allowed"
        )
        return Check(
            "performance", status, worse, rails.max_performance_drop, reason, min(n_c, n_b)
        )
    c_acc = float(np.mean(c_pred == c_label))
    b_acc = float(np.mean(b_pred == b_label))
    drop = b_acc - c_acc
    status = "fail" if drop > rails.max_performance_drop else "pass"
    reason = (
        f"accuracy {c_acc:.4f} (candidate, {n_c} labelled) vs {b_acc:.4f} (baseline, {n_b}): "
        f"a drop of {drop:.4f}; at most {rails.max_performance_drop:g} allowed"
    )
    return Check("performance", status, drop, rails.max_performance_drop, reason, min(n_c, n_b))


def judge_rollout(deployment: Deployment, observed: pa.Table, now: datetime) -> Decision:
    """The decision for ``deployment`` given the requests observed in its current step."""
    rails = deployment.guardrails
    shadow = deployment.strategy == "shadow"
    candidate = _side(observed, deployment.model, shadow)
    baseline = _side(observed, deployment.baseline, False)
    statuses = candidate["status"]
    n = len(statuses)
    errors = int(np.sum(statuses == "error"))
    ok = statuses == "ok"
    checks: list[Check] = []
    for gate in rails.gates():
        if gate.metric == "error_rate":
            value = errors / n if n else None
            checks.append(_gate_check(gate, value, n, rails.min_samples))
        else:
            latencies = candidate.get("latency_ms", np.array([]))[ok] if n else np.array([])
            q = 95 if gate.metric == "latency_p95_ms" else 99
            value = float(np.percentile(latencies, q)) if len(latencies) else None
            checks.append(_gate_check(gate, value, len(latencies), rails.min_samples))
    c_scores = candidate.get("score", np.array([]))
    b_scores = baseline.get("score", np.array([]))
    c_scores = c_scores[np.isfinite(c_scores)] if len(c_scores) else c_scores
    b_scores = b_scores[np.isfinite(b_scores)] if len(b_scores) else b_scores
    shift_n = min(len(c_scores), len(b_scores))
    if deployment.baseline is None or shift_n < rails.min_shift_samples:
        checks.append(
            Check(
                "score_psi",
                "not_measured",
                None,
                rails.max_score_psi,
                f"scores: candidate {len(c_scores)}, baseline {len(b_scores)}; "
                f"{rails.min_shift_samples} each needed",
                shift_n,
            )
        )
    else:
        psi = population_stability_index(b_scores, c_scores)
        # PSI of two samples of one distribution is not 0 but about (bins - 1)(1/n + 1/m):
        # judge what exceeds that, so that small samples do not raise false alarms
        bias = (PSI_BINS - 1) * (1 / len(c_scores) + 1 / len(b_scores))
        excess = max(0.0, psi - bias)
        status = "fail" if excess > rails.max_score_psi else "pass"
        checks.append(
            Check(
                "score_psi",
                status,
                excess,
                rails.max_score_psi,
                f"PSI of the candidate's scores against the baseline's = {psi:.4f} "
                f"({excess:.4f} above the {bias:.4f} expected from sampling alone, with "
                f"{len(c_scores)} and {len(b_scores)} scores); at most "
                f"{rails.max_score_psi:g} allowed",
                shift_n,
            )
        )
    checks.append(_performance(candidate, baseline, deployment))
    elapsed = max(0.0, (now - deployment.step_started_at).total_seconds())
    base_n = len(baseline["status"])
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        why = "; ".join(f"{c.name} broke: {c.reason}" for c in failed)
        if deployment.auto_rollback:
            return Decision("rollback", why, tuple(checks), n, base_n, elapsed)
        return Decision(
            "hold",
            f"{why} (auto rollback is off: steward rollout rollback {deployment.endpoint})",
            tuple(checks),
            n,
            base_n,
            elapsed,
        )
    waiting = []
    if n < deployment.min_requests:
        waiting.append(f"{n} of {deployment.min_requests} candidate requests")
    if elapsed < deployment.min_duration_s:
        waiting.append(f"{elapsed:.0f} of {deployment.min_duration_s:.0f} s")
    if waiting:
        return Decision("hold", "waiting: " + ", ".join(waiting), tuple(checks), n, base_n, elapsed)
    passed = f"guardrails pass over {n} candidate requests in {elapsed:.0f} s"
    if deployment.strategy == "canary":
        nxt = deployment.next_weight
        if nxt is None:
            return Decision("promote", passed + " at 100%", tuple(checks), n, base_n, elapsed)
        return Decision(
            "advance", f"{passed} at {deployment.weight:g}%", tuple(checks), n, base_n, elapsed
        )
    return Decision(
        "hold",
        f"{passed}; promote with: steward rollout promote {deployment.endpoint}",
        tuple(checks),
        n,
        base_n,
        elapsed,
    )
