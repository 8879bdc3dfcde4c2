"""Champion vs challenger: both models on the same rows, judged pairwise.

Both evaluations draw the *same* bootstrap resamples (same seed, same rows), so the
difference of a metric on each resample is a paired bootstrap of the difference; its
percentile interval says whether the challenger is better (the interval is entirely on the
metric's good side of 0), worse, or not distinguishable. Accuracy is also compared with
McNemar's test on the rows where exactly one model is right: the exact binomial test
when there are fewer than 25 such rows, the chi-square test with continuity correction
otherwise. Every declared slice gets the same paired comparison of its slice metric:
a win, a loss or a tie for the challenger.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Literal

import numpy as np

from mlsteward.charter import METRICS
from mlsteward.core import InvalidInput, utcnow
from mlsteward.evaluation._bootstrap import Estimate
from mlsteward.evaluation._evaluate import Progress, RunResult, run_evaluation
from mlsteward.evaluation._inputs import CharterInput
from mlsteward.evaluation._metrics import Array
from mlsteward.evaluation._records import Evaluation, json_safe
from mlsteward.evaluation._slices import slice_metric
from mlsteward.evaluation._spec import SliceInput
from mlsteward.store import Store

__all__ = [
    "COMPARISON_FORMAT",
    "Comparison",
    "McNemar",
    "MetricDifference",
    "SliceComparison",
    "compare",
    "compare_runs",
    "mcnemar",
]

COMPARISON_FORMAT: Final = "mlsteward.comparison"
EXACT_BELOW: Final = 25
Better = Literal["challenger", "champion", "tie"]


@dataclass(frozen=True)
class McNemar:
    """McNemar's test of equal accuracy on paired predictions.

    ``champion_only``: rows only the champion gets right (b); ``challenger_only``: rows
    only the challenger gets right (c).
    """

    both_right: int
    champion_only: int
    challenger_only: int
    both_wrong: int
    statistic: float
    p_value: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "both_right": self.both_right,
            "champion_only": self.champion_only,
            "challenger_only": self.challenger_only,
            "both_wrong": self.both_wrong,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> McNemar:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def mcnemar(champion_correct: Array, challenger_correct: Array) -> McNemar:
    """McNemar's test from per-row correctness of two models on the same rows.

    >>> r = mcnemar(np.array([1, 1, 0, 1, 0]), np.array([1, 0, 1, 1, 1]))
    >>> (r.champion_only, r.challenger_only, r.method, round(r.p_value, 3))
    (1, 2, 'exact binomial', 1.0)
    """
    from scipy import stats

    a = np.asarray(champion_correct, dtype=bool)
    b = np.asarray(challenger_correct, dtype=bool)
    if a.shape != b.shape:
        raise InvalidInput(
            f"McNemar's test needs the two models on the same rows; got {a.size} and {b.size}."
        )
    only_a = int((a & ~b).sum())
    only_b = int((~a & b).sum())
    discordant = only_a + only_b
    if discordant == 0:
        statistic, p_value, method = 0.0, 1.0, "no discordant rows"
    elif discordant < EXACT_BELOW:
        statistic = float(min(only_a, only_b))
        p_value = min(1.0, 2.0 * float(stats.binom.cdf(statistic, discordant, 0.5)))
        method = "exact binomial"
    else:
        statistic = (abs(only_a - only_b) - 1.0) ** 2 / discordant
        p_value = float(stats.chi2.sf(statistic, 1))
        method = "chi-square with continuity correction"
    return McNemar(
        both_right=int((a & b).sum()),
        champion_only=only_a,
        challenger_only=only_b,
        both_wrong=int((~a & ~b).sum()),
        statistic=float(statistic),
        p_value=float(p_value),
        method=method,
    )


def _better(metric: str, difference: Estimate) -> Better:
    interval = difference.interval
    if interval is None:
        return "tie"
    higher = METRICS[metric].higher_is_better if metric in METRICS else True
    if interval[0] > 0:
        return "challenger" if higher else "champion"
    if interval[1] < 0:
        return "champion" if higher else "challenger"
    return "tie"


@dataclass(frozen=True)
class MetricDifference:
    """A metric of both models and the paired difference challenger - champion."""

    metric: str
    champion: float
    challenger: float
    difference: Estimate
    better: Better

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "champion": _finite(self.champion),
            "challenger": _finite(self.challenger),
            "difference": self.difference.to_dict(),
            "better": self.better,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricDifference:
        return cls(
            metric=data["metric"],
            champion=_num(data["champion"]),
            challenger=_num(data["challenger"]),
            difference=Estimate.from_dict(data["difference"]),
            better=data["better"],
        )


@dataclass(frozen=True)
class SliceComparison:
    """A declared slice: its slice metric for both models and the paired difference;
    ``outcome`` is the challenger's win, loss or tie."""

    name: str
    rows: int
    metric: str
    champion: float
    challenger: float
    difference: Estimate
    outcome: Literal["win", "loss", "tie"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "metric": self.metric,
            "champion": _finite(self.champion),
            "challenger": _finite(self.challenger),
            "difference": self.difference.to_dict(),
            "outcome": self.outcome,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceComparison:
        return cls(
            name=data["name"],
            rows=int(data["rows"]),
            metric=data["metric"],
            champion=_num(data["champion"]),
            challenger=_num(data["challenger"]),
            difference=Estimate.from_dict(data["difference"]),
            outcome=data["outcome"],
        )


@dataclass(frozen=True)
class Comparison:
    """Champion vs challenger on the same rows, with both full evaluations."""

    champion: Evaluation
    challenger: Evaluation
    main_metric: str
    metrics: tuple[MetricDifference, ...]
    mcnemar: McNemar | None
    slices: tuple[SliceComparison, ...]
    created_at: datetime = field(default_factory=utcnow)
    id: str | None = None

    @property
    def wins(self) -> int:
        return sum(s.outcome == "win" for s in self.slices)

    @property
    def losses(self) -> int:
        return sum(s.outcome == "loss" for s in self.slices)

    @property
    def ties(self) -> int:
        return sum(s.outcome == "tie" for s in self.slices)

    def difference(self, metric: str) -> MetricDifference:
        for item in self.metrics:
            if item.metric == metric:
                return item
        raise KeyError(f"{metric!r} was not compared; compared: {[m.metric for m in self.metrics]}")

    @property
    def better(self) -> Better:
        """Which model is better on the main metric (``tie``: not distinguishable)."""
        return self.difference(self.main_metric).better

    def summary(self) -> str:
        main = self.difference(self.main_metric)
        d = main.difference
        shown = f"{d.value:+.4f}"
        if d.interval is not None:
            shown += f" [{d.low:+.4f}, {d.high:+.4f}]"
        who = {
            "challenger": "challenger better",
            "champion": "champion better",
            "tie": "no clear winner",
        }
        slices = (
            f"; slices: {self.wins} wins, {self.losses} losses, {self.ties} ties"
            if self.slices
            else ""
        )
        return (
            f"{_name(self.challenger)} vs {_name(self.champion)}: {self.main_metric} "
            f"{shown} ({who[main.better]}){slices}"
        )

    def with_id(self, id: str) -> Comparison:
        return replace(self, id=id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": COMPARISON_FORMAT,
            "version": 1,
            "id": self.id,
            "main_metric": self.main_metric,
            "metrics": [m.to_dict() for m in self.metrics],
            "mcnemar": None if self.mcnemar is None else self.mcnemar.to_dict(),
            "slices": [s.to_dict() for s in self.slices],
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "created_at": self.created_at.isoformat(),
            "champion": self.champion.to_dict(),
            "challenger": self.challenger.to_dict(),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(json_safe(self.to_dict()), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        test = data.get("mcnemar")
        return cls(
            champion=Evaluation.from_dict(data["champion"]),
            challenger=Evaluation.from_dict(data["challenger"]),
            main_metric=data["main_metric"],
            metrics=tuple(MetricDifference.from_dict(m) for m in data["metrics"]),
            mcnemar=None if test is None else McNemar.from_dict(test),
            slices=tuple(SliceComparison.from_dict(s) for s in data["slices"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            id=data.get("id"),
        )

    def report(self) -> Any:
        from mlsteward.evaluation._comparison_report import comparison_report

        return comparison_report(self)

    def write_report(self, path: str, *, format: str = "html") -> Any:
        from mlsteward.evaluation._report import write_report

        return write_report(self, path, format=format)


def _name(evaluation: Evaluation) -> str:
    return evaluation.model.ref or evaluation.model.name


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def compare_runs(champion: RunResult, challenger: RunResult) -> Comparison:
    """The paired comparison of two evaluations run on the same rows and resamples."""
    a, b = champion.evaluation, challenger.evaluation
    if champion.outcomes.n != challenger.outcomes.n or a.settings != b.settings:
        raise InvalidInput(
            "Champion and challenger must be evaluated on the same rows with the same "
            f"settings; got {champion.outcomes.n} and {challenger.outcomes.n} rows."
        )
    if not np.array_equal(champion.outcomes.y, challenger.outcomes.y):
        raise InvalidInput(
            "Champion and challenger see different labels on the same rows; they must be "
            "evaluated on the same data with the same target and classes."
        )
    confidence = a.settings.confidence
    differences = []
    for metric, estimate in a.metrics.items():
        if metric not in b.metrics:
            continue
        other = b.metrics[metric]
        draws = None
        if metric in champion.metric_draws and metric in challenger.metric_draws:
            draws = challenger.metric_draws[metric] - champion.metric_draws[metric]
        difference = Estimate.of(other.value - estimate.value, draws, confidence)
        differences.append(
            MetricDifference(
                metric, estimate.value, other.value, difference, _better(metric, difference)
            )
        )
    test = None
    if champion.outcomes.is_classification:
        test = mcnemar(champion.outcomes.correct, challenger.outcomes.correct)
    metric = slice_metric(a.task)
    slices = []
    champion_slices = {s.name: s for s in a.slices.declared}
    for item in b.slices.declared:
        base = champion_slices.get(item.name)
        if base is None:
            continue
        draws = None
        if item.name in champion.slice_draws and item.name in challenger.slice_draws:
            draws = challenger.slice_draws[item.name] - champion.slice_draws[item.name]
        difference = Estimate.of(item.estimate.value - base.estimate.value, draws, confidence)
        better = _better(metric, difference)
        outcome: Literal["win", "loss", "tie"] = (
            "win" if better == "challenger" else "loss" if better == "champion" else "tie"
        )
        slices.append(
            SliceComparison(
                item.name,
                item.rows,
                metric,
                base.estimate.value,
                item.estimate.value,
                difference,
                outcome,
            )
        )
    return Comparison(
        champion=a,
        challenger=b,
        main_metric=a.main_metric,
        metrics=tuple(differences),
        mcnemar=test,
        slices=tuple(slices),
    )


def compare(
    store: Store | None,
    champion: Any,
    challenger: Any,
    dataset: Any,
    charter: CharterInput = None,
    *,
    project: str | None = None,
    sensitive_features: Sequence[str] | None = None,
    slices: SliceInput | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    record: bool = True,
    progress: Progress | None = None,
    **options: Any,
) -> Comparison:
    """Evaluate champion and challenger on the same rows and compare them pairwise.

    Arguments are those of :func:`evaluate`; both models are evaluated in full (with the
    charter's verdict each). With a store and a project both evaluations and the
    comparison are recorded (unless ``record=False``).
    """
    runs = []
    for role, model in (("champion", champion), ("challenger", challenger)):
        step = None if progress is None else (lambda m, r=role: progress(f"{r}: {m}"))
        runs.append(
            run_evaluation(
                store,
                model,
                dataset,
                charter,
                project=project,
                sensitive_features=sensitive_features,
                slices=slices,
                n_boot=n_boot,
                seed=seed,
                progress=step,
                **options,
            )
        )
    comparison = compare_runs(runs[0], runs[1])
    project = comparison.challenger.project or comparison.champion.project
    if record and store is not None and project is not None:
        from mlsteward.evaluation._service import record_comparison

        comparison = record_comparison(store, project, comparison)
    return comparison
