"""The one place that turns pydantic validation errors into charter problems.

Each problem names its path in the document and says what was wrong and what was expected
(STYLE.md habit 4), e.g. ``success_metrics[1].threshold: roc_auc must be between 0 and 1,
got 1.7``. Validators that find problems below the field they validate (cross-field checks)
raise :class:`Located`, which carries the sub-paths.
"""

from __future__ import annotations

import re
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from mlsteward.charter._metrics import format_number, suggest

__all__ = ["CharterProblem", "Located", "format_path", "problems_from"]

Loc = tuple[int | str, ...]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class CharterProblem:
    """One problem in a charter document: where (``path``) and what (``message``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class Located(ValueError):
    """Problems found by a validator at paths relative to the value it validates."""

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(message for _, message in self.problems))


def format_path(loc: Sequence[Any]) -> str:
    """``('success_metrics', 1, 'threshold')`` -> ``success_metrics[1].threshold``.

    >>> format_path(("scope", "input_domain", "AGEP", "min"))
    'scope.input_domain.AGEP.min'
    >>> format_path(("scope", "input_domain", "odd name"))
    "scope.input_domain['odd name']"
    """
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def _got(value: Any) -> str:
    kind = {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        dict: "a mapping",
        list: "a list",
        tuple: "a list",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    if isinstance(value, dict | list | tuple) or value is None:
        return kind
    return f"{_show(value)} ({kind})"


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and Optional[...] until something else remains."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def _context(root: type[BaseModel], loc: Loc) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model that holds the last element of ``loc``, and that field's info."""
    tp: Any = root
    parent: type[BaseModel] | None = None
    field: FieldInfo | None = None
    for part in loc:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            parent = tp
            field = tp.model_fields.get(part)
            if field is None:
                return parent, None
            tp = field.annotation
        elif origin in (list, tuple) and isinstance(part, int):
            parent, field = None, None
            tp = get_args(tp)[0]
        elif origin is dict:
            parent, field = None, None
            tp = get_args(tp)[1]
        else:
            return None, None
    return parent, field


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:]


def _literal_choices(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def _message(error: Any, root: type[BaseModel], loc: Loc) -> str:
    kind: str = error["type"]
    value = error.get("input")
    ctx: dict[str, Any] = error.get("ctx") or {}
    if kind == "missing":
        _, field = _context(root, loc)
        if field is not None and field.description:
            return f"missing required field: {_sentence(field.description)}"
        return "missing required field"
    if kind == "extra_forbidden":
        parent, _ = _context(root, (*loc[:-1], "_")) if loc else (root, None)
        key = loc[-1] if loc else "?"
        allowed = list(parent.model_fields) if parent is not None else []
        near = suggest(str(key), allowed) if allowed else []
        text = f"unknown field {key!r}"
        if near:
            text += f"; did you mean {' or '.join(repr(n) for n in near)}?"
        if allowed:
            text += f"{'' if near else ';'} Allowed here: {', '.join(allowed)}"
        return text
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = _literal_choices(expected)
        near = suggest(str(value), choices) if isinstance(value, str) and choices else []
        if len(choices) > 1:
            text = f"expected one of {', '.join(repr(c) for c in choices)}, got {_got(value)}"
        else:
            text = f"expected {expected}, got {_got(value)}"
        if near:
            text += f"; did you mean {near[0]!r}?"
        return text
    simple = {
        "string_type": "expected text",
        "float_type": "expected a number",
        "float_parsing": "expected a number",
        "int_type": "expected a whole number",
        "int_parsing": "expected a whole number",
        "int_from_float": "expected a whole number",
        "bool_type": "expected true or false",
        "bool_parsing": "expected true or false",
        "list_type": "expected a list",
        "dict_type": "expected a mapping (key: value pairs)",
        "model_type": "expected a mapping (key: value pairs)",
        "model_attributes_type": "expected a mapping (key: value pairs)",
    }
    if kind == "finite_number":
        return f"expected a finite number, got {_show(value)}"
    if kind in simple:
        return f"{simple[kind]}, got {_got(value)}"
    bounds = {
        "greater_than": ("gt", "greater than"),
        "greater_than_equal": ("ge", "at least"),
        "less_than": ("lt", "less than"),
        "less_than_equal": ("le", "at most"),
    }
    if kind in bounds:
        key, words = bounds[kind]
        return f"must be {words} {_show(ctx.get(key))}, got {_show(value)}"
    if kind == "too_short":
        need = ctx.get("min_length", 1)
        return f"needs at least {need} {'entry' if need == 1 else 'entries'}, got {ctx.get('actual_length', 0)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(ctx.get("error", error.get("msg", "")))
    return str(error.get("msg", kind))


def _key_message(key: Any) -> str:
    if isinstance(key, bool):
        return (
            f"a key read as {_show(key)}: a YAML 1.1 reader turns an unquoted `on` (or yes, "
            "no, off) into a boolean; write 'on' in quotes, or load the file with "
            "Charter.from_yaml"
        )
    return f"keys must be text, got {_got(key)}; quote the key"


def problems_from(exc: ValidationError, root: type[BaseModel]) -> list[CharterProblem]:
    """Every problem of a validation error of ``root``, in document order."""
    problems: list[CharterProblem] = []
    for error in exc.errors():
        loc: Loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        raised = ctx.get("error")
        if error["type"] == "value_error" and isinstance(raised, Located):
            for sub, message in raised.problems:
                problems.append(CharterProblem(format_path(loc + tuple(sub)), message))
            continue
        if error["type"] == "invalid_key":
            key = error.get("input")
            problems.append(CharterProblem(format_path((*loc[:-1], key)), _key_message(key)))
            continue
        if "[key]" in loc:
            where = loc[: loc.index("[key]")]
            key = error.get("input")
            problems.append(CharterProblem(format_path((*where[:-1], key)), _key_message(key)))
            continue
        problems.append(CharterProblem(format_path(loc), _message(error, root, loc)))
    seen: set[CharterProblem] = set()
    unique = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return unique
