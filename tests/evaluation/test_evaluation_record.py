"""Stored evaluations on both metadata backends: linked to the model, dataset and charter
versions, with the gate engine's verdict; read back, listed, audited; the schema matches
the migration."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from evaluation_helpers import FEATURES, charter_document
from sqlalchemy import select

import mlsteward as ms
from mlsteward.store import VERSION_TABLE, Store
from mlsteward.store.metadata import Base, EvaluationMetricRow, EvaluationRow

PROJECT = "evals"


def _setup(client: Any, frame: pd.DataFrame, **charter: Any) -> Any:
    client.create_project(PROJECT)
    client.charters.apply(PROJECT, charter_document(**charter))
    return client.datasets.register(PROJECT, "synth-test", frame, role="test", target="y")


def test_an_evaluation_is_recorded_with_its_links_and_verdict(
    client: Any, store: Store, model: Any, frame: pd.DataFrame
) -> None:
    test = _setup(client, frame)
    charter = client.charters.get(PROJECT)
    evaluation = client.evaluate(model, "synth-test@latest", project=PROJECT, n_boot=100)
    assert evaluation.id is not None and evaluation.verdict == "pass"
    assert evaluation.on == "test"  # the dataset's role: the charter's gates are on test
    assert evaluation.charter_ref == f"{PROJECT}@1"
    with store.reader() as session:
        row = session.get(EvaluationRow, evaluation.id)
        assert row is not None
        assert (row.kind, row.verdict, row.task, row.row_count) == (
            "evaluation",
            "pass",
            "binary",
            len(frame),
        )
        assert row.dataset_version_id == test.id and row.dataset_ref == test.ref
        assert row.charter_version_id == charter.id
        assert row.model_version_id is None and row.model_ref is None  # not registered
        assert row.model_kind == "sklearn.pipeline.Pipeline"
        assert row.main_metric == "roc_auc"
        assert row.main_value == pytest.approx(evaluation.metrics["roc_auc"].value)
        metrics = {
            (m.metric, m.attribute): m
            for m in session.execute(
                select(EvaluationMetricRow).where(EvaluationMetricRow.evaluation_id == row.id)
            ).scalars()
        }
    auc = metrics[("roc_auc", "")]
    assert auc.low is not None and auc.high is not None and auc.low <= auc.value <= auc.high
    assert ("demographic_parity_difference", "sex") in metrics
    assert ("expected_value_per_1k", "") in metrics
    [event] = client.audit_log(action="evaluation.record")
    assert event.entity_id == evaluation.id
    assert event.payload["verdict"] == "pass" and event.payload["charter"] == f"{PROJECT}@1"
    assert event.payload["results_digest"] == row.results_digest
    # read back from the verified results artifact
    back = client.evaluations.get(evaluation.id)
    assert back.to_dict()["metrics"] == evaluation.to_dict()["metrics"]
    assert back.gates == evaluation.gates and back.verdict == "pass"
    assert back.slices == evaluation.slices
    assert [s.id for s in client.evaluations.list(PROJECT)] == [evaluation.id]


def test_a_registered_model_is_evaluated_by_reference_and_linked(
    client: Any, store: Store, model: Any, frame: pd.DataFrame
) -> None:
    _setup(client, frame)
    version = client.models.register(
        "synth",
        project=PROJECT,
        model=model,
        input_example=frame[FEATURES].head(50),
        alias="champion",
        reason="the only one",
    )
    evaluation = client.evaluate("synth@champion", "synth-test@latest", project=PROJECT, n_boot=50)
    assert evaluation.model.ref == "synth@1" and evaluation.model.id == version.id
    assert evaluation.model.size_mb == pytest.approx(version.artifact_size / 1e6)
    with store.reader() as session:
        row = session.get(EvaluationRow, evaluation.id)
        assert row is not None and row.model_version_id == version.id
    # the same predictions as the in-memory model
    in_memory = ms.evaluation.evaluate(None, model, frame, charter_document(), n_boot=0)
    assert evaluation.metrics["roc_auc"].value == pytest.approx(in_memory.metrics["roc_auc"].value)
    assert [s.model for s in client.evaluations.list(PROJECT, model="synth@1")] == ["synth@1"]


def test_a_failing_required_gate_is_the_verdict(
    client: Any, model: Any, frame: pd.DataFrame
) -> None:
    _setup(client, frame, success_metrics=[{"metric": "roc_auc", "threshold": 0.99}])
    evaluation = client.evaluate(model, "synth-test@latest", project=PROJECT, n_boot=50)
    assert evaluation.verdict == "fail"
    failure = evaluation.gates.verdict_of("roc_auc@test")
    assert failure.status == "fail" and failure.interval is not None
    with pytest.raises(ms.GateFailed, match="roc_auc@test"):
        evaluation.gates.require_pass()


def test_without_a_charter_nothing_is_judged(client: Any, model: Any, frame: pd.DataFrame) -> None:
    client.create_project(PROJECT)
    evaluation = client.evaluate(model, frame, project=PROJECT, target="y", n_boot=20)
    assert evaluation.gates is None and evaluation.verdict is None
    assert evaluation.charter_ref is None and evaluation.main_metric == "roc_auc"
    assert evaluation.fairness == () and evaluation.business is None
    assert evaluation.id is not None  # still recorded
    assert "task inferred" in " ".join(evaluation.notes)


def test_unknown_and_malformed_ids_say_what_was_expected(client: Any) -> None:
    with pytest.raises(ms.InvalidInput, match="32 hex digits"):
        client.evaluations.get("nope")
    with pytest.raises(ms.NotFound, match="No evaluation has the id"):
        client.evaluations.get("0" * 32)


def test_the_evaluation_tables_match_their_migration(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, Base.metadata)
    mine = [d for d in differences if "evaluation" in str(d)]
    assert mine == []
