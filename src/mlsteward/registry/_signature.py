"""Input and output signatures of model versions, and how they are inferred.

A signature lists the input columns a model expects, in order, each with its logical type
(``numeric``, ``categorical``, ``boolean``, ``datetime``, ``text``, ``id``, or ``any``
when unknown), the physical type seen in training, whether missing values were seen, and
the domain: the range ``[min, max]`` of numbers and datetimes, the set of categories.
The domain comes from the profile of the training dataset version when there is one
(exact min, max and, while the profile kept them all, categories); an input example gives
names and types only. Outputs are ``prediction`` (with the classes of a classifier) and,
for classifiers, ``probabilities``.

>>> spec = ColumnSpec("age", "numeric", "int64", nullable=False, min=17, max=95)
>>> spec.expected()
'numbers in [17, 95]'
>>> Signature.from_dict(Signature((spec,)).to_dict()) == Signature((spec,))
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from mlsteward.core import InvalidInput

__all__ = [
    "SIGNATURE_TYPES",
    "ColumnSpec",
    "OutputSpec",
    "Signature",
    "columns_from_frame",
    "columns_from_profile",
    "infer_signature",
    "outputs_for",
]

SIGNATURE_TYPES: Final = ("numeric", "categorical", "boolean", "datetime", "text", "id", "any")
_SHOWN_CATEGORIES: Final = 30


def _plain(value: Any) -> Any:
    """A JSON-friendly Python value (numpy scalars unwrapped)."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def show_value(value: Any) -> str:
    """How a value appears in messages: strings quoted, numbers plain.

    >>> show_value("a"), show_value(3.0), show_value(2), show_value(21.13862421938633)
    ("'a'", '3', '2', '21.13862422')
    """
    value = _plain(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".10g")
    if isinstance(value, str):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class ColumnSpec:
    """One input column (see the module docstring). ``min``/``max`` are numbers for
    numeric columns and ISO 8601 text for datetime columns."""

    name: str
    type: str = "any"
    dtype: str | None = None
    nullable: bool = True
    min: Any = None
    max: Any = None
    categories: tuple[Any, ...] | None = None

    def expected(self) -> str:
        """What a valid value of this column is, in words."""
        if self.categories is not None and self.type in ("categorical", "boolean"):
            cats = [show_value(c) for c in self.categories]
            if len(cats) > _SHOWN_CATEGORIES:
                shown = ", ".join(cats[:_SHOWN_CATEGORIES])
                return f"one of {len(cats)} categories seen in training ({shown}, ...)"
            return "one of " + ", ".join(cats)
        if self.type == "numeric":
            if self.min is not None and self.max is not None:
                return f"numbers in [{show_value(self.min)}, {show_value(self.max)}]"
            return "numbers"
        if self.type == "boolean":
            return "true/false (or 0/1)"
        if self.type == "datetime":
            if self.min is not None and self.max is not None:
                return f"dates/times in [{self.min}, {self.max}]"
            return "dates/times"
        if self.type in ("text", "id"):
            return "text"
        if self.type == "categorical":
            return "categories"
        return "any value"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "dtype": self.dtype,
            "nullable": self.nullable,
            "min": _plain(self.min),
            "max": _plain(self.max),
            "categories": None if self.categories is None else [_plain(c) for c in self.categories],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        categories = data.get("categories")
        kind = data.get("type", "any")
        if kind not in SIGNATURE_TYPES:
            raise InvalidInput(
                f"Signature column {data.get('name')!r} has unknown type {kind!r}; expected "
                f"one of {', '.join(SIGNATURE_TYPES)}."
            )
        return cls(
            name=str(data["name"]),
            type=kind,
            dtype=data.get("dtype"),
            nullable=bool(data.get("nullable", True)),
            min=data.get("min"),
            max=data.get("max"),
            categories=None if categories is None else tuple(categories),
        )


@dataclass(frozen=True)
class OutputSpec:
    """One output: ``prediction`` (a class label or a number) or ``probabilities``."""

    name: str
    type: str
    classes: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "classes": None if self.classes is None else [_plain(c) for c in self.classes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputSpec:
        classes = data.get("classes")
        return cls(
            str(data["name"]), str(data["type"]), None if classes is None else tuple(classes)
        )


@dataclass(frozen=True)
class Signature:
    """The inputs (in the order the model takes them) and outputs of a model.

    ``positional`` is True when the model was fitted without column names: inputs are then
    named ``x0``, ``x1``, ... and the model receives a plain array in that order.
    ``source`` says where the domain came from (e.g. ``profile of acs-train@3f2a9c01d4e5``).
    """

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[OutputSpec, ...] = ()
    source: str = "model"
    positional: bool = False
    task: str | None = None
    _index: dict[str, ColumnSpec] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        names = [c.name for c in self.inputs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInput(f"A signature lists the columns {duplicates} more than once.")
        self._index.update({c.name: c for c in self.inputs})

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def column(self, name: str) -> ColumnSpec:
        try:
            return self._index[name]
        except KeyError:
            raise InvalidInput(
                f"The signature has no column {name!r}; its columns are "
                f"{', '.join(self.names[:40])}."
            ) from None

    @property
    def classes(self) -> tuple[Any, ...] | None:
        for output in self.outputs:
            if output.name == "prediction":
                return output.classes
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [o.to_dict() for o in self.outputs],
            "source": self.source,
            "positional": self.positional,
            "task": self.task,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        try:
            return cls(
                inputs=tuple(ColumnSpec.from_dict(c) for c in data["inputs"]),
                outputs=tuple(OutputSpec.from_dict(o) for o in data.get("outputs", ())),
                source=str(data.get("source", "model")),
                positional=bool(data.get("positional", False)),
                task=data.get("task"),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInput(
                f"A stored signature is malformed ({exc!r}): expected 'inputs' (a list of "
                "columns with 'name' and 'type') and 'outputs'."
            ) from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Signature:
        return cls.from_dict(json.loads(text))


# -- inference ----------------------------------------------------------------------------
def _finite(value: Any) -> Any:
    if isinstance(value, str):  # the profile writes infinities as text
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _micros_iso(value: Any, aware: bool) -> str | None:
    if value is None or isinstance(value, str):
        return None
    moment = datetime.fromtimestamp(float(value) / 1_000_000, tz=UTC)
    return moment.isoformat() if aware else moment.replace(tzinfo=None).isoformat()


def columns_from_profile(
    profile: Mapping[str, Any],
    columns: Sequence[str] | None,
    physical: Mapping[str, str] | None = None,
) -> dict[str, ColumnSpec]:
    """Column specs from a stored profile document (``mlsteward.data.read_profile``).

    Only ``columns`` (all when None) are returned, keyed by name. Categories are kept only
    while the profile counted every distinct value exactly.
    """
    wanted = None if columns is None else set(columns)
    out: dict[str, ColumnSpec] = {}
    for column in profile.get("columns", ()):
        name = str(column.get("name"))
        if wanted is not None and name not in wanted:
            continue
        logical = str(column.get("logical_type", "any"))
        kind = column.get("kind")
        low, high = column.get("low"), column.get("high")
        minimum: Any = None
        maximum: Any = None
        if kind == "numeric":
            minimum, maximum = _finite(low), _finite(high)
        elif kind == "datetime":
            aware = column.get("timezone") is not None
            minimum, maximum = _micros_iso(low, aware), _micros_iso(high, aware)
        categories: tuple[Any, ...] | None = None
        summary = column.get("categories")
        if logical in ("categorical", "boolean") and isinstance(summary, Mapping):
            values = list(summary.get("values", ()))
            counts = list(summary.get("counts", ()))
            if summary.get("error", 1) == 0 and sum(counts) == summary.get("total", -1):
                categories = tuple(sorted(values, key=lambda v: (str(type(v)), v)))
        out[name] = ColumnSpec(
            name=name,
            type=logical if logical in SIGNATURE_TYPES else "any",
            dtype=None if physical is None else physical.get(name),
            nullable=int(column.get("missing", 0)) > 0,
            min=minimum,
            max=maximum,
            categories=categories,
        )
    return out


def columns_from_frame(frame: Any) -> dict[str, ColumnSpec]:
    """Names and types (no domain) of the columns of a pandas DataFrame (an example)."""
    import pandas as pd
    from pandas.api import types as ptypes

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(
            f"An input example must be a pandas DataFrame, got {type(frame).__name__}."
        )
    out: dict[str, ColumnSpec] = {}
    for name in frame.columns:
        series = frame[name]
        if ptypes.is_bool_dtype(series):
            kind = "boolean"
        elif ptypes.is_numeric_dtype(series):
            kind = "numeric"
        elif ptypes.is_datetime64_any_dtype(series):
            kind = "datetime"
        elif (
            isinstance(series.dtype, pd.CategoricalDtype)
            or ptypes.is_object_dtype(series)
            or ptypes.is_string_dtype(series)
        ):
            kind = "categorical"
        else:
            kind = "any"
        out[str(name)] = ColumnSpec(str(name), kind, str(series.dtype), True)
    return out


def outputs_for(classes: Sequence[Any] | None, has_proba: bool) -> tuple[OutputSpec, ...]:
    """``prediction`` (+ ``probabilities`` for a classifier with predict_proba)."""
    if classes is None:
        return (OutputSpec("prediction", "numeric"),)
    labels = tuple(_plain(c) for c in classes)
    outputs = [OutputSpec("prediction", "categorical", labels)]
    if has_proba:
        outputs.append(OutputSpec("probabilities", "numeric", labels))
    return tuple(outputs)


def infer_signature(
    *,
    feature_names: Sequence[str] | None,
    n_features: int | None,
    classes: Sequence[Any] | None,
    has_proba: bool,
    profile: Mapping[str, Any] | None = None,
    physical: Mapping[str, str] | None = None,
    profile_source: str | None = None,
    example: Any = None,
    target: str | None = None,
) -> Signature:
    """The signature of a model from what is known about it.

    Column names: the model's ``feature_names_in_``; else the example's columns; else
    ``x0..x{n-1}`` (positional). Types and domain: the training profile for the columns it
    has; else the example's types; else ``any``.
    """
    from_example = columns_from_frame(example) if example is not None else {}
    positional = False
    if feature_names is not None:
        names = [str(n) for n in feature_names]
    elif from_example:
        names = [n for n in from_example if n != target]
    elif n_features is not None:
        names = [f"x{i}" for i in range(n_features)]
        positional = True
    else:
        raise InvalidInput(
            "Cannot tell which inputs the model takes: it has no feature_names_in_ nor "
            "n_features_in_. Pass input_example=<a DataFrame of a few training rows>."
        )
    from_profile = (
        {} if profile is None or positional else columns_from_profile(profile, names, physical)
    )
    inputs = []
    for name in names:
        spec = from_profile.get(name) or from_example.get(name) or ColumnSpec(name)
        inputs.append(spec)
    if from_profile:
        source = profile_source or "training profile"
    elif from_example:
        source = "input example"
    else:
        source = "model"
    task = None if classes is None else "classification"
    if classes is None and (feature_names is not None or n_features is not None):
        task = "regression"
    return Signature(
        inputs=tuple(inputs),
        outputs=outputs_for(classes, has_proba),
        source=source,
        positional=positional,
        task=task,
    )
