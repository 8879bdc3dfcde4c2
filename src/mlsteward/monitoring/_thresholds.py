"""Thresholds and alerts: what the charter sets, the documented defaults for the rest.

Every alarm in monitoring compares a value with ``max(threshold, noise floor)``: the
threshold says how large a change matters; the noise floor is what a window of this size
drawn from the reference itself would exceed with probability ``p_value`` (an analytic
null, or held-out reference rows; never reference chunks compared with the reference they
belong to, which would make the floor too low). So the false-alarm rate on a
window with no change is at most ``p_value`` per check, and large windows are not flagged
for differences too small to matter.

=============================  =====================================  ============
setting                        charter field                          default
=============================  =====================================  ============
drift test                     monitoring.drift.method (+ features)   auto
p-value of tests, false-alarm  monitoring.drift.p_value               0.01
PSI threshold                  monitoring.drift.psi                   0.2
distance threshold             monitoring.drift.distance              0.1
missing-rate change            monitoring.drift.missing_rate_change   0.05
drifting share (gate)          monitoring.drift.max_drift_share       0.3
unseen-category share          (not in the charter)                   0.01
out-of-domain share            (not in the charter)                   0.01
type-error share               (not in the charter)                   0.001
rejected-request share         (not in the charter)                   0.01
domain-classifier AUC          (not in the charter)                   0.6
PCA reconstruction change      (not in the charter)                   0.1 (relative)
performance drop vs reference  (not in the charter)                   0.05
quality, latency, error rate,  success_metrics, constraints.*         (charter gates)
cost per 1,000 predictions
=============================  =====================================  ============

Severity: ``critical`` for a failed required gate of the charter (a success metric,
latency, error rate, cost, the drifting share); ``warning`` for a drifting feature, a
data-quality problem, multivariate drift, training-serving skew, a performance drop or
a failed optional gate; ``info`` for an inconclusive gate (an estimate whose interval
straddles the threshold).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from mlsteward.core import InvalidInput
from mlsteward.monitoring._stats import METHODS

if TYPE_CHECKING:
    from mlsteward.charter import Charter, CharterVersion

__all__ = [
    "ALERT_KINDS",
    "SEVERITIES",
    "Alert",
    "AlertKind",
    "DriftConfig",
    "MonitorThresholds",
    "Severity",
    "severity_rank",
]

Severity = Literal["info", "warning", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = ("info", "warning", "critical")
AlertKind = Literal[
    "drift", "output_drift", "multivariate", "quality", "performance", "operations", "skew", "gate"
]
ALERT_KINDS: Final = (
    "drift",
    "output_drift",
    "multivariate",
    "quality",
    "performance",
    "operations",
    "skew",
    "gate",
)


def severity_rank(severity: str) -> int:
    """info 0 < warning 1 < critical 2."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def _check_method(method: str | None, where: str) -> str | None:
    if method is None or method == "auto" or method in METHODS:
        return method
    raise InvalidInput(
        f"Unknown drift method {method!r} for {where}; expected auto or one of "
        f"{', '.join(METHODS)}."
    )


def _check_share(value: float, name: str, *, upper: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= upper:
        raise InvalidInput(f"{name} must be a number in (0, {upper:g}], got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class DriftConfig:
    """Drift tests and thresholds (see the module docstring for the charter fields).

    ``method`` ``auto`` chooses by type and size: numbers get ``ks`` when either sample
    has at most ``small_sample`` rows and ``wasserstein`` otherwise; categories (and
    numbers with at most ``few_values`` distinct reference values) get ``chi2`` or
    ``jensen_shannon`` the same way. ``features`` maps a feature to ``(method,
    threshold)`` overrides (either may be None).
    """

    method: str = "auto"
    p_value: float = 0.01
    psi: float = 0.2
    distance: float = 0.1
    missing_rate_change: float = 0.05
    unseen_share: float = 0.01
    max_drift_share: float = 0.3
    small_sample: int = 1000
    few_values: int = 20
    numeric_bins: int = 20
    psi_bins: int = 10
    features: Mapping[str, tuple[str | None, float | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_method(self.method, "monitoring.drift.method")
        for name, (method, threshold) in self.features.items():
            _check_method(method, f"feature {name!r}")
            if threshold is not None:
                _check_share(threshold, f"The drift threshold of feature {name!r}", upper=1e9)
        _check_share(self.p_value, "p_value", upper=0.5)
        _check_share(self.missing_rate_change, "missing_rate_change")
        _check_share(self.unseen_share, "unseen_share")
        for name in ("small_sample", "few_values", "numeric_bins", "psi_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise InvalidInput(f"{name} must be a whole number of at least 2, got {value!r}.")

    def method_for(self, feature: str) -> str:
        override = self.features.get(feature, (None, None))[0]
        return override or self.method

    def threshold_for(self, feature: str, method: str) -> float:
        """The alarm level of ``method`` for ``feature``: a p-value for ks and chi2, the
        PSI threshold for psi, the distance threshold otherwise."""
        override = self.features.get(feature, (None, None))[1]
        if override is not None:
            return override
        if method in ("ks", "chi2"):
            return self.p_value
        return self.psi if method == "psi" else self.distance

    @classmethod
    def from_charter(
        cls, charter: Charter | CharterVersion | None, **overrides: Any
    ) -> DriftConfig:
        """The charter's ``monitoring.drift`` settings (defaults without a charter), with
        ``overrides`` (any field of this class) applied on top."""
        config = cls()
        if charter is not None:
            doc: Any = getattr(charter, "charter", charter)
            drift = doc.monitoring.drift
            config = cls(
                method=drift.method,
                p_value=drift.p_value,
                psi=drift.psi,
                distance=drift.distance,
                missing_rate_change=drift.missing_rate_change,
                max_drift_share=drift.max_drift_share,
                features={
                    name: (item.method, item.threshold) for name, item in drift.features.items()
                },
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown drift setting(s) {', '.join(unknown)}; settings: {', '.join(sorted(known))}."
            )
        return replace(config, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class MonitorThresholds:
    """Everything a monitor run alarms on besides the charter's gates (documented
    defaults; see the module docstring)."""

    drift: DriftConfig = DriftConfig()
    out_of_domain_share: float = 0.01
    type_error_share: float = 0.001
    rejected_share: float = 0.01
    domain_auc: float = 0.6
    pca_change: float = 0.1
    performance_drop: float = 0.05
    skew_mismatch_share: float = 0.01

    @property
    def p_value(self) -> float:
        return self.drift.p_value

    @classmethod
    def from_charter(
        cls, charter: Charter | CharterVersion | None, **overrides: Any
    ) -> MonitorThresholds:
        drift_keys = set(DriftConfig.__dataclass_fields__)
        drift = DriftConfig.from_charter(
            charter, **{k: v for k, v in overrides.items() if k in drift_keys}
        )
        own = {k: v for k, v in overrides.items() if k not in drift_keys and v is not None}
        unknown = sorted(set(own) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidInput(
                f"Unknown monitoring threshold(s) {', '.join(unknown)}; thresholds: "
                f"{', '.join(sorted(set(cls.__dataclass_fields__) | drift_keys))}."
            )
        return cls(drift=drift, **own)

    def to_dict(self) -> dict[str, Any]:
        drift = {
            k: getattr(self.drift, k) for k in DriftConfig.__dataclass_fields__ if k != "features"
        }
        drift["features"] = {k: list(v) for k, v in self.drift.features.items()}
        return {
            "drift": drift,
            "out_of_domain_share": self.out_of_domain_share,
            "type_error_share": self.type_error_share,
            "rejected_share": self.rejected_share,
            "domain_auc": self.domain_auc,
            "pca_change": self.pca_change,
            "performance_drop": self.performance_drop,
            "skew_mismatch_share": self.skew_mismatch_share,
        }


@dataclass(frozen=True)
class Alert:
    """One alarm of one window: what (``kind``, ``subject`` = the feature or metric),
    how bad (``severity``), the ``value`` against the ``threshold``, and the
    ``reference`` it was compared with (a value or a description)."""

    severity: Severity
    kind: AlertKind
    subject: str
    metric: str
    value: float | None
    threshold: float | None
    reference: str
    message: str
    window: int = 0
    window_start: datetime | None = None
    window_end: datetime | None = None

    def at(self, window: int, start: datetime | None, end: datetime | None) -> Alert:
        return replace(self, window=window, window_start=start, window_end=end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "kind": self.kind,
            "subject": self.subject,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "reference": self.reference,
            "message": self.message,
            "window": self.window,
            "window_start": None if self.window_start is None else self.window_start.isoformat(),
            "window_end": None if self.window_end is None else self.window_end.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        def when(value: Any) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        return cls(
            severity=data["severity"],
            kind=data["kind"],
            subject=data["subject"],
            metric=data["metric"],
            value=data.get("value"),
            threshold=data.get("threshold"),
            reference=data.get("reference", ""),
            message=data.get("message", ""),
            window=int(data.get("window", 0)),
            window_start=when(data.get("window_start")),
            window_end=when(data.get("window_end")),
        )
