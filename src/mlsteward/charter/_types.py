"""Value types shared by the sections of a charter, and the base of every section."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

__all__ = [
    "Currency",
    "Duration",
    "Label",
    "NonNegative",
    "Positive",
    "Problems",
    "Role",
    "Section",
    "Share",
    "Text",
    "Window",
    "unique_problems",
]

Problems = list[tuple[tuple[int | str, ...], str]]
"""Problems found by a validator: (path below the validated value, message)."""

_DURATION = re.compile(r"^([1-9][0-9]*)(s|m|h|d|w)$")
_ROLE = re.compile(r"^[^\s@\[\]]+$")


class Section(BaseModel):
    """Base of every charter section: unknown keys refused, immutable, YAML/JSON types."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _label(value: Any) -> str | int | bool:
    if isinstance(value, str | int | bool) and not isinstance(value, float):
        return value
    raise ValueError(
        f"expected a class or category label (text, a whole number or true/false), "
        f"got {value!r} ({type(value).__name__})"
    )


Label = Annotated[
    str | int | bool,
    PlainValidator(_label),
    WithJsonSchema({"type": ["string", "integer", "boolean"]}),
]
"""A class label or category: text, a whole number or true/false."""


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(
            f"expected a duration such as 30m, 12h, 7d or 2w (a whole number and one of "
            f"s, m, h, d, w), got {value!r}"
        )
    return value


Duration = Annotated[
    str, AfterValidator(_duration), WithJsonSchema({"type": "string", "pattern": _DURATION.pattern})
]


def _window(value: Any) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"a count window needs at least 1 prediction, got {value}")
        return value
    if isinstance(value, str):
        return _duration(value)
    raise ValueError(
        f"expected a duration such as 1d or 7d, or a number of predictions such as 10000, "
        f"got {value!r} ({type(value).__name__})"
    )


Window = Annotated[
    str | int,
    PlainValidator(_window),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": _DURATION.pattern},
                {"type": "integer", "minimum": 1},
            ]
        }
    ),
]


def _role(value: str) -> str:
    if not _ROLE.match(value):
        raise ValueError(
            f"expected a dataset role or slice name without spaces, '@', '[' or ']' "
            f"(e.g. test, validation, production), got {value!r}"
        )
    return value


Role = Annotated[
    str, AfterValidator(_role), WithJsonSchema({"type": "string", "pattern": _ROLE.pattern})
]


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(
            f"expected a 3-letter ISO 4217 currency code in capitals such as USD or EUR, "
            f"got {value!r}"
        )
    return value


Currency = Annotated[
    str, AfterValidator(_currency), WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$"})
]
Share = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


def unique_problems(items: list[Any], what: str) -> Problems:
    """A problem for each item equal to an earlier one."""
    seen: dict[Any, int] = {}
    problems: Problems = []
    for index, item in enumerate(items):
        key = (type(item), item)
        if key in seen:
            problems.append(((index,), f"{what} {item!r} is listed twice (also at [{seen[key]}])"))
        else:
            seen[key] = index
    return problems
