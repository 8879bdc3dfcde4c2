"""Checking request rows against a signature, fast.

The registry's :func:`~mlsteward.registry.check_input` is the reference: it builds a
DataFrame and reports every problem of every column. Building a DataFrame per request
costs about half a millisecond, so the server first runs :class:`RowValidator`, compiled
once per model version, over the JSON rows in plain Python: it accepts only rows that are
certainly valid in ``strict`` mode (every signature column present, each value of the
expected Python type and within the training domain) and returns their columns. Any other
row, and any other domain mode, goes to the registry's check, which either explains every
problem (HTTP 422) or returns what the model takes, so both paths accept exactly the same
input and the error messages are the registry's.

>>> from mlsteward.registry import ColumnSpec, Signature
>>> sig = Signature((ColumnSpec("age", "numeric", min=0, max=99, nullable=False),
...                  ColumnSpec("sex", "categorical", categories=("1", "2"))))
>>> RowValidator(sig).columns([{"age": 30, "sex": "2", "id": 7}])
{'age': [30], 'sex': ['2']}
>>> RowValidator(sig).columns([{"age": 130, "sex": "2"}]) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import pandas as pd

from mlsteward.registry import ColumnSpec, DomainMode, Signature, check_input

__all__ = ["RowValidator", "columns_from_frame"]

Check = Callable[[Any], bool]
_MISSING: Final = object()


def _numeric(spec: ColumnSpec) -> Check:
    low = None if spec.min is None else float(spec.min)
    high = None if spec.max is None else float(spec.max)
    nullable = spec.nullable

    def check(value: Any) -> bool:
        kind = type(value)
        if kind is int or kind is float:
            if value != value or value in (math.inf, -math.inf):
                return False
            if low is not None and value < low:
                return False
            return high is None or value <= high
        return value is None and nullable

    return check


def _categorical(spec: ColumnSpec) -> Check | None:
    categories = spec.categories
    if categories is None:
        return None
    kinds = {type(c) for c in categories}
    if len(kinds) != 1:
        return None  # mixed kinds: the registry's check decides
    kind = kinds.pop()
    if kind not in (str, int, bool):
        return None
    allowed = frozenset(categories)
    nullable = spec.nullable

    def check(value: Any) -> bool:
        if type(value) is kind:
            return value in allowed
        return value is None and nullable

    return check


def _text(spec: ColumnSpec) -> Check:
    nullable = spec.nullable

    def check(value: Any) -> bool:
        return type(value) is str or (value is None and nullable)

    return check


def _any(spec: ColumnSpec) -> Check:
    def check(value: Any) -> bool:
        return type(value) in (str, int, float, bool) or value is None

    return check


def _compile(spec: ColumnSpec) -> Check | None:
    if spec.type == "numeric":
        return _numeric(spec)
    if spec.type in ("categorical", "boolean"):
        return _categorical(spec)
    if spec.type in ("text", "id"):
        return _text(spec)
    if spec.type == "any":
        return _any(spec)
    return None  # datetime: parsing is the registry's


def columns_from_frame(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, list[Any]]:
    """The columns ``names`` of a checked frame as plain lists."""
    return {name: frame[name].tolist() for name in names}


class RowValidator:
    """Checks JSON rows against one model version's signature (see the module docstring).

    ``columns(rows)`` returns the signature's columns (plain lists, in signature order)
    when the fast path can vouch for every row, else None; ``check(rows)`` always answers:
    the columns, or :class:`~mlsteward.registry.SignatureMismatch` from the registry.
    """

    def __init__(
        self, signature: Signature, *, domain: DomainMode = "strict", model: str = "model"
    ):
        self.signature = signature
        self.domain = domain
        self.model = model
        self.names = signature.names
        compiled = [(spec.name, _compile(spec)) for spec in signature.inputs]
        self._checks: list[tuple[str, Check]] | None = None
        if domain == "strict" and not signature.positional and all(c for _, c in compiled):
            self._checks = [(name, check) for name, check in compiled if check is not None]

    @property
    def fast(self) -> bool:
        """True when the fast path applies to this signature and domain mode."""
        return self._checks is not None

    def columns(self, rows: Sequence[Any]) -> dict[str, list[Any]] | None:
        checks = self._checks
        if checks is None:
            return None
        out: dict[str, list[Any]] = {name: [] for name, _ in checks}
        for row in rows:
            if type(row) is not dict:
                return None
            for name, check in checks:
                value = row.get(name, _MISSING)
                if value is _MISSING or not check(value):
                    return None
                out[name].append(value)
        return out

    def check(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """The rows' columns, or the registry's :class:`SignatureMismatch`."""
        fast = self.columns(rows)
        if fast is not None:
            return fast
        checked = check_input(self.signature, list(rows), model=self.model, domain=self.domain)
        data = checked.data
        if isinstance(data, pd.DataFrame):
            return columns_from_frame(data, self.names)
        return {name: data[:, i].tolist() for i, name in enumerate(self.names)}
