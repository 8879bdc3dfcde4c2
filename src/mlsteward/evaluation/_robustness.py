"""Robustness: how predictions move when inputs are perturbed, and whether the model
survives inputs at and beyond the edges of its domain.

On a seeded sample of rows (``sample_rows``), each check perturbs the inputs, calls the
model, and reports the change of the main metric and the share of predictions that
flipped (classification) or moved by more than a tenth of the target's standard
deviation (regression):

- ``noise_0.1sd``: Gaussian noise of 0.1 x each numeric feature's std, clipped to the
  input domain; passes when at most 5 % of predictions flip;
- ``noise_0.3sd``: the same at 0.3 x std; passes when at most 15 % flip;
- ``missing_values``: 10 % of the values of every feature set missing; passes when the
  model does not crash;
- ``out_of_range``: 20 % of rows get numeric values half a range beyond the domain;
- ``unseen_categories``: 20 % of rows get a category never seen;
- ``edge_cases``: each numeric feature set to its domain minimum, then its maximum (on
  :data:`EDGE_ROWS` of the sampled rows, every case in one model call); passes when the
  model does not crash.

The input domain is the charter's ``scope.input_domain``, else the model's signature,
else the range seen in the data. A model that raises on a check *fails the check*; the
evaluation goes on. A model that refuses invalid input with Steward's ``InvalidInput``
(a registry Predictor validating its signature) has handled it: that passes for missing,
out-of-range and unseen values, and fails for noise and edge cases, which stay inside the
domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mlsteward.charter import METRICS
from mlsteward.core import InvalidInput
from mlsteward.evaluation._inputs import DomainSpec, ResolvedModel
from mlsteward.evaluation._metrics import Array, Outcomes, point_metrics
from mlsteward.evaluation._spec import EvaluationSpec, model_outcomes

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RobustnessCheck", "RobustnessReport", "run_robustness"]

CheckStatus = Literal["pass", "warn", "fail", "skipped"]
Outcome = Literal["predicted", "refused", "crashed", "skipped"]
UNSEEN = "__steward_unseen__"
_NOISE = ((0.1, 0.05), (0.3, 0.15))
_MISSING_SHARE = 0.1
_ROW_SHARE = 0.2
EDGE_ROWS = 1000
"""Rows per edge case (all edge cases go to the model in one call)."""


@dataclass(frozen=True)
class RobustnessCheck:
    """The result of one perturbation: what happened, the metric change, the flips."""

    name: str
    description: str
    status: CheckStatus
    outcome: Outcome
    columns: tuple[str, ...]
    metric: str
    baseline: float | None = None
    perturbed: float | None = None
    flipped: float | None = None
    tolerance: float | None = None
    error: str | None = None
    details: tuple[dict[str, Any], ...] = field(default=())

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.perturbed is None:
            return None
        return self.perturbed - self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "outcome": self.outcome,
            "columns": list(self.columns),
            "metric": self.metric,
            "baseline": self.baseline,
            "perturbed": self.perturbed,
            "change": self.change,
            "flipped": self.flipped,
            "tolerance": self.tolerance,
            "error": self.error,
            "details": list(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RobustnessCheck:
        return cls(
            name=data["name"],
            description=data["description"],
            status=data["status"],
            outcome=data["outcome"],
            columns=tuple(data.get("columns", ())),
            metric=data["metric"],
            baseline=data.get("baseline"),
            perturbed=data.get("perturbed"),
            flipped=data.get("flipped"),
            tolerance=data.get("tolerance"),
            error=data.get("error"),
            details=tuple(data.get("details", ())),
        )


@dataclass(frozen=True)
class RobustnessReport:
    """Every check, on ``rows`` sampled rows."""

    rows: int
    checks: tuple[RobustnessCheck, ...]

    @property
    def failed(self) -> tuple[RobustnessCheck, ...]:
        return tuple(c for c in self.checks if c.status == "fail")

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RobustnessReport:
        return cls(int(data["rows"]), tuple(RobustnessCheck.from_dict(c) for c in data["checks"]))


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return (
        pd.api.types.is_numeric_dtype(series)
        and not pd.api.types.is_bool_dtype(series)
        and not isinstance(series.dtype, pd.CategoricalDtype)
    )


def _bounds(name: str, series: pd.Series, domain: Mapping[str, DomainSpec]) -> tuple[float, float]:
    spec = domain.get(name)
    values = series.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    low = spec.min if spec is not None and spec.min is not None else None
    high = spec.max if spec is not None and spec.max is not None else None
    if low is None:
        low = float(finite.min()) if finite.size else 0.0
    if high is None:
        high = float(finite.max()) if finite.size else 1.0
    return float(low), float(high)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


class _Runner:
    def __init__(
        self,
        model: ResolvedModel,
        spec: EvaluationSpec,
        inputs: pd.DataFrame,
        base: Outcomes,
        rng: np.random.Generator,
    ) -> None:
        self.model = model
        self.spec = spec
        self.inputs = inputs
        self.base = base
        self.rng = rng
        self.metric = spec.main_metric
        self.baseline = _metric(base, self.metric)
        self.scale = float(np.std(base.y)) if base.task == "regression" else 0.0
        self.numeric = [c for c in spec.features if _is_numeric(inputs[c])]
        self.categorical = [c for c in spec.features if c not in self.numeric]

    def predict(self, inputs: pd.DataFrame) -> Outcomes:
        return model_outcomes(self.model, inputs, self.base.y, self.spec, wrap=False)

    def predict_rows(self, inputs: pd.DataFrame, y: Array) -> Outcomes:
        return model_outcomes(self.model, inputs, y, self.spec, wrap=False)

    def flipped(self, outcomes: Outcomes, base: Outcomes | None = None) -> float:
        base = self.base if base is None else base
        if base.task == "regression":
            moved = np.abs(outcomes.pred - base.pred) > 0.1 * max(self.scale, 1e-12)
            return float(moved.mean())
        return float((outcomes.pred != base.pred).mean())

    def check(
        self,
        name: str,
        description: str,
        columns: list[str],
        perturb: Callable[[pd.DataFrame], pd.DataFrame],
        *,
        tolerance: float | None = None,
        refusal_ok: bool,
    ) -> RobustnessCheck:
        common: dict[str, Any] = {"name": name, "description": description, "metric": self.metric}
        if not columns:
            return RobustnessCheck(
                **common,
                status="skipped",
                outcome="skipped",
                columns=(),
                error="no column of this kind",
            )
        try:
            changed = perturb(self.inputs.copy())
            outcomes = self.predict(changed)
        except InvalidInput as exc:
            if exc.__cause__ is not None:  # a crash the predictor wrapped: not a refusal
                return RobustnessCheck(
                    **common,
                    status="fail",
                    outcome="crashed",
                    columns=tuple(columns),
                    baseline=self.baseline,
                    error=_short(exc.__cause__),
                )
            return RobustnessCheck(
                **common,
                status="pass" if refusal_ok else "fail",
                outcome="refused",
                columns=tuple(columns),
                baseline=self.baseline,
                error=_short(exc),
            )
        except Exception as exc:
            return RobustnessCheck(
                **common,
                status="fail",
                outcome="crashed",
                columns=tuple(columns),
                baseline=self.baseline,
                error=_short(exc),
            )
        flipped = self.flipped(outcomes)
        status: CheckStatus = "warn" if tolerance is not None and flipped > tolerance else "pass"
        return RobustnessCheck(
            **common,
            status=status,
            outcome="predicted",
            columns=tuple(columns),
            baseline=self.baseline,
            perturbed=_metric(outcomes, self.metric),
            flipped=flipped,
            tolerance=tolerance,
        )


def _metric(outcomes: Outcomes, metric: str) -> float | None:
    value = point_metrics(outcomes).get(metric)
    return None if value is None or not np.isfinite(value) else float(value)


def _with_unseen(series: pd.Series, mask: Array) -> pd.Series:
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.cat.add_categories([UNSEEN])
    else:
        series = series.astype(object)
    return series.where(~mask, UNSEEN)


def _with_missing(series: pd.Series, mask: Array) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series):
        series = series.astype("float64" if pd.api.types.is_integer_dtype(series) else object)
    series = series.copy()
    series[mask] = None if series.dtype == object else np.nan
    return series


def run_robustness(
    model: ResolvedModel,
    frame: pd.DataFrame,
    outcomes: Outcomes,
    spec: EvaluationSpec,
    *,
    sample_rows: int = 5000,
    seed: int = 0,
) -> RobustnessReport:
    """Every robustness check on a seeded sample of at most ``sample_rows`` rows."""
    rng = np.random.default_rng(seed)
    n = outcomes.n
    rows = np.sort(rng.choice(n, size=min(n, sample_rows), replace=False))
    inputs = frame[spec.features].iloc[rows].reset_index(drop=True)
    runner = _Runner(model, spec, inputs, outcomes.subset(rows), rng)
    size = len(inputs)
    bounds = {c: _bounds(c, frame[c], spec.domain) for c in runner.numeric}
    std = {c: float(np.nanstd(frame[c].to_numpy(dtype=np.float64))) for c in runner.numeric}
    checks: list[RobustnessCheck] = []

    for level, tolerance in _NOISE:

        def noise(data: pd.DataFrame, level: float = level) -> pd.DataFrame:
            for c in runner.numeric:
                low, high = bounds[c]
                values = data[c].to_numpy(dtype=np.float64)
                data[c] = np.clip(values + rng.normal(0, level * std[c], size), low, high)
            return data

        checks.append(
            runner.check(
                f"noise_{level:g}sd",
                f"Gaussian noise of {level:g} x each numeric feature's standard deviation, "
                "clipped to the input domain",
                runner.numeric,
                noise,
                tolerance=tolerance,
                refusal_ok=False,
            )
        )

    def missing(data: pd.DataFrame) -> pd.DataFrame:
        for c in spec.features:
            data[c] = _with_missing(data[c], rng.random(size) < _MISSING_SHARE)
        return data

    checks.append(
        runner.check(
            "missing_values",
            f"{_MISSING_SHARE:.0%} of the values of every feature set missing",
            list(spec.features),
            missing,
            refusal_ok=True,
        )
    )

    def out_of_range(data: pd.DataFrame) -> pd.DataFrame:
        for c in runner.numeric:
            low, high = bounds[c]
            span = max(high - low, 1.0)
            chosen = rng.random(size) < _ROW_SHARE
            above = rng.random(size) < 0.5
            values = data[c].to_numpy(dtype=np.float64).copy()
            values[chosen & above] = high + 0.5 * span
            values[chosen & ~above] = low - 0.5 * span
            data[c] = values
        return data

    checks.append(
        runner.check(
            "out_of_range",
            f"{_ROW_SHARE:.0%} of rows get numeric values half a range beyond the domain",
            runner.numeric,
            out_of_range,
            refusal_ok=True,
        )
    )

    def unseen(data: pd.DataFrame) -> pd.DataFrame:
        for c in runner.categorical:
            data[c] = _with_unseen(data[c], rng.random(size) < _ROW_SHARE)
        return data

    checks.append(
        runner.check(
            "unseen_categories",
            f"{_ROW_SHARE:.0%} of rows get a category never seen in training",
            runner.categorical,
            unseen,
            refusal_ok=True,
        )
    )
    checks.append(_edge_cases(runner, bounds))
    return RobustnessReport(rows=size, checks=tuple(checks))


def _edge_batch(
    runner: _Runner, cases: list[tuple[str, str, float]]
) -> list[dict[str, Any]] | None:
    """Every edge case in one model call on :data:`EDGE_ROWS` rows each (None when the
    call fails: the cases are then tried one by one to see which fail)."""
    import pandas as pd

    rows = min(len(runner.inputs), EDGE_ROWS)
    sample = runner.inputs.iloc[:rows]
    frames = []
    for column, _, value in cases:
        frame = sample.copy()
        frame[column] = np.full(rows, value)
        frames.append(frame)
    base = runner.base.subset(np.arange(rows))
    try:
        outcomes = runner.predict_rows(
            pd.concat(frames, ignore_index=True), np.tile(base.y, len(cases))
        )
    except Exception:
        return None
    details = []
    for i, (column, side, value) in enumerate(cases):
        part = outcomes.subset(np.arange(i * rows, (i + 1) * rows))
        details.append(
            {
                "column": column,
                "edge": side,
                "value": value,
                "outcome": "predicted",
                "flipped": runner.flipped(part, base),
                "perturbed": _metric(part, runner.metric),
                "error": None,
            }
        )
    return details


def _edge_cases(runner: _Runner, bounds: Mapping[str, tuple[float, float]]) -> RobustnessCheck:
    description = "each numeric feature set to its domain minimum, then its maximum"
    cases = [
        (column, side, value)
        for column in runner.numeric
        for side, value in zip(("min", "max"), bounds[column], strict=True)
    ]
    details = _edge_batch(runner, cases) if cases else []
    if details is None:
        details = []
        for column, side, value in cases:

            def at_edge(data: pd.DataFrame, c: str = column, v: float = value) -> pd.DataFrame:
                data[c] = np.full(len(data), v)
                return data

            result = runner.check(f"edge_{side}", "", [column], at_edge, refusal_ok=False)
            details.append(
                {
                    "column": column,
                    "edge": side,
                    "value": value,
                    "outcome": result.outcome,
                    "flipped": result.flipped,
                    "perturbed": result.perturbed,
                    "error": result.error,
                }
            )
    if not details:
        return runner.check("edge_cases", description, [], lambda d: d, refusal_ok=False)
    failures = [d for d in details if d["outcome"] != "predicted"]
    predicted = [d for d in details if d["outcome"] == "predicted"]
    metrics = [d["perturbed"] for d in predicted if d["perturbed"] is not None]
    worst = None
    if metrics:
        worst = min(metrics) if METRICS[runner.metric].higher_is_better else max(metrics)
    error = None
    if failures:
        first = failures[0]
        error = (
            f"{len(failures)} of {len(details)} edge cases failed; first: {first['column']} = "
            f"{first['value']:g}: {first['error']}"
        )
    crashed = any(d["outcome"] == "crashed" for d in failures)
    return RobustnessCheck(
        name="edge_cases",
        description=description,
        status="fail" if failures else "pass",
        outcome="crashed" if crashed else ("refused" if failures else "predicted"),
        columns=tuple(runner.numeric),
        metric=runner.metric,
        baseline=runner.baseline,
        perturbed=worst,
        flipped=max((d["flipped"] for d in predicted), default=None),
        error=error,
        details=tuple(details),
    )
