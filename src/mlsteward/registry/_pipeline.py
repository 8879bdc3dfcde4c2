"""The feature pipeline of a model, described as data: its steps, their classes and
parameters, and which columns each transformer takes.

Pipelines, column transformers and feature unions are walked recursively; every other
estimator is one leaf with its class and its simple parameters (numbers, text, booleans,
lists of those; anything else is recorded by its class name).

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from sklearn.linear_model import LogisticRegression
>>> describe_pipeline(make_pipeline(StandardScaler(), LogisticRegression()))["steps"][1]["class"]
'sklearn.linear_model._logistic.LogisticRegression'
>>> pipeline_summary(describe_pipeline(make_pipeline(StandardScaler(), LogisticRegression())))
'standardscaler (StandardScaler) -> logisticregression (LogisticRegression)'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlsteward.registry._formats import class_path

__all__ = ["describe_pipeline", "pipeline_summary"]

_MAX_LIST = 50


def _simple(value: Any) -> Any:
    if isinstance(value, type):
        return class_path(value)
    item = value
    if hasattr(value, "item") and not isinstance(value, str):
        try:
            item = value.item()
        except (TypeError, ValueError):
            item = value
    if item is None or isinstance(item, str | int | float | bool):
        return item
    if isinstance(item, list | tuple):
        values = [_simple(v) for v in list(item)[:_MAX_LIST]]
        return values if all(not isinstance(v, dict) for v in values) else str(item)[:200]
    return f"<{class_path(item)}>"


def _params(model: Any) -> dict[str, Any]:
    get_params = getattr(model, "get_params", None)
    if not callable(get_params):
        return {}
    try:
        params = get_params(deep=False)
    except Exception:  # a broken get_params must not block registration
        return {}
    out: dict[str, Any] = {}
    for key, value in sorted(params.items()):
        if hasattr(value, "fit"):  # a nested estimator: recorded by class
            out[key] = f"<{class_path(value)}>"
        else:
            out[key] = _simple(value)
    return out


def _columns(columns: Any) -> Any:
    if isinstance(columns, str | int):
        return [columns]
    if callable(columns):
        return f"<selector {class_path(columns)}>"
    try:
        return [_simple(c) for c in list(columns)]
    except TypeError:
        return str(columns)


def describe_pipeline(model: Any) -> dict[str, Any]:
    """A JSON-compatible description of ``model`` and its steps (see the module docstring)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    node: dict[str, Any] = {"class": class_path(model)}
    if isinstance(model, Pipeline):
        node["steps"] = [
            {"name": name, **describe_pipeline(step)}
            if not isinstance(step, str)
            else {"name": name, "class": step}
            for name, step in model.steps
        ]
        return node
    if isinstance(model, ColumnTransformer):
        fitted = getattr(model, "transformers_", None) or model.transformers
        node["transformers"] = [
            {
                "name": name,
                "columns": _columns(columns),
                **(
                    describe_pipeline(transformer)
                    if not isinstance(transformer, str)
                    else {"class": transformer}
                ),
            }
            for name, transformer, columns in fitted
        ]
        node["params"] = {"remainder": _simple(model.remainder)}
        return node
    if isinstance(model, FeatureUnion):
        node["transformers"] = [
            {"name": name, **describe_pipeline(t)}
            if not isinstance(t, str)
            else {"name": name, "class": t}
            for name, t in model.transformer_list
        ]
        return node
    node["params"] = _params(model)
    return node


def _short(node: Mapping[str, Any]) -> str:
    return str(node.get("class", "?")).rsplit(".", 1)[-1]


def pipeline_summary(node: Mapping[str, Any]) -> str:
    """One line: ``prep (ColumnTransformer: num[StandardScaler], cat[OneHotEncoder]) -> clf
    (LogisticRegression)``."""
    steps = node.get("steps")
    if steps:
        parts = []
        for step in steps:
            inner = step.get("transformers")
            if inner:
                members = ", ".join(
                    f"{t.get('name')}[{pipeline_summary(t)}]" for t in inner if t.get("class")
                )
                parts.append(f"{step.get('name')} ({_short(step)}: {members})")
            else:
                parts.append(f"{step.get('name')} ({pipeline_summary(step)})")
        return " -> ".join(parts)
    inner = node.get("transformers")
    if inner:
        return f"{_short(node)}: " + ", ".join(
            f"{t.get('name')}[{pipeline_summary(t)}]" for t in inner
        )
    return _short(node)
