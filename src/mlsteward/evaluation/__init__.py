"""Evaluation: metrics with confidence intervals, slices, fairness, robustness, business
value, champion vs challenger, reports, and the charter's verdict.

>>> evaluation = evaluate(None, model, test_frame, charter)  # doctest: +SKIP
>>> evaluation.metric("roc_auc").interval  # doctest: +SKIP
(0.871, 0.889)
>>> evaluation.verdict  # doctest: +SKIP
'pass'

Every interval is a percentile bootstrap interval from one vectorised bootstrap (see
:mod:`mlsteward.evaluation._bootstrap`); every verdict comes from the charter's gate engine.
"""

from mlsteward.evaluation._bootstrap import Estimate, Resampler, interval
from mlsteward.evaluation._business import BusinessReport
from mlsteward.evaluation._compare import (
    Comparison,
    McNemar,
    MetricDifference,
    SliceComparison,
    compare,
    mcnemar,
)
from mlsteward.evaluation._evaluate import evaluate
from mlsteward.evaluation._fairness import Disparity, FairnessReport, GroupMetrics
from mlsteward.evaluation._inputs import DataInfo, ModelInfo
from mlsteward.evaluation._metrics import HEADLINE, Outcomes, point_metrics
from mlsteward.evaluation._records import Evaluation, EvaluationSettings
from mlsteward.evaluation._robustness import RobustnessCheck, RobustnessReport
from mlsteward.evaluation._service import (
    Evaluations,
    EvaluationSummary,
    get_comparison,
    get_evaluation,
    list_evaluations,
)
from mlsteward.evaluation._slices import (
    DiscoveredSlice,
    SliceMetrics,
    SliceReport,
    benjamini_hochberg,
)

__all__ = [
    "HEADLINE",
    "BusinessReport",
    "Comparison",
    "DataInfo",
    "DiscoveredSlice",
    "Disparity",
    "Estimate",
    "Evaluation",
    "EvaluationSettings",
    "EvaluationSummary",
    "Evaluations",
    "FairnessReport",
    "GroupMetrics",
    "McNemar",
    "MetricDifference",
    "ModelInfo",
    "Outcomes",
    "Resampler",
    "RobustnessCheck",
    "RobustnessReport",
    "SliceComparison",
    "SliceMetrics",
    "SliceReport",
    "benjamini_hochberg",
    "compare",
    "evaluate",
    "get_comparison",
    "get_evaluation",
    "interval",
    "list_evaluations",
    "mcnemar",
    "point_metrics",
]
