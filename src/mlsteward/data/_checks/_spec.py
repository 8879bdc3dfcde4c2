"""The declarative check spec: which checks run, with which parameters, blocking or not.

A spec is a YAML or JSON document (or the same as a dict)::

    reference: acs-2015@latest        # optional: ranges, categories, schema, shares
    checks:
      - kind: schema
      - kind: missing
        max_rate: 0.05
      - kind: coverage
        groups: [SEX, RAC1P]
        min_rows: 30
        severity: warning

Every check has ``kind``, an optional ``name`` (defaults to the kind), ``severity``
(``blocking`` fails the run and ``steward data check`` exits 1; ``warning`` is reported
only) and its own parameters; unknown keys are errors. :func:`default_spec` builds the
spec used when none is given.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlsteward.core import InvalidInput, NotFound
from mlsteward.data._types import LOGICAL_TYPES

__all__ = [
    "CheckConfig",
    "CheckSpec",
    "ConstantCheck",
    "CoverageCheck",
    "DomainCheck",
    "DuplicateIdsCheck",
    "DuplicateRowsCheck",
    "FreshnessCheck",
    "LabelBalanceCheck",
    "LeakageCheck",
    "MissingCheck",
    "OutliersCheck",
    "PersonalDataCheck",
    "RelevanceCheck",
    "SchemaCheck",
    "load_spec",
]

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Scalar = str | int | float | bool


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, max_length=100, description="Label; defaults to the kind.")
    severity: Literal["blocking", "warning"] = "warning"

    @property
    def label(self) -> str:
        kind: str = getattr(self, "kind")  # noqa: B009 - every subclass declares it
        return self.name or kind


class _ColumnsCheck(_Check):
    columns: list[str] | None = Field(
        None, description="Columns to check; default: every column it applies to."
    )


class SchemaCheck(_Check):
    """The columns and their logical types equal an expected schema."""

    kind: Literal["schema"] = "schema"
    severity: Literal["blocking", "warning"] = "blocking"
    expected: dict[str, str] | None = Field(
        None, description="column -> logical type; default: the reference version's schema."
    )
    allow_extra: bool = Field(False, description="Columns beyond the expected ones pass.")
    check_types: bool = True

    @field_validator("expected")
    @classmethod
    def _known_types(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for column, kind in (value or {}).items():
            if kind not in LOGICAL_TYPES:
                raise ValueError(
                    f"column {column!r} has type {kind!r}; expected one of "
                    f"{', '.join(LOGICAL_TYPES)}"
                )
        return value


class MissingCheck(_ColumnsCheck):
    """The share of missing values (null or NaN) per column is at most ``max_rate``."""

    kind: Literal["missing"] = "missing"
    max_rate: Share = 0.05
    per_column: dict[str, Share] = Field(default_factory=dict)


class NumericRange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: float | None = None
    max: float | None = None


class DomainCheck(_ColumnsCheck):
    """Numeric values within ranges and categories within allowed sets.

    The domain comes from ``ranges``/``categories`` here, else the charter's
    ``scope.input_domain``, else the reference version (its min/max and categories).
    """

    kind: Literal["domain"] = "domain"
    severity: Literal["blocking", "warning"] = "blocking"
    source: Literal["auto", "spec", "charter", "reference"] = "auto"
    ranges: dict[str, NumericRange] = Field(default_factory=dict)
    categories: dict[str, list[Scalar]] = Field(default_factory=dict)
    max_share: Share = Field(0.0, description="Share of out-of-domain values allowed.")


class DuplicateRowsCheck(_Check):
    """Rows identical to an earlier row are at most ``max_share`` of the rows."""

    kind: Literal["duplicate_rows"] = "duplicate_rows"
    max_share: Share = 0.0
    ignore_id_columns: bool = Field(True, description="Compare rows without their id columns.")


class DuplicateIdsCheck(_Check):
    """Id columns hold each value once (and no nulls)."""

    kind: Literal["duplicate_ids"] = "duplicate_ids"
    severity: Literal["blocking", "warning"] = "blocking"
    columns: list[str] | None = Field(None, description="Default: columns of logical type id.")


class OutliersCheck(_ColumnsCheck):
    """Numeric outliers (robust z-score, or Tukey's IQR fences) are at most ``max_share``."""

    kind: Literal["outliers"] = "outliers"
    method: Literal["robust_z", "iqr"] = "robust_z"
    z: float = Field(3.5, gt=0, description="Robust z-score limit (Iglewicz and Hoaglin).")
    iqr_k: float = Field(1.5, gt=0, description="Fence distance in IQRs.")
    max_share: Share = 0.01


class ConstantCheck(_ColumnsCheck):
    """No column has a single value (or one value in at least ``max_top_share`` of rows)."""

    kind: Literal["constant"] = "constant"
    max_top_share: Share = Field(1.0, description="1.0: only fully constant columns fail.")


class LeakageCheck(_ColumnsCheck):
    """No feature predicts the target almost perfectly on its own."""

    kind: Literal["leakage"] = "leakage"
    severity: Literal["blocking", "warning"] = "blocking"
    target: str | None = Field(None, description="Default: the version's target.")
    max_auc: float = Field(0.98, ge=0.5, le=1.0, description="Classification targets.")
    max_abs_correlation: float = Field(0.98, ge=0.0, le=1.0, description="Numeric targets.")


class LabelBalanceCheck(_Check):
    """Each class of the target has at least ``min_share`` of the labelled rows."""

    kind: Literal["label_balance"] = "label_balance"
    target: str | None = None
    min_share: Share = 0.05


class FreshnessCheck(_Check):
    """The newest timestamp is at most ``max_age_days`` older than ``as_of`` (default now)."""

    kind: Literal["freshness"] = "freshness"
    severity: Literal["blocking", "warning"] = "blocking"
    time_column: str | None = Field(None, description="Default: the version's time column.")
    max_age_days: float = Field(..., gt=0)
    as_of: datetime | None = None


class CoverageCheck(_Check):
    """Each subpopulation (combination of ``groups`` values) has enough rows, and its share
    is near its expected share."""

    kind: Literal["coverage"] = "coverage"
    groups: list[str] = Field(..., min_length=1)
    min_rows: int = Field(30, ge=0)
    values: dict[str, list[Scalar]] = Field(
        default_factory=dict,
        description="Declared values per group column; default: reference's, else observed.",
    )
    expected_shares: dict[str, Share] | None = Field(
        None, description="'v1|v2' -> share; default: the reference's shares when given."
    )
    tolerance: float = Field(0.5, gt=0, description="Allowed relative deviation of a share.")


class RelevanceCheck(_ColumnsCheck):
    """Every feature carries some information about the target (mutual information)."""

    kind: Literal["relevance"] = "relevance"
    target: str | None = None
    min_mutual_info: float = Field(0.001, ge=0, description="Bias-corrected, in nats.")
    bins: int = Field(10, ge=2, le=100, description="Quantile bins for numeric columns.")


class PersonalDataCheck(_ColumnsCheck):
    """Columns that look like personal data (by values and names) are tagged."""

    kind: Literal["personal_data"] = "personal_data"
    sample_rows: int = Field(1000, ge=10, le=1_000_000)
    min_share: Share = Field(0.5, description="Share of sampled values that must match.")
    record_tags: bool = True


CheckConfig = Annotated[
    SchemaCheck
    | MissingCheck
    | DomainCheck
    | DuplicateRowsCheck
    | DuplicateIdsCheck
    | OutliersCheck
    | ConstantCheck
    | LeakageCheck
    | LabelBalanceCheck
    | FreshnessCheck
    | CoverageCheck
    | RelevanceCheck
    | PersonalDataCheck,
    Field(discriminator="kind"),
]


class CheckSpec(BaseModel):
    """A list of checks, and optionally the reference version they compare against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: str | None = Field(None, description="NAME@VERSION of the reference version.")
    checks: list[CheckConfig] = Field(..., min_length=1)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in {
            "schema",
            "missing",
            "domain",
            "duplicate_rows",
            "duplicate_ids",
            "outliers",
            "constant",
            "leakage",
            "label_balance",
            "freshness",
            "coverage",
            "relevance",
            "personal_data",
        } and text.endswith("]"):
            continue  # the discriminator value pydantic adds to the path
        else:
            text += f".{part}" if text else str(part)
    return text or "(spec)"


def spec_from_mapping(document: object, origin: str = "the check spec") -> CheckSpec:
    """Validate a spec document; every error is reported with its path."""
    try:
        return CheckSpec.model_validate(document)
    except ValidationError as exc:
        lines = [f"{_location(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InvalidInput(
            f"{origin} is not a valid check spec ({len(lines)} error(s)): "
            + "; ".join(lines)
            + ". Known kinds: schema, missing, domain, duplicate_rows, duplicate_ids, outliers, "
            "constant, leakage, label_balance, freshness, coverage, relevance, personal_data "
            "(see docs/data.md)."
        ) from exc


def load_spec(source: CheckSpec | dict[str, Any] | str | Path) -> CheckSpec:
    """A spec from a :class:`CheckSpec`, a dict, or a YAML/JSON file path."""
    if isinstance(source, CheckSpec):
        return source
    if isinstance(source, dict):
        return spec_from_mapping(source)
    path = Path(source)
    if not path.is_file():
        raise NotFound(f"The check spec {path} does not exist; expected a YAML or JSON file.")
    text = path.read_text("utf-8")
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(
            f"The check spec {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
            f"{exc}"
        ) from exc
    return spec_from_mapping(document, f"The check spec {path}")
