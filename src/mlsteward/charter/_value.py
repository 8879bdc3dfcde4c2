"""Business value: expected value per 1,000 predictions under a charter's business_value.

- binary: each outcome count times its value in the value matrix (tp, fp, fn, tn);
- multiclass: correct predictions times ``value_correct`` plus wrong ones times
  ``value_incorrect``;
- regression: ``value_per_prediction`` (default 0) minus ``cost_per_unit_error`` times the
  mean absolute error;

each per prediction, times 1,000, in the charter's currency.

>>> from mlsteward.charter._sections import BusinessValue, ValueMatrix
>>> value = BusinessValue(currency="USD", value_matrix=ValueMatrix(tp=10, fp=-5, fn=-20, tn=0))
>>> expected_value_per_1k(value, confusion={"tp": 40, "fp": 10, "fn": 10, "tn": 40})
1500.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlsteward.charter._schema import Charter
from mlsteward.charter._sections import BusinessValue
from mlsteward.core import InvalidInput

__all__ = ["expected_value_per_1k"]

_OUTCOMES = ("tp", "fp", "fn", "tn")


def _binary_counts(confusion: Any) -> dict[str, float]:
    if isinstance(confusion, Mapping):
        missing = [k for k in _OUTCOMES if k not in confusion]
        extra = [k for k in confusion if k not in _OUTCOMES]
        if missing or extra:
            raise InvalidInput(
                f"A binary confusion mapping has the keys tp, fp, fn, tn; "
                f"{'missing ' + ', '.join(missing) if missing else ''}"
                f"{'; ' if missing and extra else ''}"
                f"{'unexpected ' + ', '.join(map(str, extra)) if extra else ''}."
            )
        counts = {k: float(confusion[k]) for k in _OUTCOMES}
    else:
        matrix = np.asarray(confusion, dtype=float)
        if matrix.shape != (2, 2):
            raise InvalidInput(
                f"A binary confusion matrix is 2x2 ([[tn, fp], [fn, tp]], rows = actual, "
                f"negative class first, as scikit-learn returns it), got shape {matrix.shape}."
            )
        counts = {
            "tn": float(matrix[0, 0]),
            "fp": float(matrix[0, 1]),
            "fn": float(matrix[1, 0]),
            "tp": float(matrix[1, 1]),
        }
    return counts


def _check_counts(values: Sequence[float] | np.ndarray) -> float:
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InvalidInput("Confusion counts must be finite and not negative.")
    total = float(array.sum())
    if total <= 0:
        raise InvalidInput("The confusion matrix is empty (no predictions); nothing to value.")
    return total


def expected_value_per_1k(
    value: BusinessValue | Charter,
    *,
    confusion: Mapping[str, float] | Sequence[Sequence[float]] | np.ndarray | None = None,
    errors: Sequence[float] | np.ndarray | None = None,
) -> float:
    """Expected value of 1,000 predictions, in the business value's currency.

    Give ``confusion`` for classification (binary: a mapping of tp/fp/fn/tn counts or the
    2x2 scikit-learn matrix ``[[tn, fp], [fn, tp]]``; multiclass: the square matrix, rows
    actual) or ``errors`` (prediction minus truth, one per prediction) for regression.
    """
    if isinstance(value, Charter):
        if value.business_value is None:
            raise InvalidInput(
                "This charter has no business_value section, so expected value cannot be "
                "computed. Add business_value (currency and what each outcome is worth)."
            )
        value = value.business_value
    if value.value_matrix is not None:
        if confusion is None:
            raise InvalidInput("A binary value matrix needs confusion counts (confusion=...).")
        counts = _binary_counts(confusion)
        total = _check_counts(list(counts.values()))
        matrix = value.value_matrix
        worth = sum(counts[k] * float(getattr(matrix, k)) for k in _OUTCOMES)
        return 1000.0 * worth / total
    if value.value_correct is not None and value.value_incorrect is not None:
        if confusion is None or isinstance(confusion, Mapping):
            raise InvalidInput(
                "Multiclass business value needs the square confusion matrix (rows actual)."
            )
        square = np.asarray(confusion, dtype=float)
        if square.ndim != 2 or square.shape[0] != square.shape[1] or square.shape[0] < 2:
            raise InvalidInput(
                f"A multiclass confusion matrix is square (rows actual, columns predicted), "
                f"got shape {square.shape}."
            )
        total = _check_counts(square.ravel())
        correct = float(np.trace(square))
        worth = correct * value.value_correct + (total - correct) * value.value_incorrect
        return 1000.0 * worth / total
    if value.cost_per_unit_error is not None:
        if errors is None:
            raise InvalidInput(
                "Regression business value needs the prediction errors (errors=...)."
            )
        residuals = np.asarray(errors, dtype=float).ravel()
        if residuals.size == 0:
            raise InvalidInput("No errors given; nothing to value.")
        if not np.all(np.isfinite(residuals)):
            raise InvalidInput("Prediction errors must be finite numbers (found NaN or inf).")
        base = value.value_per_prediction or 0.0
        mean_abs = float(np.mean(np.abs(residuals)))
        result = 1000.0 * (base - value.cost_per_unit_error * mean_abs)
        return 0.0 if result == 0 else result
    raise InvalidInput(  # pragma: no cover - a validated charter always has one
        "This business_value has neither a value matrix, multiclass values nor a cost per "
        "unit of error."
    )
