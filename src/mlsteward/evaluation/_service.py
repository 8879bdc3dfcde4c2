"""Stored evaluations: record (audited), get, list; and ``st.evaluations``.

Recording writes the results document as an immutable artifact (addressed by its
SHA-256), then in one transaction the evaluation row, its metric rows and the audit event
``evaluation.record`` (``evaluation.compare`` for comparisons). Links to the model,
dataset and charter versions are foreign keys when those versions are in this store and
plain references otherwise (a model object that came from elsewhere).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mlsteward.core import InvalidInput, NotFound, new_id
from mlsteward.evaluation._compare import Comparison, compare
from mlsteward.evaluation._evaluate import Progress, evaluate
from mlsteward.evaluation._inputs import CharterInput
from mlsteward.evaluation._records import Evaluation
from mlsteward.evaluation._spec import SliceInput
from mlsteward.store import Store
from mlsteward.store.metadata import (
    CharterVersionRow,
    DatasetVersionRow,
    EvaluationRow,
    ModelVersionRow,
    ProjectRow,
    SqlEvaluationRepository,
    SqlProjectRepository,
    StoredMetric,
)

__all__ = [
    "EvaluationSummary",
    "Evaluations",
    "get_comparison",
    "get_evaluation",
    "list_evaluations",
    "record_comparison",
    "record_evaluation",
]

_HEX = re.compile(r"^[0-9a-f]{8,32}$")


@dataclass(frozen=True)
class EvaluationSummary:
    """A stored evaluation or comparison as listed (the full results are an artifact)."""

    id: str
    project: str
    kind: str
    model: str
    model_version_id: str | None
    baseline: str | None
    dataset: str
    dataset_version_id: str | None
    charter_ref: str | None
    task: str
    on: str | None
    rows: int
    main_metric: str
    main_value: float | None
    verdict: str | None
    results_digest: str
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "kind": self.kind,
            "model": self.model,
            "model_version_id": self.model_version_id,
            "baseline": self.baseline,
            "dataset": self.dataset,
            "dataset_version_id": self.dataset_version_id,
            "charter_ref": self.charter_ref,
            "task": self.task,
            "on": self.on,
            "rows": self.rows,
            "main_metric": self.main_metric,
            "main_value": self.main_value,
            "verdict": self.verdict,
            "results_digest": self.results_digest,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }

    @classmethod
    def from_row(cls, row: EvaluationRow, project: str) -> EvaluationSummary:
        return cls(
            id=row.id,
            project=project,
            kind=row.kind,
            model=row.model_ref or row.model_name,
            model_version_id=row.model_version_id,
            baseline=row.baseline_ref,
            dataset=row.dataset_ref or row.dataset_name,
            dataset_version_id=row.dataset_version_id,
            charter_ref=row.charter_ref,
            task=row.task,
            on=row.on_role,
            rows=row.row_count,
            main_metric=row.main_metric,
            main_value=row.main_value,
            verdict=row.verdict,
            results_digest=row.results_digest,
            created_at=row.created_at,
            created_by=row.created_by,
        )


def _existing(session: Session, table: type[Any], key: str | None) -> str | None:
    """``key`` when that row exists in this store (for a foreign key), else None."""
    if key is None:
        return None
    return key if session.get(table, key) is not None else None


def _metrics(evaluation: Evaluation) -> list[StoredMetric]:
    out = [
        StoredMetric(name, "", _f(e.value), e.low, e.high) for name, e in evaluation.metrics.items()
    ]
    for report in evaluation.fairness:
        for d in report.disparities:
            e = d.estimate
            out.append(StoredMetric(d.metric, d.attribute, _f(e.value), e.low, e.high))
    if evaluation.business is not None:
        e = evaluation.business.per_1k
        out.append(StoredMetric("expected_value_per_1k", "", _f(e.value), e.low, e.high))
    return out


def _f(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


def _row(
    session: Session,
    project_id: str,
    evaluation: Evaluation,
    *,
    id: str,
    kind: str,
    digest: str,
    size: int,
    created_by: str,
    baseline: Evaluation | None = None,
) -> EvaluationRow:
    main = evaluation.metrics.get(evaluation.main_metric)
    summary = {name: e.to_dict() for name, e in evaluation.metrics.items()}
    return EvaluationRow(
        id=id,
        project_id=project_id,
        kind=kind,
        model_name=evaluation.model.name[:200],
        model_kind=evaluation.model.kind[:300],
        model_ref=evaluation.model.ref,
        model_version_id=_existing(session, ModelVersionRow, evaluation.model.id),
        baseline_ref=None if baseline is None else (baseline.model.ref or baseline.model.name),
        baseline_version_id=None
        if baseline is None
        else _existing(session, ModelVersionRow, baseline.model.id),
        dataset_name=evaluation.data.name[:200],
        dataset_ref=evaluation.data.ref,
        dataset_version_id=_existing(session, DatasetVersionRow, evaluation.data.id),
        charter_version_id=_existing(session, CharterVersionRow, evaluation.charter_version_id),
        charter_ref=evaluation.charter_ref,
        task=evaluation.task,
        on_role=evaluation.on,
        row_count=evaluation.rows,
        main_metric=evaluation.main_metric,
        main_value=None if main is None else _f(main.value),
        verdict=evaluation.verdict,
        gates_json=None if evaluation.gates is None else json.dumps(evaluation.gates.to_dict()),
        summary_json=json.dumps(summary, allow_nan=False),
        results_digest=digest,
        results_size=size,
        created_at=evaluation.created_at,
        created_by=created_by,
    )


def record_evaluation(store: Store, project: str, evaluation: Evaluation) -> Evaluation:
    """Store an evaluation (results artifact, row, metrics, audit event); returns it with
    its id."""
    evaluation = replace(evaluation, id=new_id(), project=project, created_by=store.actor)
    with store.reader() as session:
        SqlProjectRepository(session).get(project)  # NotFound naming the project
    document = evaluation.to_json(indent=None).encode("utf-8")
    digest = store.artifacts.put(document)
    assert evaluation.id is not None
    with store.transaction() as tx:
        owner = tx.projects.get(project)
        row = _row(
            tx.session,
            owner.id,
            evaluation,
            id=evaluation.id,
            kind="evaluation",
            digest=digest,
            size=len(document),
            created_by=store.actor,
        )
        SqlEvaluationRepository(tx.session).add(row, _metrics(evaluation))
        tx.audit(
            "evaluation.record",
            "evaluation",
            evaluation.id,
            {
                "project": project,
                "model": evaluation.model.ref or evaluation.model.name,
                "dataset": evaluation.data.ref or evaluation.data.name,
                "charter": evaluation.charter_ref,
                "verdict": evaluation.verdict,
                "results_digest": digest,
            },
        )
    return evaluation


def record_comparison(store: Store, project: str, comparison: Comparison) -> Comparison:
    """Store both evaluations and the comparison (challenger vs champion), audited."""
    champion = record_evaluation(store, project, comparison.champion)
    challenger = record_evaluation(store, project, comparison.challenger)
    comparison = replace(comparison, champion=champion, challenger=challenger, id=new_id())
    document = comparison.to_json(indent=None).encode("utf-8")
    digest = store.artifacts.put(document)
    assert comparison.id is not None
    with store.transaction() as tx:
        owner = tx.projects.get(project)
        row = _row(
            tx.session,
            owner.id,
            challenger,
            id=comparison.id,
            kind="comparison",
            digest=digest,
            size=len(document),
            created_by=store.actor,
            baseline=champion,
        )
        row.created_at = comparison.created_at
        SqlEvaluationRepository(tx.session).add(row, [])
        tx.audit(
            "evaluation.compare",
            "evaluation",
            comparison.id,
            {
                "project": project,
                "champion": champion.id,
                "challenger": challenger.id,
                "better": comparison.better,
                "results_digest": digest,
            },
        )
    return comparison


def _find_row(session: Session, evaluation_id: str, kind: str) -> tuple[EvaluationRow, str]:
    if not isinstance(evaluation_id, str) or not _HEX.match(evaluation_id.strip().lower()):
        raise InvalidInput(
            f"Invalid evaluation id {evaluation_id!r}: expected the 32 hex digits of an id, or "
            "a unique prefix of at least 8 (steward evaluate list shows them)."
        )
    key = evaluation_id.strip().lower()
    repo = SqlEvaluationRepository(session)
    row = repo.find(key)
    if row is None:
        rows = repo.find_prefix(key)
        if len(rows) > 1:
            raise InvalidInput(
                f"Evaluation id prefix {key!r} is ambiguous: {', '.join(r.id[:16] for r in rows)}. "
                "Give more digits."
            )
        row = rows[0] if rows else None
    if row is None or row.kind != kind:
        what = "comparison" if kind == "comparison" else "evaluation"
        raise NotFound(
            f"No {what} has the id {key!r}. List them with: steward evaluate list --project P"
        )
    project = session.get(ProjectRow, row.project_id)
    assert project is not None
    return row, project.name


def get_evaluation(store: Store, evaluation_id: str) -> Evaluation:
    """A stored evaluation, read back from its results artifact (verified)."""
    with store.reader() as session:
        row, _ = _find_row(session, evaluation_id, "evaluation")
    data = store.artifacts.get(row.results_digest, name=f"results of evaluation {row.id}")
    return Evaluation.from_dict(json.loads(data))


def get_comparison(store: Store, comparison_id: str) -> Comparison:
    """A stored comparison, read back from its results artifact (verified)."""
    with store.reader() as session:
        row, _ = _find_row(session, comparison_id, "comparison")
    data = store.artifacts.get(row.results_digest, name=f"results of comparison {row.id}")
    return Comparison.from_dict(json.loads(data))


def list_evaluations(
    store: Store,
    project: str,
    *,
    model: str | None = None,
    kind: str | None = None,
    limit: int | None = 50,
) -> list[EvaluationSummary]:
    """Stored evaluations of a project, newest first; ``model`` is a name or ``NAME@V``."""
    with store.reader() as session:
        owner = SqlProjectRepository(session).get(project)
        rows = SqlEvaluationRepository(session).list(
            owner.id, kind=kind, model_name=None if model is None else model.split("@")[0]
        )
    summaries = [EvaluationSummary.from_row(r, project) for r in rows]
    if model is not None and "@" in model:
        summaries = [s for s in summaries if s.model == model]
    return summaries[:limit] if limit is not None else summaries


class Evaluations:
    """Stored evaluations of one store (``st.evaluations``).

    >>> st.evaluations.list("acs-employment")[0].verdict  # doctest: +SKIP
    'pass'
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, evaluation_id: str) -> Evaluation:
        """A stored evaluation by id (or a unique prefix of at least 8 digits)."""
        return get_evaluation(self._store, evaluation_id)

    def list(
        self, project: str, *, model: str | None = None, limit: int | None = 50
    ) -> list[EvaluationSummary]:
        """Stored evaluations and comparisons of a project, newest first."""
        return list_evaluations(self._store, project, model=model, limit=limit)

    def get_comparison(self, comparison_id: str) -> Comparison:
        return get_comparison(self._store, comparison_id)

    def compare(
        self,
        champion: Any,
        challenger: Any,
        dataset: Any,
        charter: CharterInput = None,
        *,
        project: str | None = None,
        sensitive_features: Sequence[str] | None = None,
        slices: SliceInput | None = None,
        n_boot: int = 1000,
        seed: int = 0,
        record: bool = True,
        progress: Progress | None = None,
        **options: Any,
    ) -> Comparison:
        """Champion vs challenger on the same rows (see :func:`mlsteward.evaluation.compare`)."""
        return compare(
            self._store,
            champion,
            challenger,
            dataset,
            charter,
            project=project,
            sensitive_features=sensitive_features,
            slices=slices,
            n_boot=n_boot,
            seed=seed,
            record=record,
            progress=progress,
            **options,
        )

    def evaluate(
        self,
        model: Any,
        dataset: Any,
        charter: CharterInput = None,
        *,
        project: str | None = None,
        **options: Any,
    ) -> Evaluation:
        """Same as ``st.evaluate``."""
        return evaluate(self._store, model, dataset, charter, project=project, **options)

    def __repr__(self) -> str:
        return f"Evaluations({self._store!r})"
