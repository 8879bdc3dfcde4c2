"""The registry of known metrics: what each measures, which way is better, what it applies to.

Gates, comparisons and reports never guess a metric's direction: they look it up here
(STYLE.md habit 11). A metric applies to a set of task types; its valid range bounds both
measured values and charter thresholds.

>>> METRICS["roc_auc"].direction
'higher'
>>> get_metric("log_loss").better(0.2, 0.3)
True
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from mlsteward.core import InvalidInput

__all__ = [
    "METRICS",
    "TASK_TYPES",
    "Direction",
    "MetricKind",
    "MetricSpec",
    "TaskType",
    "format_number",
    "get_metric",
    "metric_names",
    "suggest",
    "unknown_metric_message",
]

Direction = Literal["higher", "lower"]
TaskType = Literal["binary", "multiclass", "regression"]
MetricKind = Literal["quality", "business", "fairness", "operational", "drift"]

TASK_TYPES: tuple[TaskType, ...] = get_args(TaskType)
_CLASSIFICATION: frozenset[TaskType] = frozenset({"binary", "multiclass"})
_BINARY: frozenset[TaskType] = frozenset({"binary"})
_REGRESSION: frozenset[TaskType] = frozenset({"regression"})
_ALL: frozenset[TaskType] = frozenset(TASK_TYPES)


def format_number(value: float) -> str:
    """A number as people write it: ``1`` not ``1.0``, ``0.85`` not ``0.8500``.

    >>> format_number(1.0), format_number(0.85), format_number(-math.inf)
    ('1', '0.85', '-inf')
    """
    if math.isfinite(value) and float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True)
class MetricSpec:
    """One known metric.

    ``low``/``high`` are the inclusive valid range (``-inf``/``inf`` when unbounded);
    ``tasks`` the task types it applies to; ``kind`` where a charter may use it
    (``quality`` and ``business`` as success metrics, ``fairness`` in fairness limits,
    ``operational`` and ``drift`` through constraints and monitoring).
    """

    name: str
    direction: Direction
    low: float
    high: float
    tasks: frozenset[TaskType]
    kind: MetricKind
    description: str
    unit: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    def applies_to(self, task: str) -> bool:
        return task in self.tasks

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` for this metric."""
        return a > b if self.higher_is_better else a < b

    def in_range(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def range_text(self) -> str:
        """The valid range in words: 'between 0 and 1', 'at least 0', 'any number'."""
        low, high = self.low, self.high
        if math.isinf(low) and math.isinf(high):
            return "any number"
        if math.isinf(high):
            return f"at least {format_number(low)}"
        if math.isinf(low):
            return f"at most {format_number(high)}"
        return f"between {format_number(low)} and {format_number(high)}"

    def range_problem(self, value: float) -> str | None:
        """A message when ``value`` is outside the valid range, else None.

        >>> METRICS["roc_auc"].range_problem(1.7)
        'roc_auc must be between 0 and 1, got 1.7'
        """
        if math.isnan(value) or not self.in_range(value):
            return f"{self.name} must be {self.range_text}, got {format_number(value)}"
        return None

    @property
    def tasks_text(self) -> str:
        return ", ".join(t for t in TASK_TYPES if t in self.tasks)


_INF = math.inf
# fmt: off
_SPECS = [
    # -- classification quality ---------------------------------------------------------
    MetricSpec("accuracy", "higher", 0, 1, _CLASSIFICATION, "quality",
               "Share of predictions equal to the true class."),
    MetricSpec("balanced_accuracy", "higher", 0, 1, _CLASSIFICATION, "quality",
               "Mean of the recall of each class; robust to class imbalance."),
    MetricSpec("precision", "higher", 0, 1, _CLASSIFICATION, "quality",
               "Share of predicted positives that are positive (multiclass: macro average)."),
    MetricSpec("recall", "higher", 0, 1, _CLASSIFICATION, "quality",
               "Share of actual positives predicted positive (multiclass: macro average)."),
    MetricSpec("f1", "higher", 0, 1, _CLASSIFICATION, "quality",
               "Harmonic mean of precision and recall (multiclass: macro average)."),
    MetricSpec("roc_auc", "higher", 0, 1, _CLASSIFICATION, "quality",
               "Area under the ROC curve of the scores (multiclass: one-vs-rest macro)."),
    MetricSpec("pr_auc", "higher", 0, 1, _CLASSIFICATION, "quality",
               "Area under the precision-recall curve (average precision)."),
    MetricSpec("log_loss", "lower", 0, _INF, _CLASSIFICATION, "quality",
               "Mean negative log-likelihood of the true class (cross-entropy)."),
    MetricSpec("brier_score", "lower", 0, 1, _CLASSIFICATION, "quality",
               "Mean squared error of the predicted probabilities (multiclass: halved, "
               "so that it lies in [0, 1])."),
    MetricSpec("ece", "lower", 0, 1, _CLASSIFICATION, "quality",
               "Expected calibration error: mean gap between confidence and accuracy "
               "over probability bins, weighted by bin size."),
    # -- regression quality -------------------------------------------------------------
    MetricSpec("mae", "lower", 0, _INF, _REGRESSION, "quality",
               "Mean absolute error, in target units.", "target units"),
    MetricSpec("rmse", "lower", 0, _INF, _REGRESSION, "quality",
               "Root mean squared error, in target units.", "target units"),
    MetricSpec("mape", "lower", 0, _INF, _REGRESSION, "quality",
               "Mean absolute percentage error as a fraction (0.1 means 10 %)."),
    MetricSpec("r2", "higher", -_INF, 1, _REGRESSION, "quality",
               "Coefficient of determination: 1 is perfect, 0 is the mean's skill."),
    # -- business -----------------------------------------------------------------------
    MetricSpec("expected_value_per_1k", "higher", -_INF, _INF, _ALL, "business",
               "Expected value of 1,000 predictions under the charter's business_value "
               "(in its currency; negative is a cost).", "currency"),
    # -- fairness (binary classification) ------------------------------------------------
    MetricSpec("demographic_parity_difference", "lower", 0, 1, _BINARY, "fairness",
               "Largest gap in selection rate (share predicted positive) between groups."),
    MetricSpec("demographic_parity_ratio", "higher", 0, 1, _BINARY, "fairness",
               "Smallest selection rate divided by the largest (1 is parity; the "
               "four-fifths rule asks for at least 0.8)."),
    MetricSpec("equalized_odds_difference", "lower", 0, 1, _BINARY, "fairness",
               "Larger of the gaps in true-positive rate and false-positive rate between "
               "groups."),
    MetricSpec("equal_opportunity_difference", "lower", 0, 1, _BINARY, "fairness",
               "Largest gap in true-positive rate (recall) between groups."),
    # -- operations -----------------------------------------------------------------------
    MetricSpec("latency_p95_ms", "lower", 0, _INF, _ALL, "operational",
               "95th percentile of prediction latency, in milliseconds.", "ms"),
    MetricSpec("latency_p99_ms", "lower", 0, _INF, _ALL, "operational",
               "99th percentile of prediction latency, in milliseconds.", "ms"),
    MetricSpec("error_rate", "lower", 0, 1, _ALL, "operational",
               "Share of prediction requests that failed."),
    MetricSpec("cost_per_1k", "lower", 0, _INF, _ALL, "operational",
               "Cost of serving 1,000 predictions, in the charter's currency.", "currency"),
    MetricSpec("model_size_mb", "lower", 0, _INF, _ALL, "operational",
               "Size of the packaged model, in megabytes.", "MB"),
    # -- monitoring -----------------------------------------------------------------------
    MetricSpec("drift_share", "lower", 0, 1, _ALL, "drift",
               "Share of input features whose drift test alarms in a monitoring window."),
]
# fmt: on

METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}


def suggest(word: str, choices: Iterable[str], *, n: int = 3) -> list[str]:
    """Near matches of ``word`` among ``choices`` (difflib), best first; matches much
    weaker than the best one are left out.

    >>> suggest("roc_acu", METRICS)
    ['roc_auc']
    """
    pool = list(choices)
    scored = []
    for choice in pool:
        matcher = difflib.SequenceMatcher(None, word, choice)
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
            ratio = matcher.ratio()
            if ratio >= 0.6:
                scored.append((ratio, choice))
    scored.sort(key=lambda item: -item[0])
    if scored:
        best = scored[0][0]
        return [choice for ratio, choice in scored[:n] if ratio >= best - 0.1]
    lowered = word.lower()
    return [c for c in pool if lowered and (lowered in c or c in lowered)][:n]


def unknown_metric_message(
    name: str, pool: Iterable[str] | None = None, label: str = "Known metrics"
) -> str:
    """A message for an unknown metric name, with near matches.

    Near matches come from every known metric; ``pool`` (default: all) is the list shown.

    >>> unknown_metric_message("roc_acu", ["roc_auc", "f1"], "Success metrics")
    "unknown metric 'roc_acu'; did you mean 'roc_auc'? Success metrics: roc_auc, f1"
    """
    names = list(METRICS if pool is None else pool)
    near = suggest(name, names) or suggest(name, METRICS)
    did_you_mean = f"; did you mean {' or '.join(repr(m) for m in near)}?" if near else "."
    return f"unknown metric {name!r}{did_you_mean} {label}: {', '.join(names)}"


def get_metric(name: str) -> MetricSpec:
    """The spec of a known metric; InvalidInput with near matches otherwise.

    >>> get_metric("f1").tasks_text
    'binary, multiclass'
    """
    spec = METRICS.get(name)
    if spec is None:
        raise InvalidInput(
            f"{unknown_metric_message(name)}.",
            hint="See docs/charter.md (Metrics) for what each one measures.",
        )
    return spec


def metric_names(*, kind: MetricKind | None = None, task: str | None = None) -> list[str]:
    """Names of known metrics, in registry order, filtered by kind and task type.

    >>> metric_names(kind="fairness")[:2]
    ['demographic_parity_difference', 'demographic_parity_ratio']
    """
    return [
        spec.name
        for spec in _SPECS
        if (kind is None or spec.kind == kind) and (task is None or spec.applies_to(task))
    ]
