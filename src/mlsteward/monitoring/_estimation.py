"""Label-free performance estimation, with intervals for the value labels will show.

Classifiers: confidence-based estimation
    A binary classifier's score, once calibrated, is the probability that the row is
    positive. The realized metrics of a window are then random only through its labels:
    each label is Bernoulli(calibrated score). :class:`ClassifierEstimator` reports, for
    ROC AUC, accuracy, precision, recall and F1, the metric of the *expected* confusion
    matrix (for ROC AUC, the area under the expected ROC curve: expected true and false
    positive rates at every distinct score, tied scores being one threshold), which is
    deterministic and exact; then it draws the labels many times (vectorised: one matrix
    product per block of draws) and gives the percentile interval of the drawn metrics
    (where the realized value should fall). The point estimate is the one of NannyML's
    CBPE; it differs from the mean of the drawn metrics only by terms of order 1/rows.
    Calibration is checked on the reference: isotonic maps fitted on
    the other folds calibrate each fold of the reference, and calibration is applied only
    when these out-of-fold probabilities have a lower Brier score than the raw scores
    (then the map is the isotonic fit on the whole reference; isotonic fits on 20
    bootstrap resamples of the reference are kept too, and each label draw uses one of
    them, so that the interval also holds what the finite reference leaves unknown about
    the calibration). The estimate assumes that P(label | score) did not change; concept
    drift shows up as realized values outside the intervals once labels arrive.
Regressors: direct loss estimation
    :class:`RegressorEstimator` learns the absolute and squared error of the model from
    the reference's inputs and predictions (gradient-boosted trees, cross-fitted to get
    an honest error of the loss model), then averages the predicted losses over a window:
    estimated MAE and RMSE with a normal interval from the held-out residuals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import stats as _sps

from mlsteward.core import InvalidInput

__all__ = [
    "CLASSIFIER_METRICS",
    "REGRESSOR_METRICS",
    "ClassifierEstimator",
    "MetricEstimate",
    "RegressorEstimator",
    "binary_metrics",
    "regression_metrics",
]

CLASSIFIER_METRICS: Final = ("roc_auc", "accuracy", "precision", "recall", "f1")
REGRESSOR_METRICS: Final = ("mae", "rmse")
_DRAWS: Final = 300
_BAGS: Final = 20
_CELLS_PER_BLOCK: Final = 4_000_000
_MAX_CELLS: Final = 20_000_000
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MetricEstimate:
    """An estimated metric: the value and a ``confidence`` interval [low, high]."""

    metric: str
    value: float
    low: float
    high: float
    confidence: float
    method: str

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "method": self.method,
        }


def metrics_to_json(metrics: Mapping[str, float]) -> dict[str, float | None]:
    """Metric values for JSON: NaN (undefined) as null."""
    return {k: (None if math.isnan(v) else v) for k, v in metrics.items()}


def metrics_from_json(data: Mapping[str, Any] | None) -> dict[str, float]:
    """The inverse of :func:`metrics_to_json`."""
    return {k: math.nan if v is None else float(v) for k, v in (data or {}).items()}


def _as_floats(values: npt.ArrayLike, what: str) -> Floats:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size and not np.all(np.isfinite(array)):
        raise InvalidInput(f"The {what} must be finite numbers; found NaN or infinity.")
    return array


def binary_metrics(
    labels: npt.ArrayLike, scores: npt.ArrayLike, predicted: npt.ArrayLike
) -> dict[str, float]:
    """Realized ROC AUC, accuracy, precision, recall and F1 (NaN where undefined)."""
    y = np.asarray(labels, dtype=bool)
    s = _as_floats(scores, "scores")
    p = np.asarray(predicted, dtype=bool)
    n = y.size
    if n == 0:
        return {m: math.nan for m in CLASSIFIER_METRICS}
    ranks = _sps.rankdata(s)
    n1 = int(y.sum())
    auc = (float(ranks[y].sum()) - n1 * (n1 + 1) / 2) / (n1 * (n - n1)) if 0 < n1 < n else math.nan
    tp = int(np.count_nonzero(y & p))
    fp = int(np.count_nonzero(~y & p))
    fn = n1 - tp
    tn = n - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / n1 if n1 else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else math.nan
    return {
        "roc_auc": auc,
        "accuracy": (tp + tn) / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


# -- calibration -----------------------------------------------------------------------------
def _isotonic_fit(
    keys: Floats, index: npt.NDArray[np.intp], labels: Floats, weights: Floats | None = None
) -> Floats:
    """The isotonic (non-decreasing) fit of the labels at each distinct score ``keys``
    (``index`` maps rows to them), rows weighted by ``weights``: pool adjacent violators."""
    from scipy.optimize import isotonic_regression

    counts = np.bincount(index, weights=weights, minlength=keys.size)
    sums = np.bincount(
        index, weights=labels if weights is None else labels * weights, minlength=keys.size
    )
    present = counts > 0
    fitted = np.empty(keys.size)
    fitted[present] = isotonic_regression(
        sums[present] / counts[present], weights=counts[present]
    ).x
    if not present.all():  # scores absent from a resample take their neighbours' value
        fitted[~present] = np.interp(keys[~present], keys[present], fitted[present])
    return np.clip(fitted, 0.0, 1.0)


def _isotonic(scores: Floats, labels: Floats) -> tuple[Floats, Floats]:
    """``(distinct scores, calibrated probability at each)``: linear in between."""
    keys, index = np.unique(scores, return_inverse=True)
    return keys, _isotonic_fit(keys, index, labels)


def _bagged_isotonic(
    scores: Floats, labels: Floats, seed: int, bags: int = _BAGS
) -> tuple[Floats, Floats]:
    """Isotonic maps fitted on bootstrap resamples of the reference, on a grid of at most
    1,000 score quantiles (``bags`` rows): their mean is a smoother calibration map than
    one fit, their spread the uncertainty the finite reference leaves in it."""
    grid = np.unique(np.quantile(scores, np.linspace(0, 1, 1001)))
    keys, index = np.unique(scores, return_inverse=True)
    rng = np.random.default_rng(seed)
    maps = np.empty((bags, grid.size))
    for bag in range(bags):
        weights = rng.multinomial(scores.size, np.full(scores.size, 1 / scores.size)).astype(float)
        maps[bag] = np.interp(grid, keys, _isotonic_fit(keys, index, labels, weights))
    return grid, maps


def _check_calibration(
    scores: Floats, labels: Floats, folds: int, seed: int
) -> tuple[bool, dict[str, float]]:
    """Whether isotonic calibration lowers the Brier score out of fold."""
    rng = np.random.default_rng(seed)
    fold = rng.permutation(scores.size) % folds
    calibrated = np.empty_like(scores)
    for k in range(folds):
        held = fold == k
        x, y = _isotonic(scores[~held], labels[~held])
        calibrated[held] = np.interp(scores[held], x, y)
    raw_loss = (scores - labels) ** 2
    cal_loss = (calibrated - labels) ** 2
    gain = raw_loss - cal_loss
    standard_error = float(gain.std(ddof=1) / math.sqrt(gain.size)) if gain.size > 1 else math.inf
    applied = bool(gain.mean() > 0)
    return applied, {
        "brier_raw": float(raw_loss.mean()),
        "brier_calibrated_out_of_fold": float(cal_loss.mean()),
        "standard_error": standard_error,
    }


def _expected_roc_area(probabilities: Floats, scores: Floats) -> float:
    """The area under the expected ROC curve: expected true and false positive rates at
    each distinct score (a tie is one threshold, so its step is a straight segment)."""
    _, group = np.unique(-scores, return_inverse=True)  # highest score first
    positives = np.bincount(group, weights=probabilities)
    negatives = np.bincount(group, weights=1.0 - probabilities)
    total_pos, total_neg = float(positives.sum()), float(negatives.sum())
    if total_pos <= 0 or total_neg <= 0:
        return math.nan
    lower = total_neg - np.cumsum(negatives)  # expected negatives scored below each group
    return float((positives * (lower + 0.5 * negatives)).sum() / (total_pos * total_neg))


# -- classifiers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassifierEstimator:
    """Confidence-based estimation for a binary classifier (see the module docstring).

    ``threshold`` turns a positive-class score into the predicted class (when the
    window's predictions are not given); ``calibration_bags`` holds a score grid then the
    bootstrap isotonic maps on it; ``calibration`` holds the isotonic map
    ``(scores, probabilities)`` when it is applied; ``reference_metrics`` are the
    realized metrics on the reference the estimator was fitted on.
    """

    threshold: float = 0.5
    calibration: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    calibration_bags: tuple[tuple[float, ...], ...] = ()
    calibration_check: Mapping[str, float] = field(default_factory=dict)
    reference_metrics: Mapping[str, float] = field(default_factory=dict)
    reference_rows: int = 0

    @classmethod
    def fit(
        cls,
        scores: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        threshold: float = 0.5,
        predicted: npt.ArrayLike | None = None,
        folds: int = 5,
        seed: int = 0,
    ) -> ClassifierEstimator:
        """Check (and fit when it helps) calibration on labelled reference rows.

        ``scores`` are positive-class scores in [0, 1]; ``labels`` 0/1 (or booleans).
        """
        s = _as_floats(scores, "reference scores")
        y = _as_floats(labels, "reference labels")
        if s.size != y.size:
            raise InvalidInput(
                f"The reference has {s.size} scores but {y.size} labels; give one label per row."
            )
        if s.size < 2 * folds or np.unique(y).size < 2:
            raise InvalidInput(
                f"Performance estimation needs a labelled reference with both classes and at "
                f"least {2 * folds} rows; got {s.size} rows and classes {sorted(set(y.tolist()))}."
            )
        if s.min() < 0 or s.max() > 1:
            raise InvalidInput(
                "Scores must be probabilities of the positive class, in [0, 1]; got values from "
                f"{s.min():.4g} to {s.max():.4g}. Pass predict_proba(...)[:, 1]."
            )
        applied, check = _check_calibration(s, y, folds, seed)
        calibration = None
        bags: tuple[tuple[float, ...], ...] = ()
        if applied:
            x, fitted = _isotonic(s, y)
            calibration = (tuple(x.tolist()), tuple(fitted.tolist()))
            grid, maps = _bagged_isotonic(s, y, seed)
            bags = (tuple(grid.tolist()), *(tuple(row) for row in maps.round(6).tolist()))
        chosen = s >= threshold if predicted is None else np.asarray(predicted, dtype=bool)
        return cls(
            threshold=threshold,
            calibration=calibration,
            calibration_bags=bags,
            calibration_check={**check, "applied": float(applied)},
            reference_metrics=binary_metrics(y, s, chosen),
            reference_rows=int(s.size),
        )

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    def probabilities(self, scores: npt.ArrayLike) -> Floats:
        """Calibrated positive-class probabilities of ``scores``."""
        s = np.clip(_as_floats(scores, "scores"), 0.0, 1.0)
        if self.calibration is None:
            return s
        x, p = self.calibration
        calibrated: Floats = np.interp(s, np.asarray(x), np.asarray(p))
        return calibrated

    def estimate(
        self,
        scores: npt.ArrayLike,
        predicted: npt.ArrayLike | None = None,
        *,
        confidence: float = 0.95,
        draws: int = _DRAWS,
        seed: int = 0,
    ) -> dict[str, MetricEstimate]:
        """Estimated ROC AUC, accuracy, precision, recall and F1 of a window, each with a
        ``confidence`` interval for the realized value."""
        s = _as_floats(scores, "scores")
        n = s.size
        if n == 0:
            return {}
        if not 0 < confidence < 1:
            raise InvalidInput(f"confidence is a fraction such as 0.95, got {confidence!r}.")
        p = self.probabilities(s)
        chosen = s >= self.threshold if predicted is None else np.asarray(predicted, dtype=bool)
        # float32 products: ranks centred and scaled to [-0.5, 0.5] keep them exact enough
        design = np.empty((n, 2), dtype=np.float32)
        design[:, 0] = (_sps.rankdata(s) - (n + 1) / 2) / n
        design[:, 1] = chosen
        rng = np.random.default_rng(seed)
        draws = max(100, min(draws, _MAX_CELLS // n))  # fewer draws for huge windows
        block = max(1, min(draws, _CELLS_PER_BLOCK // n))
        n_pred = float(np.count_nonzero(chosen))
        # each draw takes one bootstrap calibration map (when there are some): the interval
        # then holds the reference's uncertainty as well as the window's label noise
        if len(self.calibration_bags) > 1:
            grid = np.asarray(self.calibration_bags[0])
            clipped = np.clip(s, 0.0, 1.0)
            maps = np.stack(
                [np.interp(clipped, grid, np.asarray(b)) for b in self.calibration_bags[1:]]
            )
        else:
            maps = p[None, :]
        per_map = maps.astype(np.float32)
        sums: list[Floats] = []
        done = 0
        while done < draws:
            b = min(block, draws - done)
            which = (done + np.arange(b)) % per_map.shape[0]
            labels = (rng.random((b, n), dtype=np.float32) < per_map[which]).astype(np.float32)
            n1 = labels.sum(axis=1, dtype=np.float64)
            products = (labels @ design).astype(np.float64)
            sums.append(np.column_stack([n1, np.rint(products[:, 1]), products[:, 0]]))
            done += b
        z = np.concatenate(sums)
        n1, tp, rank_sum = z[:, 0], z[:, 1], z[:, 2] * n + z[:, 0] * (n + 1) / 2
        fp, fn = n_pred - tp, n1 - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            drawn_values = {
                "roc_auc": (rank_sum - n1 * (n1 + 1) / 2) / (n1 * (n - n1)),
                "accuracy": (n - fp - fn) / n,
                "precision": tp / n_pred if n_pred else np.full(tp.size, np.nan),
                "recall": tp / n1,
                "f1": 2 * tp / (2 * tp + fp + fn),
            }
        # the point estimates: the metrics of the expected confusion matrix
        e_pos = float(p.sum())
        e_tp = float(p @ chosen.astype(np.float64))
        e_fp, e_fn = n_pred - e_tp, e_pos - e_tp
        points = {
            "roc_auc": _expected_roc_area(p, s),
            "accuracy": (n - e_fp - e_fn) / n,
            "precision": e_tp / n_pred if n_pred else math.nan,
            "recall": e_tp / e_pos if e_pos > 0 else math.nan,
            "f1": 2 * e_tp / (n_pred + e_pos) if n_pred + e_pos > 0 else math.nan,
        }
        tail = (1 - confidence) / 2
        out: dict[str, MetricEstimate] = {}
        for metric, drawn in drawn_values.items():
            finite = np.isfinite(drawn)
            value = points[metric]
            if finite.sum() < 10 or not math.isfinite(value):
                continue
            low, high = np.quantile(drawn[finite], [tail, 1 - tail])
            out[metric] = MetricEstimate(
                metric, value, float(min(low, value)), float(max(high, value)), confidence, "cbpe"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "classifier",
            "threshold": self.threshold,
            "calibration": None
            if self.calibration is None
            else [list(v) for v in self.calibration],
            "calibration_bags": [list(b) for b in self.calibration_bags],
            "calibration_check": dict(self.calibration_check),
            "reference_metrics": metrics_to_json(self.reference_metrics),
            "reference_rows": self.reference_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassifierEstimator:
        calibration = data.get("calibration")
        return cls(
            threshold=float(data["threshold"]),
            calibration=None
            if calibration is None
            else (tuple(map(float, calibration[0])), tuple(map(float, calibration[1]))),
            calibration_bags=tuple(tuple(map(float, b)) for b in data.get("calibration_bags", [])),
            calibration_check=metrics_from_json(data.get("calibration_check")),
            reference_metrics=metrics_from_json(data.get("reference_metrics")),
            reference_rows=int(data.get("reference_rows", 0)),
        )


# -- regressors ------------------------------------------------------------------------------
def _design(features: npt.ArrayLike, predictions: Floats) -> Floats:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    return np.column_stack([x, predictions])


@dataclass
class RegressorEstimator:
    """Direct loss estimation for a regressor (see the module docstring).

    ``features`` are numeric arrays (encode categories first). :meth:`to_stored` gives the
    fitted loss models as skops bytes and the rest as JSON, which :meth:`from_stored`
    reads back (trusting only Steward's list of scikit-learn types), so a monitoring
    reference fits them once.
    """

    abs_model: Any
    sq_model: Any
    abs_residual_sd: float
    sq_residual_sd: float
    abs_bias: float
    sq_bias: float
    reference_metrics: dict[str, float]
    reference_rows: int

    @classmethod
    def fit(
        cls,
        features: npt.ArrayLike,
        predictions: npt.ArrayLike,
        targets: npt.ArrayLike,
        *,
        seed: int = 0,
        max_iter: int = 100,
    ) -> RegressorEstimator:
        from sklearn.ensemble import HistGradientBoostingRegressor

        pred = _as_floats(predictions, "reference predictions")
        y = _as_floats(targets, "reference targets")
        if pred.size != y.size or pred.size < 20:
            raise InvalidInput(
                f"Direct loss estimation needs at least 20 labelled reference rows with one "
                f"prediction each; got {pred.size} predictions and {y.size} targets."
            )
        x = _design(features, pred)
        errors = y - pred
        losses = {"abs": np.abs(errors), "sq": errors**2}
        fold = np.random.default_rng(seed).permutation(y.size) % 2
        fitted: dict[str, Any] = {}
        spread: dict[str, tuple[float, float]] = {}
        for name, loss in losses.items():
            held_out = np.empty_like(loss)
            for k in (0, 1):
                model = HistGradientBoostingRegressor(max_iter=max_iter, random_state=seed)
                model.fit(x[fold != k], loss[fold != k])
                held_out[fold == k] = model.predict(x[fold == k])
            residual = loss - held_out
            spread[name] = (float(residual.std(ddof=1)), float(abs(residual.mean())))
            fitted[name] = HistGradientBoostingRegressor(max_iter=max_iter, random_state=seed).fit(
                x, loss
            )
        return cls(
            abs_model=fitted["abs"],
            sq_model=fitted["sq"],
            abs_residual_sd=spread["abs"][0],
            sq_residual_sd=spread["sq"][0],
            abs_bias=spread["abs"][1],
            sq_bias=spread["sq"][1],
            reference_metrics={
                "mae": float(losses["abs"].mean()),
                "rmse": float(math.sqrt(losses["sq"].mean())),
            },
            reference_rows=int(y.size),
        )

    def to_stored(self) -> tuple[dict[str, Any], bytes]:
        """``(JSON-able numbers, skops bytes of the two loss models)``."""
        import skops.io as sio

        numbers = {
            "abs_residual_sd": self.abs_residual_sd,
            "sq_residual_sd": self.sq_residual_sd,
            "abs_bias": self.abs_bias,
            "sq_bias": self.sq_bias,
            "reference_metrics": dict(self.reference_metrics),
            "reference_rows": self.reference_rows,
        }
        return numbers, sio.dumps({"abs": self.abs_model, "sq": self.sq_model})

    @classmethod
    def from_stored(cls, numbers: Mapping[str, Any], models: bytes) -> RegressorEstimator:
        """The estimator :meth:`to_stored` wrote. Refuses (PermissionDenied) a file that
        needs types beyond :data:`mlsteward.registry.TRUSTED_TYPES`."""
        import skops.io as sio

        from mlsteward.registry import check_trusted_types

        trusted = check_trusted_types(models, "of the direct loss estimator")
        loaded = sio.loads(models, trusted=list(trusted))
        return cls(
            abs_model=loaded["abs"],
            sq_model=loaded["sq"],
            abs_residual_sd=float(numbers["abs_residual_sd"]),
            sq_residual_sd=float(numbers["sq_residual_sd"]),
            abs_bias=float(numbers["abs_bias"]),
            sq_bias=float(numbers["sq_bias"]),
            reference_metrics={k: float(v) for k, v in numbers["reference_metrics"].items()},
            reference_rows=int(numbers["reference_rows"]),
        )

    def estimate(
        self, features: npt.ArrayLike, predictions: npt.ArrayLike, *, confidence: float = 0.95
    ) -> dict[str, MetricEstimate]:
        """Estimated MAE and RMSE of a window with normal ``confidence`` intervals (the
        held-out residual spread of the loss models, plus their held-out bias)."""
        pred = _as_floats(predictions, "predictions")
        n = pred.size
        if n == 0:
            return {}
        x = _design(features, pred)
        z = float(_sps.norm.isf((1 - confidence) / 2))
        abs_hat = np.maximum(self.abs_model.predict(x), 0.0)
        sq_hat = np.maximum(self.sq_model.predict(x), 0.0)
        mae = float(abs_hat.mean())
        mae_half = z * self.abs_residual_sd / math.sqrt(n) + self.abs_bias
        mse = float(sq_hat.mean())
        mse_half = z * self.sq_residual_sd / math.sqrt(n) + self.sq_bias
        rmse = math.sqrt(mse)
        return {
            "mae": MetricEstimate(
                "mae", mae, max(mae - mae_half, 0.0), mae + mae_half, confidence, "dle"
            ),
            "rmse": MetricEstimate(
                "rmse",
                rmse,
                math.sqrt(max(mse - mse_half, 0.0)),
                math.sqrt(mse + mse_half),
                confidence,
                "dle",
            ),
        }


def regression_metrics(
    targets: Sequence[float] | Floats, predictions: Sequence[float] | Floats
) -> dict[str, float]:
    """Realized MAE, RMSE and R^2."""
    y = _as_floats(targets, "targets")
    p = _as_floats(predictions, "predictions")
    if y.size == 0:
        return {"mae": math.nan, "rmse": math.nan, "r2": math.nan}
    errors = y - p
    total = float(((y - y.mean()) ** 2).sum())
    return {
        "mae": float(np.abs(errors).mean()),
        "rmse": float(math.sqrt((errors**2).mean())),
        "r2": 1 - float((errors**2).sum()) / total if total > 0 else math.nan,
    }
