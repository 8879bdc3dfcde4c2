"""Multiclass classifiers: realized metrics and confidence-based estimation.

A multiclass model's output is one probability per class (in the model's class order).
Once calibrated, row ``i`` is of class ``k`` with probability ``q[i, k]``, so a window's
realized metrics are random only through its labels, as for binary classifiers (see
:mod:`mlsteward.monitoring._estimation`).

Metrics (the charter's names, macro-averaged over the model's classes): ``accuracy``;
``precision``, ``recall`` and ``f1``, each averaged over the classes where it is defined
(precision needs a prediction of the class, recall a row of it); ``roc_auc``, one class
against the rest for each class with rows of both kinds, from the class's own probability.

:class:`MulticlassEstimator` calibrates each class's probability one-vs-rest with an
isotonic map, then renormalises the rows to sum to 1; calibration is applied only when
this lowers the multiclass Brier score out of fold on the reference. The point estimates
are the metrics of the expected confusion matrix (for ROC AUC, the area under each
class's expected ROC curve); the interval is the percentile interval of the metrics of
labels drawn from the calibrated probabilities (vectorised, one matrix product per class
and block of draws). Unlike the binary estimator, the interval holds the window's label
noise only, not the uncertainty of the calibration maps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats as _sps

from mlsteward.core import InvalidInput
from mlsteward.monitoring._estimation import (
    MetricEstimate,
    _expected_roc_area,
    _isotonic,
    metrics_from_json,
    metrics_to_json,
)

__all__ = ["MULTICLASS_METRICS", "MulticlassEstimator", "multiclass_metrics", "probability_matrix"]

MULTICLASS_METRICS: Final = ("accuracy", "precision", "recall", "f1", "roc_auc")
_DRAWS: Final = 300
_CELLS_PER_BLOCK: Final = 4_000_000
_MAX_CELLS: Final = 20_000_000
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]


def _matrix(probabilities: npt.ArrayLike, what: str, classes: int | None = None) -> Floats:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InvalidInput(
            f"The {what} are one row per prediction and one column per class (at least 2); "
            f"got an array of shape {p.shape}."
        )
    if classes is not None and p.shape[1] != classes:
        raise InvalidInput(
            f"The {what} have {p.shape[1]} columns but the model has {classes} classes; give "
            "one probability per class, in the model's class order."
        )
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise InvalidInput(f"The {what} must be probabilities in [0, 1] (no NaN).")
    return p


def _indices(values: npt.ArrayLike, classes: int, what: str) -> Ints:
    """Class indices; -1 stands for a label outside the model's classes."""
    index = np.asarray(values, dtype=np.intp).ravel()
    if index.size and (index.min() < -1 or index.max() >= classes):
        raise InvalidInput(
            f"The {what} are class indices from 0 to {classes - 1} (or -1 for a label the "
            f"model does not know); got values from {index.min()} to {index.max()}."
        )
    return index


def probability_matrix(column: Any, classes: int) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """``(matrix, usable)`` from a log's ``probabilities`` column (a list per row): the rows
    holding one finite probability per class, and which rows those are."""
    array = column if isinstance(column, pa.ChunkedArray | pa.Array) else pa.array(column)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        return np.empty((0, classes)), np.zeros(len(array), dtype=bool)
    lengths = pc.fill_null(pc.list_value_length(array), 0)
    usable = np.asarray(pc.equal(lengths, classes).to_numpy(zero_copy_only=False), dtype=bool)
    kept = array.filter(pa.array(usable))
    flat = pc.cast(pc.list_flatten(kept), pa.float64())
    values = np.asarray(pc.fill_null(flat, np.nan).to_numpy(zero_copy_only=False), dtype=float)
    matrix = values.reshape(-1, classes)
    finite = np.all(np.isfinite(matrix), axis=1) & np.all((matrix >= 0) & (matrix <= 1), axis=1)
    if not finite.all():
        rows = np.flatnonzero(usable)
        usable[rows[~finite]] = False
        matrix = matrix[finite]
    return matrix, usable


def _macro(values: Floats) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def multiclass_metrics(
    labels: npt.ArrayLike,
    predicted: npt.ArrayLike,
    probabilities: npt.ArrayLike | None = None,
    *,
    classes: int,
) -> dict[str, float]:
    """Realized accuracy, macro precision, recall and F1, and (with ``probabilities``)
    one-vs-rest macro ROC AUC. ``labels`` and ``predicted`` are class indices (``-1``: a
    label the model does not know; it counts as a miss)."""
    y = _indices(labels, classes, "labels")
    pred = _indices(predicted, classes, "predicted classes")
    n = y.size
    if n == 0:
        return {m: math.nan for m in MULTICLASS_METRICS}
    known = y >= 0
    tp = np.bincount(pred[known & (y == pred)], minlength=classes).astype(float)
    n_pred = np.bincount(pred[pred >= 0], minlength=classes).astype(float)
    n_true = np.bincount(y[known], minlength=classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_pred > 0, tp / n_pred, np.nan)
        recall = np.where(n_true > 0, tp / n_true, np.nan)
        f1 = np.where(n_pred + n_true > 0, 2 * tp / (n_pred + n_true), np.nan)
    out = {
        "accuracy": float(tp.sum() / n),
        "precision": _macro(precision),
        "recall": _macro(recall),
        "f1": _macro(f1),
        "roc_auc": math.nan,
    }
    if probabilities is not None:
        p = _matrix(probabilities, "probabilities", classes)
        aucs = np.full(classes, np.nan)
        for k in range(classes):
            positive = y == k
            n1 = int(positive.sum())
            if 0 < n1 < n:
                ranks = _sps.rankdata(p[:, k])
                aucs[k] = (float(ranks[positive].sum()) - n1 * (n1 + 1) / 2) / (n1 * (n - n1))
        out["roc_auc"] = _macro(aucs)
    return out


# -- calibration ---------------------------------------------------------------------------
def _calibrate(p: Floats, maps: Sequence[tuple[Floats, Floats]]) -> Floats:
    q = np.column_stack([np.interp(p[:, k], x, y) for k, (x, y) in enumerate(maps)])
    total = q.sum(axis=1, keepdims=True)
    uniform = np.full_like(q, 1.0 / q.shape[1])
    return np.where(total > 0, q / np.where(total > 0, total, 1.0), uniform)


def _fit_maps(p: Floats, y: Ints) -> list[tuple[Floats, Floats]]:
    return [_isotonic(p[:, k], (y == k).astype(np.float64)) for k in range(p.shape[1])]


def _brier(q: Floats, y: Ints) -> float:
    onehot = np.zeros_like(q)
    known = y >= 0
    onehot[np.flatnonzero(known), y[known]] = 1.0
    return float(((q - onehot) ** 2).sum(axis=1).mean())


@dataclass(frozen=True)
class MulticlassEstimator:
    """Confidence-based estimation for a multiclass classifier (see the module docstring).

    ``calibration`` holds, when applied, one isotonic map ``(scores, probabilities)`` per
    class; ``reference_metrics`` are the realized metrics on the reference it was fitted on.
    """

    classes: int
    calibration: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] | None = None
    calibration_check: Mapping[str, float] = field(default_factory=dict)
    reference_metrics: Mapping[str, float] = field(default_factory=dict)
    reference_rows: int = 0

    @classmethod
    def fit(
        cls,
        probabilities: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        predicted: npt.ArrayLike | None = None,
        folds: int = 5,
        seed: int = 0,
    ) -> MulticlassEstimator:
        """Check (and fit when it helps) calibration on labelled reference rows:
        ``probabilities`` one column per class, ``labels`` class indices."""
        p = _matrix(probabilities, "reference probabilities")
        k = p.shape[1]
        y = _indices(labels, k, "reference labels")
        if y.size != p.shape[0]:
            raise InvalidInput(
                f"The reference has {p.shape[0]} rows of probabilities but {y.size} labels; "
                "give one label per row."
            )
        present = np.unique(y[y >= 0])
        if y.size < 2 * folds or present.size < 2:
            raise InvalidInput(
                f"Performance estimation needs a labelled reference with at least two classes "
                f"and {2 * folds} rows; got {y.size} rows and {present.size} class(es)."
            )
        fold = np.random.default_rng(seed).permutation(y.size) % folds
        out_of_fold = np.empty_like(p)
        for f in range(folds):
            held = fold == f
            out_of_fold[held] = _calibrate(p[held], _fit_maps(p[~held], y[~held]))
        raw, calibrated = _brier(p, y), _brier(out_of_fold, y)
        calibration = None
        if calibrated < raw:
            calibration = tuple((tuple(x.tolist()), tuple(v.tolist())) for x, v in _fit_maps(p, y))
        chosen = p.argmax(axis=1) if predicted is None else _indices(predicted, k, "predictions")
        return cls(
            classes=k,
            calibration=calibration,
            calibration_check={
                "brier_raw": raw,
                "brier_calibrated_out_of_fold": calibrated,
                "applied": float(calibration is not None),
            },
            reference_metrics=multiclass_metrics(y, chosen, p, classes=k),
            reference_rows=int(y.size),
        )

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    def probabilities(self, probabilities: npt.ArrayLike) -> Floats:
        """Calibrated class probabilities (rows sum to 1)."""
        p = _matrix(probabilities, "probabilities", self.classes)
        if self.calibration is None:
            total = p.sum(axis=1, keepdims=True)
            return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / self.classes)
        maps = [(np.asarray(x), np.asarray(v)) for x, v in self.calibration]
        return _calibrate(p, maps)

    def estimate(
        self,
        probabilities: npt.ArrayLike,
        predicted: npt.ArrayLike | None = None,
        *,
        confidence: float = 0.95,
        draws: int = _DRAWS,
        seed: int = 0,
    ) -> dict[str, MetricEstimate]:
        """Estimated accuracy, macro precision, recall, F1 and one-vs-rest ROC AUC of a
        window, each with a ``confidence`` interval for the realized value."""
        if not 0 < confidence < 1:
            raise InvalidInput(f"confidence is a fraction such as 0.95, got {confidence!r}.")
        p = _matrix(probabilities, "probabilities", self.classes)
        n, k = p.shape
        if n == 0:
            return {}
        q = self.probabilities(p)
        pred = p.argmax(axis=1) if predicted is None else _indices(predicted, k, "predictions")
        points = self._points(p, q, pred)
        drawn = self._draws(p, q, pred, draws, seed)
        tail = (1 - confidence) / 2
        out: dict[str, MetricEstimate] = {}
        for metric in MULTICLASS_METRICS:
            value, values = points[metric], drawn[metric]
            finite = values[np.isfinite(values)]
            if finite.size < 10 or not math.isfinite(value):
                continue
            low, high = np.quantile(finite, [tail, 1 - tail])
            out[metric] = MetricEstimate(
                metric, value, float(min(low, value)), float(max(high, value)), confidence, "cbpe"
            )
        return out

    @staticmethod
    def _points(p: Floats, q: Floats, pred: Ints) -> dict[str, float]:
        """The metrics of the expected confusion matrix."""
        n, k = q.shape
        predicted = pred >= 0
        e_tp = np.bincount(
            pred[predicted], weights=q[np.flatnonzero(predicted), pred[predicted]], minlength=k
        )
        n_pred = np.bincount(pred[predicted], minlength=k).astype(float)
        e_true = q.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(n_pred > 0, e_tp / n_pred, np.nan)
            recall = np.where(e_true > 0, e_tp / e_true, np.nan)
            f1 = np.where(n_pred + e_true > 0, 2 * e_tp / (n_pred + e_true), np.nan)
        aucs = np.array([_expected_roc_area(q[:, c], p[:, c]) for c in range(k)])
        return {
            "accuracy": float(e_tp.sum() / n),
            "precision": _macro(precision),
            "recall": _macro(recall),
            "f1": _macro(f1),
            "roc_auc": _macro(aucs),
        }

    @staticmethod
    def _draws(p: Floats, q: Floats, pred: Ints, draws: int, seed: int) -> dict[str, Floats]:
        """The metrics of ``draws`` label draws from ``q`` (rows: draws)."""
        n, k = q.shape
        draws = max(100, min(draws, _MAX_CELLS // (n * k)))
        block = max(1, min(draws, _CELLS_PER_BLOCK // (n * k)))
        rng = np.random.default_rng(seed)
        cumulative = np.cumsum(q, axis=1, dtype=np.float32)
        cumulative[:, -1] = 1.0  # rounding: every draw falls in some class
        # per class: [predicted as the class, rank of its probability centred and scaled]
        design = np.empty((k, n, 2), dtype=np.float32)
        for c in range(k):
            design[c, :, 0] = pred == c
            design[c, :, 1] = (_sps.rankdata(p[:, c]) - (n + 1) / 2) / n
        n_pred = np.bincount(pred[pred >= 0], minlength=k).astype(float)
        count = np.empty((draws, k))
        tp = np.empty((draws, k))
        rank_sum = np.empty((draws, k))
        done = 0
        while done < draws:
            b = min(block, draws - done)
            u = rng.random((b, n, 1), dtype=np.float32)
            labels = (u > cumulative[None, :, :]).sum(axis=2)  # class index of each draw
            for c in range(k):
                hits = (labels == c).astype(np.float32)
                products = (hits @ design[c]).astype(np.float64)
                count[done : done + b, c] = hits.sum(axis=1, dtype=np.float64)
                tp[done : done + b, c] = np.rint(products[:, 0])
                rank_sum[done : done + b, c] = products[:, 1]
            done += b
        ranks = rank_sum * n + count * (n + 1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(n_pred > 0, tp / n_pred, np.nan)
            recall = np.where(count > 0, tp / count, np.nan)
            f1 = np.where(n_pred + count > 0, 2 * tp / (n_pred + count), np.nan)
            inside = (count > 0) & (count < n)
            auc = np.where(
                inside, (ranks - count * (count + 1) / 2) / (count * (n - count)), np.nan
            )

        def macro(values: Floats) -> Floats:
            finite = np.isfinite(values)
            total = np.where(finite, values, 0.0).sum(axis=1)
            number = finite.sum(axis=1)
            return np.where(number > 0, total / np.maximum(number, 1), np.nan)

        return {
            "accuracy": tp.sum(axis=1) / n,
            "precision": macro(precision),
            "recall": macro(recall),
            "f1": macro(f1),
            "roc_auc": macro(auc),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "multiclass",
            "classes": self.classes,
            "calibration": None
            if self.calibration is None
            else [[list(x), list(v)] for x, v in self.calibration],
            "calibration_check": dict(self.calibration_check),
            "reference_metrics": metrics_to_json(self.reference_metrics),
            "reference_rows": self.reference_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MulticlassEstimator:
        calibration = data.get("calibration")
        return cls(
            classes=int(data["classes"]),
            calibration=None
            if calibration is None
            else tuple((tuple(map(float, x)), tuple(map(float, v))) for x, v in calibration),
            calibration_check=metrics_from_json(data.get("calibration_check")),
            reference_metrics=metrics_from_json(data.get("reference_metrics")),
            reference_rows=int(data.get("reference_rows", 0)),
        )
