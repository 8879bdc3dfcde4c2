"""Serving: endpoints, deployments, the model server, the prediction log, feedback and
rollouts (canary, blue-green, shadow) with automatic rollback.

``deploy`` records that a model version takes traffic on an endpoint (checking its
latest evaluation) and sets the endpoint's routes with the registry; ``steward serve``
runs the data plane (:func:`serve`), which answers predictions without the control plane,
logs every answer to Parquet segments (:class:`PredictionLog`), takes feedback, and moves
rollouts along their guardrails (:class:`RolloutController`); :func:`compact_log` merges
the segments of past days.
"""

from mlsteward.serving._api import (
    Endpoints,
    Rollouts,
    RolloutStatus,
    endpoint_label_spec,
    log_feedback,
)
from mlsteward.serving._batch import BatchResult, predict_batch
from mlsteward.serving._compaction import CompactionReport, DayCompaction, compact_log
from mlsteward.serving._endpoints import (
    deploy,
    get_deployment,
    get_endpoint,
    list_endpoints,
    parse_duration,
    resolve_guardrails,
)
from mlsteward.serving._feedback import (
    FeedbackReceipt,
    LabelSpec,
    join_feedback,
    parse_feedback,
    read_feedback,
    write_feedback,
)
from mlsteward.serving._gatecheck import EvaluationStatus, check_evaluation, latest_evaluation
from mlsteward.serving._guardrails import (
    Check,
    Decision,
    judge_rollout,
    population_stability_index,
)
from mlsteward.serving._models import Outputs, ServedModel
from mlsteward.serving._predlog import (
    LOG_SCHEMA_VERSION,
    LogItem,
    PredictionLog,
    predictions_relation,
    read_predictions,
)
from mlsteward.serving._records import (
    STRATEGIES,
    Deployment,
    DeploymentState,
    Endpoint,
    Guardrails,
    RolloutEvent,
    Strategy,
)
from mlsteward.serving._rollout import (
    MemoryObservations,
    RolloutController,
    observe_rollout,
    promote,
    rollback,
    transition,
)
from mlsteward.serving._router import FixedRouter, Router, WeightedRouter
from mlsteward.serving._run import build_runtime, serve
from mlsteward.serving._runtime import (
    BundleLoader,
    EndpointState,
    ModelLoader,
    RouteInfo,
    ServeOptions,
    ServingRuntime,
    StoreLoader,
)
from mlsteward.serving._segments import log_root, relist_on_vanished, segment_files
from mlsteward.serving._server import ModelServerApp, create_app
from mlsteward.serving._validation import RowValidator

__all__ = [
    "LOG_SCHEMA_VERSION",
    "STRATEGIES",
    "BatchResult",
    "BundleLoader",
    "Check",
    "CompactionReport",
    "DayCompaction",
    "Decision",
    "Deployment",
    "DeploymentState",
    "Endpoint",
    "EndpointState",
    "Endpoints",
    "EvaluationStatus",
    "FeedbackReceipt",
    "FixedRouter",
    "Guardrails",
    "LabelSpec",
    "LogItem",
    "MemoryObservations",
    "ModelLoader",
    "ModelServerApp",
    "Outputs",
    "PredictionLog",
    "RolloutController",
    "RolloutEvent",
    "RolloutStatus",
    "Rollouts",
    "RouteInfo",
    "Router",
    "RowValidator",
    "ServeOptions",
    "ServedModel",
    "ServingRuntime",
    "StoreLoader",
    "Strategy",
    "WeightedRouter",
    "build_runtime",
    "check_evaluation",
    "compact_log",
    "create_app",
    "deploy",
    "endpoint_label_spec",
    "get_deployment",
    "get_endpoint",
    "join_feedback",
    "judge_rollout",
    "latest_evaluation",
    "list_endpoints",
    "log_feedback",
    "log_root",
    "observe_rollout",
    "parse_duration",
    "parse_feedback",
    "population_stability_index",
    "predict_batch",
    "predictions_relation",
    "promote",
    "read_feedback",
    "read_predictions",
    "relist_on_vanished",
    "resolve_guardrails",
    "rollback",
    "segment_files",
    "serve",
    "transition",
    "write_feedback",
]
