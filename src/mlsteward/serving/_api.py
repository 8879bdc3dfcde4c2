"""The serving stage in the Python SDK: ``st.deploy``, ``st.endpoints``, ``st.rollouts``,
``st.log_feedback`` and ``st.predict_batch`` (see ``Client``)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mlsteward.core import InvalidInput
from mlsteward.registry import resolve_model
from mlsteward.serving._compaction import KINDS, CompactionReport, Progress
from mlsteward.serving._compaction import compact_log as compact_segments
from mlsteward.serving._endpoints import get_deployment, get_endpoint, list_endpoints
from mlsteward.serving._feedback import (
    FeedbackReceipt,
    LabelSpec,
    join_feedback,
    read_feedback,
    write_feedback,
)
from mlsteward.serving._guardrails import Decision
from mlsteward.serving._predlog import read_predictions
from mlsteward.serving._records import Deployment, Endpoint
from mlsteward.serving._rollout import observe_rollout, promote, rollback
from mlsteward.store import Store

__all__ = ["Endpoints", "RolloutStatus", "Rollouts", "endpoint_label_spec", "log_feedback"]


def endpoint_label_spec(store: Store, endpoint: str) -> LabelSpec:
    """What a label of ``endpoint`` is: the classes of its main live model (or a number)."""
    record = get_endpoint(store, endpoint)
    routes = [r for r in record.routes if r.mode == "live" and r.weight > 0] or list(record.routes)
    if not routes:
        raise InvalidInput(
            f"Endpoint {endpoint!r} routes to no model, so its labels cannot be checked. "
            f"Deploy a model first: steward deploy NAME@VERSION --endpoint {endpoint}"
        )
    main = max(routes, key=lambda r: r.weight)
    version = resolve_model(store, record.project, main.ref)
    classes = version.signature.classes
    if classes is None and version.classes is not None:
        classes = tuple(version.classes)
    return LabelSpec(None if classes is None else tuple(classes), f"model {version.ref}")


def log_feedback(
    store: Store,
    root: Path,
    endpoint: str,
    request_ids: str | Sequence[str],
    labels: Any,
    *,
    source: str = "sdk",
) -> FeedbackReceipt:
    """Attach ``labels`` to ``request_ids`` (one id and one label, or two lists)."""
    if isinstance(request_ids, str):
        ids, values = [request_ids], [labels]
    else:
        ids = list(request_ids)
        if isinstance(labels, str | bytes) or not isinstance(labels, Sequence):
            if hasattr(labels, "tolist"):
                labels = labels.tolist()
            else:
                raise InvalidInput(
                    "With a list of request ids, give a list of labels (one per id)."
                )
        values = list(labels)
    spec = endpoint_label_spec(store, endpoint)
    return write_feedback(root, endpoint, ids, values, spec, source=source)


class Endpoints:
    """Endpoints of one store, and their prediction logs.

    >>> st.endpoints.list()  # doctest: +SKIP
    >>> st.endpoints.predictions("acs", start=datetime(2026, 1, 1))  # doctest: +SKIP
    """

    def __init__(self, store: Store, root: Path) -> None:
        self._store = store
        self.log_root = root

    def list(self, *, project: str | None = None) -> builtins.list[Endpoint]:
        return list_endpoints(self._store, project)

    def get(self, name: str) -> Endpoint:
        return get_endpoint(self._store, name)

    def predictions(
        self,
        name: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        shadow: bool | None = None,
    ) -> pa.Table:
        """The prediction log of ``name`` in [start, end) as an Arrow table."""
        return read_predictions(self.log_root, name, start, end, shadow=shadow)

    def feedback(self, name: str) -> pa.Table:
        """Every label logged for ``name``."""
        return read_feedback(self.log_root, name)

    def joined(
        self,
        name: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        shadow: bool | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """Predictions with their latest label (``label``, ``label_time``), for DuckDB."""
        return join_feedback(self.log_root, name, start, end, shadow=shadow, connection=connection)

    def compact_log(
        self,
        name: str,
        *,
        before: date | str | None = None,
        kinds: Sequence[str] = KINDS,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> CompactionReport:
        """Merge the segments of each past day of ``name``'s log into one (days before
        ``before``, default today UTC; see :func:`~mlsteward.serving.compact_log`).

        No metadata changes, but a run that changed files is recorded in the audit trail
        (``log.compact``, with the report's summary); a dry run or a run with nothing to
        do is not."""
        report = compact_segments(
            self.log_root, name, kinds=kinds, before=before, dry_run=dry_run, progress=progress
        )
        if report.changed:
            with self._store.transaction() as tx:
                tx.audit("log.compact", "endpoint", name, report.summary())
        return report

    def __repr__(self) -> str:
        return f"Endpoints({self._store!r}, log={str(self.log_root)!r})"


@dataclass(frozen=True)
class RolloutStatus:
    """The latest deployment of an endpoint and, while it runs, its guardrails now."""

    deployment: Deployment
    decision: Decision | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment.to_dict(),
            "now": None if self.decision is None else self.decision.to_dict(),
        }


class Rollouts:
    """Rollouts of the store's endpoints: status, promote, rollback."""

    def __init__(self, store: Store, root: Path) -> None:
        self._store = store
        self._root = root

    def get(self, endpoint: str, number: int | None = None) -> Deployment:
        return get_deployment(self._store, endpoint, number)

    def status(self, endpoint: str) -> RolloutStatus:
        deployment, decision = observe_rollout(self._store, endpoint, self._root)
        return RolloutStatus(deployment, decision)

    def promote(self, endpoint: str, *, reason: str | None = None) -> Deployment:
        return promote(self._store, endpoint, reason=reason)

    def rollback(self, endpoint: str, *, reason: str | None = None) -> Deployment:
        return rollback(self._store, endpoint, reason=reason)

    def __repr__(self) -> str:
        return f"Rollouts({self._store!r})"
