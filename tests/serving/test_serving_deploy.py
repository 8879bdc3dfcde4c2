"""Deployments in the store: the evaluation gate and its audited override, strategies,
refusals, guardrails from the charter, routers, the CLI and the package's exports."""

from __future__ import annotations

import json
import types
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from serving_helpers import PROJECT, StoreCopy, acs_frame

import mlsteward as ms
import mlsteward.serving as serving
from mlsteward.cli import run
from mlsteward.core import new_id, utcnow
from mlsteward.serving import FixedRouter, WeightedRouter, read_predictions
from mlsteward.store.metadata import EvaluationRow, SqlEvaluationRepository


def _record_evaluation(st: ms.Client, ref: str, verdict: str) -> str:
    version = st.models.get(ref, project=PROJECT)
    gates = {
        "verdict": verdict,
        "gates": [
            {
                "gate": {"key": "roc_auc@test", "metric": "roc_auc", "required": True},
                "status": "fail" if verdict == "fail" else "pass",
                "reason": "roc_auc on test = 0.71; needs >= 0.85",
            }
        ],
    }
    with st.store.transaction() as tx:
        project = tx.projects.get(PROJECT)
        row = EvaluationRow(
            id=new_id(), project_id=project.id, kind="evaluation", model_name=version.name,
            model_kind="sklearn", model_ref=version.ref, model_version_id=version.id,
            dataset_name="acs-2015", dataset_ref="acs-2015@test", task="binary",
            row_count=100, main_metric="roc_auc", main_value=0.71, verdict=verdict,
            gates_json=json.dumps(gates), summary_json="{}", results_digest="sha256:" + "0" * 64,
            results_size=0, created_at=utcnow(), created_by="tester",
        )  # fmt: skip
        SqlEvaluationRepository(tx.session).add(row, [])
        return row.id


def test_a_failed_evaluation_gate_blocks_deploy_unless_overridden(acs_store: StoreCopy) -> None:
    st = acs_store.client
    st.deploy("acs@1", "acs", project=PROJECT, strategy="direct")
    evaluation = _record_evaluation(st, "acs@2", "fail")
    with pytest.raises(ms.GateFailed) as info:
        st.deploy("acs@2", "acs", strategy="canary")
    message = str(info.value)
    assert f"its latest evaluation ({evaluation} on acs-2015@test) failed" in message
    assert "roc_auc@test (roc_auc on test = 0.71; needs >= 0.85)" in message
    assert "--override-reason" in message
    assert st.rollouts.get("acs").model == "acs@1"  # nothing changed
    deployment = st.deploy(
        "acs@2", "acs", strategy="canary", override_reason="pilot approved by the owner"
    )
    assert deployment.override_reason == "pilot approved by the owner"
    assert deployment.evaluation["verdict"] == "fail"
    assert deployment.evaluation["evaluation_id"] == evaluation
    overrides = st.audit_log(action="serving.deploy.override")
    assert len(overrides) == 1
    assert overrides[0].payload["override_reason"] == "pilot approved by the owner"
    assert overrides[0].payload["model"] == "acs@2"
    assert st.verify_audit().ok


def test_a_passed_evaluation_deploys_and_is_recorded(acs_store: StoreCopy) -> None:
    st = acs_store.client
    _record_evaluation(st, "acs@1", "pass")
    deployment = st.deploy("acs@1", "acs", project=PROJECT)
    assert deployment.strategy == "direct"  # nothing to canary against yet
    assert deployment.evaluation["verdict"] == "pass" and deployment.state == "promoted"


def test_refusals_name_the_problem_and_the_fix(acs_store: StoreCopy) -> None:
    st = acs_store.client
    with pytest.raises(ms.InvalidInput, match=r"serves no model yet.*--strategy direct"):
        st.deploy("acs@1", "acs", project=PROJECT, strategy="canary")
    with pytest.raises(ms.InvalidInput, match="Unknown rollout strategy 'big-bang'"):
        st.deploy("acs@1", "acs", project=PROJECT, strategy="big-bang")  # type: ignore[arg-type]
    with pytest.raises(ms.InvalidInput, match="Invalid canary steps"):
        st.deploy("acs@1", "acs", project=PROJECT, strategy="direct", steps=[50, 10])
    st.deploy("acs@1", "acs", project=PROJECT, strategy="direct")
    with pytest.raises(ms.Conflict, match="already sends its traffic to acs@1"):
        st.deploy("acs@1", "acs")
    st.deploy("acs@2", "acs", strategy="canary")
    with pytest.raises(ms.Conflict, match=r"rollout in progress.*steward rollout promote acs"):
        st.deploy("acs@4", "acs", strategy="canary")
    st.create_project("other")
    with pytest.raises(ms.Conflict, match="belongs to project 'acs', not 'other'"):
        st.deploy("acs@2", "acs", project="other")
    with pytest.raises(ms.NotFound, match="Endpoint 'nope' does not exist"):
        st.endpoints.get("nope")
    done = st.rollouts.promote("acs", reason="looks good")
    with pytest.raises(ms.Conflict, match="Nothing to promote"):
        st.rollouts.promote("acs")
    assert done.state == "promoted" and done.events[-1].reason == "looks good"
    back = st.rollouts.rollback("acs", reason="after all, no")  # a promoted one rolls back too
    assert back.state == "rolled_back"
    assert [(r.ref, r.weight) for r in st.endpoints.get("acs").routes] == [("acs@1", 100.0)]


def test_the_charter_sets_strategy_steps_and_guardrails(acs_store: StoreCopy) -> None:
    st = acs_store.client
    charter = Path(serving.__file__).parent.parent / "demo" / "acs_charter.yaml"
    st.charters.apply(PROJECT, charter)
    st.deploy("acs@1", "acs", project=PROJECT)
    deployment = st.deploy("acs@2", "acs")
    assert deployment.strategy == "canary" and deployment.steps == (5, 25, 50, 100)
    assert (deployment.min_requests, deployment.min_duration_s) == (1000, 600.0)
    rails = deployment.guardrails
    assert (rails.max_error_rate, rails.latency_p95_ms, rails.latency_p99_ms) == (
        0.005,
        50.0,
        150.0,
    )
    assert rails.max_score_psi == 0.2
    assert rails.sources["latency_p95_ms"] == "charter acs@1 constraints.latency_p95_ms"
    assert {g.metric for g in rails.gates()} == {"error_rate", "latency_p95_ms", "latency_p99_ms"}


def test_weighted_routing_follows_the_weights_and_sticks_to_keys() -> None:
    router = WeightedRouter({"acs@1": 90, "acs@2": 10, "acs@3": 0}, seed=3)
    assert router.keys == ("acs@1", "acs@2")
    counts = Counter(router.choose() for _ in range(20000))
    assert 0.08 < counts["acs@2"] / 20000 < 0.12
    sticky = {f"user-{i}": router.choose(f"user-{i}") for i in range(500)}
    assert all(router.choose(key) == version for key, version in sticky.items())
    assert 0.05 < Counter(sticky.values())["acs@2"] / 500 < 0.16
    first, second = (WeightedRouter({"acs@1": 90, "acs@2": 10}, seed=3) for _ in range(2))
    assert [first.choose() for _ in range(200)] == [second.choose() for _ in range(200)]
    with pytest.raises(ms.InvalidInput, match="weight > 0"):
        WeightedRouter({"acs@1": 0})
    fake = FixedRouter(sequence=["acs@1", "acs@2"])
    assert [fake.choose("k") for _ in range(3)] == ["acs@1", "acs@2", "acs@1"]
    assert fake.calls == ["k", "k", "k"]


def test_the_cli_deploys_shows_rolls_back_and_scores_files(
    acs_store: StoreCopy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEWARD_ARTIFACTS", acs_store.artifacts)
    uri = ["--uri", acs_store.uri]
    assert (
        run(
            [
                *uri,
                "deploy",
                "acs@1",
                "--endpoint",
                "cli",
                "--project",
                PROJECT,
                "--strategy",
                "direct",
            ]
        )
        == 0
    )
    assert "Deployed: deployment #1 of acs@1 on 'cli' (direct)" in capsys.readouterr().out
    assert run([*uri, "deploy", "acs@2", "-e", "cli", "-s", "canary", "--steps", "20,100"]) == 0
    capsys.readouterr()
    assert run([*uri, "endpoints", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["weight"]) for r in listed[0]["routes"]] == [
        ("acs@1", 80.0),
        ("acs@2", 20.0),
    ]
    assert run([*uri, "rollout", "status", "cli"]) == 0
    shown = capsys.readouterr().out
    assert "canary against acs@1): running, step 1/2 at 20%" in shown
    assert "waiting:" in shown and "error_rate" in shown
    assert run([*uri, "rollout", "rollback", "cli", "--reason", "not today"]) == 0
    assert "Rolled back" in capsys.readouterr().out
    assert run([*uri, "rollout", "rollback", "cli"]) == 5
    assert "Nothing to roll back" in capsys.readouterr().err
    assert run([*uri, "endpoints", "show", "cli"]) == 0
    assert "rollback 20% -> 0%: not today" in capsys.readouterr().out

    frame = acs_frame(2017, 300, seed=5)
    source = tmp_path / "in.parquet"
    frame.to_parquet(source)
    target = tmp_path / "out.parquet"
    code = run([*uri, "predict", "acs@1", "--input", str(source), "--output", str(target),
                "--project", PROJECT, "--log-to", "cli", "--id-column", "id", "--batch-rows", "128"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "Scored 300 rows with acs@1" in capsys.readouterr().out
    scored = pq.read_table(target)
    assert scored.num_rows == 300
    assert {"prediction", "score", "proba_0", "proba_1", "request_id"} <= set(scored.column_names)
    logged = read_predictions(acs_store.root, "cli")
    assert sorted(logged.column("request_id").to_pylist()) == sorted(str(i) for i in frame["id"])
    assert (
        run([*uri, "predict", "acs@1", "-i", str(tmp_path / "missing.parquet"), "-o", str(target)])
        == 3
    )


def test_the_package_exports_exactly_its_all() -> None:
    exported = set(serving.__all__)
    assert len(exported) == len(serving.__all__)
    public = {
        name
        for name, value in vars(serving).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == exported
    for name in exported:
        value = getattr(serving, name)
        if isinstance(value, type | types.FunctionType):
            assert value.__module__.startswith("mlsteward.serving."), name
