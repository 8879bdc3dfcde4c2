"""Metadata tables and repositories (SQLAlchemy 2). Each aggregate has its own module."""

from mlsteward.store.metadata._audit import AuditEventRow, AuditHeadRow
from mlsteward.store.metadata._base import Base, UTCDateTime
from mlsteward.store.metadata._charters import (
    CharterRepository,
    CharterVersionRow,
    SqlCharterRepository,
    StoredCharterVersion,
)
from mlsteward.store.metadata._datasets import (
    DatasetCheckResultRow,
    DatasetCheckRunRow,
    DatasetComplianceTagRow,
    DatasetLineageRow,
    DatasetRepository,
    DatasetVersionRow,
    SqlDatasetRepository,
)
from mlsteward.store.metadata._experiments import (
    ExperimentRepository,
    ExperimentRow,
    SqlExperimentRepository,
)
from mlsteward.store.metadata._projects import (
    ProjectRepository,
    ProjectRow,
    SqlProjectRepository,
)
from mlsteward.store.metadata._registry import (
    MODEL_STATES,
    ModelAliasRow,
    ModelRepository,
    ModelRouteRow,
    ModelVersionDatasetRow,
    ModelVersionRow,
    RegisteredModelRow,
    SqlModelRepository,
)
from mlsteward.store.metadata._runs import (
    LatestMetricRow,
    MetricPointRow,
    RunArtifactRow,
    RunInputRow,
    RunParamRow,
    RunRepository,
    RunRow,
    RunTagRow,
    SqlRunRepository,
)

__all__ = [
    "MODEL_STATES",
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "CharterRepository",
    "CharterVersionRow",
    "DatasetCheckResultRow",
    "DatasetCheckRunRow",
    "DatasetComplianceTagRow",
    "DatasetLineageRow",
    "DatasetRepository",
    "DatasetVersionRow",
    "ExperimentRepository",
    "ExperimentRow",
    "LatestMetricRow",
    "MetricPointRow",
    "ModelAliasRow",
    "ModelRepository",
    "ModelRouteRow",
    "ModelVersionDatasetRow",
    "ModelVersionRow",
    "ProjectRepository",
    "ProjectRow",
    "RegisteredModelRow",
    "RunArtifactRow",
    "RunInputRow",
    "RunParamRow",
    "RunRepository",
    "RunRow",
    "RunTagRow",
    "SqlCharterRepository",
    "SqlDatasetRepository",
    "SqlExperimentRepository",
    "SqlModelRepository",
    "SqlProjectRepository",
    "SqlRunRepository",
    "StoredCharterVersion",
    "UTCDateTime",
]
