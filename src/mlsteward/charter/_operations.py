"""The sections of a charter that set defaults for operations: monitoring and rollout."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlsteward.charter._errors import Located
from mlsteward.charter._types import (
    Duration,
    Positive,
    Problems,
    Section,
    Share,
    Window,
)

__all__ = [
    "DEFAULT_CANARY_STEPS",
    "AlertRoute",
    "DriftMethod",
    "DriftSettings",
    "FeatureDrift",
    "Monitoring",
    "Rollout",
]

DEFAULT_CANARY_STEPS = (5, 25, 50, 100)


# -- monitoring -----------------------------------------------------------------------------
DriftMethod = Literal["auto", "ks", "psi", "jensen_shannon", "wasserstein", "chi2", "hellinger"]


class FeatureDrift(Section):
    method: DriftMethod | None = None
    """The drift test for this feature (default: monitoring.drift.method)."""
    threshold: Positive | None = None
    """The alarm threshold of that test for this feature."""


class DriftSettings(Section):
    method: DriftMethod = "auto"
    """Drift test: auto chooses by type and size (see the monitoring guide)."""
    p_value: Annotated[float, Field(gt=0, lt=1)] = 0.01
    """Statistical tests (ks, chi2) alarm below this p-value."""
    psi: Positive = 0.2
    """PSI alarms above this value."""
    distance: Positive = 0.1
    """Distances (jensen_shannon, hellinger, normalised wasserstein) alarm above this."""
    missing_rate_change: Share = 0.05
    """A change in a feature's missing-value rate above this counts as drift."""
    max_drift_share: Share = 0.3
    """Largest share of drifting features before the window fails its drift gate."""
    features: dict[str, FeatureDrift] = Field(default_factory=dict)
    """Per-feature overrides of the test and its threshold."""


class AlertRoute(Section):
    channel: Literal["log", "email", "webhook", "slack"]
    """Where alerts go."""
    target: str | None = None
    """Address, URL or channel name (not needed for log)."""
    min_severity: Literal["info", "warning", "critical"] = "warning"
    """Only alerts at least this severe are sent."""

    @model_validator(mode="after")
    def _target(self) -> AlertRoute:
        if self.channel != "log" and not self.target:
            raise Located(
                [(("target",), f"a {self.channel} route needs a target (address, URL or channel)")]
            )
        return self


class Monitoring(Section):
    window: Window = "1d"
    """Monitoring window: a duration (1h, 1d, 7d) or a number of predictions."""
    expected_label_delay: Duration | None = None
    """How long ground truth takes to arrive (e.g. 30d); until then performance is estimated."""
    drift: DriftSettings = DriftSettings()
    """Drift tests and thresholds."""
    alert_routes: list[AlertRoute] = Field(default_factory=list)
    """Where alerts are sent."""


# -- rollout --------------------------------------------------------------------------------
class Rollout(Section):
    strategy: Literal["direct", "canary", "blue-green", "shadow"] = "canary"
    """How a new model version takes traffic."""
    steps: list[int] | None = None
    """Canary: traffic percentages, increasing, ending at 100 (default 5, 25, 50, 100)."""
    min_requests_per_step: Annotated[int, Field(ge=1)] = 500
    """Canary: requests each step must see before it may advance."""
    min_duration_per_step: Duration = "10m"
    """Canary: time each step must last before it may advance."""
    auto_rollback: bool = True
    """Roll back automatically when a guardrail breaks."""

    @property
    def effective_steps(self) -> tuple[int, ...]:
        """The canary steps in use (the default when none are given); () otherwise."""
        if self.strategy != "canary":
            return ()
        return DEFAULT_CANARY_STEPS if self.steps is None else tuple(self.steps)

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if steps is None:
            return None
        strategy = info.data.get("strategy")
        if strategy is not None and strategy != "canary":
            raise ValueError(
                f"steps apply to the canary strategy only (strategy is {strategy}); remove them"
            )
        problems: Problems = []
        if not steps:
            problems.append(((), "needs at least one step, ending at 100"))
        for index, step in enumerate(steps):
            if not 1 <= step <= 100:
                problems.append(
                    ((index,), f"a step is a traffic percentage from 1 to 100, got {step}")
                )
            elif index and step <= steps[index - 1]:
                problems.append(
                    ((index,), f"steps must increase: {step} follows {steps[index - 1]}")
                )
        if steps and steps[-1] != 100 and not problems:
            problems.append(
                ((len(steps) - 1,), f"the last step must be 100 (all traffic), got {steps[-1]}")
            )
        if problems:
            raise Located(problems)
        return steps
