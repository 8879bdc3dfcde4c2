"""Search spaces as plain data, validated once, suggested through Optuna's public API.

A search space maps each hyperparameter name to a spec::

    {"max_depth": {"type": "int", "low": 2, "high": 10},            # step (default 1), log
     "lr":        {"type": "float", "low": 1e-3, "high": 1, "log": True},   # or step
     "kind":      {"type": "categorical", "choices": ["gini", "entropy"]}}

Choices are None, booleans, integers, floats or strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlsteward.core import InvalidInput
from mlsteward.tracking._validation import check_key

__all__ = ["ParamSpec", "parse_search_space", "suggest"]

_FIELDS = {
    "int": {"type", "low", "high", "step", "log"},
    "float": {"type", "low", "high", "step", "log"},
    "categorical": {"type", "choices"},
}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: Literal["int", "float", "categorical"]
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.type, "low": self.low, "high": self.high}
        if self.step is not None:
            out["step"] = self.step
        if self.log:
            out["log"] = True
        return out


def _fail(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"Search space parameter {name!r}: {message}")


def _number(name: str, field: str, value: Any, integer: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise _fail(name, f"{field!r} must be {kind}; got {value!r}.")
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise _fail(name, f"{field!r} must be an integer for type 'int'; got {value!r}.")
    if not math.isfinite(float(value)):
        raise _fail(name, f"{field!r} must be finite; got {value!r}.")
    return int(value) if integer else float(value)


def _parse_one(name: str, spec: Any) -> ParamSpec:
    check_key("search space parameter", name)
    if not isinstance(spec, Mapping):
        raise _fail(
            name,
            f"expected a mapping such as {{'type': 'int', 'low': 1, 'high': 10}}; got {spec!r}.",
        )
    kind = spec.get("type")
    if kind not in _FIELDS:
        raise _fail(name, f"'type' must be one of 'int', 'float', 'categorical'; got {kind!r}.")
    unknown = sorted(set(spec) - _FIELDS[kind])
    if unknown:
        raise _fail(
            name,
            f"unknown field(s) {unknown} for type {kind!r}; expected "
            f"{sorted(_FIELDS[kind] - {'type'})}.",
        )
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list | tuple) or not choices:
            raise _fail(name, f"'choices' must be a non-empty list; got {choices!r}.")
        for choice in choices:
            if choice is not None and not isinstance(choice, bool | int | float | str):
                raise _fail(
                    name,
                    f"choice {choice!r} is a {type(choice).__name__}; choices must be None, "
                    "booleans, numbers or strings (map names to objects in your objective).",
                )
        if len(set(map(repr, choices))) != len(choices):
            raise _fail(name, f"'choices' has duplicates: {list(choices)!r}.")
        return ParamSpec(name, "categorical", choices=tuple(choices))
    integer = kind == "int"
    for field in ("low", "high"):
        if field not in spec:
            raise _fail(name, f"type {kind!r} needs {field!r}.")
    low = _number(name, "low", spec["low"], integer)
    high = _number(name, "high", spec["high"], integer)
    if low > high:
        raise _fail(name, f"'low' <= 'high' must hold, but got low={low}, high={high}.")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise _fail(name, f"'log' must be true or false; got {log!r}.")
    step = spec.get("step")
    if step is not None:
        step = _number(name, "step", step, integer)
        if step <= 0:
            raise _fail(name, f"'step' must be positive; got {step}.")
        if log and (not integer or step != 1):
            raise _fail(name, "'step' and 'log' cannot be combined (use one or the other).")
    if log and low <= 0:
        raise _fail(name, f"a 'log' range needs low > 0; got low={low}.")
    return ParamSpec(name, kind, low, high, step, log)


def parse_search_space(space: Mapping[str, Any]) -> list[ParamSpec]:
    """Validate a search space; raise InvalidInput naming the parameter and the rule."""
    if not isinstance(space, Mapping) or not space:
        raise InvalidInput(
            "A search space must be a non-empty mapping of parameter names to specs, e.g. "
            "{'max_depth': {'type': 'int', 'low': 2, 'high': 10}}; "
            f"got {space!r:.100}."
        )
    return [_parse_one(name, spec) for name, spec in space.items()]


def suggest(trial: Any, specs: list[ParamSpec]) -> dict[str, Any]:
    """Ask an ``optuna.Trial`` for a value of every parameter."""
    params: dict[str, Any] = {}
    for spec in specs:
        if spec.type == "categorical":
            params[spec.name] = trial.suggest_categorical(spec.name, list(spec.choices))
        elif spec.type == "int":
            params[spec.name] = trial.suggest_int(
                spec.name,
                int(spec.low or 0),
                int(spec.high or 0),
                step=int(spec.step or 1),
                log=spec.log,
            )
        else:
            params[spec.name] = trial.suggest_float(
                spec.name, float(spec.low or 0), float(spec.high or 0), step=spec.step, log=spec.log
            )
    return params
