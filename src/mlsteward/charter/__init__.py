"""Charter: a project's versioned problem definition, and the gate engine that enforces it.

A charter states the objective, the task, success metrics with thresholds, business value,
constraints (latency, cost, size, explainability, fairness, regulation, data use), scope
and the monitoring and rollout defaults. Its thresholds are gates that evaluation,
rollouts and monitoring judge with one pure function, :func:`evaluate_gates`.
"""

from mlsteward.charter._api import Charters
from mlsteward.charter._diff import diff_charters
from mlsteward.charter._errors import CharterProblem
from mlsteward.charter._gates import charter_gates, evaluate_gates, judge, overall_verdict
from mlsteward.charter._metrics import METRICS, MetricSpec, get_metric, metric_names
from mlsteward.charter._records import ApplyResult, CharterChange, CharterDiff, CharterVersion
from mlsteward.charter._schema import (
    Charter,
    CharterSource,
    charter_json_schema,
    charter_json_schema_text,
    check_charter,
    check_charter_file,
    load_charter,
)
from mlsteward.charter._service import (
    apply_charter,
    diff_charter_versions,
    get_charter,
    list_charters,
)
from mlsteward.charter._template import CHARTER_TEMPLATE
from mlsteward.charter._value import expected_value_per_1k
from mlsteward.charter._verdicts import (
    STAGES,
    Gate,
    GateReport,
    GateStatus,
    GateVerdict,
    Measurement,
    OverallVerdict,
    Stage,
    gate_key,
)

__all__ = [
    "CHARTER_TEMPLATE",
    "METRICS",
    "STAGES",
    "ApplyResult",
    "Charter",
    "CharterChange",
    "CharterDiff",
    "CharterProblem",
    "CharterSource",
    "CharterVersion",
    "Charters",
    "Gate",
    "GateReport",
    "GateStatus",
    "GateVerdict",
    "Measurement",
    "MetricSpec",
    "OverallVerdict",
    "Stage",
    "apply_charter",
    "charter_gates",
    "charter_json_schema",
    "charter_json_schema_text",
    "check_charter",
    "check_charter_file",
    "diff_charter_versions",
    "diff_charters",
    "evaluate_gates",
    "expected_value_per_1k",
    "gate_key",
    "get_charter",
    "get_metric",
    "judge",
    "list_charters",
    "load_charter",
    "metric_names",
    "overall_verdict",
]
