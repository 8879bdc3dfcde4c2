"""The sections of a charter that bound the model: constraints (with fairness limits) and
scope (with the input domain)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from mlsteward.charter._errors import Located
from mlsteward.charter._metrics import (
    METRICS,
    format_number,
    metric_names,
    unknown_metric_message,
)
from mlsteward.charter._types import (
    Label,
    NonNegative,
    Positive,
    Problems,
    Role,
    Section,
    Share,
    Text,
    unique_problems,
)

__all__ = ["Constraints", "FairnessLimit", "FeatureDomain", "Scope"]


# -- constraints ----------------------------------------------------------------------------
class FairnessLimit(Section):
    metric: Annotated[
        str, WithJsonSchema({"type": "string", "enum": metric_names(kind="fairness")})
    ]
    """A fairness metric: demographic_parity_difference, demographic_parity_ratio,
    equalized_odds_difference or equal_opportunity_difference."""
    sensitive_attributes: Annotated[list[Text], Field(min_length=1)]
    """Columns whose groups are compared, each on its own (e.g. SEX, RAC1P)."""
    max_disparity: Share | None = None
    """Difference metrics: the largest gap allowed between groups (0 to 1)."""
    min_ratio: Share | None = None
    """Ratio metrics: the smallest ratio allowed (0 to 1; 0.8 is the four-fifths rule)."""
    on: Role = "test"
    """The dataset role or slice it is measured on."""
    min_group_size: Annotated[int, Field(ge=1)] = 30
    """Groups with fewer rows are left out of the disparity (and reported)."""
    required: bool = True
    """A required limit that fails blocks; an optional one only warns."""

    @field_validator("metric")
    @classmethod
    def _fairness_metric(cls, name: str) -> str:
        fairness = metric_names(kind="fairness")
        spec = METRICS.get(name)
        if spec is None:
            raise ValueError(unknown_metric_message(name, fairness, "Fairness metrics"))
        if spec.kind != "fairness":
            raise ValueError(
                f"{name} is not a fairness metric; expected one of {', '.join(fairness)}"
            )
        return name

    @field_validator("sensitive_attributes")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        problems = unique_problems(names, "attribute")
        if problems:
            raise Located(problems)
        return names

    @model_validator(mode="after")
    def _bound(self) -> FairnessLimit:
        ratio = METRICS[self.metric].higher_is_better
        problems: Problems = []
        if ratio:
            if self.max_disparity is not None:
                problems.append(
                    (
                        ("max_disparity",),
                        f"{self.metric} is a ratio (higher is fairer); give min_ratio "
                        "(e.g. 0.8) instead of max_disparity",
                    )
                )
            elif self.min_ratio is None:
                problems.append(
                    (
                        ("min_ratio",),
                        f"{self.metric} needs min_ratio, the smallest ratio allowed (e.g. 0.8)",
                    )
                )
        elif self.min_ratio is not None:
            problems.append(
                (
                    ("min_ratio",),
                    f"{self.metric} is a difference (lower is fairer); give max_disparity "
                    "(e.g. 0.1) instead of min_ratio",
                )
            )
        elif self.max_disparity is None:
            problems.append(
                (
                    ("max_disparity",),
                    f"{self.metric} needs max_disparity, the largest gap allowed (e.g. 0.1)",
                )
            )
        if problems:
            raise Located(problems)
        return self

    @property
    def threshold(self) -> float:
        value = self.min_ratio if METRICS[self.metric].higher_is_better else self.max_disparity
        assert value is not None  # guaranteed by _bound
        return value


class Constraints(Section):
    latency_p95_ms: Positive | None = None
    """Largest 95th percentile of prediction latency, in milliseconds."""
    latency_p99_ms: Positive | None = None
    """Largest 99th percentile of prediction latency, in milliseconds."""
    max_error_rate: Share | None = None
    """Largest share of failed prediction requests (0 to 1)."""
    max_cost_per_1k: NonNegative | None = None
    """Largest cost of 1,000 predictions, in business_value.currency."""
    max_model_size_mb: Positive | None = None
    """Largest size of the packaged model, in megabytes."""
    explainability: list[Literal["global", "local"]] = Field(default_factory=list)
    """Explanations required: global (the model as a whole), local (each prediction)."""
    fairness: list[FairnessLimit] = Field(default_factory=list)
    """Limits on disparities between groups."""
    regulatory: list[Text] = Field(default_factory=list)
    """Regulatory tags, e.g. eu-ai-act:high-risk, gdpr."""
    data_use: list[Text] = Field(default_factory=list)
    """Limits on how data may be used (consent, retention, purposes)."""

    @model_validator(mode="after")
    def _consistent(self) -> Constraints:
        problems: Problems = []
        p95, p99 = self.latency_p95_ms, self.latency_p99_ms
        if p95 is not None and p99 is not None and p99 < p95:
            problems.append(
                (
                    ("latency_p99_ms",),
                    f"the p99 budget ({format_number(p99)} ms) is below the p95 budget "
                    f"({format_number(p95)} ms); a 99th percentile is never below the 95th",
                )
            )
        problems.extend(
            (("explainability", *sub), msg)
            for sub, msg in unique_problems(self.explainability, "kind")
        )
        if problems:
            raise Located(problems)
        return self


# -- scope ----------------------------------------------------------------------------------
class FeatureDomain(Section):
    """The values an input feature may take: a range (min/max) or allowed categories."""

    min: float | None = None
    """Smallest valid value of a numeric feature."""
    max: float | None = None
    """Largest valid value of a numeric feature."""
    allowed: Annotated[list[Label], Field(min_length=1)] | None = None
    """The categories of a categorical feature."""
    missing_allowed: bool = False
    """Whether the feature may be missing (null)."""
    description: str | None = None
    """What the feature means."""

    @model_validator(mode="after")
    def _consistent(self) -> FeatureDomain:
        problems: Problems = []
        has_range = self.min is not None or self.max is not None
        if has_range and self.allowed is not None:
            problems.append(((), "give either a range (min/max) or allowed categories, not both"))
        elif not has_range and self.allowed is None:
            problems.append(((), "give a range (min and/or max) or a list of allowed categories"))
        if self.min is not None and self.max is not None and self.min > self.max:
            problems.append(
                (
                    (),
                    f"min ({format_number(self.min)}) is greater than max "
                    f"({format_number(self.max)}); swap them",
                )
            )
        if self.allowed is not None:
            problems.extend(
                (("allowed", *sub), msg) for sub, msg in unique_problems(self.allowed, "category")
            )
        if problems:
            raise Located(problems)
        return self


class Scope(Section):
    intended_use: Text
    """What the model is for, and who uses its predictions."""
    out_of_scope: list[Text] = Field(default_factory=list)
    """Uses the model must not be put to."""
    population: str | None = None
    """Who or what the model is valid for (place, time, group)."""
    input_domain: dict[str, FeatureDomain] = Field(default_factory=dict)
    """Per input feature, its valid range or categories."""
