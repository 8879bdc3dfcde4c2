"""Business value: expected value per 1,000 predictions under the charter's value matrix,
its bootstrap interval, and (binary tasks) the threshold that maximises it.

The value at the current threshold is the charter's own helper
(:func:`mlsteward.charter.expected_value_per_1k`) on the confusion counts; the interval
comes from the same resamples as every other metric. The best threshold is found over
every distinct score: predicting the positive class for scores >= t gives confusion
counts from cumulative sums in score order, so every candidate costs O(1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlsteward.charter import expected_value_per_1k
from mlsteward.evaluation._bootstrap import Estimate, Statistic
from mlsteward.evaluation._metrics import Array, Outcomes, confusion_matrix

__all__ = ["BusinessReport", "BusinessStatistic", "business_report", "threshold_values"]

_CURVE_POINTS = 101


@dataclass(frozen=True)
class BusinessReport:
    """Expected value per 1,000 predictions (``per_1k``, with interval) at ``threshold``;
    for binary tasks the best threshold, its value and the value curve."""

    currency: str
    per_1k: Estimate
    threshold: float | None
    best_threshold: float | None
    best_per_1k: float | None
    curve: tuple[tuple[float, float], ...]
    basis: str

    @property
    def gain(self) -> float | None:
        """How much more the best threshold would be worth, per 1,000 predictions."""
        if self.best_per_1k is None:
            return None
        return self.best_per_1k - self.per_1k.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "per_1k": self.per_1k.to_dict(),
            "threshold": self.threshold,
            "best_threshold": self.best_threshold,
            "best_per_1k": self.best_per_1k,
            "gain": self.gain,
            "curve": [list(p) for p in self.curve],
            "basis": self.basis,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessReport:
        return cls(
            currency=data["currency"],
            per_1k=Estimate.from_dict(data["per_1k"]),
            threshold=data.get("threshold"),
            best_threshold=data.get("best_threshold"),
            best_per_1k=data.get("best_per_1k"),
            curve=tuple((float(a), float(b)) for a, b in data.get("curve", ())),
            basis=data["basis"],
        )


class BusinessStatistic(Statistic):
    """Expected value per 1,000 predictions per resample."""

    name = "business"

    def __init__(self, outcomes: Outcomes, value: Any) -> None:
        self.task = outcomes.task
        self.value = value
        if value.value_matrix is not None:
            y = np.asarray(outcomes.y, dtype=np.float64)
            pred = np.asarray(outcomes.pred, dtype=np.float64)
            self._columns = np.column_stack([y, pred, y * pred])
        elif value.value_correct is not None:
            self._columns = outcomes.correct[:, None]
        else:
            self._columns = outcomes.loss[:, None]

    def columns(self) -> Array:
        return self._columns

    def finish(self, sums: Array, weights: Array) -> dict[str, Array]:
        total = weights.sum(axis=1)
        v = self.value
        if v.value_matrix is not None:
            m = v.value_matrix
            positives, predicted, tp = sums[:, 0], sums[:, 1], sums[:, 2]
            fp, fn = predicted - tp, positives - tp
            tn = total - positives - fp
            worth = tp * m.tp + fp * m.fp + fn * m.fn + tn * m.tn
        elif v.value_correct is not None:
            correct = sums[:, 0]
            worth = correct * v.value_correct + (total - correct) * v.value_incorrect
        else:
            base = v.value_per_prediction or 0.0
            worth = total * base - v.cost_per_unit_error * sums[:, 0]
        return {"per_1k": 1000.0 * worth / total}


def threshold_values(positive: Array, score: Array, matrix: Any) -> tuple[Array, Array]:
    """Expected value per 1,000 predictions for each distinct score used as the threshold
    (positive when score >= threshold), highest threshold first: (thresholds, values)."""
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    s = np.asarray(score, dtype=np.float64)[order]
    y = np.asarray(positive, dtype=np.float64)[order]
    n = y.shape[0]
    ends = np.append(np.flatnonzero(s[1:] != s[:-1]), n - 1)
    tp = np.cumsum(y)[ends]
    predicted = (ends + 1).astype(np.float64)
    fp = predicted - tp
    total_pos = y.sum()
    fn = total_pos - tp
    tn = n - total_pos - fp
    worth = tp * matrix.tp + fp * matrix.fp + fn * matrix.fn + tn * matrix.tn
    return s[ends], 1000.0 * worth / n


def business_report(
    outcomes: Outcomes, value: Any, draws: Array | None, confidence: float
) -> BusinessReport:
    """The business value of ``outcomes`` under the charter's ``business_value``."""
    if value.value_matrix is not None:
        tn, fp, fn, tp = (int(v) for v in confusion_matrix(outcomes).ravel())
        per_1k = expected_value_per_1k(value, confusion={"tp": tp, "fp": fp, "fn": fn, "tn": tn})
        basis = "value matrix (tp, fp, fn, tn)"
    elif value.value_correct is not None:
        per_1k = expected_value_per_1k(value, confusion=confusion_matrix(outcomes))
        basis = "value of correct and incorrect predictions"
    else:
        per_1k = expected_value_per_1k(value, errors=outcomes.pred - outcomes.y)
        basis = "value per prediction minus cost per unit of absolute error"
    best_threshold = best = None
    curve: tuple[tuple[float, float], ...] = ()
    if value.value_matrix is not None and outcomes.proba is not None:
        thresholds, values = threshold_values(outcomes.y, outcomes.proba, value.value_matrix)
        # predicting no positive at all is a candidate too (threshold above every score)
        none_positive = (
            1000.0
            * (
                float(outcomes.y.sum()) * value.value_matrix.fn
                + float(outcomes.n - outcomes.y.sum()) * value.value_matrix.tn
            )
            / outcomes.n
        )
        index = int(np.argmax(values))
        if values[index] >= none_positive:
            best_threshold, best = float(thresholds[index]), float(values[index])
        else:
            best_threshold, best = math.nextafter(float(thresholds[0]), math.inf), none_positive
        grid = np.linspace(0.0, 1.0, _CURVE_POINTS)
        # value at grid threshold g: the last distinct threshold >= g (none when above all)
        ascending = thresholds[::-1]
        position = np.searchsorted(ascending, grid, side="left")
        at = np.where(
            position < ascending.size,
            values[::-1][np.minimum(position, ascending.size - 1)],
            none_positive,
        )
        curve = tuple((float(g), float(v)) for g, v in zip(grid, at, strict=True))
    return BusinessReport(
        currency=value.currency,
        per_1k=Estimate.of(per_1k, draws, confidence),
        threshold=outcomes.threshold,
        best_threshold=best_threshold,
        best_per_1k=best,
        curve=curve,
        basis=basis,
    )
