"""Records of monitoring: one window's results, and a monitor run.

A :class:`WindowResult` holds everything computed for one window (live objects); its
:meth:`~WindowResult.to_dict` is what a run stores. A :class:`MonitorRun` is read back
from the store as its stored JSON document plus typed headline fields, so that a run
stored by an older Steward still reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlsteward.core import InvalidInput
from mlsteward.monitoring._drift import DriftReport
from mlsteward.monitoring._estimation import MetricEstimate
from mlsteward.monitoring._fairness import WindowFairness
from mlsteward.monitoring._multivariate import DomainClassifierResult, PCADriftResult
from mlsteward.monitoring._operations import OperationsReport
from mlsteward.monitoring._performance import RealizedPerformance
from mlsteward.monitoring._quality import QualityReport
from mlsteward.monitoring._skew import SkewReport
from mlsteward.monitoring._thresholds import Alert, severity_rank
from mlsteward.monitoring._windows import Window

if TYPE_CHECKING:
    from mlsteward.charter import GateReport

__all__ = ["MonitorRun", "WindowResult", "clean", "clean_dict"]


def clean_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`clean` of a mapping."""
    return {str(k): clean(v) for k, v in value.items()}


def clean(value: Any) -> Any:
    """JSON-safe data: NaN and infinities as None, numpy scalars unwrapped."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes):
        return clean(item())
    return value


@dataclass(frozen=True)
class WindowResult:
    """Everything monitoring measured in one window (see :func:`mlsteward.monitoring.monitor`)."""

    window: Window
    drift: DriftReport | None
    domain: DomainClassifierResult | None
    pca: PCADriftResult | None
    realized: RealizedPerformance
    estimated: Mapping[str, MetricEstimate]
    quality: QualityReport | None
    operations: OperationsReport
    skew: SkewReport | None
    gates: GateReport | None
    alerts: tuple[Alert, ...]
    model_versions: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    fairness: WindowFairness | None = None

    @property
    def rows(self) -> int:
        return self.window.rows

    @property
    def drift_share(self) -> float | None:
        return None if self.drift is None else self.drift.drift_share

    @property
    def drifted_features(self) -> list[str]:
        if self.drift is None:
            return []
        return [f.feature for f in self.drift.drifted if f.role == "input"]

    def headline(self) -> dict[str, Any]:
        """The metrics stored in the window's row (estimated with intervals, realized)."""
        return clean_dict(
            {
                "estimated": {k: [e.value, e.low, e.high] for k, e in self.estimated.items()},
                "realized": dict(self.realized.metrics),
                "coverage": self.realized.coverage,
                "volume": self.operations.volume,
                "error_rate": self.operations.error_rate,
                "latency_p95_ms": self.operations.latency_p95_ms,
                "domain_auc": None if self.domain is None else self.domain.auc,
                "pca_change": None if self.pca is None else self.pca.change,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return clean_dict(
            {
                "window": self.window.to_dict(),
                "label": self.window.label(),
                "model_versions": dict(self.model_versions),
                "drift": None if self.drift is None else self.drift.to_dict(),
                "multivariate": {
                    "domain_classifier": None if self.domain is None else self.domain.to_dict(),
                    "pca": None if self.pca is None else self.pca.to_dict(),
                },
                "performance": {
                    "realized": self.realized.to_dict(),
                    "estimated": {k: e.to_dict() for k, e in self.estimated.items()},
                },
                "quality": None if self.quality is None else self.quality.to_dict(),
                "operations": self.operations.to_dict(),
                "skew": None if self.skew is None else self.skew.to_dict(),
                "fairness": None if self.fairness is None else self.fairness.to_dict(),
                "gates": None if self.gates is None else self.gates.to_dict(),
                "verdict": None if self.gates is None else self.gates.verdict,
                "alerts": [a.to_dict() for a in self.alerts],
                "notes": list(self.notes),
            }
        )


@dataclass(frozen=True)
class MonitorRun:
    """A stored monitor run: headline fields, its alerts and the full results document
    (``document["windows"]``: one :meth:`WindowResult.to_dict` per window)."""

    id: str
    project: str
    endpoint: str
    model: str | None
    window: str
    start: datetime | None
    end: datetime | None
    verdict: str | None
    rows: int
    labelled: int
    alerts: tuple[Alert, ...]
    document: Mapping[str, Any]
    created_at: datetime
    created_by: str
    results: tuple[WindowResult, ...] | None = None

    @property
    def windows(self) -> list[dict[str, Any]]:
        return list(self.document.get("windows", []))

    @property
    def reference(self) -> dict[str, Any]:
        return dict(self.document.get("reference", {}))

    def alerts_at_least(self, severity: str) -> list[Alert]:
        rank = severity_rank(severity)
        if rank < 0:
            raise InvalidInput(
                f"Unknown severity {severity!r}; expected info, warning or critical."
            )
        return [a for a in self.alerts if severity_rank(a.severity) >= rank]

    def alerts_for(self, subject: str) -> list[Alert]:
        """Alerts naming a feature or metric."""
        return [a for a in self.alerts if a.subject == subject]

    def counts(self) -> dict[str, int]:
        out = {"info": 0, "warning": 0, "critical": 0}
        for alert in self.alerts:
            out[alert.severity] += 1
        return out

    def series(self, metric: str) -> list[dict[str, Any]]:
        """Per window: estimated (value, low, high) and realized values of a metric."""
        out = []
        for item in self.windows:
            perf = item["performance"]
            estimate = perf["estimated"].get(metric)
            out.append(
                {
                    "window": item["window"]["index"],
                    "start": item["window"]["start"],
                    "estimated": None if estimate is None else estimate["value"],
                    "low": None if estimate is None else estimate["low"],
                    "high": None if estimate is None else estimate["high"],
                    "realized": perf["realized"]["metrics"].get(metric),
                    "coverage": perf["realized"]["coverage"],
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        return clean_dict(
            {
                "id": self.id,
                "project": self.project,
                "endpoint": self.endpoint,
                "model": self.model,
                "window": self.window,
                "start": self.start,
                "end": self.end,
                "windows": len(self.windows),
                "rows": self.rows,
                "labelled": self.labelled,
                "verdict": self.verdict,
                "alerts": self.counts(),
                "created_at": self.created_at,
                "created_by": self.created_by,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return clean_dict({**self.summary(), "document": dict(self.document)})

    def report(self, path: str | None = None, *, format: str = "html") -> str:
        """The run's report (HTML or JSON); written to ``path`` when given."""
        from mlsteward.monitoring._report import monitor_report

        return monitor_report(self, path, format=format)


def estimates(document: Mapping[str, Any]) -> Sequence[str]:
    """The metrics estimated in any window of a run document."""
    names: list[str] = []
    for item in document.get("windows", []):
        for name in item["performance"]["estimated"]:
            if name not in names:
                names.append(name)
    return names
