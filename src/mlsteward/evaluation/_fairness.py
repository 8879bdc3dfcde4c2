"""Fairness: group metrics and disparities per sensitive attribute, computed with fairlearn.

For each sensitive attribute, fairlearn's :class:`~fairlearn.metrics.MetricFrame` gives
per group the selection rate, true- and false-positive rates and precision (binary
tasks), and the evaluation adds the main metric per group. Disparities are fairlearn's
own functions (``demographic_parity_difference``/``_ratio``,
``equalized_odds_difference``, ``equal_opportunity_difference``) on the rows of groups
with at least ``min_group_size`` rows (the charter's limit; smaller groups are reported and
left out). Their bootstrap intervals come from group rates per resample, computed from
the same weights as every other interval, so gates on fairness can be inconclusive too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsteward.core import MissingDependency
from mlsteward.evaluation._bootstrap import Estimate, Statistic
from mlsteward.evaluation._metrics import Array, Outcomes, point_metrics
from mlsteward.evaluation._spec import FairnessSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Disparity",
    "FairnessReport",
    "FairnessStatistic",
    "GroupMetrics",
    "fairness_groups",
    "fairness_report",
    "kept_groups",
]

MISSING_GROUP = "(missing)"


def _fairlearn() -> Any:
    try:
        import fairlearn.metrics as fm
    except ImportError as exc:  # pragma: no cover - a dependency of Steward
        raise MissingDependency("Fairness metrics need fairlearn: pip install fairlearn") from exc
    return fm


def fairness_groups(series: pd.Series) -> tuple[Array, list[str]]:
    """Group code of each row and group labels (text; missing values are a group)."""
    import pandas as pd

    codes, uniques = pd.factorize(series, sort=True)
    labels = [_label(u) for u in uniques]
    if (codes < 0).any():
        codes = codes.copy()
        codes[codes < 0] = len(labels)
        labels.append(MISSING_GROUP)
    return codes.astype(np.int64), labels


def _label(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class GroupMetrics:
    """Metrics of one group of a sensitive attribute (rates are None when undefined)."""

    group: str
    rows: int
    selection_rate: float | None
    true_positive_rate: float | None
    false_positive_rate: float | None
    precision: float | None
    main_metric: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "rows": self.rows,
            "selection_rate": self.selection_rate,
            "true_positive_rate": self.true_positive_rate,
            "false_positive_rate": self.false_positive_rate,
            "precision": self.precision,
            "main_metric": self.main_metric,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupMetrics:
        return cls(
            group=str(data["group"]),
            rows=int(data["rows"]),
            selection_rate=data.get("selection_rate"),
            true_positive_rate=data.get("true_positive_rate"),
            false_positive_rate=data.get("false_positive_rate"),
            precision=data.get("precision"),
            main_metric=data.get("main_metric"),
        )


@dataclass(frozen=True)
class Disparity:
    """A disparity metric for one attribute, with its interval and (from the charter) the
    limit it is held to; ``groups`` were compared, ``excluded`` were too small."""

    metric: str
    attribute: str
    estimate: Estimate
    threshold: float | None
    required: bool
    min_group_size: int
    groups: tuple[str, ...]
    excluded: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "attribute": self.attribute,
            "estimate": self.estimate.to_dict(),
            "threshold": self.threshold,
            "required": self.required,
            "min_group_size": self.min_group_size,
            "groups": list(self.groups),
            "excluded": list(self.excluded),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Disparity:
        return cls(
            metric=data["metric"],
            attribute=data["attribute"],
            estimate=Estimate.from_dict(data["estimate"]),
            threshold=data.get("threshold"),
            required=bool(data.get("required", False)),
            min_group_size=int(data["min_group_size"]),
            groups=tuple(data.get("groups", ())),
            excluded=tuple(data.get("excluded", ())),
        )


@dataclass(frozen=True)
class FairnessReport:
    """Group metrics and disparities of one sensitive attribute."""

    attribute: str
    main_metric: str
    groups: tuple[GroupMetrics, ...]
    disparities: tuple[Disparity, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "main_metric": self.main_metric,
            "groups": [g.to_dict() for g in self.groups],
            "disparities": [d.to_dict() for d in self.disparities],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FairnessReport:
        return cls(
            attribute=data["attribute"],
            main_metric=data["main_metric"],
            groups=tuple(GroupMetrics.from_dict(g) for g in data["groups"]),
            disparities=tuple(Disparity.from_dict(d) for d in data["disparities"]),
        )


# -- per resample ---------------------------------------------------------------------------
def _range(values: Array) -> Array:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result: Array = np.nanmax(values, axis=1) - np.nanmin(values, axis=1)
    return result


def _ratio(values: Array) -> Array:
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result: Array = np.nanmin(values, axis=1) / np.nanmax(values, axis=1)
    return result


_DISPARITY: dict[str, Callable[[Array, Array, Array], Array]] = {
    "demographic_parity_difference": lambda sel, tpr, fpr: _range(sel),
    "demographic_parity_ratio": lambda sel, tpr, fpr: _ratio(sel),
    "equalized_odds_difference": lambda sel, tpr, fpr: np.fmax(_range(tpr), _range(fpr)),
    "equal_opportunity_difference": lambda sel, tpr, fpr: _range(tpr),
}


class FairnessStatistic(Statistic):
    """Every disparity of every fairness spec, per resample, from weighted group counts."""

    name = "fairness"

    def __init__(
        self,
        outcomes: Outcomes,
        groups: Mapping[str, tuple[Array, list[str]]],
        specs: Sequence[FairnessSpec],
        kept: Mapping[int, list[int]],
    ) -> None:
        y = np.asarray(outcomes.y, dtype=np.float64)
        pred = np.asarray(outcomes.pred, dtype=np.float64)
        per_row = [np.ones_like(y), pred, y, y * pred, 1 - y, (1 - y) * pred]
        self.specs = list(specs)
        self.kept = kept
        self.offsets: dict[str, tuple[int, int]] = {}
        cols: list[Array] = []
        for attribute, (codes, labels) in groups.items():
            self.offsets[attribute] = (len(cols), len(labels))
            onehot = np.zeros((len(y), len(labels)))
            onehot[np.arange(len(y)), codes] = 1.0
            for column in per_row:
                cols.extend((onehot * column[:, None]).T)
        self._columns = np.column_stack(cols) if cols else None

    def columns(self) -> Array | None:
        return self._columns

    def finish(self, sums: Array, weights: Array) -> dict[str, Array]:
        out: dict[str, Array] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for i, spec in enumerate(self.specs):
                start, k = self.offsets[spec.attribute]
                part = [sums[:, start + j * k : start + (j + 1) * k] for j in range(6)]
                count, predicted, positives, tp, negatives, fp = part
                keep = self.kept[i]
                selection = (predicted / count)[:, keep]
                tpr = (tp / positives)[:, keep]
                fpr = (fp / negatives)[:, keep]
                out[str(i)] = _DISPARITY[spec.metric](selection, tpr, fpr)
        return out


# -- point estimates with fairlearn ---------------------------------------------------------
def _rate(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class _Compressed:
    """Rows grouped by (group, label, prediction) with their counts as sample weights:
    fairlearn's weighted metrics on them equal its metrics on the rows themselves, at a
    cost independent of the number of rows (fairlearn >= 0.15 weighs single-row groups
    right, hence the pinned minimum)."""

    group: Array
    y: Array
    pred: Array
    weight: Array
    code: Array


def _compress(outcomes: Outcomes, codes: Array, labels: list[str]) -> _Compressed:
    key = codes * 4 + np.asarray(outcomes.y, dtype=np.int64) * 2 + outcomes.pred.astype(np.int64)
    counts = np.bincount(key, minlength=len(labels) * 4)
    present = np.flatnonzero(counts)
    return _Compressed(
        group=np.asarray(labels, dtype=object)[present // 4],
        y=(present // 2) % 2,
        pred=present % 2,
        weight=counts[present].astype(np.float64),
        code=present // 4,
    )


def _group_table(
    outcomes: Outcomes, codes: Array, labels: list[str], main_metric: str
) -> list[GroupMetrics]:
    fm = _fairlearn()
    from sklearn.metrics import precision_score

    rows = np.bincount(codes, minlength=len(labels))
    rates: dict[str, Any] = {}
    if outcomes.task == "binary":
        data = _compress(outcomes, codes, labels)
        functions = {
            "selection_rate": fm.selection_rate,
            "true_positive_rate": fm.true_positive_rate,
            "false_positive_rate": fm.false_positive_rate,
            "precision": lambda y, p, sample_weight=None: precision_score(
                y, p, zero_division=0, sample_weight=sample_weight
            ),
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = fm.MetricFrame(
                metrics=functions,
                y_true=data.y,
                y_pred=data.pred,
                sensitive_features=data.group,
                sample_params={name: {"sample_weight": data.weight} for name in functions},
            )
        rates = frame.by_group.to_dict(orient="index")
    out = []
    for code, label in enumerate(labels):
        mask = codes == code
        main = point_metrics(outcomes.subset(mask)).get(main_metric, float("nan"))
        row = rates.get(label, {})
        out.append(
            GroupMetrics(
                group=label,
                rows=int(rows[code]),
                selection_rate=_rate(row["selection_rate"]) if row else None,
                true_positive_rate=_rate(row["true_positive_rate"]) if row else None,
                false_positive_rate=_rate(row["false_positive_rate"]) if row else None,
                precision=_rate(row["precision"]) if row else None,
                main_metric=_rate(main),
            )
        )
    return out


def _fairlearn_disparity(metric: str, data: _Compressed, kept: Sequence[int]) -> float:
    fm = _fairlearn()
    mask = np.isin(data.code, kept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = getattr(fm, metric)(
            data.y[mask],
            data.pred[mask],
            sensitive_features=data.group[mask],
            sample_weight=data.weight[mask],
        )
    return float(value)


def fairness_report(
    outcomes: Outcomes,
    groups: Mapping[str, tuple[Array, list[str]]],
    specs: Sequence[FairnessSpec],
    kept: Mapping[int, list[int]],
    main_metric: str,
    draws: Mapping[str, Array] | None,
    confidence: float,
) -> list[FairnessReport]:
    """Group tables (fairlearn's MetricFrame) and disparities (fairlearn's functions, with
    bootstrap intervals from :class:`FairnessStatistic`) per attribute."""
    reports = []
    for attribute, (codes, labels) in groups.items():
        table = _group_table(outcomes, codes, labels, main_metric)
        disparities = []
        data = _compress(outcomes, codes, labels) if outcomes.task == "binary" else None
        for i, spec in enumerate(specs):
            if spec.attribute != attribute:
                continue
            kept_codes = kept[i]
            value = (
                _fairlearn_disparity(spec.metric, data, kept_codes)
                if data is not None and len(kept_codes) >= 2
                else float("nan")
            )
            disparities.append(
                Disparity(
                    metric=spec.metric,
                    attribute=attribute,
                    estimate=Estimate.of(
                        value, None if draws is None else draws[str(i)], confidence
                    ),
                    threshold=spec.threshold,
                    required=spec.required,
                    min_group_size=spec.min_group_size,
                    groups=tuple(labels[c] for c in kept_codes),
                    excluded=tuple(labels[c] for c in range(len(labels)) if c not in kept_codes),
                )
            )
        reports.append(FairnessReport(attribute, main_metric, tuple(table), tuple(disparities)))
    return reports


def kept_groups(
    groups: Mapping[str, tuple[Array, list[str]]], specs: Sequence[FairnessSpec]
) -> dict[int, list[int]]:
    """Per spec, the codes of the groups large enough to be compared."""
    kept: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        codes, labels = groups[spec.attribute]
        sizes = np.bincount(codes, minlength=len(labels))
        kept[i] = [c for c in range(len(labels)) if sizes[c] >= spec.min_group_size]
    return kept
