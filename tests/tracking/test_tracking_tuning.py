"""Tuning on Optuna with the study in the metadata database: resume, pruning, specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest

import mlsteward as ms
from mlsteward.cli import run as cli
from mlsteward.tracking import OPTUNA_TABLES, Trial, parse_search_space

SPACE = {
    "depth": {"type": "int", "low": 1, "high": 6},
    "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
    "kind": {"type": "categorical", "choices": ["a", "b"]},
}


def quadratic(trial: Trial) -> float:
    p = trial.params
    trial.run.log_metric("extra", 1.0)
    return -((p["depth"] - 3) ** 2) - abs(p["lr"] - 0.1) + (0.5 if p["kind"] == "a" else 0.0)


def check_resume(st: Any) -> None:
    sampler = optuna.samplers.RandomSampler(seed=0)
    first = st.tune("acs", quadratic, SPACE, n_trials=3, study_name="q", sampler=sampler)
    assert first.new_trials == 3 and first.finished_trials == 3
    second = st.tune("acs", quadratic, SPACE, n_trials=5, study_name="q", sampler=sampler)
    assert second.new_trials == 2 and second.finished_trials == 5
    assert [t.number for t in second.trials] == [0, 1, 2, 3, 4]
    third = st.tune("acs", quadratic, SPACE, n_trials=5, study_name="q")
    assert third.new_trials == 0  # the target is reached: nothing to do
    best = max(second.trials, key=lambda t: t.value or -1e9)
    assert second.best == best and second.best_run_id == best.run_id
    child = st.runs.get(best.run_id)
    assert child.status == "finished" and child.metrics["objective"] == best.value
    assert child.params == {k: str(v) for k, v in best.params.items()}
    assert child.metrics["extra"] == 1.0
    owner = first if best.number < 3 else second
    assert child.parent_id == owner.parent_run_id
    assert {st.runs.get(t.run_id).parent_id for t in second.trials[3:]} == {second.parent_run_id}
    trials = st.search_runs("acs", "tags.`tuning.study` = 'q' and parent_id != ''", max_results=50)
    assert len(trials) == 5 and all(r.parent_id for r in trials)
    parents = st.search_runs("acs", "name = 'tune:q'")
    assert len(parents) == 3
    assert st.runs.get(second.parent_run_id).metrics["best_objective"] == best.value
    assert [c.id for c in st.runs.children(first.parent_run_id)] == [t.run_id for t in first.trials]


def test_a_study_resumes_on_sqlite(st: Any) -> None:
    check_resume(st)
    from sqlalchemy import inspect

    tables = set(inspect(st.store.engine).get_table_names())
    assert tables >= OPTUNA_TABLES and "runs" in tables


def test_a_study_resumes_on_postgresql(pg_uri: str, tmp_path: Path) -> None:
    with ms.connect(pg_uri, artifacts=str(tmp_path / "artifacts")) as st:
        st.create_project("acs")
        check_resume(st)


def test_pruned_trials_are_recorded_as_such(st: Any) -> None:
    def objective(trial: Trial) -> float:
        for step in range(3):
            trial.report(-float(trial.number), step)  # later trials are worse
            if trial.should_prune():
                trial.prune()
        return -float(trial.number)

    result = st.tune(
        "acs",
        objective,
        {"x": {"type": "float", "low": 0, "high": 1}},
        n_trials=4,
        study_name="prune",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0),
    )
    states = [t.state for t in result.trials]
    assert states[0] == "complete" and "pruned" in states
    pruned = next(t for t in result.trials if t.state == "pruned")
    run = st.runs.get(pruned.run_id)
    assert run.status == "killed" and run.tags["tuning.state"] == "pruned"
    assert [p.step for p in st.runs.history(run.id, "objective")] == [0]


def test_a_failing_objective_fails_its_trial_run(st: Any) -> None:
    def objective(trial: Trial) -> float:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        st.tune("acs", objective, {"x": {"type": "int", "low": 0, "high": 2}}, n_trials=2)
    [child] = [r for r in st.search_runs("acs", "tags.`tuning.trial` = '0'")]
    assert child.status == "failed" and child.tags["steward.error"] == "RuntimeError: boom"
    [parent] = st.search_runs("acs", "name like 'tune:%'")
    assert parent.status == "failed"
    result = st.tune(
        "acs",
        objective,
        {"x": {"type": "int", "low": 0, "high": 2}},
        n_trials=2,
        study_name="caught",
        catch=[RuntimeError],
    )
    assert [t.state for t in result.trials] == ["fail", "fail"] and result.best is None


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({}, "non-empty mapping"),
        ({"d": {"low": 1, "high": 2}}, "'type' must be one of"),
        (
            {"d": {"type": "int", "low": 5, "high": 2}},
            "'low' <= 'high' must hold, but got low=5, high=2",
        ),
        ({"d": {"type": "int", "low": 1, "hgih": 2}}, r"unknown field\(s\) \['hgih'\]"),
        ({"d": {"type": "float", "low": 0, "high": 1, "log": True}}, "needs low > 0"),
        ({"d": {"type": "int", "low": 1.5, "high": 3}}, "'low' must be an integer"),
        ({"d": {"type": "categorical", "choices": []}}, "non-empty list"),
        ({"d": {"type": "categorical", "choices": [[1]]}}, "choices must be None"),
        (
            {"d": {"type": "float", "low": 0, "high": 1, "step": 0.1, "log": True}},
            "cannot be combined",
        ),
    ],
)
def test_bad_search_spaces_name_the_rule(space: Any, message: str) -> None:
    with pytest.raises(ms.InvalidInput, match=message):
        parse_search_space(space)


def test_tuning_options_are_checked(st: Any) -> None:
    with pytest.raises(ms.InvalidInput, match="n_trials must be a positive integer"):
        st.tune("acs", quadratic, SPACE, n_trials=0)
    with pytest.raises(ms.InvalidInput, match="direction must be 'maximize' or 'minimize'"):
        st.tune("acs", quadratic, SPACE, direction="up")
    st.tune("acs", quadratic, SPACE, n_trials=1, study_name="dir")
    with pytest.raises(ms.Conflict, match="exists with another direction"):
        st.tune("acs", quadratic, SPACE, n_trials=2, study_name="dir", direction="minimize")


SPEC = """
project: acs
experiment: spec-tuning
study: {study}
n_trials: 2
sampler: {{type: random, seed: 1}}
pruner: {{type: median}}
search_space:
  C: {{type: float, low: 0.01, high: 10, log: true}}
objective: {objective}
"""


def test_steward_tune_runs_a_spec(st: Any, tmp_path: Path) -> None:
    rows = 200
    frame = pd.DataFrame({"a": range(rows), "b": [i % 7 for i in range(rows)]})
    frame["label"] = (frame["a"] + frame["b"] * 10 > 120).astype(int)
    frame.to_parquet(tmp_path / "train.parquet")
    builtin = (
        "{estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 300}, "
        "data: {path: train.parquet}, validation: {cv: 2}, target: label, metric: roc_auc}"
    )
    (tmp_path / "builtin.yaml").write_text(SPEC.format(study="builtin", objective=builtin))
    uri = ["--uri", st.config.uri]
    assert cli([*uri, "tune", str(tmp_path / "builtin.yaml"), "--json"]) == 0
    runs = st.search_runs("acs", "tags.`tuning.study` = 'builtin' and metrics.roc_auc > 0.5")
    assert len(runs) == 2 and all("C" in r.params for r in runs)
    assert all(len(st.runs.history(r.id, "roc_auc")) == 3 for r in runs)  # 2 folds + final

    (tmp_path / "my_objective.py").write_text(
        "def objective(trial):\n    return -abs(trial.params['C'] - 1.0)\n"
    )
    (tmp_path / "custom.yaml").write_text(
        SPEC.format(study="custom", objective="my_objective:objective")
    )
    assert cli([*uri, "tune", str(tmp_path / "custom.yaml"), "-n", "3"]) == 0
    assert len(st.search_runs("acs", "tags.`tuning.study` = 'custom' and status = 'finished'")) == 4

    (tmp_path / "bad.yaml").write_text("project: acs\nn_trials: -1\nsearch_space: {}\n")
    assert cli([*uri, "tune", str(tmp_path / "bad.yaml")]) == 2


WORKER = """
import sys
import mlsteward as ms
from mlsteward.tracking import Trial

def objective(trial: Trial) -> float:
    return -abs(trial.params["x"] - 0.3)

with ms.connect(sys.argv[1], artifacts=sys.argv[2]) as st:
    result = st.tune("acs", objective, {"x": {"type": "float", "low": 0, "high": 1}},
                     n_trials=8, study_name="shared")
    print("NEW", result.new_trials, flush=True)
"""


def test_workers_share_a_study_through_postgresql(
    pg_uri: str, tmp_path: Path, scripts: Any
) -> None:
    with ms.connect(pg_uri, artifacts=str(tmp_path / "artifacts")) as st:
        st.create_project("acs")
    script = scripts.write("worker.py", WORKER)
    workers = [scripts.start(script, pg_uri, str(tmp_path / "artifacts")) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[1][-2000:] for o in outputs]
    new = [int(o[0].split()[-1]) for o in outputs]
    with ms.connect(pg_uri, artifacts=str(tmp_path / "artifacts")) as st:
        trials = st.search_runs(
            "acs", "tags.`tuning.study` = 'shared' and parent_id != ''", max_results=100
        )
        parents = st.search_runs("acs", "name = 'tune:shared'")
    assert sum(new) == len(trials) and 8 <= len(trials) <= 9  # one may overshoot
    assert len(parents) == 2  # each worker records its own parent run
