"""Quality and collection checks on dataset versions (private package; the public names
are re-exported by :mod:`mlsteward.data`)."""

from mlsteward.data._checks._runner import (
    CHECKS,
    charter_context,
    check_dataset,
    check_reports,
    default_spec,
    latest_check_report,
)
from mlsteward.data._checks._spec import (
    CheckConfig,
    CheckSpec,
    ConstantCheck,
    CoverageCheck,
    DomainCheck,
    DuplicateIdsCheck,
    DuplicateRowsCheck,
    FreshnessCheck,
    LabelBalanceCheck,
    LeakageCheck,
    MissingCheck,
    OutliersCheck,
    PersonalDataCheck,
    RelevanceCheck,
    SchemaCheck,
    load_spec,
)

__all__ = [
    "CHECKS",
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
    "charter_context",
    "check_dataset",
    "check_reports",
    "default_spec",
    "latest_check_report",
    "load_spec",
]
