"""What to evaluate and how: the task, target, classes, threshold, features, main metric,
sensitive attributes, slices and input domain, from the arguments, the charter, the model
and the data (in that order of precedence); and the model's outcomes on the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsteward.charter import METRICS, Charter
from mlsteward.core import InvalidInput
from mlsteward.evaluation._inputs import DataInfo, DomainSpec, ResolvedModel
from mlsteward.evaluation._metrics import Array, Outcomes, TaskType

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MAIN_METRIC",
    "EvaluationSpec",
    "FairnessSpec",
    "SliceInput",
    "build_spec",
    "model_outcomes",
    "predict_outcomes",
]

DEFAULT_MAIN_METRIC: dict[str, str] = {
    "binary": "roc_auc",
    "multiclass": "accuracy",
    "regression": "rmse",
}
_FAIRNESS_DEFAULTS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
)
_DEFAULT_MIN_GROUP = 30
SliceInput = Sequence[str] | Mapping[str, int | Sequence[float] | None]
"""Declared slices: column names, or a mapping of column name to the number of quantile
bins (numeric columns) or explicit bin edges; None keeps the default (5 bins)."""


@dataclass(frozen=True)
class FairnessSpec:
    """One fairness limit to measure: a metric for one sensitive attribute.

    ``threshold`` is None when no charter sets a limit (measured, not judged).
    """

    metric: str
    attribute: str
    threshold: float | None
    min_group_size: int
    required: bool = True


@dataclass(frozen=True)
class EvaluationSpec:
    """Everything the evaluation needs to know besides the rows."""

    task: TaskType
    target: str
    features: list[str]
    classes: tuple[Any, ...]
    positive_class: Any
    threshold: float | None
    main_metric: str
    on: str | None
    sensitive: list[str]
    fairness: list[FairnessSpec]
    slices: dict[str, int | tuple[float, ...] | None]
    domain: dict[str, DomainSpec]
    value: Any  # the charter's business_value section (or None)
    notes: list[str] = field(default_factory=list)


def _infer_task(y: pd.Series, model: ResolvedModel) -> TaskType:
    has_proba = callable(getattr(model.predictor, "predict_proba", None))
    import pandas as pd

    values = y.dropna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and not has_proba:
        return "regression"
    if numeric:
        as_float = values.to_numpy(dtype=np.float64)
        if not np.all(np.equal(np.mod(as_float, 1), 0)) or values.nunique() > 50:
            return "regression"
    classes = model.classes if model.classes is not None else tuple(values.unique())
    return "binary" if len(classes) <= 2 else "multiclass"


def _positive(classes: tuple[Any, ...], given: Any) -> Any:
    if given is not None:
        return given
    for candidate in (1, True, "1", "yes", "true"):
        if candidate in classes:
            return candidate
    return classes[-1]


def _features(
    frame: pd.DataFrame,
    target: str,
    given: Sequence[str] | None,
    model: ResolvedModel,
    charter: Charter | None,
) -> list[str]:
    if given is not None:
        chosen = list(given)
    elif model.features is not None:
        chosen = list(model.features)
    elif charter is not None and charter.scope.input_domain:
        chosen = list(charter.scope.input_domain)
    else:
        chosen = [c for c in frame.columns if c != target]
    missing = [c for c in chosen if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"The data lacks the model's input column(s) {', '.join(map(repr, missing))}; "
            f"its columns are {', '.join(map(str, frame.columns[:40]))}. Evaluate on data with "
            "the columns the model was trained on (or pass features=[...])."
        )
    if target in chosen:
        raise InvalidInput(
            f"The target column {target!r} is among the model's inputs; remove it from features."
        )
    return chosen


def _main_metric(task: TaskType, charter: Charter | None, given: str | None) -> str:
    if given is not None:
        spec = METRICS.get(given)
        if spec is None or not spec.applies_to(task) or spec.kind != "quality":
            raise InvalidInput(
                f"main_metric {given!r} is not a quality metric of {task} tasks; choose one "
                f"of {', '.join(n for n, s in METRICS.items() if s.kind == 'quality' and s.applies_to(task))}."
            )
        return given
    if charter is not None:
        ordered = sorted(charter.success_metrics, key=lambda m: not m.required)
        for item in ordered:
            spec = METRICS[item.metric]
            if spec.kind == "quality" and spec.applies_to(task):
                return item.metric
    return DEFAULT_MAIN_METRIC[task]


def _fairness(charter: Charter | None, sensitive: list[str], task: TaskType) -> list[FairnessSpec]:
    if task != "binary":
        return []
    specs: list[FairnessSpec] = []
    limited: set[tuple[str, str]] = set()
    if charter is not None:
        for limit in charter.constraints.fairness:
            for attribute in limit.sensitive_attributes:
                if attribute in sensitive:
                    specs.append(
                        FairnessSpec(
                            limit.metric,
                            attribute,
                            limit.threshold,
                            limit.min_group_size,
                            limit.required,
                        )
                    )
                    limited.add((limit.metric, attribute))
    for attribute in sensitive:
        for metric in _FAIRNESS_DEFAULTS:
            if (metric, attribute) not in limited:
                specs.append(FairnessSpec(metric, attribute, None, _DEFAULT_MIN_GROUP, False))
    return specs


def _slices(
    given: SliceInput | None, sensitive: list[str], frame: pd.DataFrame
) -> dict[str, int | tuple[float, ...] | None]:
    if given is None:
        chosen: dict[str, int | tuple[float, ...] | None] = dict.fromkeys(sensitive)
    elif isinstance(given, Mapping):
        chosen = {}
        for column, bins in given.items():
            if isinstance(bins, bool) or (isinstance(bins, int) and bins < 1):
                raise InvalidInput(
                    f"Slices of {column!r}: give a number of bins (1 or more), bin edges or "
                    f"None, got {bins!r}."
                )
            if bins is None or isinstance(bins, int):
                chosen[str(column)] = bins
            else:
                chosen[str(column)] = tuple(float(b) for b in bins)
    elif isinstance(given, str):
        chosen = {given: None}
    else:
        chosen = dict.fromkeys(str(c) for c in given)
    missing = [c for c in chosen if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"Slice column(s) {', '.join(map(repr, missing))} are not in the data; its columns "
            f"are {', '.join(map(str, frame.columns[:40]))}."
        )
    return chosen


def _domain(charter: Charter | None, model: ResolvedModel) -> dict[str, DomainSpec]:
    domain = dict(model.domain)
    if charter is not None:
        for name, spec in charter.scope.input_domain.items():
            domain[name] = DomainSpec(
                min=spec.min,
                max=spec.max,
                categories=None if spec.allowed is None else tuple(spec.allowed),
            )
    return domain


def build_spec(
    *,
    frame: pd.DataFrame,
    data: DataInfo,
    model: ResolvedModel,
    charter: Charter | None,
    target: str | None,
    features: Sequence[str] | None,
    task: TaskType | None,
    positive_class: Any,
    threshold: float | None,
    main_metric: str | None,
    on: str | None,
    sensitive_features: Sequence[str] | None,
    slices: SliceInput | None,
    dataset_target: str | None,
) -> EvaluationSpec:
    """Resolve every setting: arguments first, then the charter, the model, the data."""
    notes: list[str] = []
    target = target or (charter.task.target if charter else None) or dataset_target
    if target is None:
        raise InvalidInput(
            "Which column holds the true labels? Pass target='COLUMN', evaluate with a charter "
            "(its task.target), or register the dataset with --target."
        )
    if target not in frame.columns:
        raise InvalidInput(
            f"The target column {target!r} is not in the data; its columns are "
            f"{', '.join(map(str, frame.columns[:40]))}."
        )
    if task is None:
        task = charter.task.type if charter else _infer_task(frame[target], model)
        if charter is None:
            notes.append(f"task inferred from the labels and the model: {task}")
    classes: tuple[Any, ...] = ()
    positive = None
    if task != "regression":
        if model.classes is not None:
            classes = tuple(model.classes)
        elif charter is not None and charter.task.classes:
            classes = tuple(charter.task.classes)
        else:
            classes = tuple(sorted(frame[target].dropna().unique().tolist(), key=str))
        if task == "binary":
            given = positive_class
            if given is None and charter is not None:
                given = charter.task.positive_class
            positive = _positive(classes, given)
            if len(classes) > 2:
                raise InvalidInput(
                    f"A binary task has two classes, but the model predicts {len(classes)}: "
                    f"{', '.join(map(repr, classes[:10]))}."
                )
    if threshold is None and task == "binary":
        threshold = charter.task.threshold if charter else 0.5
    if threshold is not None and not 0 < threshold < 1:
        raise InvalidInput(f"threshold is a probability strictly between 0 and 1, got {threshold}.")
    sensitive = list(sensitive_features) if sensitive_features is not None else []
    if sensitive_features is None and charter is not None:
        for limit in charter.constraints.fairness:
            sensitive.extend(a for a in limit.sensitive_attributes if a not in sensitive)
    missing = [c for c in sensitive if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"Sensitive attribute column(s) {', '.join(map(repr, missing))} are not in the data; "
            f"its columns are {', '.join(map(str, frame.columns[:40]))}. Evaluate on data that "
            "keeps them (they need not be model inputs), or pass sensitive_features=[...]."
        )
    return EvaluationSpec(
        task=task,
        target=target,
        features=_features(frame, target, features, model, charter),
        classes=classes,
        positive_class=positive,
        threshold=threshold,
        main_metric=_main_metric(task, charter, main_metric),
        on=on if on is not None else data.role,
        sensitive=sensitive,
        fairness=_fairness(charter, sensitive, task),
        slices=_slices(slices, sensitive, frame),
        domain=_domain(charter, model),
        value=charter.business_value if charter is not None else None,
        notes=notes,
    )


# -- outcomes -------------------------------------------------------------------------------
def _encode(values: pd.Series, classes: tuple[Any, ...], what: str) -> Array:
    """Indices of ``values`` in ``classes`` (matching 1 and '1' when types differ)."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=False)
    exact = {c: i for i, c in enumerate(classes)}
    text = {str(c): i for i, c in enumerate(classes)}
    lookup = np.empty(len(uniques), dtype=np.int64)
    unknown = []
    for j, value in enumerate(uniques):
        plain = value.item() if hasattr(value, "item") else value
        index = exact.get(plain)
        if index is None:
            index = text.get(str(plain))
        if index is None:
            unknown.append(plain)
            index = -1
        lookup[j] = index
    if unknown:
        raise InvalidInput(
            f"The {what} has label(s) {', '.join(map(repr, unknown[:10]))} that are not classes of "
            f"the model ({', '.join(map(repr, classes[:20]))}). Evaluate on data with the model's "
            "classes, or check the target column and positive class."
        )
    encoded: Array = lookup[codes]
    return encoded


def _call(model: Any, method: str, frame: pd.DataFrame, wrap: bool) -> Array:
    if not wrap:
        return np.asarray(getattr(model, method)(frame))
    try:
        return np.asarray(getattr(model, method)(frame))
    except Exception as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(
            f"The model failed on the evaluation data ({method}): {type(exc).__name__}: {exc}. "
            "Check that the data has the columns and types the model was trained on."
        ) from exc


def predict_outcomes(model: ResolvedModel, frame: pd.DataFrame, spec: EvaluationSpec) -> Outcomes:
    """Call the model on the rows of ``frame`` and encode labels and predictions."""
    if spec.task == "regression":
        y = frame[spec.target].to_numpy(dtype=np.float64)
    elif spec.task == "binary":
        positive_index = _encode_one(spec.positive_class, spec.classes)
        y = (_encode(frame[spec.target], spec.classes, "data") == positive_index).astype(np.int8)
    else:
        y = _encode(frame[spec.target], model.classes or spec.classes, "data")
    return model_outcomes(model, frame[spec.features], y, spec)


def model_outcomes(
    model: ResolvedModel, inputs: pd.DataFrame, y: Array, spec: EvaluationSpec, *, wrap: bool = True
) -> Outcomes:
    """The model's outcomes on ``inputs`` for encoded labels ``y``. With ``wrap=False``
    whatever the model raises propagates unchanged (robustness checks classify it)."""
    predictor = model.predictor
    if spec.task == "regression":
        pred = _call(predictor, "predict", inputs, wrap).astype(np.float64).ravel()
        return Outcomes("regression", y, pred)
    has_proba = callable(getattr(predictor, "predict_proba", None))
    model_classes = model.classes or spec.classes
    if spec.task == "binary":
        positive_index = _encode_one(spec.positive_class, spec.classes)
        proba = score = None
        if has_proba:
            raw = _call(predictor, "predict_proba", inputs, wrap).astype(np.float64)
            column = _encode_one(spec.positive_class, model_classes) if raw.ndim == 2 else 0
            proba = raw[:, column] if raw.ndim == 2 else raw.ravel()
            score = proba
            pred = (proba >= (spec.threshold or 0.5)).astype(np.int8)
        else:
            if callable(getattr(predictor, "decision_function", None)):
                score = _call(predictor, "decision_function", inputs, wrap).astype(np.float64)
                score = score.ravel()
            labels = _call(predictor, "predict", inputs, wrap).ravel()
            pred = (
                _encode_labels(labels, spec.classes, "model's predictions") == positive_index
            ).astype(np.int8)
        negative = next(c for c in spec.classes if c != spec.positive_class)
        return Outcomes(
            "binary", y, pred, (negative, spec.positive_class), proba, score, spec.threshold
        )
    if has_proba:
        matrix = _call(predictor, "predict_proba", inputs, wrap).astype(np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(model_classes):
            raise InvalidInput(
                f"predict_proba returned shape {matrix.shape}; expected one column per class "
                f"({len(model_classes)})."
            )
        return Outcomes("multiclass", y, matrix.argmax(axis=1), tuple(model_classes), matrix)
    labels = _call(predictor, "predict", inputs, wrap).ravel()
    pred = _encode_labels(labels, model_classes, "model's predictions")
    return Outcomes("multiclass", y, pred, tuple(model_classes))


def _encode_one(value: Any, classes: Sequence[Any]) -> int:
    for i, c in enumerate(classes):
        if c == value or str(c) == str(value):
            return i
    raise InvalidInput(
        f"The positive class {value!r} is not a class of the model "
        f"({', '.join(map(repr, classes))}); set task.positive_class (or positive_class=...) "
        "to one of them."
    )


def _encode_labels(labels: Array, classes: Sequence[Any], what: str) -> Array:
    import pandas as pd

    return _encode(pd.Series(labels), tuple(classes), what)
