"""Data: dataset versions, logical types, profiles, checks, splits, lineage, preparation.

``register_dataset`` stores immutable, content-addressed versions; ``resolve_dataset``
turns ``NAME@VERSION`` / ``NAME@latest`` into a :class:`DatasetVersion`; ``check_dataset``
runs declarative quality and collection checks; ``split_dataset`` makes child versions
with lineage; ``dataset_impact`` lists everything built on a version (derived versions,
runs, models, endpoints, evaluations, monitoring references); ``build_preprocessor``
(loaded on first use, it needs scikit-learn) is the preparation pipeline stored later
with the model. See docs/data.md.
"""

import typing

from mlsteward.data._api import Datasets
from mlsteward.data._checks import (
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
    check_dataset,
    check_reports,
    default_spec,
    latest_check_report,
    load_spec,
)
from mlsteward.data._column_profile import QUANTILES, ColumnProfile
from mlsteward.data._hashing import HASH_METHOD, hash_table
from mlsteward.data._impact import DEFAULT_LIMIT, MAX_LIMIT, dataset_impact
from mlsteward.data._impact_records import (
    Impact,
    ImpactedDataset,
    ImpactedEndpoint,
    ImpactedEvaluation,
    ImpactedModel,
    ImpactedReference,
    ImpactedRun,
    ImpactNode,
    ImpactSummary,
    InputUse,
)
from mlsteward.data._lineage import Lineage, dataset_lineage, lineage_edges
from mlsteward.data._profile import DatasetProfile, ProfileBuilder, profile_dataset
from mlsteward.data._records import (
    CheckReport,
    CheckResult,
    ColumnSchema,
    ComplianceTag,
    DatasetVersion,
    LineageEdge,
    LineageNode,
)
from mlsteward.data._register import (
    DatasetAlreadyRegistered,
    Registration,
    register,
    register_dataset,
)
from mlsteward.data._report import data_report
from mlsteward.data._split import DEFAULT_FRACTIONS, assign_parts, split_dataset
from mlsteward.data._types import (
    LOGICAL_TYPES,
    LogicalType,
    infer_column_type,
    infer_column_types,
    validate_column_types,
)
from mlsteward.data._versions import (
    MIN_PREFIX,
    compliance_tags,
    dataset_by_id,
    list_datasets,
    load_dataset,
    load_table,
    parse_ref,
    read_profile,
    resolve_dataset,
)

if typing.TYPE_CHECKING:  # loaded lazily at run time, see __getattr__
    from mlsteward.data._prep import (
        CategoricalCleaner,
        DatetimeFeatures,
        build_preprocessor,
        feature_columns,
    )
    from mlsteward.data._render import dataset_report

_LAZY = {
    "CategoricalCleaner": "_prep",
    "DatetimeFeatures": "_prep",
    "build_preprocessor": "_prep",
    "feature_columns": "_prep",
    "dataset_report": "_render",
}

__all__ = [
    "DEFAULT_FRACTIONS",
    "DEFAULT_LIMIT",
    "HASH_METHOD",
    "LOGICAL_TYPES",
    "MAX_LIMIT",
    "MIN_PREFIX",
    "QUANTILES",
    "CategoricalCleaner",
    "CheckReport",
    "CheckResult",
    "CheckSpec",
    "ColumnProfile",
    "ColumnSchema",
    "ComplianceTag",
    "ConstantCheck",
    "CoverageCheck",
    "DatasetAlreadyRegistered",
    "DatasetProfile",
    "DatasetVersion",
    "Datasets",
    "DatetimeFeatures",
    "DomainCheck",
    "DuplicateIdsCheck",
    "DuplicateRowsCheck",
    "FreshnessCheck",
    "Impact",
    "ImpactNode",
    "ImpactSummary",
    "ImpactedDataset",
    "ImpactedEndpoint",
    "ImpactedEvaluation",
    "ImpactedModel",
    "ImpactedReference",
    "ImpactedRun",
    "InputUse",
    "LabelBalanceCheck",
    "LeakageCheck",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "LogicalType",
    "MissingCheck",
    "OutliersCheck",
    "PersonalDataCheck",
    "ProfileBuilder",
    "Registration",
    "RelevanceCheck",
    "SchemaCheck",
    "assign_parts",
    "build_preprocessor",
    "check_dataset",
    "check_reports",
    "compliance_tags",
    "data_report",
    "dataset_by_id",
    "dataset_impact",
    "dataset_lineage",
    "dataset_report",
    "default_spec",
    "feature_columns",
    "hash_table",
    "infer_column_type",
    "infer_column_types",
    "latest_check_report",
    "lineage_edges",
    "list_datasets",
    "load_dataset",
    "load_spec",
    "load_table",
    "parse_ref",
    "profile_dataset",
    "read_profile",
    "register",
    "register_dataset",
    "resolve_dataset",
    "split_dataset",
    "validate_column_types",
]


def __getattr__(name: str) -> object:
    """Preparation (scikit-learn) and the report (charts) load slowly: on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"mlsteward.data.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlsteward.data' has no attribute {name!r}")
