"""Headline metrics, computed from bootstrap weights so that one code path gives both the
point estimate (every weight 1) and every resample (a row of multinomial counts).

A metric here is a function of *weighted sums* of per-row quantities (the ``linear``
columns: positives, predicted positives, true positives, per-row log loss, ...) and, for
the ranking metrics (ROC AUC, PR AUC), of the weights in score order. With weights
``W`` of shape (resamples, rows) the sums of every resample are one matrix product
``W @ columns``; nothing loops over resamples in Python.

Definitions follow scikit-learn exactly (the tests compare them on the same inputs):

- binary: the positive class is predicted when its probability is >= the threshold;
  precision, recall and F1 are 0 when undefined (scikit-learn's ``zero_division``);
  balanced accuracy averages the recall of the classes present in the labels;
  ``log_loss`` clips probabilities to [eps, 1 - eps]; ``ece`` is the size-weighted mean
  gap between the mean predicted probability of the positive class and the share of
  positives in 10 equal-width bins (the bins of ``sklearn.calibration.calibration_curve``);
- multiclass: macro averages over the labels present in the labels or the predictions,
  ROC AUC one-vs-rest macro, PR AUC macro average precision, Brier score halved,
  ``ece`` on the top-label confidence;
- regression: MAE, RMSE, MAPE (|error| / max(|y|, eps)), R2 (1 when the target is
  constant and the fit perfect, else 0 for a constant target).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "CALIBRATION_BINS",
    "HEADLINE",
    "LINEAR_METRICS",
    "SCORE_METRICS",
    "Array",
    "MetricKernel",
    "Outcomes",
    "TaskType",
    "calibration_table",
    "confusion_matrix",
    "curve_points",
    "point_metrics",
    "rank_metrics",
]

TaskType = Literal["binary", "multiclass", "regression"]
Array = npt.NDArray[Any]
CALIBRATION_BINS: Final = 10
_EPS: Final = float(np.finfo(np.float64).eps)

HEADLINE: Final[dict[str, tuple[str, ...]]] = {
    "binary": (
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier_score",
        "ece",
    ),
    "multiclass": (
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier_score",
        "ece",
    ),
    "regression": ("mae", "rmse", "mape", "r2"),
}
"""The metrics every evaluation reports, per task type (names of the charter's registry)."""

SCORE_METRICS: Final = frozenset({"roc_auc", "pr_auc", "log_loss", "brier_score", "ece"})
"""Metrics that need scores or probabilities, not only labels."""

LINEAR_METRICS: Final = frozenset(
    {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "mae", "rmse", "mape", "r2"}
)


@dataclass(frozen=True)
class Outcomes:
    """Labels and predictions of one model on one dataset, encoded for fast metrics.

    - binary: ``y`` and ``pred`` are 0/1 (1 = positive class), ``proba`` the probability
      of the positive class (None when the model gives none), ``score`` what ranks rows
      (the probability, or a decision function);
    - multiclass: ``y`` and ``pred`` are class indices into ``classes``, ``proba`` is
      (rows, classes);
    - regression: ``y`` and ``pred`` are floats.
    """

    task: TaskType
    y: Array
    pred: Array
    classes: tuple[Any, ...] = ()
    proba: Array | None = None
    score: Array | None = None
    threshold: float | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    @property
    def correct(self) -> Array:
        """Per row: 1.0 when the predicted class is right (classification)."""
        if "correct" not in self._cache:
            self._cache["correct"] = (self.y == self.pred).astype(np.float64)
        value: Array = self._cache["correct"]
        return value

    @property
    def loss(self) -> Array:
        """Per-row loss for slice analysis: the error (0/1) or the absolute error."""
        if self.is_classification:
            return 1.0 - self.correct
        return np.abs(np.asarray(self.pred, dtype=np.float64) - self.y)

    def subset(self, mask: Array) -> Outcomes:
        """The outcomes of the rows where ``mask`` is true."""
        return Outcomes(
            task=self.task,
            y=self.y[mask],
            pred=self.pred[mask],
            classes=self.classes,
            proba=None if self.proba is None else self.proba[mask],
            score=None if self.score is None else self.score[mask],
            threshold=self.threshold,
        )

    def metric_names(self) -> tuple[str, ...]:
        """The headline metrics these outcomes can measure."""
        names = HEADLINE[self.task]
        if self.task == "regression":
            return names
        if self.proba is None:
            keep_rank = self.score is not None
            return tuple(
                m
                for m in names
                if m not in SCORE_METRICS or (keep_rank and m in ("roc_auc", "pr_auc"))
            )
        return names


# -- ranking metrics ------------------------------------------------------------------------
class _RankKernel:
    """ROC AUC and average precision of one score column for every row of weights.

    Rows are sorted once by decreasing score; per resample, cumulative weighted
    positives and negatives at the end of each group of tied scores give the
    Mann-Whitney statistic (ties count one half) and the precision at each threshold.
    Weights arrive in the bootstrap's row order (see :meth:`bind`); when that order is
    this kernel's own, no reordering is needed at all.
    """

    def __init__(self, positive: Array, score: Array) -> None:
        score = np.asarray(score, dtype=np.float64)
        self.order: Array = np.argsort(-score, kind="mergesort")
        ordered = score[self.order]
        self.positive = np.asarray(positive, dtype=np.float64)[self.order]
        n = ordered.shape[0]
        boundaries = np.flatnonzero(ordered[1:] != ordered[:-1])
        self.ends = np.append(boundaries, n - 1) if n else np.empty(0, dtype=np.int64)
        self.tied = self.ends.shape[0] < n
        self._gather: Array | None = self.order

    def bind(self, order: Array | None) -> None:
        """Weights will arrive with column ``j`` for original row ``order[j]``."""
        if order is None:
            self._gather = self.order
            return
        position = np.empty_like(order)
        position[order] = np.arange(order.shape[0])
        gather = position[self.order]
        self._gather = None if np.array_equal(gather, np.arange(gather.shape[0])) else gather

    def __call__(self, weights: Array) -> tuple[Array, Array]:
        if weights.shape[1] == 0:
            nan = np.full(weights.shape[0], np.nan)
            return nan, nan
        ordered = weights if self._gather is None else weights[:, self._gather]
        positives = ordered * self.positive
        cum_pos = np.cumsum(positives, axis=1)
        cum_all = np.cumsum(ordered, axis=1)
        del ordered
        if self.tied:
            cum_pos = cum_pos[:, self.ends]
            cum_all = cum_all[:, self.ends]
            group_pos = np.diff(cum_pos, axis=1, prepend=0.0)
        else:
            group_pos = positives
        del positives
        cum_neg = cum_all - cum_pos
        total_pos = cum_pos[:, -1].copy()
        total_neg = cum_neg[:, -1].copy()
        # Mann-Whitney: each positive beats the negatives after it in score order and ties
        # half of those in its own group; without ties no row is both, so that term is 0
        wins = total_pos * total_neg - np.einsum("ij,ij->i", group_pos, cum_neg)
        if self.tied:
            wins += 0.5 * np.einsum("ij,ij->i", group_pos, np.diff(cum_neg, axis=1, prepend=0.0))
        del cum_neg
        np.maximum(cum_all, 1e-300, out=cum_all)  # precision is 0/0 only before any row
        np.divide(cum_pos, cum_all, out=cum_all)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = wins / (total_pos * total_neg)
            ap = np.einsum("ij,ij->i", group_pos, cum_all) / total_pos
        auc[(total_pos == 0) | (total_neg == 0)] = np.nan
        ap[total_pos == 0] = np.nan
        return auc, ap


def rank_metrics(positive: Array, score: Array) -> tuple[float, float]:
    """(ROC AUC, average precision) of ``score`` for the 0/1 labels ``positive``."""
    auc, ap = _RankKernel(positive, score)(np.ones((1, len(score))))
    return float(auc[0]), float(ap[0])


# -- the kernel -----------------------------------------------------------------------------
def _safe_div(num: Array, den: Array) -> Array:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den != 0)


def _bin_ids(values: Array, n_bins: int) -> Array:
    """Bin of each value in [0, 1] as ``sklearn.calibration.calibration_curve`` assigns it."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids: Array = np.searchsorted(edges[1:-1], values)
    return ids


def _one_hot(ids: Array, k: int) -> Array:
    out = np.zeros((ids.shape[0], k), dtype=np.float64)
    out[np.arange(ids.shape[0]), ids] = 1.0
    return out


class MetricKernel:
    """Every headline metric of some :class:`Outcomes` for any matrix of row weights.

    ``columns`` are per-row quantities whose weighted sums the metrics need; the
    bootstrap multiplies them by the weights of many resamples at once and hands the
    sums back to :meth:`finish` (with the weights, for the ranking metrics).
    """

    def __init__(self, outcomes: Outcomes, *, n_bins: int = CALIBRATION_BINS) -> None:
        self.outcomes = outcomes
        self.n_bins = n_bins
        self.names = outcomes.metric_names()
        self._rank: list[_RankKernel] = []
        builders = {
            "binary": self._binary_columns,
            "multiclass": self._multiclass_columns,
            "regression": self._regression_columns,
        }
        self.columns: Array = builders[outcomes.task]()

    # -- columns ------------------------------------------------------------------------
    def _binary_columns(self) -> Array:
        o = self.outcomes
        y = np.asarray(o.y, dtype=np.float64)
        pred = np.asarray(o.pred, dtype=np.float64)
        cols = [y, pred, y * pred]
        if o.proba is not None:
            p = np.asarray(o.proba, dtype=np.float64)
            p_pos = np.clip(p, _EPS, 1 - _EPS)
            p_neg = np.clip(1.0 - p, _EPS, 1 - _EPS)
            cols.append(-(y * np.log(p_pos) + (1.0 - y) * np.log(p_neg)))
            cols.append((y - p) ** 2)
            bins = _one_hot(_bin_ids(p, self.n_bins), self.n_bins)
            self._bins = (len(cols), self.n_bins)
            cols.extend((bins * p[:, None]).T)
            cols.extend((bins * y[:, None]).T)
        if o.score is not None:
            self._rank = [_RankKernel(y, o.score)]
        return np.ascontiguousarray(np.column_stack(cols))

    def _multiclass_columns(self) -> Array:
        o = self.outcomes
        k = len(o.classes)
        truth = _one_hot(np.asarray(o.y, dtype=np.int64), k)
        guess = _one_hot(np.asarray(o.pred, dtype=np.int64), k)
        correct = o.correct
        cols: list[Array] = [correct, *truth.T, *guess.T, *(truth * guess).T]
        if o.proba is not None:
            p = np.asarray(o.proba, dtype=np.float64)
            clipped = np.clip(p, _EPS, 1 - _EPS)
            cols.append(-np.log(np.take_along_axis(clipped, o.y[:, None], axis=1)[:, 0]))
            cols.append(0.5 * ((truth - p) ** 2).sum(axis=1))
            confidence = p.max(axis=1)
            bins = _one_hot(_bin_ids(confidence, self.n_bins), self.n_bins)
            self._bins = (len(cols), self.n_bins)
            cols.extend((bins * confidence[:, None]).T)
            cols.extend((bins * correct[:, None]).T)
            self._rank = [_RankKernel(truth[:, j], p[:, j]) for j in range(k)]
        return np.ascontiguousarray(np.column_stack(cols))

    def _regression_columns(self) -> Array:
        o = self.outcomes
        y = np.asarray(o.y, dtype=np.float64)
        error = np.asarray(o.pred, dtype=np.float64) - y
        cols = [
            y,
            y * y,
            np.abs(error),
            error * error,
            np.abs(error) / np.maximum(np.abs(y), _EPS),
        ]
        return np.ascontiguousarray(np.column_stack(cols))

    def preferred_order(self) -> Array | None:
        """The row order in which weights need no reordering (descending score)."""
        return self._rank[0].order if self._rank else None

    def bind(self, order: Array | None) -> None:
        """Weights will arrive with column ``j`` for original row ``order[j]``."""
        for kernel in self._rank:
            kernel.bind(order)

    # -- metrics from sums --------------------------------------------------------------
    def finish(self, sums: Array, weights: Array) -> dict[str, Array]:
        """Metrics per resample from ``sums = weights @ columns`` (and the weights)."""
        total = weights.sum(axis=1)
        if self.outcomes.task == "binary":
            return self._binary(sums, total, weights)
        if self.outcomes.task == "multiclass":
            return self._multiclass(sums, total, weights)
        return self._regression(sums, total)

    def _calibration(self, sums: Array, total: Array) -> Array:
        # sum over bins of (bin size / n) x |mean outcome - mean prediction| is
        # sum over bins of |sum of outcomes - sum of predictions| / n
        start, k = self._bins
        predicted = sums[:, start : start + k]
        observed = sums[:, start + k : start + 2 * k]
        with np.errstate(invalid="ignore", divide="ignore"):
            ece: Array = np.abs(observed - predicted).sum(axis=1) / total
        return ece

    def _binary(self, sums: Array, total: Array, weights: Array) -> dict[str, Array]:
        positives, predicted, tp = sums[:, 0], sums[:, 1], sums[:, 2]
        fp = predicted - tp
        fn = positives - tp
        tn = total - positives - fp
        negatives = total - positives
        recall = _safe_div(tp, positives)
        tnr = _safe_div(tn, negatives)
        present = (positives > 0).astype(float) + (negatives > 0).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            balanced = (recall * (positives > 0) + tnr * (negatives > 0)) / present
            out: dict[str, Array] = {
                "accuracy": (tp + tn) / total,
                "balanced_accuracy": balanced,
                "precision": _safe_div(tp, predicted),
                "recall": recall,
                "f1": _safe_div(2 * tp, 2 * tp + fp + fn),
            }
            if self.outcomes.proba is not None:
                out["log_loss"] = sums[:, 3] / total
                out["brier_score"] = sums[:, 4] / total
                out["ece"] = self._calibration(sums, total)
        if self._rank:
            auc, ap = self._rank[0](weights)
            out["roc_auc"], out["pr_auc"] = auc, ap
        return {name: out[name] for name in self.names}

    def _multiclass(self, sums: Array, total: Array, weights: Array) -> dict[str, Array]:
        k = len(self.outcomes.classes)
        correct = sums[:, 0]
        truth = sums[:, 1 : 1 + k]
        guess = sums[:, 1 + k : 1 + 2 * k]
        tp = sums[:, 1 + 2 * k : 1 + 3 * k]
        present = (truth + guess) > 0
        in_truth = truth > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = _safe_div(tp, truth)
            precision = _safe_div(tp, guess)
            f1 = _safe_div(2 * tp, truth + guess)
            out: dict[str, Array] = {
                "accuracy": correct / total,
                "balanced_accuracy": (recall * in_truth).sum(axis=1) / in_truth.sum(axis=1),
                "precision": (precision * present).sum(axis=1) / present.sum(axis=1),
                "recall": (recall * present).sum(axis=1) / present.sum(axis=1),
                "f1": (f1 * present).sum(axis=1) / present.sum(axis=1),
            }
            if self.outcomes.proba is not None:
                base = 1 + 3 * k
                out["log_loss"] = sums[:, base] / total
                out["brier_score"] = sums[:, base + 1] / total
                out["ece"] = self._calibration(sums, total)
                per_class = [kernel(weights) for kernel in self._rank]
                out["roc_auc"] = np.mean([auc for auc, _ in per_class], axis=0)
                out["pr_auc"] = np.mean([ap for _, ap in per_class], axis=0)
        return {name: out[name] for name in self.names}

    def _regression(self, sums: Array, total: Array) -> dict[str, Array]:
        sum_y, sum_y2, sum_abs, sum_sq, sum_pct = (sums[:, i] for i in range(5))
        with np.errstate(invalid="ignore", divide="ignore"):
            ss_tot = np.maximum(sum_y2 - sum_y * sum_y / total, 0.0)
            # scikit-learn's force_finite: a constant target gives 1 (perfect fit) or 0
            r2 = np.where(
                ss_tot > 1e-12 * np.maximum(sum_y2, 1.0),
                1.0 - _safe_div(sum_sq, ss_tot),
                np.where(sum_sq <= 1e-12 * np.maximum(sum_y2, 1.0), 1.0, 0.0),
            )
            return {
                "mae": sum_abs / total,
                "rmse": np.sqrt(sum_sq / total),
                "mape": sum_pct / total,
                "r2": r2,
            }

    def compute(self, weights: Array) -> dict[str, Array]:
        """Metrics for each row of ``weights`` (shape (resamples, rows))."""
        return self.finish(weights @ self.columns, weights)


def point_metrics(outcomes: Outcomes) -> dict[str, float]:
    """Every headline metric of ``outcomes`` (NaN where undefined, e.g. AUC of one class)."""
    if outcomes.n == 0:
        return {name: float("nan") for name in outcomes.metric_names()}
    kernel = MetricKernel(outcomes)
    values = kernel.compute(np.ones((1, outcomes.n)))
    return {name: float(v[0]) for name, v in values.items()}


# -- curves and tables (point estimates only) -----------------------------------------------
def confusion_matrix(outcomes: Outcomes) -> Array:
    """Rows actual, columns predicted; binary: [[tn, fp], [fn, tp]] (scikit-learn's layout)."""
    k = 2 if outcomes.task == "binary" else len(outcomes.classes)
    codes = np.asarray(outcomes.y, dtype=np.int64) * k + np.asarray(outcomes.pred, dtype=np.int64)
    matrix: Array = np.bincount(codes, minlength=k * k).reshape(k, k)
    return matrix


def calibration_table(
    probability: Array, positive: Array, n_bins: int = CALIBRATION_BINS
) -> list[dict[str, float]]:
    """Reliability curve: per non-empty bin, mean predicted probability, share positive,
    count (the same bins as ``sklearn.calibration.calibration_curve``)."""
    ids = _bin_ids(probability, n_bins)
    count = np.bincount(ids, minlength=n_bins)
    mean_pred = np.bincount(ids, weights=probability, minlength=n_bins)
    mean_true = np.bincount(ids, weights=np.asarray(positive, dtype=np.float64), minlength=n_bins)
    rows = []
    for b in range(n_bins):
        if count[b]:
            rows.append(
                {
                    "bin_low": b / n_bins,
                    "bin_high": (b + 1) / n_bins,
                    "predicted": float(mean_pred[b] / count[b]),
                    "observed": float(mean_true[b] / count[b]),
                    "count": int(count[b]),
                }
            )
    return rows


def curve_points(x: Sequence[float] | Array, y: Sequence[float] | Array, limit: int = 200) -> Array:
    """Indices of at most ``limit`` points of a curve, always keeping both ends."""
    n = len(x)
    if n <= limit:
        return np.arange(n)
    idx: Array = np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))
    return idx
