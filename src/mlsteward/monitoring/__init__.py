"""Monitoring: drift, realized and estimated performance, skew, data quality and
operations over the prediction log, judged by the charter.

:func:`monitor` runs window by window (:class:`LogReader`, by time or by count) over an
endpoint's log against a stored :class:`Reference` (the model's training data by default)
and stores a :class:`MonitorRun` with every window's results and :class:`Alert` s;
:func:`drift` compares any two datasets. Statistics are computed on mergeable summaries
(counts on the reference's bins), columnar, never row by row. See docs/monitoring.md.
"""

from mlsteward.monitoring._adhoc import drift, read_source, summarise_file
from mlsteward.monitoring._api import Monitoring
from mlsteward.monitoring._drift import DriftReport, FeatureDrift, choose_method, compare_columns
from mlsteward.monitoring._estimation import (
    CLASSIFIER_METRICS,
    REGRESSOR_METRICS,
    ClassifierEstimator,
    MetricEstimate,
    RegressorEstimator,
    binary_metrics,
    regression_metrics,
)
from mlsteward.monitoring._fairness import (
    FAIRNESS_METRICS,
    FairnessLimitSpec,
    GroupRates,
    WindowDisparity,
    WindowFairness,
    window_fairness,
)
from mlsteward.monitoring._history import (
    get_monitor_run,
    list_monitor_runs,
    monitor_alerts,
    monitor_status,
)
from mlsteward.monitoring._multiclass import (
    MULTICLASS_METRICS,
    MulticlassEstimator,
    multiclass_metrics,
)
from mlsteward.monitoring._multivariate import (
    DomainClassifierResult,
    PCADriftResult,
    PCAModel,
    domain_classifier,
)
from mlsteward.monitoring._operations import OperationsReport, operations
from mlsteward.monitoring._performance import RealizedPerformance, realized_performance
from mlsteward.monitoring._quality import Domain, FeatureQuality, QualityReport, check_quality
from mlsteward.monitoring._records import MonitorRun, WindowResult
from mlsteward.monitoring._reference import Reference, build_reference
from mlsteward.monitoring._report import drift_report, monitor_report
from mlsteward.monitoring._service import monitor
from mlsteward.monitoring._skew import (
    FeatureSkew,
    PredictionSkew,
    SkewReport,
    training_serving_skew,
)
from mlsteward.monitoring._stats import (
    DISTANCE_METHODS,
    METHODS,
    TEST_METHODS,
    TestResult,
    chi2_counts,
    chi2_values,
    hellinger,
    jensen_shannon,
    ks_counts,
    ks_values,
    null_distance,
    psi,
    wasserstein_masses,
    wasserstein_values,
)
from mlsteward.monitoring._summary import (
    CategoricalSummary,
    ColumnSummary,
    NumericSummary,
    summarise_like,
    summarise_reference,
)
from mlsteward.monitoring._tables import DataSummary, summarise, summarise_window
from mlsteward.monitoring._thresholds import (
    SEVERITIES,
    Alert,
    DriftConfig,
    MonitorThresholds,
)
from mlsteward.monitoring._windows import LogReader, Window, WindowSpec, parse_window

__all__ = [
    "CLASSIFIER_METRICS",
    "DISTANCE_METHODS",
    "FAIRNESS_METRICS",
    "METHODS",
    "MULTICLASS_METRICS",
    "REGRESSOR_METRICS",
    "SEVERITIES",
    "TEST_METHODS",
    "Alert",
    "CategoricalSummary",
    "ClassifierEstimator",
    "ColumnSummary",
    "DataSummary",
    "Domain",
    "DomainClassifierResult",
    "DriftConfig",
    "DriftReport",
    "FairnessLimitSpec",
    "FeatureDrift",
    "FeatureQuality",
    "FeatureSkew",
    "GroupRates",
    "LogReader",
    "MetricEstimate",
    "MonitorRun",
    "MonitorThresholds",
    "Monitoring",
    "MulticlassEstimator",
    "NumericSummary",
    "OperationsReport",
    "PCADriftResult",
    "PCAModel",
    "PredictionSkew",
    "QualityReport",
    "RealizedPerformance",
    "Reference",
    "RegressorEstimator",
    "SkewReport",
    "TestResult",
    "Window",
    "WindowDisparity",
    "WindowFairness",
    "WindowResult",
    "WindowSpec",
    "binary_metrics",
    "build_reference",
    "check_quality",
    "chi2_counts",
    "chi2_values",
    "choose_method",
    "compare_columns",
    "domain_classifier",
    "drift",
    "drift_report",
    "get_monitor_run",
    "hellinger",
    "jensen_shannon",
    "ks_counts",
    "ks_values",
    "list_monitor_runs",
    "monitor",
    "monitor_alerts",
    "monitor_report",
    "monitor_status",
    "multiclass_metrics",
    "null_distance",
    "operations",
    "parse_window",
    "psi",
    "read_source",
    "realized_performance",
    "regression_metrics",
    "summarise",
    "summarise_file",
    "summarise_like",
    "summarise_reference",
    "summarise_window",
    "training_serving_skew",
    "wasserstein_masses",
    "wasserstein_values",
    "window_fairness",
]
