"""Per-column drift: a test chosen by type and size, missing values, unseen categories.

:func:`compare_columns` compares a window's summaries with the reference's, feature by
feature; :func:`drift` does the same for any two datasets (summarising both). A feature
drifts when any of three checks alarms, each against ``max(threshold, noise floor)``:

- its *distribution* (present values) by the chosen test (see :mod:`._stats`);
- its *missing-value rate*: the change exceeds ``missing_rate_change`` and the
  two-proportion z-test is significant at ``p_value`` (peers drop nulls silently);
- *unseen categories*: the share of values never seen in the reference exceeds
  ``unseen_share`` above what the reference itself predicts for new values (its share
  of categories seen once, Good-Turing), significantly at ``p_value``.

Automatic choice (``method="auto"``, as Evidently does at these sizes): numbers get
``ks`` when either sample has at most 1,000 rows, else ``wasserstein`` (normalised by the
reference's standard deviation); categories, and numbers with at most 20 distinct
reference values, get ``chi2`` when either sample has at most 1,000 rows, else
``jensen_shannon``. With a million rows every tiny difference is "significant", so large
samples are judged by distances with thresholds (plus their noise floor).

The drift *score* of a feature is its largest ``value / max(threshold, noise floor)``
over the three checks (for tests: statistic over critical value): 1.0 is the alarm level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as _sps

from mlsteward.core import InvalidInput
from mlsteward.monitoring import _stats
from mlsteward.monitoring._stats import Method, TestResult
from mlsteward.monitoring._summary import (
    CategoricalSummary,
    ColumnKind,
    ColumnSummary,
    NumericSummary,
)
from mlsteward.monitoring._tables import DataSummary
from mlsteward.monitoring._thresholds import DriftConfig

__all__ = [
    "DriftReport",
    "FeatureDrift",
    "choose_method",
    "compare_column",
    "compare_columns",
]

Role = Literal["input", "output"]


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureDrift:
    """The drift of one column between the reference and a window (see the module
    docstring for the three checks and the score)."""

    feature: str
    kind: ColumnKind
    role: Role
    test: TestResult
    reference_rows: int
    current_rows: int
    missing_reference: float
    missing_current: float
    missing_drifted: bool
    missing_score: float
    unseen_share: float
    unseen_values: tuple[tuple[str, int], ...]
    unseen_drifted: bool
    unseen_score: float

    @property
    def drifted(self) -> bool:
        return self.test.drifted or self.missing_drifted or self.unseen_drifted

    @property
    def score(self) -> float:
        return max(self.test.score, self.missing_score, self.unseen_score)

    @property
    def reasons(self) -> tuple[str, ...]:
        reasons = []
        if self.test.drifted:
            reasons.append("distribution")
        if self.missing_drifted:
            reasons.append("missing_rate")
        if self.unseen_drifted:
            reasons.append("unseen_categories")
        return tuple(reasons)

    def describe(self) -> str:
        """One line naming the feature, what changed, the value, threshold and reference."""
        parts = []
        t = self.test
        if t.drifted:
            if t.p_value is not None:
                parts.append(
                    f"{t.method} statistic {t.statistic:.4g}, p-value {t.p_value:.3g} < "
                    f"{t.threshold:g}"
                )
            else:
                bar = max(t.threshold, t.null_distance or 0.0)
                parts.append(f"{t.method} {t.statistic:.4g} > {bar:.4g}")
        if self.missing_drifted:
            parts.append(
                f"missing rate {self.missing_current:.1%} vs {self.missing_reference:.1%} in the "
                "reference"
            )
        if self.unseen_drifted:
            shown = ", ".join(f"{v!r} ({n:,})" for v, n in self.unseen_values[:3])
            parts.append(f"{self.unseen_share:.1%} of values unseen in the reference ({shown})")
        return f"{self.feature}: " + ("; ".join(parts) if parts else "no drift")

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "kind": self.kind,
            "role": self.role,
            "drifted": self.drifted,
            "score": self.score,
            "reasons": list(self.reasons),
            **{k: v for k, v in self.test.to_dict().items() if k != "kind"},
            "test": self.test.method,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "missing_drifted": self.missing_drifted,
            "unseen_share": self.unseen_share,
            "unseen_values": [list(v) for v in self.unseen_values],
            "unseen_drifted": self.unseen_drifted,
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of every compared column; ``drift_share`` counts the input features."""

    features: tuple[FeatureDrift, ...]
    reference_rows: int
    current_rows: int
    config: DriftConfig
    reference: str = "reference"
    current: str = "current"

    @property
    def inputs(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.role == "input")

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted)

    @property
    def drift_share(self) -> float:
        inputs = self.inputs
        return sum(f.drifted for f in inputs) / len(inputs) if inputs else 0.0

    @property
    def dataset_drift(self) -> bool:
        """True when the drifting share of input features exceeds ``max_drift_share``."""
        return self.drift_share > self.config.max_drift_share

    def feature(self, name: str) -> FeatureDrift:
        for item in self.features:
            if item.feature == name:
                return item
        raise InvalidInput(
            f"No drift result for {name!r}; compared: "
            f"{', '.join(f.feature for f in self.features)}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "current": self.current,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "drift_share": self.drift_share,
            "max_drift_share": self.config.max_drift_share,
            "dataset_drift": self.dataset_drift,
            "drifted_features": [f.feature for f in self.drifted if f.role == "input"],
            "features": [f.to_dict() for f in self.features],
        }


# -- the tests on summaries --------------------------------------------------------------
def _categorical_like(summary: ColumnSummary, config: DriftConfig) -> bool:
    return isinstance(summary, CategoricalSummary) or (
        summary.discrete and summary.distinct <= config.few_values
    )


def choose_method(
    reference: ColumnSummary, current_rows: int, config: DriftConfig, feature: str | None = None
) -> Method:
    """The test for a column (see the module docstring for the automatic choice)."""
    name = feature or reference.name
    chosen = config.method_for(name)
    categorical = _categorical_like(reference, config)
    if chosen == "auto":
        small = min(reference.count, current_rows) <= config.small_sample
        if categorical:
            return "chi2" if small else "jensen_shannon"
        return "ks" if small else "wasserstein"
    if chosen in ("ks", "wasserstein") and isinstance(reference, CategoricalSummary):
        raise InvalidInput(
            f"{chosen} needs ordered numbers, but {name!r} is categorical; use chi2, psi, "
            "jensen_shannon or hellinger for it (monitoring.drift.features in the charter)."
        )
    return chosen  # type: ignore[return-value]


def _groups(reference_counts: npt.NDArray[np.int64], bins: int) -> npt.NDArray[np.intp]:
    """Start indices grouping fine bins into about ``bins`` of equal reference mass."""
    total = reference_counts.sum()
    if total == 0 or reference_counts.size <= bins:
        return np.arange(reference_counts.size)
    cumulative = np.cumsum(reference_counts) / total
    ends = np.searchsorted(cumulative, np.arange(1, bins) / bins, side="left")
    starts = np.unique(np.concatenate([[0], ends + 1]))
    return starts[starts < reference_counts.size]


def _binned(
    ref: ColumnSummary, cur: ColumnSummary, method: Method, config: DriftConfig
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    if isinstance(ref, CategoricalSummary) or _categorical_like(ref, config):
        return ref.counts, cur.counts
    starts = _groups(ref.counts, config.psi_bins if method == "psi" else config.numeric_bins)
    return np.add.reduceat(ref.counts, starts), np.add.reduceat(cur.counts, starts)


def _test(
    ref: ColumnSummary,
    cur: ColumnSummary,
    method: Method,
    threshold: float,
    config: DriftConfig,
    bridge: dict[tuple[str, float], float],
) -> TestResult:
    n, m = cur.count, ref.count
    alpha = config.p_value
    if n == 0 or m == 0:
        return TestResult(method, 0.0, None, threshold, False, 0.0)
    if method == "ks":
        d, p = _stats.ks_counts(ref.counts, cur.counts)
        critical = _stats.ks_critical(threshold, m, n)
        return TestResult("ks", d, p, threshold, p < threshold, d / critical if critical else 0.0)
    if method == "wasserstein":
        assert isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary)
        scale = ref.std if ref.std > 0 else 1.0
        w = _stats.wasserstein_masses(ref.bin_means(), ref.counts, cur.bin_means(ref), cur.counts)
        key = (ref.name, alpha)
        if key not in bridge:
            probabilities, values = ref.quantile_function()
            bridge[key] = _stats.bridge_null_constant(probabilities, values, scale, alpha)
        floor = _stats.null_distance(
            "wasserstein", n, m, bins=0, alpha=alpha, bridge_constant=bridge[key]
        )
        return _distance("wasserstein", w / scale, threshold, floor, None)
    ref_counts, cur_counts = _binned(ref, cur, method, config)
    if method == "chi2":
        statistic, p, dof = _stats.chi2_counts(ref_counts, cur_counts)
        critical = float(_sps.chi2.isf(threshold, max(dof, 1)))
        score = statistic / critical if critical else 0.0
        return TestResult("chi2", statistic, p, threshold, p < threshold, score, bins=dof + 1)
    occupied = int(np.count_nonzero((ref_counts + cur_counts) > 0))
    floor = _stats.null_distance(method, n, m, bins=occupied, alpha=alpha)
    value = {
        "psi": _stats.psi,
        "jensen_shannon": _stats.jensen_shannon,
        "hellinger": _stats.hellinger,
    }[method](ref_counts, cur_counts)
    return _distance(method, value, threshold, floor, occupied)


def _distance(
    method: Method, value: float, threshold: float, floor: float, bins: int | None
) -> TestResult:
    bar = max(threshold, floor)
    return TestResult(
        method, value, None, threshold, value > bar, value / bar if bar > 0 else 0.0, floor, bins
    )


def _missing_check(
    ref: ColumnSummary, cur: ColumnSummary, config: DriftConfig
) -> tuple[bool, float]:
    n1, n2 = ref.rows, cur.rows
    if n1 == 0 or n2 == 0:
        return False, 0.0
    p1, p2 = ref.missing / n1, cur.missing / n2
    pooled = (ref.missing + cur.missing) / (n1 + n2)
    z = float(_sps.norm.isf(config.p_value / 2))
    floor = z * math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    bar = max(config.missing_rate_change, floor)
    change = abs(p2 - p1)
    return change > bar, change / bar


def _unseen_check(
    ref: ColumnSummary, cur: ColumnSummary, config: DriftConfig
) -> tuple[bool, float, float]:
    if not isinstance(ref, CategoricalSummary) or not isinstance(cur, CategoricalSummary):
        return False, 0.0, 0.0
    if cur.count == 0:
        return False, 0.0, 0.0
    share = cur.unseen_share
    if ref.count == 0:
        return share > config.unseen_share, share, share / config.unseen_share
    # Good-Turing: the share of reference rows in categories seen once
    expected = float(np.count_nonzero(ref.counts[:-2] == 1)) / ref.count
    floor = (
        float(_sps.binom.isf(config.p_value, cur.count, expected)) / cur.count if expected else 0.0
    )
    bar = max(expected + config.unseen_share, floor)
    return share > bar, share, share / bar


def compare_column(
    reference: ColumnSummary,
    current: ColumnSummary,
    config: DriftConfig,
    *,
    role: Role = "input",
    bridge: dict[tuple[str, float], float] | None = None,
) -> FeatureDrift:
    """The drift of one column (``current`` summarised on ``reference``'s bins)."""
    if reference.kind != current.kind:
        raise InvalidInput(
            f"Column {reference.name!r} is {reference.kind} in the reference but "
            f"{current.kind} in the current data; summarise both the same way."
        )
    method = choose_method(reference, current.count, config)
    threshold = config.threshold_for(reference.name, method)
    test = _test(reference, current, method, threshold, config, {} if bridge is None else bridge)
    missing_drifted, missing_score = _missing_check(reference, current, config)
    unseen_drifted, unseen_share, unseen_score = _unseen_check(reference, current, config)
    return FeatureDrift(
        feature=reference.name,
        kind=reference.kind,
        role=role,
        test=test,
        reference_rows=reference.rows,
        current_rows=current.rows,
        missing_reference=reference.missing_rate,
        missing_current=current.missing_rate,
        missing_drifted=missing_drifted,
        missing_score=missing_score,
        unseen_share=unseen_share,
        unseen_values=current.unseen_values if isinstance(current, CategoricalSummary) else (),
        unseen_drifted=unseen_drifted,
        unseen_score=unseen_score,
    )


def compare_columns(
    reference: DataSummary,
    current: DataSummary,
    config: DriftConfig,
    *,
    outputs: Iterable[str] = (),
    bridge: dict[tuple[str, float], float] | None = None,
    reference_name: str = "reference",
    current_name: str = "current",
) -> DriftReport:
    """Drift of every column of ``current`` (summarised on ``reference``); the columns
    named in ``outputs`` are model outputs (output drift), the rest input features."""
    output_names = set(outputs)
    cache = {} if bridge is None else bridge
    features = tuple(
        compare_column(
            reference[name],
            summary,
            config,
            role="output" if name in output_names else "input",
            bridge=cache,
        )
        for name, summary in current.columns.items()
    )
    return DriftReport(
        features, reference.row_count, current.row_count, config, reference_name, current_name
    )
