"""The charter document: what a model is for and what "good enough" means.

>>> from mlsteward.charter import CHARTER_TEMPLATE
>>> Charter.from_yaml_text(CHARTER_TEMPLATE).success_metrics[0].comparison
'roc_auc >= 0.8 on test'

Reading a document (:meth:`Charter.from_dict`, :meth:`Charter.from_yaml`, ...) either
returns a valid, immutable :class:`Charter` or raises :class:`InvalidInput` listing every
problem with its path; :func:`check_charter` returns the problems instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from mlsteward.charter._constraints import Constraints, Scope
from mlsteward.charter._errors import CharterProblem, Located, problems_from
from mlsteward.charter._metrics import METRICS, metric_names
from mlsteward.charter._operations import Monitoring, Rollout
from mlsteward.charter._sections import BusinessValue, Objective, SuccessMetric, Task
from mlsteward.charter._types import Problems, Section
from mlsteward.charter._yaml import dump_yaml, load_yaml
from mlsteward.core import InvalidInput, NotFound
from mlsteward.store import canonical_json

__all__ = [
    "SCHEMA_VERSION",
    "Charter",
    "CharterSource",
    "charter_json_schema",
    "charter_json_schema_text",
    "check_charter",
    "check_charter_file",
    "load_charter",
]

SCHEMA_VERSION = 1
_DEFAULT_SOURCE = "the charter"


class Charter(Section):
    """A project's charter (schema version 1). See docs/charter.md for every field."""

    model_config = Section.model_config | {"title": "Steward charter"}

    schema_version: Literal[1] = 1
    """Version of the charter format."""
    objective: Objective
    """The business objective, the decision it supports, owners and stakeholders."""
    task: Task
    """The prediction task: type, target column, prediction unit, positive class."""
    success_metrics: Annotated[list[SuccessMetric], Field(min_length=1)]
    """Metrics with thresholds; each becomes a gate."""
    business_value: BusinessValue | None = None
    """What outcomes are worth, for expected value per 1,000 predictions."""
    constraints: Constraints = Constraints()
    """Latency, cost, model size, explainability, fairness, regulation, data use."""
    scope: Scope
    """Intended use, out-of-scope uses, input domain, population."""
    monitoring: Monitoring = Monitoring()
    """Monitoring defaults: window, label delay, drift thresholds, alert routes."""
    rollout: Rollout = Rollout()
    """Rollout defaults: strategy and canary steps."""

    # -- cross-section checks (each names the path of the offending field) --------------
    @field_validator("success_metrics")
    @classmethod
    def _metrics_fit_task(
        cls, metrics: list[SuccessMetric], info: ValidationInfo
    ) -> list[SuccessMetric]:
        task: Task | None = info.data.get("task")
        problems: Problems = []
        seen: dict[tuple[str, str], int] = {}
        for index, item in enumerate(metrics):
            spec = METRICS[item.metric]
            if task is not None and not spec.applies_to(task.type):
                problems.append(
                    (
                        (index, "metric"),
                        f"{item.metric} applies to {spec.tasks_text} tasks, not {task.type}; "
                        f"metrics for {task.type} tasks: "
                        f"{', '.join(metric_names(kind='quality', task=task.type))}",
                    )
                )
            key = (item.metric, item.on)
            if key in seen:
                problems.append(
                    (
                        (index,),
                        f"{item.metric} on {item.on} is listed twice (also at "
                        f"success_metrics[{seen[key]}]); keep one threshold per metric and role",
                    )
                )
            seen.setdefault(key, index)
        if problems:
            raise Located(problems)
        return metrics

    @field_validator("business_value")
    @classmethod
    def _value_fits_task(
        cls, value: BusinessValue | None, info: ValidationInfo
    ) -> BusinessValue | None:
        task: Task | None = info.data.get("task")
        if value is None or task is None:
            return value
        problems: Problems = []
        binary = ("value_matrix",)
        multiclass = ("value_correct", "value_incorrect")
        regression = ("cost_per_unit_error", "value_per_prediction")
        own = {"binary": binary, "multiclass": multiclass, "regression": regression}[task.type]
        for name in (*binary, *multiclass, *regression):
            if name not in own and getattr(value, name) is not None:
                problems.append(
                    (
                        (name,),
                        f"{name} applies to {_TASK_OF[name]} tasks, not {task.type}; use "
                        f"{' and '.join(own[:2] if task.type == 'multiclass' else own[:1])} instead",
                    )
                )
        needed = {
            "binary": ("value_matrix",),
            "multiclass": multiclass,
            "regression": ("cost_per_unit_error",),
        }
        for name in needed[task.type]:
            if getattr(value, name) is None:
                problems.append(((name,), f"a {task.type} task's business value needs {name}"))
        if problems:
            raise Located(problems)
        return value

    @field_validator("constraints")
    @classmethod
    def _fairness_fits_task(cls, constraints: Constraints, info: ValidationInfo) -> Constraints:
        task: Task | None = info.data.get("task")
        problems: Problems = []
        seen: dict[tuple[str, str, str], int] = {}
        for index, limit in enumerate(constraints.fairness):
            spec = METRICS[limit.metric]
            if task is not None and not spec.applies_to(task.type):
                problems.append(
                    (
                        ("fairness", index, "metric"),
                        f"{limit.metric} applies to {spec.tasks_text} tasks, not {task.type}",
                    )
                )
            for attribute in limit.sensitive_attributes:
                key = (limit.metric, attribute, limit.on)
                if key in seen and seen[key] != index:
                    problems.append(
                        (
                            ("fairness", index, "sensitive_attributes"),
                            f"{limit.metric} for {attribute} on {limit.on} is already limited "
                            f"at constraints.fairness[{seen[key]}]; keep one limit",
                        )
                    )
                seen.setdefault(key, index)
        if problems:
            raise Located(problems)
        return constraints

    @field_validator("scope")
    @classmethod
    def _target_not_input(cls, scope: Scope, info: ValidationInfo) -> Scope:
        task: Task | None = info.data.get("task")
        if task is not None and task.target in scope.input_domain:
            raise Located(
                [
                    (
                        ("input_domain", task.target),
                        f"{task.target!r} is the target column (task.target); it cannot be "
                        "an input feature. Remove it from the input domain",
                    )
                ]
            )
        return scope

    @model_validator(mode="after")
    def _value_metric_needs_value(self) -> Charter:
        if self.business_value is None:
            problems: Problems = [
                (
                    ("success_metrics", index, "metric"),
                    "expected_value_per_1k needs a business_value section (what each outcome "
                    "is worth); add one",
                )
                for index, item in enumerate(self.success_metrics)
                if item.metric == "expected_value_per_1k"
            ]
            if problems:
                raise Located(problems)
        return self

    # -- reading --------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = _DEFAULT_SOURCE) -> Charter:
        """Validate a document; InvalidInput listing every problem with its path."""
        if not isinstance(data, Mapping):
            raise InvalidInput(
                f"{source} must be a mapping of sections (objective, task, ...), got "
                f"{type(data).__name__}."
            )
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise _invalid(source, problems_from(exc, cls)) from None

    @classmethod
    def from_yaml_text(cls, text: str, *, source: str = _DEFAULT_SOURCE) -> Charter:
        """Read a charter from YAML (or JSON, which is YAML) text."""
        return cls.from_dict(_top_mapping(load_yaml(text, source), source), source=source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Charter:
        """Read a charter from a YAML file."""
        return cls.from_yaml_text(_read(path), source=str(path))

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Charter:
        """Read a charter from a JSON file."""
        text = _read(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _json_error(path, exc) from exc
        return cls.from_dict(_top_mapping(data, str(path)), source=str(path))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Charter:
        """Read a charter from a .json file, or a YAML file (any other suffix)."""
        if Path(path).suffix.lower() == ".json":
            return cls.from_json(path)
        return cls.from_yaml(path)

    # -- writing --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field, defaults included, as JSON types."""
        return self.model_dump(mode="json")

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_yaml(self) -> str:
        """YAML text that reads back to an equal charter (fields left unset are omitted)."""
        return dump_yaml(_prune(self.model_dump(mode="json", exclude_none=True)))

    def canonical_json(self) -> str:
        """The one spelling of this charter that versions are stored and hashed as."""
        return canonical_json(self.to_dict())

    def content_hash(self) -> str:
        """SHA-256 of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def _prune(value: Any) -> Any:
    """Drop empty lists and mappings: every such field defaults to empty (or is required
    non-empty), so the document reads back the same without them."""
    if isinstance(value, dict):
        return {
            k: _prune(v) for k, v in value.items() if not (isinstance(v, list | dict) and not v)
        }
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


_TASK_OF = {
    "value_matrix": "binary",
    "value_correct": "multiclass",
    "value_incorrect": "multiclass",
    "cost_per_unit_error": "regression",
    "value_per_prediction": "regression",
}


def _invalid(source: str, problems: list[CharterProblem]) -> InvalidInput:
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    lines = "\n".join(f"  {p}" for p in problems)
    return InvalidInput(
        f"{source} is not a valid charter ({count}):\n{lines}\n",
        hint=f"Fix them, then check again with: steward charter validate "
        f"{source if source != _DEFAULT_SOURCE else 'FILE'}",
    )


def _read(path: str | os.PathLike[str]) -> str:
    file = Path(path)
    if not file.is_file():
        raise NotFound(
            f"Charter file {str(path)!r} does not exist"
            f"{' (it is a directory)' if file.is_dir() else ''}. "
            "Write one with: steward charter init -o charter.yaml"
        )
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text ({exc.reason}). Save it as UTF-8.") from exc


def _top_mapping(data: Any, source: str) -> Mapping[str, Any]:
    if data is None:
        raise InvalidInput(
            f"{source} is empty. Start from the template: steward charter init -o charter.yaml"
        )
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"{source} must be a mapping of sections (objective, task, success_metrics, ...) "
            f"at the top level, got {type(data).__name__}."
        )
    return data


CharterSource = Charter | Mapping[str, Any] | str | os.PathLike[str]
"""What :func:`load_charter` accepts: a Charter, a document as a dict, or a file path."""


def load_charter(source: CharterSource) -> Charter:
    """A :class:`Charter` from a Charter, a dict, or the path of a YAML/JSON file."""
    if isinstance(source, Charter):
        return source
    if isinstance(source, Mapping):
        return Charter.from_dict(source)
    if isinstance(source, str | os.PathLike):
        return Charter.from_file(source)
    raise InvalidInput(
        f"A charter is a Charter, a dict or the path of a YAML/JSON file, got "
        f"{type(source).__name__}."
    )


def check_charter(data: Any) -> list[CharterProblem]:
    """Every problem of a charter document ([] when it is valid).

    >>> [str(p) for p in check_charter({"schema_version": 2})][:1]
    ['schema_version: expected 1, got 2 (a number)']
    """
    if not isinstance(data, Mapping):
        return [CharterProblem("", f"expected a mapping of sections, got {type(data).__name__}")]
    try:
        Charter.model_validate(dict(data))
    except ValidationError as exc:
        return problems_from(exc, Charter)
    return []


def check_charter_file(path: str | os.PathLike[str]) -> list[CharterProblem]:
    """Every problem of a charter file ([] when valid); unreadable files raise
    NotFound or InvalidInput (syntax errors, with line and column)."""
    text = _read(path)
    if Path(path).suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _json_error(path, exc) from exc
    else:
        data = load_yaml(text, str(path))
    return check_charter(_top_mapping(data, str(path)))


def _json_error(path: str | os.PathLike[str], exc: json.JSONDecodeError) -> InvalidInput:
    return InvalidInput(
        f"{path}: line {exc.lineno}, column {exc.colno}: could not read the JSON: {exc.msg}."
    )


def charter_json_schema() -> dict[str, Any]:
    """The JSON Schema of charter documents (published as docs/charter.schema.json)."""
    schema = Charter.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mlsteward.dev/schemas/charter-v1.schema.json",
        **schema,
    }


def charter_json_schema_text() -> str:
    """:func:`charter_json_schema` as the text of docs/charter.schema.json."""
    return json.dumps(charter_json_schema(), indent=2, ensure_ascii=False) + "\n"
