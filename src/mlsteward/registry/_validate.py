"""Checking inputs against a signature, with every problem in one error.

Problems come in two groups:

- **structural** (always errors): a signature column is missing; a value has the wrong type
  (text in a numeric column, a number in a column of text categories, an unparsable
  date). The model cannot take such input.
- **domain** (errors in ``strict`` mode, the default; warnings in ``warn`` mode; not
  checked in ``off`` mode): a number or date outside the training range, a category never
  seen in training, a missing value in a column that had none in training. The model
  can compute something, but outside what it learnt from.

Columns the signature does not list are ignored (and reported in
:attr:`CheckedInput.extra_columns`); the model receives the signature's columns in its
order, numbers as numbers, and columns that were pandas categoricals in training as
categoricals of the training categories (a value outside them, accepted in ``warn`` or
``off`` mode, becomes missing). A :class:`SignatureMismatch` lists every bad column, the offending values (up to
:data:`MAX_VALUES` distinct ones per problem, with the first row positions) and what was
expected.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from mlsteward.core import InvalidInput
from mlsteward.registry._signature import ColumnSpec, Signature, show_value

__all__ = [
    "DOMAIN_MODES",
    "MAX_VALUES",
    "CheckedInput",
    "DomainMode",
    "DomainWarning",
    "InputProblem",
    "ProblemKind",
    "SignatureMismatch",
    "check_domain_mode",
    "check_input",
    "to_frame",
]

DomainMode = Literal["strict", "warn", "off"]
DOMAIN_MODES: Final = ("strict", "warn", "off")
ProblemKind = Literal[
    "missing_column", "wrong_type", "missing_value", "out_of_range", "unseen_category"
]
STRUCTURAL: Final = frozenset({"missing_column", "wrong_type"})
MAX_VALUES: Final = 20
MAX_ROWS: Final = 10
_WHAT = {
    "missing_column": "missing column",
    "wrong_type": "wrong type",
    "missing_value": "missing values",
    "out_of_range": "out of the training range",
    "unseen_category": "categories not seen in training",
}


@dataclass(frozen=True)
class InputProblem:
    """One problem of one column: its kind, the offending values (distinct, at most
    :data:`MAX_VALUES`), how many rows have it, the first row positions, what was expected."""

    column: str
    kind: ProblemKind
    expected: str
    values: tuple[Any, ...] = ()
    count: int = 0
    rows: tuple[int, ...] = ()
    distinct: int = 0

    @property
    def structural(self) -> bool:
        return self.kind in STRUCTURAL

    def describe(self) -> str:
        """``'SEX': categories not seen in training: 3, 7 (rows 0, 4); expected one of 1, 2``"""
        head = f"{self.column!r}: {_WHAT[self.kind]}"
        if self.kind == "missing_column":
            return f"{head}; expected a column of {self.expected}"
        shown = ", ".join(show_value(v) for v in self.values)
        if self.distinct > len(self.values):
            shown += f" and {self.distinct - len(self.values)} more"
        rows = ", ".join(str(r) for r in self.rows)
        if self.count == 1:
            where = f"row {rows}"
        elif self.count > len(self.rows):
            where = f"{self.count} rows: {rows}, ..."
        else:
            where = f"rows {rows}"
        values = f": {shown}" if shown else ""
        return f"{head}{values} ({where}); expected {self.expected}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "values": [v.item() if hasattr(v, "item") else v for v in self.values],
            "distinct": self.distinct,
            "count": self.count,
            "rows": list(self.rows),
            "expected": self.expected,
            "message": self.describe(),
        }


class SignatureMismatch(InvalidInput):
    """Input that does not match a model's signature; ``problems`` lists every problem."""

    def __init__(self, model: str, problems: Sequence[InputProblem], *, mode: str) -> None:
        self.model = model
        self.problems = tuple(problems)
        columns = sorted({p.column for p in self.problems})
        lines = "\n".join(f"- {p.describe()}" for p in self.problems)
        plural = "s" if len(self.problems) != 1 else ""
        fix = (
            "Send every signature column with values of the expected types"
            + (" within the training domain" if mode == "strict" else "")
            + f" (steward models show {model} lists them)"
        )
        if mode == "strict" and any(not p.structural for p in self.problems):
            fix += ", or load the model with domain='warn' to accept out-of-domain values "
            fix += "with a warning"
        super().__init__(
            f"Input for model {model} does not match its signature ({len(self.problems)} "
            f"problem{plural} in {len(columns)} column{'s' if len(columns) != 1 else ''}):\n"
            f"{lines}\n{fix}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.kind,
            "model": self.model,
            "message": self.message,
            "problems": [p.to_dict() for p in self.problems],
        }


class DomainWarning(UserWarning):
    """Input outside the training domain, accepted because the domain mode is ``warn``."""


@dataclass(frozen=True)
class CheckedInput:
    """What the model receives (``data``: a DataFrame in signature order, or an array for
    a positional signature), with the problems tolerated as warnings and the ignored
    columns."""

    data: Any
    rows: int
    warnings: tuple[InputProblem, ...] = ()
    extra_columns: tuple[str, ...] = field(default_factory=tuple)


def check_domain_mode(mode: object) -> DomainMode:
    if mode not in DOMAIN_MODES:
        raise InvalidInput(
            f"Invalid domain mode {mode!r}: expected 'strict' (out-of-domain values are "
            "errors), 'warn' (they are warnings) or 'off' (not checked)."
        )
    return mode  # narrowed by the membership test


def to_frame(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a list of dicts (one per row) or one dict (one row)."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, Mapping):
        frame = pd.DataFrame.from_records([dict(data)])
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
        rows = list(data)
        bad = next((i for i, r in enumerate(rows) if not isinstance(r, Mapping)), None)
        if bad is not None:
            raise InvalidInput(
                f"Row {bad} of the input is a {type(rows[bad]).__name__}, not a dict: expected "
                "a list of dicts, one per row, mapping column names to values."
            )
        frame = pd.DataFrame.from_records([dict(r) for r in rows])
    else:
        raise InvalidInput(
            f"Cannot predict on a {type(data).__name__}: expected a pandas DataFrame, a list "
            "of dicts (one per row) or one dict (one row)."
        )
    if len(frame) == 0:
        raise InvalidInput("The input has no rows; send at least one row.")
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    return frame


def _problem(
    spec: ColumnSpec, kind: ProblemKind, series: pd.Series, mask: np.ndarray
) -> InputProblem:
    positions = np.flatnonzero(mask)
    values: list[Any] = []
    distinct = 0
    if kind != "missing_value":
        seen = pd.unique(series.to_numpy(dtype=object)[positions])
        distinct = len(seen)
        values = [v.item() if hasattr(v, "item") else v for v in seen[:MAX_VALUES]]
    return InputProblem(
        column=spec.name,
        kind=kind,
        expected=spec.expected()
        if kind != "missing_value"
        else "no missing values (the training data had none)",
        values=tuple(values),
        count=len(positions),
        rows=tuple(int(p) for p in positions[:MAX_ROWS]),
        distinct=distinct,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _object_mask(values: np.ndarray, present: np.ndarray, ok: Any) -> np.ndarray:
    bad = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(present):
        bad[i] = not ok(values[i])
    return bad


def _check_numeric(
    spec: ColumnSpec, series: pd.Series, present: np.ndarray
) -> tuple[np.ndarray, pd.Series | None]:
    """(rows of the wrong type, the column as numbers or None when some are not)."""
    if ptypes.is_bool_dtype(series) or not ptypes.is_numeric_dtype(series):
        values = series.to_numpy(dtype=object)
        bad = _object_mask(values, present, _is_number)
        if bad.any():
            return bad, None
        return bad, pd.to_numeric(series, errors="coerce")
    return np.zeros(len(series), dtype=bool), series


def _range_mask(spec: ColumnSpec, numbers: pd.Series, present: np.ndarray) -> np.ndarray:
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    out = np.zeros(len(values), dtype=bool)
    if spec.min is not None:
        out |= present & (values < float(spec.min))
    if spec.max is not None:
        out |= present & (values > float(spec.max))
    return out


def _category_kind(categories: Sequence[Any]) -> str:
    if all(isinstance(c, bool) for c in categories):
        return "bool"
    if all(isinstance(c, str) for c in categories):
        return "str"
    if all(_is_number(c) for c in categories):
        return "number"
    return "mixed"


def _type_ok(kind: str) -> Any:
    if kind == "str":
        return lambda v: isinstance(v, str)
    if kind == "number":
        return _is_number
    if kind == "bool":
        return lambda v: isinstance(v, bool | np.bool_) or (_is_number(v) and v in (0, 1))
    return lambda v: True


def _check_categories(
    spec: ColumnSpec, series: pd.Series, present: np.ndarray, categories: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(rows of the wrong type, rows with an unseen category)."""
    member = series.isin(list(categories)).to_numpy(dtype=bool)
    outside = present & ~member
    wrong = np.zeros(len(series), dtype=bool)
    if outside.any():
        values = series.to_numpy(dtype=object)
        wrong = _object_mask(values, outside, _type_ok(_category_kind(categories)))
    return wrong, outside & ~wrong


def _check_datetime(
    spec: ColumnSpec, series: pd.Series, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rows of the wrong type, rows out of range)."""
    if ptypes.is_datetime64_any_dtype(series):
        parsed = series
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, errors="coerce", format="mixed")
    wrong = present & parsed.isna().to_numpy(dtype=bool)
    out = np.zeros(len(series), dtype=bool)
    try:
        if spec.min is not None:
            out |= present & ~wrong & (parsed < pd.Timestamp(spec.min)).to_numpy(dtype=bool)
        if spec.max is not None:
            out |= present & ~wrong & (parsed > pd.Timestamp(spec.max)).to_numpy(dtype=bool)
    except TypeError:  # naive against aware: the range cannot be compared
        out[:] = False
    return wrong, out


def _was_categorical(spec: ColumnSpec) -> bool:
    dtype = spec.dtype or ""
    return dtype == "category" or dtype.startswith("dictionary<")


def _check_column(spec: ColumnSpec, series: pd.Series, problems: list[InputProblem]) -> pd.Series:
    """Append the column's problems; return the column as the model should get it."""
    null = series.isna().to_numpy(dtype=bool)
    present = ~null
    if null.any() and not spec.nullable:
        problems.append(_problem(spec, "missing_value", series, null))
    if spec.type == "numeric":
        wrong, numbers = _check_numeric(spec, series, present)
        if wrong.any():
            problems.append(_problem(spec, "wrong_type", series, wrong))
            return series
        assert numbers is not None
        out_of_range = _range_mask(spec, numbers, present)
        if out_of_range.any():
            problems.append(_problem(spec, "out_of_range", series, out_of_range))
        return numbers
    if spec.type in ("categorical", "boolean") and spec.categories is not None:
        wrong, unseen = _check_categories(spec, series, present, spec.categories)
        if wrong.any():
            problems.append(_problem(spec, "wrong_type", series, wrong))
        if unseen.any():
            problems.append(_problem(spec, "unseen_category", series, unseen))
        if _was_categorical(spec) and not isinstance(series.dtype, pd.CategoricalDtype):
            # the model was fitted on a pandas categorical: give it one (LightGBM and
            # XGBoost need the dtype; values outside the categories become missing)
            return series.astype(pd.CategoricalDtype(list(spec.categories)))
        return series
    if spec.type == "boolean":
        ok = _type_ok("bool")
        wrong = _object_mask(series.to_numpy(dtype=object), present, ok)
        if wrong.any():
            problems.append(_problem(spec, "wrong_type", series, wrong))
        return series
    if spec.type == "datetime":
        wrong, out_of_range = _check_datetime(spec, series, present)
        if wrong.any():
            problems.append(_problem(spec, "wrong_type", series, wrong))
        if out_of_range.any():
            problems.append(_problem(spec, "out_of_range", series, out_of_range))
    return series


def check_input(
    signature: Signature, data: Any, *, model: str = "model", domain: DomainMode = "strict"
) -> CheckedInput:
    """Check ``data`` against ``signature`` (see the module docstring).

    Raises :class:`SignatureMismatch` listing every problem that is an error in this
    ``domain`` mode; emits one :class:`DomainWarning` for the tolerated ones (``warn``).
    """
    check_domain_mode(domain)
    frame = to_frame(data)
    problems: list[InputProblem] = []
    columns: dict[str, pd.Series] = {}
    for spec in signature.inputs:
        if spec.name not in frame.columns:
            problems.append(InputProblem(spec.name, "missing_column", spec.expected()))
            continue
        series = frame[spec.name]
        if isinstance(series, pd.DataFrame):
            raise InvalidInput(
                f"The input has several columns named {spec.name!r}; give each column once."
            )
        columns[spec.name] = _check_column(spec, series.reset_index(drop=True), problems)
    if domain == "off":
        problems = [p for p in problems if p.structural]
    errors = [p for p in problems if p.structural or domain == "strict"]
    tolerated = [p for p in problems if not p.structural and domain == "warn"]
    if errors:
        raise SignatureMismatch(model, errors, mode=domain)
    if tolerated:
        lines = "; ".join(p.describe() for p in tolerated)
        warnings.warn(
            DomainWarning(f"Input for model {model} is outside the training domain: {lines}"),
            stacklevel=3,
        )
    wanted = set(signature.names)
    extra = tuple(str(c) for c in frame.columns if c not in wanted)
    prepared = pd.DataFrame(columns, columns=signature.names)
    model_input: Any = prepared.to_numpy() if signature.positional else prepared
    return CheckedInput(model_input, len(frame), tuple(tolerated), extra)
