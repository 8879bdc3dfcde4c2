"""Fairness in production: the charter's fairness limits judged on every window.

For each limit of the charter (``constraints.fairness``) and each of its sensitive
attributes that the model receives as an input, a window gets the disparity between the
attribute's groups, as the evaluation measures it before deployment:

- ``demographic_parity_difference`` and ``_ratio``: the largest gap (and the smallest
  ratio) between the groups' selection rates (share predicted positive). They need no
  label, so they are measured on every window, before labels arrive;
- ``equal_opportunity_difference`` (gap in true-positive rates) and
  ``equalized_odds_difference`` (the larger of the gaps in true- and false-positive
  rates): on the window's labelled rows only.

Groups with fewer rows than the limit's ``min_group_size`` (labelled rows, for the
label-based metrics) are left out and reported, as in the evaluation. Each disparity has
a percentile interval from a parametric bootstrap of the group rates (each group's count
drawn from a binomial with its observed rate and size; vectorised), so a small window
gives an *inconclusive* gate rather than a false alarm. The definitions are fairlearn's
(``fairlearn.metrics``); the tests check the values against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.monitoring._summary import category_key, category_keys

__all__ = [
    "FAIRNESS_METRICS",
    "FairnessLimitSpec",
    "GroupRates",
    "WindowDisparity",
    "WindowFairness",
    "as_measurements",
    "limits_of",
    "window_fairness",
]

FAIRNESS_METRICS: Final = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
)
_LABELLED: Final = frozenset({"equal_opportunity_difference", "equalized_odds_difference"})
_DRAWS: Final = 1000
MISSING_GROUP: Final = "(missing)"
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FairnessLimitSpec:
    """What a window measures for one charter limit and one sensitive attribute."""

    metric: str
    attribute: str
    min_group_size: int = 30


@dataclass(frozen=True)
class GroupRates:
    """One group of a sensitive attribute in a window."""

    group: str
    rows: int
    selection_rate: float
    labelled: int
    true_positive_rate: float | None
    false_positive_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "rows": self.rows,
            "selection_rate": self.selection_rate,
            "labelled": self.labelled,
            "true_positive_rate": self.true_positive_rate,
            "false_positive_rate": self.false_positive_rate,
        }


@dataclass(frozen=True)
class WindowDisparity:
    """A fairness metric of one sensitive attribute in one window, with its interval."""

    metric: str
    attribute: str
    value: float
    low: float
    high: float
    rows: int
    groups: tuple[GroupRates, ...]
    left_out: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "attribute": self.attribute,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "rows": self.rows,
            "groups": [g.to_dict() for g in self.groups],
            "left_out": list(self.left_out),
        }


@dataclass(frozen=True)
class WindowFairness:
    """Every disparity of a window, and why some could not be measured."""

    disparities: tuple[WindowDisparity, ...]
    notes: tuple[str, ...] = ()

    def get(self, metric: str, attribute: str) -> WindowDisparity | None:
        return next(
            (d for d in self.disparities if d.metric == metric and d.attribute == attribute), None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "disparities": [d.to_dict() for d in self.disparities],
            "notes": list(self.notes),
        }


def _groups(column: pa.ChunkedArray | pa.Array) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Group index of each row and the group names (missing values are a group)."""
    keys = category_keys(column)
    filled = np.where(keys == None, MISSING_GROUP, keys).astype(str)  # noqa: E711
    names, index = np.unique(filled, return_inverse=True)
    return index.astype(np.intp), [str(n) for n in names]


def _gap(rates: Floats, metric: str) -> Floats:
    """The disparity of group rates (last axis: groups)."""
    high, low = rates.max(axis=-1), rates.min(axis=-1)
    if metric != "demographic_parity_ratio":
        gap: Floats = np.asarray(high - low, dtype=np.float64)
        return gap
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio: Floats = np.where(high > 0, low / np.where(high > 0, high, 1.0), np.nan)
    return ratio


def _drawn(rng: np.random.Generator, sizes: Floats, rates: Floats, draws: int) -> Floats:
    """Bootstrap group rates: ``draws`` rows, one column per group."""
    counts = rng.binomial(sizes.astype(np.int64), rates, size=(draws, sizes.size))
    drawn: Floats = counts / sizes
    return drawn


def _rate(
    hits: npt.NDArray[np.bool_], among: npt.NDArray[np.bool_], group: npt.NDArray[np.intp], n: int
) -> tuple[Floats, Floats]:
    """Per group: how many rows are ``among``, and the share of those that ``hits``."""
    size = np.bincount(group[among], minlength=n).astype(np.float64)
    count = np.bincount(group[among & hits], minlength=n).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return size, np.where(size > 0, count / np.where(size > 0, size, 1.0), np.nan)


def window_fairness(
    table: pa.Table,
    limits: Sequence[FairnessLimitSpec],
    *,
    positive_class: Any = 1,
    confidence: float = 0.95,
    draws: int = _DRAWS,
    seed: int = 0,
) -> WindowFairness:
    """The disparities of a window's answered rows (columns: the sensitive attributes,
    ``prediction`` and ``label``; see the module docstring)."""
    notes: list[str] = []
    out: list[WindowDisparity] = []
    if table.num_rows == 0 or not limits:
        return WindowFairness((), ())
    positive = category_key(positive_class)
    predicted = category_keys(table.column("prediction")) == positive
    label_column = table.column("label")
    labelled = np.asarray(pc.is_valid(label_column).to_numpy(zero_copy_only=False), dtype=bool)
    actual = category_keys(label_column) == positive
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2
    seen: dict[str, tuple[npt.NDArray[np.intp], list[str]]] = {}
    for limit in limits:
        if limit.metric not in FAIRNESS_METRICS:
            notes.append(f"{limit.metric} is not a fairness metric monitoring measures.")
            continue
        if limit.attribute not in table.column_names:
            notes.append(
                f"{limit.metric} on {limit.attribute}: {limit.attribute} is not an input of the "
                "model, so the log does not hold it; it is judged at evaluation only."
            )
            continue
        if limit.attribute not in seen:
            seen[limit.attribute] = _groups(table.column(limit.attribute))
        group, names = seen[limit.attribute]
        n_groups = len(names)
        everyone = np.ones(group.size, dtype=bool)
        rows, selection = _rate(predicted, everyone, group, n_groups)
        pos_rows, tpr = _rate(predicted, labelled & actual, group, n_groups)
        neg_rows, fpr = _rate(predicted, labelled & ~actual, group, n_groups)
        lab_rows = pos_rows + neg_rows
        needs_labels = limit.metric in _LABELLED
        size = lab_rows if needs_labels else rows
        kept = size >= limit.min_group_size
        if needs_labels:
            kept &= pos_rows > 0
            if limit.metric == "equalized_odds_difference":
                kept &= neg_rows > 0
        left_out = tuple(names[i] for i in np.flatnonzero(~kept & (rows > 0)))
        groups = tuple(
            GroupRates(
                names[i],
                int(rows[i]),
                float(selection[i]),
                int(lab_rows[i]),
                None if pos_rows[i] == 0 else float(tpr[i]),
                None if neg_rows[i] == 0 else float(fpr[i]),
            )
            for i in range(n_groups)
            if rows[i] > 0
        )
        if kept.sum() < 2:
            what = "labelled rows" if needs_labels else "rows"
            notes.append(
                f"{limit.metric} on {limit.attribute}: fewer than two groups with "
                f"{limit.min_group_size} {what} or more in this window; not measured."
            )
            continue
        if limit.metric in ("demographic_parity_difference", "demographic_parity_ratio"):
            value = float(_gap(selection[kept], limit.metric))
            spread = _gap(_drawn(rng, rows[kept], selection[kept], draws), limit.metric)
        elif limit.metric == "equal_opportunity_difference":
            value = float(_gap(tpr[kept], limit.metric))
            spread = _gap(_drawn(rng, pos_rows[kept], tpr[kept], draws), limit.metric)
        else:
            value = float(max(_gap(tpr[kept], limit.metric), _gap(fpr[kept], limit.metric)))
            spread = np.maximum(
                _gap(_drawn(rng, pos_rows[kept], tpr[kept], draws), limit.metric),
                _gap(_drawn(rng, neg_rows[kept], fpr[kept], draws), limit.metric),
            )
        if math.isnan(value):
            continue
        finite = spread[np.isfinite(spread)]
        low, high = np.quantile(finite, [tail, 1 - tail]) if finite.size else (value, value)
        out.append(
            WindowDisparity(
                limit.metric,
                limit.attribute,
                value,
                float(min(low, value)),
                float(max(high, value)),
                int(size[kept].sum()),
                groups,
                left_out,
            )
        )
    return WindowFairness(tuple(out), tuple(notes))


def limits_of(charter_doc: Any) -> list[FairnessLimitSpec]:
    """The fairness limits of a charter document, one per metric and attribute."""
    specs: list[FairnessLimitSpec] = []
    for limit in charter_doc.constraints.fairness:
        for attribute in limit.sensitive_attributes:
            specs.append(FairnessLimitSpec(limit.metric, attribute, limit.min_group_size))
    return specs


def as_measurements(fairness: WindowFairness, confidence: float = 0.95) -> list[Any]:
    """The disparities as charter measurements (with their attribute and interval)."""
    from mlsteward.charter import Measurement

    return [
        Measurement(
            d.metric, d.value, (d.low, d.high), attribute=d.attribute, confidence=confidence
        )
        for d in fairness.disparities
    ]
