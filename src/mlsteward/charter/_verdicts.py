"""Records of the gate engine: gates, measurements, verdicts and reports.

They are frozen and turn into plain JSON (``to_dict``) and back (``from_dict``), so that
evaluations, rollouts and monitoring runs can store the verdicts they acted on and cite
them later. The rules that produce them are in ``_gates``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from mlsteward.charter._metrics import Direction, format_number, get_metric
from mlsteward.core import GateFailed, InvalidInput

__all__ = [
    "STAGES",
    "Gate",
    "GateReport",
    "GateStatus",
    "GateVerdict",
    "Measurement",
    "Measurements",
    "OverallVerdict",
    "Stage",
    "gate_key",
    "status_rank",
]

GateStatus = Literal["pass", "fail", "inconclusive", "not_measured"]
OverallVerdict = Literal["pass", "fail", "inconclusive"]
Stage = Literal["evaluation", "rollout", "monitoring"]
STAGES: tuple[Stage, ...] = get_args(Stage)
_KEY = re.compile(
    r"^(?P<metric>[a-z0-9_]+)(?:\[(?P<attribute>[^\]]+)\])?(?:@(?P<on>[^\s@\[\]]+))?$"
)
_ORDER: dict[GateStatus, int] = {"fail": 0, "inconclusive": 1, "pass": 2}


def gate_key(metric: str, on: str | None = None, attribute: str | None = None) -> str:
    """``roc_auc@test``, ``equalized_odds_difference[SEX]@test``, ``latency_p95_ms``."""
    return f"{metric}{f'[{attribute}]' if attribute else ''}{f'@{on}' if on else ''}"


@dataclass(frozen=True)
class Gate:
    """One threshold of a charter, with where it came from and when it is judged."""

    metric: str
    direction: Direction
    threshold: float
    required: bool
    source: str
    on: str | None = None
    attribute: str | None = None
    stages: tuple[Stage, ...] = STAGES

    @property
    def key(self) -> str:
        return gate_key(self.metric, self.on, self.attribute)

    @property
    def operator(self) -> str:
        return ">=" if self.direction == "higher" else "<="

    def describe(self) -> str:
        """``roc_auc >= 0.85 on test``; ``equalized_odds_difference for SEX <= 0.1 on test``."""
        subject = self.metric + (f" for {self.attribute}" if self.attribute else "")
        where = f" on {self.on}" if self.on else ""
        return f"{subject} {self.operator} {format_number(self.threshold)}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "metric": self.metric,
            "direction": self.direction,
            "threshold": self.threshold,
            "required": self.required,
            "source": self.source,
            "on": self.on,
            "attribute": self.attribute,
            "stages": list(self.stages),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Gate:
        return cls(
            metric=data["metric"],
            direction=data["direction"],
            threshold=float(data["threshold"]),
            required=bool(data["required"]),
            source=data["source"],
            on=data.get("on"),
            attribute=data.get("attribute"),
            stages=tuple(data.get("stages", STAGES)),
        )


def _real(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number, got {value!r} ({type(value).__name__}).")
    return float(value)


@dataclass(frozen=True)
class Measurement:
    """A measured value of a metric, optionally with a confidence interval (low, high).

    ``on`` is the dataset role or slice it was measured on and ``attribute`` the sensitive
    attribute of a fairness metric. A measurement without ``on`` stands for every role (a
    monitoring window judging the success metrics, say).
    """

    metric: str
    value: float
    interval: tuple[float, float] | None = None
    on: str | None = None
    attribute: str | None = None
    confidence: float | None = None

    def __post_init__(self) -> None:
        spec = get_metric(self.metric)
        value = _real(self.value, f"The measured value of {self.metric}")
        object.__setattr__(self, "value", value)
        if not math.isnan(value) and not spec.in_range(value):
            raise InvalidInput(f"Measured {spec.range_problem(value)}; check how it was computed.")
        if self.interval is not None:
            if not isinstance(self.interval, tuple | list) or len(self.interval) != 2:
                raise InvalidInput(
                    f"The interval of {self.metric} must be a pair (low, high), got "
                    f"{self.interval!r}."
                )
            low = _real(self.interval[0], f"The interval low of {self.metric}")
            high = _real(self.interval[1], f"The interval high of {self.metric}")
            if math.isnan(low) or math.isnan(high) or low > high:
                raise InvalidInput(
                    f"The interval of {self.metric} must satisfy low <= high, got "
                    f"({format_number(low)}, {format_number(high)}); swap them."
                )
            object.__setattr__(self, "interval", (low, high))
        if self.confidence is not None and not 0 < self.confidence < 1:
            raise InvalidInput(
                f"The confidence level of {self.metric} is a fraction between 0 and 1 "
                f"(e.g. 0.95), got {self.confidence!r}."
            )

    @property
    def key(self) -> str:
        return gate_key(self.metric, self.on, self.attribute)

    @classmethod
    def parse(cls, key: str, measured: Any) -> Measurement:
        """From a gate-style key and a value, ``(value, low, high)`` or a Measurement.

        >>> Measurement.parse("roc_auc@test", (0.87, 0.85, 0.89)).interval
        (0.85, 0.89)
        """
        match = _KEY.match(key)
        if match is None:
            raise InvalidInput(
                f"Measurement key {key!r} is not METRIC, METRIC@ROLE or METRIC[ATTRIBUTE]@ROLE "
                "(e.g. roc_auc@test, latency_p95_ms, equalized_odds_difference[SEX]@test)."
            )
        parts = match.groupdict()
        if isinstance(measured, Measurement):
            if measured.key != key:
                raise InvalidInput(
                    f"Measurement {measured.key!r} is given under the key {key!r}; use its "
                    "own key, or pass a list of Measurement objects."
                )
            return measured
        if isinstance(measured, tuple | list):
            if len(measured) != 3:
                raise InvalidInput(
                    f"Measurement {key!r} must be a number or (value, low, high), got {measured!r}."
                )
            return cls(
                parts["metric"],
                measured[0],
                (measured[1], measured[2]),
                on=parts["on"],
                attribute=parts["attribute"],
            )
        return cls(parts["metric"], measured, on=parts["on"], attribute=parts["attribute"])

    def describe(self) -> str:
        text = format_number(self.value)
        if self.interval is not None:
            level = f"{format_number(self.confidence * 100)}% " if self.confidence else ""
            low, high = self.interval
            text += f" ({level}interval {format_number(low)} to {format_number(high)})"
        return text


Measurements = Mapping[str, Any] | Iterable[Measurement]
"""``{"roc_auc@test": 0.87, "latency_p95_ms": (41.0, 38.0, 45.0)}`` or Measurement objects."""


@dataclass(frozen=True)
class GateVerdict:
    """The verdict of one gate, with the measurement it was judged on."""

    gate: Gate
    status: GateStatus
    value: float | None = None
    interval: tuple[float, float] | None = None
    confidence: float | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate.to_dict(),
            "status": self.status,
            "value": self.value,
            "interval": list(self.interval) if self.interval is not None else None,
            "confidence": self.confidence,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateVerdict:
        interval = data.get("interval")
        return cls(
            gate=Gate.from_dict(data["gate"]),
            status=data["status"],
            value=data.get("value"),
            interval=(float(interval[0]), float(interval[1])) if interval is not None else None,
            confidence=data.get("confidence"),
            reason=data.get("reason", ""),
        )


@dataclass(frozen=True)
class GateReport:
    """Verdicts of a charter's gates on a set of measurements: a record to store and cite.

    The overall rule is in :func:`overall_verdict` (and the module docstring).
    """

    verdict: OverallVerdict
    gates: tuple[GateVerdict, ...]
    project: str | None = None
    charter_version: int | None = None
    content_hash: str | None = None
    stage: Stage | None = None
    unmatched_measurements: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def charter_ref(self) -> str | None:
        if self.project is None or self.charter_version is None:
            return None
        return f"{self.project}@{self.charter_version}"

    @property
    def failures(self) -> tuple[GateVerdict, ...]:
        """Required gates that failed."""
        return tuple(v for v in self.gates if v.gate.required and v.status == "fail")

    @property
    def blocking(self) -> tuple[GateVerdict, ...]:
        """Required gates that did not pass (failed, inconclusive or not measured)."""
        return tuple(v for v in self.gates if v.gate.required and v.status != "pass")

    @property
    def warnings(self) -> tuple[GateVerdict, ...]:
        """Optional gates that failed or were inconclusive."""
        return tuple(
            v for v in self.gates if not v.gate.required and v.status in ("fail", "inconclusive")
        )

    def verdict_of(self, key: str) -> GateVerdict:
        for verdict in self.gates:
            if verdict.gate.key == key:
                return verdict
        raise InvalidInput(
            f"No gate {key!r} in this report; gates: {', '.join(v.gate.key for v in self.gates)}."
        )

    def require_pass(self, what: str = "The model") -> None:
        """Raise :class:`GateFailed` unless the overall verdict is pass."""
        if self.passed:
            return
        cited = f" of charter {self.charter_ref}" if self.charter_ref else ""
        lines = "\n".join(f"  {v.gate.key} ({v.gate.source}): {v.reason}" for v in self.blocking)
        word = "failed" if self.verdict == "fail" else "did not pass (inconclusive)"
        raise GateFailed(
            f"{what} {word} the required gates{cited}:\n{lines}\n",
            hint="Improve the model or measure the missing values; or change the charter "
            "(steward charter apply) if the bar itself is wrong.",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "project": self.project,
            "charter_version": self.charter_version,
            "content_hash": self.content_hash,
            "stage": self.stage,
            "gates": [v.to_dict() for v in self.gates],
            "unmatched_measurements": list(self.unmatched_measurements),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateReport:
        return cls(
            verdict=data["verdict"],
            gates=tuple(GateVerdict.from_dict(g) for g in data["gates"]),
            project=data.get("project"),
            charter_version=data.get("charter_version"),
            content_hash=data.get("content_hash"),
            stage=data.get("stage"),
            unmatched_measurements=tuple(data.get("unmatched_measurements", ())),
        )


def status_rank(status: GateStatus) -> int | None:
    """fail 0 < inconclusive 1 < pass 2 (None for not_measured): the order improvement
    never lowers."""
    return _ORDER.get(status)
