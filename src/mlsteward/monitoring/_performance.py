"""Realized performance of a window: its labelled rows, with label coverage.

Feedback arrives late and not for every request, so a window's realized metrics are
computed on the rows that have a label, and ``coverage`` (labelled / rows) says how much
of the window they speak for. Binary classifiers: ROC AUC, accuracy, precision, recall,
F1 (the positive class from the charter or the model); multiclass: accuracy and macro F1;
regressors: MAE, RMSE and R^2. Metrics are only reported from ``min_labels`` labelled rows
(default 30).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.monitoring._estimation import binary_metrics, regression_metrics
from mlsteward.monitoring._summary import category_key, category_keys

__all__ = ["RealizedPerformance", "Task", "realized_performance"]

Task = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True)
class RealizedPerformance:
    rows: int
    labelled: int
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.labelled / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "labelled": self.labelled,
            "coverage": self.coverage,
            "metrics": {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()},
        }


def realized_performance(
    table: pa.Table,
    task: Task,
    *,
    positive_class: Any = 1,
    min_labels: int = 30,
    classes: Sequence[Any] | None = None,
) -> RealizedPerformance:
    """Realized metrics of the labelled rows of a window (columns ``label``,
    ``prediction``, ``probability`` as :meth:`LogReader.read` returns them)."""
    rows = table.num_rows
    labelled_mask = pc.is_valid(table.column("label"))
    labelled = table.filter(labelled_mask)
    n = labelled.num_rows
    if n < min_labels:
        return RealizedPerformance(rows, n)
    if task == "regression":
        y = np.asarray(
            pc.cast(labelled.column("label"), pa.float64()).to_numpy(zero_copy_only=False)
        )
        p = np.asarray(
            pc.cast(labelled.column("prediction"), pa.float64()).to_numpy(zero_copy_only=False)
        )
        return RealizedPerformance(rows, n, regression_metrics(y, p))
    label_keys = category_keys(labelled.column("label"))
    predicted_keys = category_keys(labelled.column("prediction"))
    if task == "binary":
        positive = category_key(positive_class)
        y_true = label_keys == positive
        y_pred = predicted_keys == positive
        score_col = labelled.column("probability")
        if score_col.null_count == n:
            scores = y_pred.astype(np.float64)
        else:
            scores = np.asarray(
                pc.fill_null(pc.cast(score_col, pa.float64()), 0.5).to_numpy(zero_copy_only=False)
            )
        return RealizedPerformance(rows, n, binary_metrics(y_true, scores, y_pred))
    labels = (
        sorted({*label_keys.tolist(), *predicted_keys.tolist()})
        if classes is None
        else [category_key(c) for c in classes]
    )
    accuracy = float(np.mean(label_keys == predicted_keys))
    f1s = []
    for c in labels:
        tp = np.count_nonzero((label_keys == c) & (predicted_keys == c))
        fp = np.count_nonzero((label_keys != c) & (predicted_keys == c))
        fn = np.count_nonzero((label_keys == c) & (predicted_keys != c))
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return RealizedPerformance(
        rows, n, {"accuracy": accuracy, "f1": float(np.mean(f1s)) if f1s else math.nan}
    )
