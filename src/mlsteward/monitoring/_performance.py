"""Realized performance of a window: its labelled rows, with label coverage.

Feedback arrives late and not for every request, so a window's realized metrics are
computed on the rows that have a label, and ``coverage`` (labelled / rows) says how much
of the window they speak for. Binary classifiers: ROC AUC, accuracy, precision, recall,
F1 (the positive class from the charter or the model); multiclass: accuracy, macro
precision, recall and F1, and one-vs-rest ROC AUC from the logged class probabilities;
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
from mlsteward.monitoring._multiclass import multiclass_metrics, probability_matrix
from mlsteward.monitoring._summary import category_key, category_keys, class_indices

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
    probabilities = None
    if classes is None:  # without the model's classes: the ones seen, and no ROC AUC
        keys = sorted({*label_keys.tolist(), *predicted_keys.tolist()} - {None})
    else:
        keys = [category_key(c) for c in classes]
        if "probabilities" in labelled.column_names:
            matrix, usable = probability_matrix(labelled.column("probabilities"), len(keys))
            if usable.all():  # ROC AUC only when every labelled row has its probabilities
                probabilities = matrix
    metrics = multiclass_metrics(
        class_indices(label_keys, keys),
        class_indices(predicted_keys, keys),
        probabilities,
        classes=max(len(keys), 2),
    )
    if probabilities is None:
        metrics.pop("roc_auc")
    return RealizedPerformance(rows, n, metrics)
