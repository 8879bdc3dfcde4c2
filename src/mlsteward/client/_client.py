"""The Python SDK: ``st = mlsteward.connect()``. The CLI uses the same client."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlsteward import tracking
from mlsteward.charter import Charters
from mlsteward.core import AuditEvent, AuditVerification, Config, Project, load_config
from mlsteward.data import Datasets
from mlsteward.evaluation import Evaluation, Evaluations, evaluate
from mlsteward.projects import create_project, get_project, list_projects
from mlsteward.registry import Bundle, DomainMode, Models, Predictor
from mlsteward.store import Store, open_store, query_events, verify_chain
from mlsteward.tracking import ActiveRun, Experiments, Run, Runs, Trial, TuningResult

if TYPE_CHECKING:
    from mlsteward import serving
    from mlsteward.monitoring import DriftReport, Monitoring, MonitorRun

__all__ = ["Client", "connect"]


class Client:
    """Entry point to every lifecycle action against one store.

    Stage APIs hang off it as attributes (``st.charters``, ``st.datasets``, ...); the
    methods here cover projects and the audit trail.
    """

    def __init__(self, store: Store, config: Config | None = None) -> None:
        self.store = store
        self.config = config

    # -- projects ---------------------------------------------------------------------
    def create_project(self, name: str, description: str = "") -> Project:
        """Create a project (names: lowercase letters, digits, '-', '_', '.')."""
        return create_project(self.store, name, description)

    def get_project(self, name: str) -> Project:
        return get_project(self.store, name)

    def list_projects(self) -> list[Project]:
        return list_projects(self.store)

    # -- audit ------------------------------------------------------------------------
    def audit_log(
        self,
        *,
        entity_kind: str | None = None,
        entity_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEvent]:
        """Audit events matching every given filter, oldest first."""
        with self.store.reader() as session:
            return query_events(
                session,
                entity_kind=entity_kind,
                entity_id=entity_id,
                actor=actor,
                action=action,
                since=since,
                until=until,
                limit=limit,
                newest_first=newest_first,
            )

    def verify_audit(self) -> AuditVerification:
        """Recompute the audit hash chain."""
        with self.store.reader() as session:
            return verify_chain(session)

    # -- stage APIs: each lifecycle stage adds its property or methods below -----------
    # (keep each addition small: a property returning the stage's API object)
    @property
    def charters(self) -> Charters:
        """Charters: versioned problem definitions and their gates (``st.charters.apply``)."""
        return Charters(self.store)

    @property
    def datasets(self) -> Datasets:
        """Dataset versions: register, resolve, check, split, lineage (``st.datasets``)."""
        return Datasets(self.store)

    @property
    def runs(self) -> Runs:
        """Runs: get, compare, metric history and export (``st.runs.compare([...])``)."""
        return Runs(self.store)

    @property
    def experiments(self) -> Experiments:
        """Experiments of a project (created on first use by ``start_run``)."""
        return Experiments(self.store)

    def start_run(
        self,
        project: str,
        experiment: str = "default",
        *,
        name: str | None = None,
        parent: ActiveRun | Run | str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ActiveRun:
        """Start a tracked run: ``with st.start_run("acs", experiment="hgb") as run: ...``."""
        return tracking.start_run(
            self.store, project, experiment, name=name, parent=parent, tags=tags
        )

    def search_runs(
        self,
        project: str,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        experiment: str | Sequence[str] | None = None,
        stale: bool | None = None,
    ) -> list[Run]:
        """Runs matching a filter such as ``"metrics.roc_auc > 0.8 and params.depth = '5'"``
        (``stale=True``: only runs whose process seems dead; see ``st.runs.reap``)."""
        return tracking.search_runs(
            self.store,
            project,
            filter,
            order_by=order_by,
            max_results=max_results,
            experiment=experiment,
            stale=stale,
        )

    def tune(
        self,
        project: str,
        objective: Callable[[Trial], float],
        search_space: Mapping[str, Any],
        **options: Any,
    ) -> TuningResult:
        """Tune with Optuna, the study stored in this store (see :func:`tracking.tune`)."""
        return tracking.tune(self.store, project, objective, search_space, **options)

    def autolog(
        self, project: str | None = None, experiment: str = "autolog", **options: Any
    ) -> None:
        """Log every outermost scikit-learn / LightGBM / XGBoost ``fit`` to ``project``;
        ``st.autolog(disable=True)`` turns it off (see :func:`tracking.autolog`)."""
        tracking.autolog(self.store, project, experiment, **options)

    @property
    def models(self) -> Models:
        """The model registry: register, get, list, alias, deprecate, retire, lineage."""
        return Models(self.store)

    def load_model(
        self, ref: str, *, project: str | None = None, domain: DomainMode = "strict"
    ) -> Predictor:
        """A registered model (``NAME@VERSION``, ``NAME@ALIAS``) that validates its inputs."""
        return self.models.load(ref, project=project, domain=domain)

    def package(
        self, ref: str, out_dir: str, *, project: str | None = None, overwrite: bool = False
    ) -> Bundle:
        """Write a self-contained, verifiable bundle of a model version to ``out_dir``."""
        return self.models.package(ref, out_dir, project=project, overwrite=overwrite)

    @property
    def evaluations(self) -> Evaluations:
        """Stored evaluations: get, list, champion vs challenger (``st.evaluations.compare``)."""
        return Evaluations(self.store)

    def evaluate(
        self,
        model: Any,
        dataset: Any,
        charter: Any = None,
        *,
        sensitive_features: Sequence[str] | None = None,
        slices: Any = None,
        project: str | None = None,
        **options: Any,
    ) -> Evaluation:
        """Evaluate a model (``NAME@V``, ``NAME@alias`` or an estimator) on data (a dataset
        reference or a DataFrame), judged by the project's charter, recorded (see
        :func:`mlsteward.evaluation.evaluate`)."""
        return evaluate(
            self.store,
            model,
            dataset,
            charter,
            project=project,
            sensitive_features=sensitive_features,
            slices=slices,
            **options,
        )

    # monitoring (imported on first use)
    @property
    def monitoring(self) -> Monitoring:
        """Monitor runs, alerts and reports of endpoints (``st.monitoring.status("acs")``)."""
        from mlsteward import monitoring, serving

        return monitoring.Monitoring(self.store, serving.log_root(self.store, self.config))

    def monitor(self, endpoint: str, **options: Any) -> MonitorRun:
        """Monitor an endpoint's prediction log window by window against its model's
        reference; store and return the run (see :func:`mlsteward.monitoring.monitor`)."""
        return self.monitoring.run(endpoint, **options)

    def drift(self, reference: Any, current: Any, **options: Any) -> DriftReport:
        """Drift of every column between two datasets, files or dataset versions
        (see :func:`mlsteward.monitoring.drift`)."""
        return self.monitoring.drift(reference, current, **options)

    # serving (imported on first use: the server's web stack is not needed elsewhere)
    @property
    def endpoints(self) -> serving.Endpoints:
        """Endpoints and their prediction logs (``st.endpoints.predictions("acs")``)."""
        from mlsteward import serving

        return serving.Endpoints(self.store, serving.log_root(self.store, self.config))

    @property
    def rollouts(self) -> serving.Rollouts:
        """Rollouts of the endpoints: status, promote, rollback (``st.rollouts.status``)."""
        from mlsteward import serving

        return serving.Rollouts(self.store, serving.log_root(self.store, self.config))

    def deploy(
        self,
        ref: str,
        endpoint: str,
        *,
        strategy: serving.Strategy | None = None,
        override_reason: str | None = None,
        project: str | None = None,
        **options: Any,
    ) -> serving.Deployment:
        """Deploy a model version to an endpoint: direct, canary, blue-green or shadow
        (see :func:`mlsteward.serving.deploy`)."""
        from mlsteward import serving

        return serving.deploy(
            self.store,
            ref,
            endpoint,
            project=project,
            strategy=strategy,
            override_reason=override_reason,
            **options,
        )

    def log_feedback(
        self, endpoint: str, request_ids: str | Sequence[str], labels: Any
    ) -> serving.FeedbackReceipt:
        """Attach ground truth to request ids (one and one, or two lists)."""
        from mlsteward import serving

        root = serving.log_root(self.store, self.config)
        return serving.log_feedback(self.store, root, endpoint, request_ids, labels)

    def predict_batch(
        self, ref: str, input: Any, output: Any, *, log_to: str | None = None, **options: Any
    ) -> serving.BatchResult:
        """Score a Parquet file with a model version (see :func:`serving.predict_batch`)."""
        from mlsteward import serving

        root = serving.log_root(self.store, self.config)
        return serving.predict_batch(
            self.store, ref, input, output, log_to=log_to, log_root=root, **options
        )

    # -- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.store!r})"


def connect(
    uri: str | None = None,
    *,
    artifacts: str | None = None,
    actor: str | None = None,
    **settings: Any,
) -> Client:
    """Connect to a Steward store, creating it on first use.

    ``uri`` is ``sqlite:///PATH`` or ``postgresql://USER@HOST:PORT/DB``; by default
    ``STEWARD_URI``, then ``steward.toml``, then ``sqlite:///.steward/steward.db``.
    """
    config = load_config({"uri": uri, "artifacts": artifacts, "actor": actor, **settings})
    return Client(open_store(config), config)
