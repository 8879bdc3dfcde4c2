"""The run API on every metadata backend: what a run records and how it refuses."""

from __future__ import annotations

import hashlib
import io
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mlsteward as ms
from mlsteward.tracking import ActiveRun, environment


def test_a_run_records_params_metrics_tags_artifacts(
    client: Any, project: str, tmp_path: Path
) -> None:
    model_file = tmp_path / "notes.txt"
    model_file.write_text("hello")
    plots = tmp_path / "plots"
    (plots / "sub").mkdir(parents=True)
    (plots / "a.txt").write_text("a")
    (plots / "sub" / "b.txt").write_text("b")
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    import altair as alt

    chart = alt.Chart(frame).mark_point().encode(x="x")

    with client.start_run(project, experiment="baseline", name="first", tags={"team": "a"}) as run:
        run.log_params({"max_depth": 5, "lr": 0.1})
        run.log_param("kind", "hgb")
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"roc_auc": 0.81, "f1": 0.7})
        run.set_tags({"team": "b", "stage": "dev"})
        [notes] = run.log_artifact(model_file)
        tree = run.log_artifact(plots, name="plots")
        table = run.log_table(frame, "sample")
        figure = run.log_figure(chart, "chart.json")
        run.log_dict({"a": 1}, "config.json")

    got = client.runs.get(run.id)
    assert got.status == "finished" and got.end_time is not None and got.end_time >= got.start_time
    assert (got.project, got.experiment, got.name) == (project, "baseline", "first")
    assert got.params == {"kind": "hgb", "lr": "0.1", "max_depth": "5"}
    assert got.metrics == {"f1": 0.7, "loss": 0.2, "roc_auc": 0.81}
    assert got.tags == {"stage": "dev", "team": "b"}
    assert [p.step for p in client.runs.history(run.id, "loss")] == [0, 1, 2, 3, 4]
    assert [p.value for p in client.runs.history(run.id, "loss")] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    paths = {a.path: a for a in got.artifacts}
    assert set(paths) == {
        "notes.txt",
        "plots/a.txt",
        "plots/sub/b.txt",
        "sample.parquet",
        "chart.json",
        "config.json",
    }
    assert notes.digest == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    assert [a.path for a in tree] == ["plots/a.txt", "plots/sub/b.txt"]
    assert pd.read_parquet(io.BytesIO(client.runs.read_artifact(run.id, "sample.parquet"))).equals(
        frame
    )
    assert table.meta["rows"] == 3 and table.kind == "table"
    assert json.loads(client.store.artifacts.get(figure.digest))["mark"]["type"] == "point"
    assert [e.name for e in client.experiments.list(project)] == ["baseline"]
    assert client.verify_audit().ok
    # each batch written for the run is audited with what it set
    run_events = client.audit_log(entity_kind="run", entity_id=run.id)
    assert run_events and run_events[0].action == "run.create"
    logged_params = {k: v for e in run_events for k, v in e.payload.get("params", {}).items()}
    assert logged_params == {k: str(v) for k, v in client.runs.get(run.id).params.items()}
    assert sum(e.payload.get("metric_points", 0) for e in run_events) >= 1
    assert [e.action for e in client.audit_log(entity_kind="experiment")] == ["experiment.create"]


def test_environment_is_stored_with_the_run(client: Any, project: str) -> None:
    with client.start_run(project) as run:
        pass
    got = client.runs.get(run.id)
    document = json.loads(client.store.artifacts.get(got.environment_digest))
    assert document["packages"]["sqlalchemy"] == environment().packages["sqlalchemy"]
    assert got.python_version == document["python_version"]


def test_an_exception_fails_the_run_and_propagates(client: Any, project: str) -> None:
    with pytest.raises(ZeroDivisionError), client.start_run(project) as run:
        run.log_metric("seen", 1.0)
        _ = 1 / 0
    got = client.runs.get(run.id)
    assert got.status == "failed"
    assert got.metrics == {"seen": 1.0}
    assert got.tags["steward.error"].startswith("ZeroDivisionError")
    with pytest.raises(KeyboardInterrupt), client.start_run(project) as stopped:
        raise KeyboardInterrupt
    assert client.runs.get(stopped.id).status == "killed"


def test_param_values_are_immutable(client: Any, project: str) -> None:
    with client.start_run(project) as run:
        run.log_param("max_depth", 5)
        run.log_param("max_depth", "5")  # the same text: accepted
        with pytest.raises(ms.Conflict, match=r"'max_depth' .* already '5'; it cannot become '6'"):
            run.log_param("max_depth", 6)
        run.flush()
        # another handle on the same run (another process): refused by the store at flush
        other = ActiveRun(client.store, client.runs.get(run.id))
        other.log_param("max_depth", 7)
        with pytest.raises(ms.Conflict, match="already '5'; it cannot become '7'"):
            other.flush()
    assert client.runs.get(run.id).params == {"max_depth": "5"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.log_metric("acc", "0.9"), r"must be a real number .* got str '0.9'\. Convert"),
        (lambda r: r.log_metric("acc", None), "must be a real number"),
        (lambda r: r.log_metric("acc", True), "got bool"),
        (lambda r: r.log_metric("acc", 1.0, step=1.5), "step of metric 'acc' must be an integer"),
        (lambda r: r.log_metric("bad key!", 1.0), "Invalid metric key 'bad key!'"),
        (lambda r: r.log_param("p", "x" * 501), "501 characters; the limit is 500"),
        (lambda r: r.set_tag("", "x"), "Invalid tag key ''"),
        (lambda r: r.log_text("x", "../escape.txt"), "Invalid artifact path"),
    ],
)
def test_bad_values_are_refused_with_what_was_expected(st: Any, call: Any, message: str) -> None:
    with st.start_run("acs") as run, pytest.raises(ms.InvalidInput, match=message):
        call(run)
    got = st.runs.get(run.id)
    assert got.metrics == {} and got.params == {} and got.artifacts == ()


def test_nan_and_infinite_metrics_are_kept(client: Any, project: str) -> None:
    with client.start_run(project) as run:
        run.log_metric("loss", float("nan"))
        run.log_metric("ratio", float("inf"))
    got = client.runs.get(run.id)
    assert math.isnan(got.metrics["loss"]) and got.metrics["ratio"] == math.inf
    assert math.isnan(client.runs.history(run.id, "loss")[0].value)


def test_steps_default_to_one_past_the_last(client: Any, project: str) -> None:
    with client.start_run(project) as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
        run.log_metric("loss", 0.5, step=10)
        run.log_metric("loss", 0.4)
        run.log_metric("loss", 9.0, step=4)  # an older step does not become the latest
    assert [p.step for p in client.runs.history(run.id, "loss")] == [0, 1, 2, 4, 10, 11]
    assert client.runs.get(run.id).metrics["loss"] == 0.4


def test_child_runs_and_ended_runs(client: Any, project: str) -> None:
    with client.start_run(project, experiment="outer") as parent:
        with parent.start_child("inner") as child:
            child.log_metric("m", 1.0)
        other = client.start_run(project, experiment="elsewhere", parent=parent)
        other.end("killed")
    assert client.runs.get(child.id).parent_id == parent.id
    children = client.runs.children(parent.id)
    assert [(c.name, c.experiment, c.status) for c in children] == [
        ("inner", "outer", "finished"),
        (other.name, "elsewhere", "killed"),
    ]
    with pytest.raises(ms.Conflict, match="has ended \\(finished\\)"):
        child.log_metric("m", 2.0)
    with pytest.raises(ms.NotFound, match="Parent run nope"):
        client.start_run(project, parent="nope")


def test_unknown_project_and_prefix_lookup(client: Any, project: str) -> None:
    with pytest.raises(ms.NotFound, match="Project 'other' does not exist"):
        client.start_run("other")
    with client.start_run(project) as run:
        pass
    assert client.runs.get(run.id[:10]).id == run.id
    with pytest.raises(ms.NotFound, match="at least 6 characters"):
        client.runs.get("abc")


def test_dataset_versions_as_inputs(client: Any, project: str) -> None:
    from mlsteward.data import register_dataset

    version = register_dataset(client.store, project, "train", pd.DataFrame({"a": [1, 2, 3]}))
    with client.start_run(project) as run:
        run.log_input(version, "training")
        run.log_input(f"train@{version.version}", "validation")
        run.log_input(version, "training")  # again: no second record
        with pytest.raises(ms.InvalidInput, match="Invalid input role 'Training'"):
            run.log_input(version, "Training")
        with pytest.raises(ms.InvalidInput, match="expected a DatasetVersion"):
            run.log_input(pd.DataFrame({"a": [1]}), "training")
    inputs = client.runs.get(run.id).inputs
    assert sorted((i.role, i.ref) for i in inputs) == [
        ("training", version.ref),
        ("validation", version.ref),
    ]
    assert all(i.dataset_version_id == version.id for i in inputs)


def test_code_version_inside_and_outside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlsteward.tracking import _environment

    monkeypatch.setattr(_environment, "GIT_CACHE_SECONDS", 0.0)
    outside = tmp_path / "plain"
    outside.mkdir()
    assert _environment._git_state(str(outside)) == (None, None)
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "train.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "c"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert _environment._git_state(str(repo)) == (head, False)
    (repo / "train.py").write_text("print(2)\n")
    assert _environment._git_state(str(repo)) == (head, True)
