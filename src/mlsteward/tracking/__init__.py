"""Tracking: experiments, runs, metrics/params/artifacts, autolog, tuning, search.

>>> # with st.start_run("acs-employment", experiment="baseline") as run:
>>> #     run.log_params({"C": 1.0}); run.log_metric("roc_auc", 0.83)
"""

from mlsteward.tracking._api import Experiments, Runs
from mlsteward.tracking._autolog import FRAMEWORKS, AutologWarning, autolog, autolog_enabled
from mlsteward.tracking._compare import (
    RunComparison,
    compare_runs,
    export_metric_history,
    metric_history,
)
from mlsteward.tracking._environment import CodeVersion, Environment, code_version, environment
from mlsteward.tracking._filter import ATTRIBUTES, parse_filter, parse_order_by
from mlsteward.tracking._liveness import parse_duration, reap_runs
from mlsteward.tracking._models import serialize_model
from mlsteward.tracking._optuna_storage import OPTUNA_TABLES, open_optuna_storage
from mlsteward.tracking._records import (
    RUN_STATUSES,
    CandidateModel,
    Experiment,
    MetricPoint,
    ReapedRun,
    ReapResult,
    ReapStatus,
    Run,
    RunArtifact,
    RunInput,
    RunStatus,
)
from mlsteward.tracking._run import ActiveRun, active_run, start_run
from mlsteward.tracking._search import compile_filter, search_runs
from mlsteward.tracking._service import (
    child_runs,
    create_experiment,
    end_run,
    get_experiment,
    get_run,
    list_experiments,
)
from mlsteward.tracking._space import ParamSpec, parse_search_space
from mlsteward.tracking._spec import TuningSpec, load_tuning_spec, run_tuning_spec
from mlsteward.tracking._tuning import Trial, TrialRecord, TuningResult, optuna_study_name, tune

__all__ = [
    "ATTRIBUTES",
    "FRAMEWORKS",
    "OPTUNA_TABLES",
    "RUN_STATUSES",
    "ActiveRun",
    "AutologWarning",
    "CandidateModel",
    "CodeVersion",
    "Environment",
    "Experiment",
    "Experiments",
    "MetricPoint",
    "ParamSpec",
    "ReapResult",
    "ReapStatus",
    "ReapedRun",
    "Run",
    "RunArtifact",
    "RunComparison",
    "RunInput",
    "RunStatus",
    "Runs",
    "Trial",
    "TrialRecord",
    "TuningResult",
    "TuningSpec",
    "active_run",
    "autolog",
    "autolog_enabled",
    "child_runs",
    "code_version",
    "compare_runs",
    "compile_filter",
    "create_experiment",
    "end_run",
    "environment",
    "export_metric_history",
    "get_experiment",
    "get_run",
    "list_experiments",
    "load_tuning_spec",
    "metric_history",
    "open_optuna_storage",
    "optuna_study_name",
    "parse_duration",
    "parse_filter",
    "parse_order_by",
    "parse_search_space",
    "reap_runs",
    "run_tuning_spec",
    "search_runs",
    "serialize_model",
    "start_run",
    "tune",
]
