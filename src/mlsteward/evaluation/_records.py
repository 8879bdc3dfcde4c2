"""The record of one evaluation: what was evaluated on what, every result, the verdict.

An :class:`Evaluation` is plain data: ``to_dict()`` gives the results document stored as
an artifact and ``Evaluation.from_dict`` reads it back, so a stored evaluation renders
the same report as a fresh one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from mlsteward.charter import GateReport
from mlsteward.core import utcnow
from mlsteward.evaluation._bootstrap import Estimate
from mlsteward.evaluation._business import BusinessReport
from mlsteward.evaluation._fairness import FairnessReport
from mlsteward.evaluation._inputs import DataInfo, ModelInfo
from mlsteward.evaluation._robustness import RobustnessReport
from mlsteward.evaluation._slices import SliceReport

__all__ = ["RESULTS_FORMAT", "Evaluation", "EvaluationSettings", "json_safe"]

RESULTS_FORMAT: Final = "mlsteward.evaluation"


@dataclass(frozen=True)
class EvaluationSettings:
    """How the evaluation was run."""

    n_boot: int
    confidence: float
    seed: int
    fdr: float
    robustness_rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_boot": self.n_boot,
            "confidence": self.confidence,
            "seed": self.seed,
            "fdr": self.fdr,
            "robustness_rows": self.robustness_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationSettings:
        return cls(
            n_boot=int(data["n_boot"]),
            confidence=float(data["confidence"]),
            seed=int(data["seed"]),
            fdr=float(data["fdr"]),
            robustness_rows=int(data["robustness_rows"]),
        )


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a model on data, optionally judged by a charter.

    ``metrics`` are the headline metrics with bootstrap intervals; ``curves`` holds the
    ROC and PR curves, reliability curve, confusion matrix (classification) or residual
    histogram (regression); ``gates`` the gate engine's report (None without a charter).
    ``id`` is set once the evaluation is stored.
    """

    model: ModelInfo
    data: DataInfo
    task: str
    target: str
    main_metric: str
    on: str | None
    settings: EvaluationSettings
    metrics: Mapping[str, Estimate]
    curves: Mapping[str, Any]
    slices: SliceReport
    fairness: tuple[FairnessReport, ...]
    robustness: RobustnessReport | None
    business: BusinessReport | None
    gates: GateReport | None
    classes: tuple[Any, ...] = ()
    positive_class: Any = None
    threshold: float | None = None
    features: tuple[str, ...] = ()
    project: str | None = None
    charter_ref: str | None = None
    charter_version_id: str | None = None
    rows_without_label: int = 0
    notes: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    created_by: str | None = None
    id: str | None = None

    @property
    def verdict(self) -> str | None:
        """pass, fail or inconclusive from the charter's gates; None without a charter."""
        return None if self.gates is None else self.gates.verdict

    @property
    def rows(self) -> int:
        return self.data.rows - self.rows_without_label

    def metric(self, name: str) -> Estimate:
        """One headline metric; KeyError naming the ones measured."""
        try:
            return self.metrics[name]
        except KeyError:
            raise KeyError(
                f"{name!r} was not measured; measured: {', '.join(self.metrics)}"
            ) from None

    def with_id(self, id: str, created_by: str) -> Evaluation:
        return replace(self, id=id, created_by=created_by)

    def summary(self) -> str:
        """One line: model, data, main metric with interval, verdict."""
        main = self.metrics.get(self.main_metric)
        shown = ""
        if main is not None:
            shown = f"{self.main_metric} {main.value:.4f}"
            if main.interval is not None:
                shown += f" [{main.low:.4f}, {main.high:.4f}]"
        verdict = f"; verdict {self.verdict}" if self.verdict else ""
        model = self.model.ref or self.model.name
        data = self.data.ref or self.data.name
        return f"{model} on {data} ({self.rows:,} rows): {shown}{verdict}"

    # -- documents ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULTS_FORMAT,
            "version": 1,
            "id": self.id,
            "project": self.project,
            "model": self.model.to_dict(),
            "data": self.data.to_dict(),
            "charter_ref": self.charter_ref,
            "charter_version_id": self.charter_version_id,
            "task": self.task,
            "target": self.target,
            "classes": [_plain(c) for c in self.classes],
            "positive_class": _plain(self.positive_class),
            "threshold": self.threshold,
            "features": list(self.features),
            "main_metric": self.main_metric,
            "on": self.on,
            "rows_without_label": self.rows_without_label,
            "settings": self.settings.to_dict(),
            "verdict": self.verdict,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "curves": json_safe(self.curves),
            "slices": self.slices.to_dict(),
            "fairness": [f.to_dict() for f in self.fairness],
            "robustness": None if self.robustness is None else self.robustness.to_dict(),
            "business": None if self.business is None else self.business.to_dict(),
            "gates": None if self.gates is None else self.gates.to_dict(),
            "notes": list(self.notes),
            "timings": dict(self.timings),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(json_safe(self.to_dict()), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        robustness = data.get("robustness")
        business = data.get("business")
        gates = data.get("gates")
        return cls(
            id=data.get("id"),
            project=data.get("project"),
            model=ModelInfo.from_dict(data["model"]),
            data=DataInfo.from_dict(data["data"]),
            charter_ref=data.get("charter_ref"),
            charter_version_id=data.get("charter_version_id"),
            task=data["task"],
            target=data["target"],
            classes=tuple(data.get("classes", ())),
            positive_class=data.get("positive_class"),
            threshold=data.get("threshold"),
            features=tuple(data.get("features", ())),
            main_metric=data["main_metric"],
            on=data.get("on"),
            rows_without_label=int(data.get("rows_without_label", 0)),
            settings=EvaluationSettings.from_dict(data["settings"]),
            metrics={k: Estimate.from_dict(v) for k, v in data["metrics"].items()},
            curves=data.get("curves", {}),
            slices=SliceReport.from_dict(data["slices"]),
            fairness=tuple(FairnessReport.from_dict(f) for f in data.get("fairness", ())),
            robustness=None if robustness is None else RobustnessReport.from_dict(robustness),
            business=None if business is None else BusinessReport.from_dict(business),
            gates=None if gates is None else GateReport.from_dict(gates),
            notes=tuple(data.get("notes", ())),
            timings=data.get("timings", {}),
            created_at=datetime.fromisoformat(data["created_at"]),
            created_by=data.get("created_by"),
        )

    def report(self) -> Any:
        """The report (:class:`mlsteward.reports.Report`): HTML with charts, or JSON."""
        from mlsteward.evaluation._report import evaluation_report

        return evaluation_report(self)

    def write_report(self, path: str, *, format: str = "html") -> Any:
        """Write the report (``html`` or ``json``) to ``path``; returns the path."""
        from mlsteward.evaluation._report import write_report

        return write_report(self, path, format=format)


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str):
        return item()
    return value


def json_safe(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    plain = _plain(value)
    if plain is not value:
        return json_safe(plain)
    return value
