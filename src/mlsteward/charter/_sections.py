"""The sections of a charter about the problem: objective, task, success metrics,
business value. Constraints and scope are in ``_constraints``, monitoring and rollout
defaults in ``_operations``, the document itself in ``_schema``.

Every section refuses unknown keys, is immutable once read, and takes values at their YAML
and JSON types (no text for numbers, no numbers for text). Checks that need another
section (the task type above all) live on :class:`~mlsteward.charter.Charter`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from mlsteward.charter._errors import Located
from mlsteward.charter._metrics import (
    METRICS,
    TaskType,
    format_number,
    metric_names,
    unknown_metric_message,
)
from mlsteward.charter._types import (
    Currency,
    Label,
    NonNegative,
    Problems,
    Role,
    Section,
    Text,
    unique_problems,
)

__all__ = [
    "BusinessValue",
    "Objective",
    "Owner",
    "Stakeholder",
    "SuccessMetric",
    "Task",
    "ValueMatrix",
]


# -- objective ------------------------------------------------------------------------------
class Owner(Section):
    name: Text
    """The person or team accountable for the model."""
    contact: Text
    """How to reach the owner: e-mail address, chat channel or phone."""
    role: str | None = None
    """What the owner is accountable for (e.g. product owner, model owner)."""


class Stakeholder(Section):
    name: Text
    """A person, team or group affected by the model or its decisions."""
    interest: str | None = None
    """What they care about."""
    contact: str | None = None
    """How to reach them."""


class Objective(Section):
    statement: Text
    """The business objective, in plain words."""
    decision: Text
    """The decision or action the predictions support."""
    owners: Annotated[list[Owner], Field(min_length=1)]
    """Who is accountable, with contact (at least one)."""
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    """Who else is affected or must be consulted."""


# -- task -----------------------------------------------------------------------------------
class Task(Section):
    type: TaskType
    """binary, multiclass or regression."""
    target: Text
    """The column the model predicts."""
    prediction_unit: Text
    """What one prediction is about (a person, a loan application, a day of sales)."""
    positive_class: Label | None = None
    """Binary tasks: the label of the class the model predicts (e.g. 1 or 'yes')."""
    classes: list[Label] | None = None
    """Classification: every class label (optional; for binary, two labels)."""
    decision_threshold: Annotated[float, Field(gt=0, lt=1)] | None = None
    """Binary tasks: the score above which the positive class is predicted (default 0.5)."""

    @property
    def is_classification(self) -> bool:
        return self.type in ("binary", "multiclass")

    @property
    def threshold(self) -> float:
        """The decision threshold in use (0.5 unless the charter sets one)."""
        return 0.5 if self.decision_threshold is None else self.decision_threshold

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        problems: Problems = []
        if self.type == "binary" and self.positive_class is None:
            problems.append(
                (
                    ("positive_class",),
                    "a binary task needs positive_class: the label of the class the model "
                    "predicts (e.g. 1, true or 'yes')",
                )
            )
        if self.type != "binary" and self.positive_class is not None:
            problems.append(
                (
                    ("positive_class",),
                    f"positive_class applies to binary tasks only (task.type is "
                    f"{self.type}); remove it",
                )
            )
        if self.type != "binary" and self.decision_threshold is not None:
            problems.append(
                (
                    ("decision_threshold",),
                    f"decision_threshold applies to binary tasks only (task.type is "
                    f"{self.type}); remove it",
                )
            )
        if self.classes is not None:
            problems.extend(
                (("classes", *sub), msg) for sub, msg in unique_problems(self.classes, "class")
            )
            if self.type == "regression":
                problems.append((("classes",), "classes apply to classification tasks; remove it"))
            elif self.type == "binary" and len(self.classes) != 2:
                problems.append(
                    (("classes",), f"a binary task has 2 classes, got {len(self.classes)}")
                )
            elif self.type == "multiclass" and len(self.classes) < 3:
                problems.append(
                    (
                        ("classes",),
                        f"a multiclass task has at least 3 classes, got {len(self.classes)}; "
                        "use type: binary for two",
                    )
                )
            if self.positive_class is not None and self.positive_class not in self.classes:
                problems.append(
                    (
                        ("positive_class",),
                        f"{self.positive_class!r} is not one of the classes "
                        f"{', '.join(repr(c) for c in self.classes)}",
                    )
                )
        if problems:
            raise Located(problems)
        return self


# -- success metrics ------------------------------------------------------------------------
_SUCCESS_KINDS = ("quality", "business")
_CONSTRAINT_OF = {
    "latency_p95_ms": "constraints.latency_p95_ms",
    "latency_p99_ms": "constraints.latency_p99_ms",
    "error_rate": "constraints.max_error_rate",
    "cost_per_1k": "constraints.max_cost_per_1k",
    "model_size_mb": "constraints.max_model_size_mb",
}


class SuccessMetric(Section):
    metric: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "enum": [*metric_names(kind="quality"), *metric_names(kind="business")],
            }
        ),
    ]
    """A metric from the registry (see docs/charter.md, Metrics)."""
    threshold: float
    """The bar: a minimum for metrics where higher is better, a maximum otherwise."""
    on: Role = "test"
    """The dataset role or slice the metric is measured on (test, validation, production...)."""
    required: bool = True
    """A required metric that fails blocks; an optional one only warns."""
    note: str | None = None
    """Why this bar (optional)."""

    @field_validator("metric")
    @classmethod
    def _known(cls, name: str) -> str:
        spec = METRICS.get(name)
        if spec is None:
            success = [*metric_names(kind="quality"), *metric_names(kind="business")]
            raise ValueError(unknown_metric_message(name, success, "Success metrics"))
        if spec.kind not in _SUCCESS_KINDS:
            where = {
                "fairness": "constraints.fairness",
                "operational": _CONSTRAINT_OF.get(name, "constraints"),
                "drift": "monitoring.drift.max_drift_share",
            }[spec.kind]
            article = "an" if spec.kind[0] in "aeiou" else "a"
            raise ValueError(
                f"{name} is {article} {spec.kind} metric, not a success metric; set it in "
                f"{where} instead"
            )
        return name

    @field_validator("threshold")
    @classmethod
    def _in_range(cls, value: float, info: ValidationInfo) -> float:
        spec = METRICS.get(info.data.get("metric", ""))
        if spec is not None:
            problem = spec.range_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @property
    def comparison(self) -> str:
        """``roc_auc >= 0.85 on test``."""
        op = ">=" if METRICS[self.metric].higher_is_better else "<="
        return f"{self.metric} {op} {format_number(self.threshold)} on {self.on}"


# -- business value -------------------------------------------------------------------------
class ValueMatrix(Section):
    """Value of one prediction per outcome, in the charter's currency (costs negative)."""

    tp: float
    """Value of a true positive (positive class predicted, and it is positive)."""
    fp: float
    """Value of a false positive (positive class predicted, but it is negative)."""
    fn: float
    """Value of a false negative (negative predicted, but it is positive)."""
    tn: float
    """Value of a true negative (negative predicted, and it is negative)."""


class BusinessValue(Section):
    currency: Currency
    """ISO 4217 code of every amount here (USD, EUR, ...)."""
    value_matrix: ValueMatrix | None = None
    """Binary tasks: value of one prediction per outcome (tp, fp, fn, tn)."""
    value_correct: float | None = None
    """Multiclass tasks: value of one correct prediction."""
    value_incorrect: float | None = None
    """Multiclass tasks: value of one wrong prediction (usually negative)."""
    cost_per_unit_error: NonNegative | None = None
    """Regression tasks: cost of one unit of absolute error on one prediction."""
    value_per_prediction: float | None = None
    """Regression tasks: value of one prediction before its error cost (default 0)."""
    description: str | None = None
    """The business framing of these numbers."""
