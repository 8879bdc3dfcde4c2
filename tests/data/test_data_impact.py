"""Impact analysis on both metadata backends: from a dataset version, everything built on
it (derived versions, runs, model versions with aliases and endpoints, evaluations,
monitoring references), each with its path; bounds, empty answers, the CLI and errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

import mlsteward as ms
from mlsteward.cli import run
from mlsteward.core import new_id, utcnow
from mlsteward.data import DatasetVersion, Impact, dataset_impact
from mlsteward.registry import register_route
from mlsteward.store.metadata import MonitorReferenceRow, MonitorRunRow, SqlMonitoringRepository

PROJECT = "acs"
CATEGORICAL = ["SEX", "SCHL", "MAR"]


def _acs(year: int, n: int) -> pd.DataFrame:
    from mlsteward.datasets import load_acs_employment

    acs = load_acs_employment(years=[year]).sample(n=n, random_state=year)
    frame = pd.DataFrame({"AGEP": acs["AGEP"].astype(float).to_numpy()})
    for column in CATEGORICAL:
        frame[column] = acs[column].astype(str).to_numpy()
    frame["employed"] = acs["employed"].astype(int).to_numpy()
    return frame


def _model(frame: pd.DataFrame) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    prep = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), remainder="passthrough"
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=300))
    return model.fit(frame.drop(columns="employed"), frame["employed"])


CHARTER = {
    "objective": {
        "statement": "Predict employment.",
        "decision": "Who is offered a training programme.",
        "owners": [{"name": "Team", "contact": "team@example.org"}],
    },
    "task": {
        "type": "binary",
        "target": "employed",
        "prediction_unit": "person",
        "positive_class": 1,
        "decision_threshold": 0.5,
    },
    "success_metrics": [{"metric": "roc_auc", "threshold": 0.6, "on": "test"}],
    "scope": {"intended_use": "tests"},
}


@dataclass
class Chain:
    """acs-2015 -> split -> train/test; run r1 reads train and logs a model; employment@1
    (champion) from r1 takes 95% of endpoint ``acs`` (other@1, unrelated, 5%); an
    evaluation on test; a monitoring reference from train, monitored on ``acs``. acs-2016
    is read by run r2 only; acs-2017 by nothing."""

    source: DatasetVersion
    train: DatasetVersion
    test: DatasetVersion
    run_id: str
    model_id: str
    evaluation_id: str
    reference_id: str
    other_run_id: str


def _monitor_reference(st: ms.Client, train: DatasetVersion, model_id: str) -> str:
    """What a monitor run stores: a reference built from the training data (summaries are
    not needed here) and a run over endpoint ``acs`` against it."""
    now = utcnow()
    with st.store.transaction() as tx:
        project = tx.projects.get(PROJECT)
        repo = SqlMonitoringRepository(tx.session)
        reference = MonitorReferenceRow(
            id=new_id(), project_id=project.id, key=new_id() * 2, dataset_version_id=train.id,
            model_version_id=model_id, description="training data of employment@1",
            row_count=train.row_count, summary_digest="sha256:" + "0" * 64, summary_size=0,
            created_at=now, created_by="tester",
        )  # fmt: skip
        repo.add_reference(reference)
        monitor_run = MonitorRunRow(
            id=new_id(), project_id=project.id, endpoint="acs", model_version_id=model_id,
            model_ref="employment@1", reference_id=reference.id, window_spec="1d",
            window_count=1, row_count=100, labelled_count=0, verdict="pass", critical_count=0,
            warning_count=0, info_count=0, results_digest="sha256:" + "0" * 64, results_size=0,
            created_at=now, created_by="tester",
        )  # fmt: skip
        repo.add_run(monitor_run, [], [])
        return reference.id


def build_chain(st: ms.Client) -> Chain:
    st.create_project(PROJECT)
    st.charters.apply(PROJECT, CHARTER)
    source = st.datasets.register(PROJECT, "acs-2015", _acs(2015, 2000), target="employed")
    parts = st.datasets.split(PROJECT, source, fractions={"train": 0.7, "test": 0.3}, seed=0)
    train, test = parts["train"], parts["test"]
    frame = st.datasets.load(PROJECT, train)
    model = _model(frame)
    with st.start_run(PROJECT, "baseline", name="r1") as tracked:
        tracked.log_input(train, "training")
        tracked.log_model(model)
    version = st.models.register(
        "employment", project=PROJECT, run=tracked.id, alias="champion", reason="the first"
    )
    other = st.models.register(
        "other", project=PROJECT, model=model, input_example=frame.drop(columns="employed")[:20]
    )
    register_route(st.store, PROJECT, "acs", version.ref, weight=0.95)
    register_route(st.store, PROJECT, "acs", other.ref, weight=0.05)
    evaluation = st.evaluate("employment@champion", test.ref, project=PROJECT, n_boot=0)
    reference_id = _monitor_reference(st, train, version.id)
    acs_2016 = st.datasets.register(PROJECT, "acs-2016", _acs(2016, 300), target="employed")
    with st.start_run(PROJECT, "baseline", name="r2") as unrelated:
        unrelated.log_input(acs_2016, "validation")
    st.datasets.register(PROJECT, "acs-2017", _acs(2017, 300), target="employed")
    assert evaluation.id is not None
    return Chain(
        source, train, test, tracked.id, version.id, evaluation.id, reference_id, unrelated.id
    )


def _paths_by_kind(impact: Impact) -> dict[str, list[str]]:
    return {
        "datasets": [d.path_text for d in impact.datasets],
        "runs": [r.path_text for r in impact.runs],
        "models": [m.path_text for m in impact.models],
        "endpoints": [e.path_text for e in impact.endpoints],
        "evaluations": [e.path_text for e in impact.evaluations],
        "references": [r.path_text for r in impact.references],
    }


def test_impact_lists_everything_built_on_a_version_with_its_path(client: ms.Client) -> None:
    chain = build_chain(client)
    impact = client.datasets.impact(PROJECT, "acs-2015@latest")
    src, train, test = chain.source.short_ref, chain.train.short_ref, chain.test.short_ref
    via_run = f"{src} -> split -> {train} -> run r1"
    assert _paths_by_kind(impact) == {
        "datasets": [f"{src} -> split -> {train}", f"{src} -> split -> {test}"],
        "runs": [via_run],
        "models": [f"{via_run} -> employment@1"],
        "endpoints": [f"{via_run} -> employment@1 -> endpoint acs (champion, 95%)"],
        "evaluations": [
            f"{src} -> split -> {test} -> evaluation {chain.evaluation_id[:8]} of "
            "employment@1 (pass)"
        ],
        "references": [
            f"{src} -> split -> {train} -> monitoring reference {chain.reference_id[:8]}"
        ],
    }
    assert [(d.ref, d.role, d.level, d.method) for d in impact.datasets] == [
        (chain.train.ref, "train", 1, "split"),
        (chain.test.ref, "test", 1, "split"),
    ]
    (tracked,) = impact.runs
    assert (tracked.id, tracked.experiment, tracked.status) == (
        chain.run_id,
        "baseline",
        "finished",
    )
    assert [(u.dataset, u.role) for u in tracked.inputs] == [(train, "training")]
    (model,) = impact.models
    assert (model.id, model.ref, model.state, model.aliases) == (
        chain.model_id, "employment@1", "active", ("champion",)
    )  # fmt: skip
    assert model.run_id == chain.run_id
    assert [(u.dataset, u.role) for u in model.datasets] == [(train, "training")]
    (endpoint,) = impact.endpoints  # other@1 shares the endpoint but is not built on it
    assert (endpoint.name, endpoint.model, endpoint.mode) == ("acs", "employment@1", "live")
    assert endpoint.share == pytest.approx(95.0) and endpoint.weight == pytest.approx(0.95)
    (evaluation,) = impact.evaluations
    assert (evaluation.id, evaluation.verdict, evaluation.dataset) == (
        chain.evaluation_id, "pass", test
    )  # fmt: skip
    (reference,) = impact.references
    assert (reference.id, reference.model, reference.endpoints, reference.monitor_runs) == (
        chain.reference_id, "employment@1", ("acs",), 1
    )  # fmt: skip
    assert impact.truncated == ()
    summary = impact.summary()
    assert str(summary) == (
        "2 derived versions, 1 run, 1 model version (1 champion), 1 evaluation, "
        "1 monitoring reference, 1 endpoint serving it: acs"
    )
    assert summary.to_dict()["endpoints"] == ["acs"] and not impact.empty
    document = json.loads(json.dumps(impact.to_dict()))
    assert document["summary"]["model_versions"] == 1
    assert document["model_versions"][0]["aliases"] == ["champion"]
    assert document["runs"][0]["id"] == chain.run_id


def test_impact_from_a_derived_version_and_the_unrelated_ones(client: ms.Client) -> None:
    chain = build_chain(client)
    from_train = client.datasets.impact(PROJECT, chain.train.ref[: len("acs-2015-train@") + 8])
    assert from_train.version.id == chain.train.id
    assert from_train.datasets == () and from_train.evaluations == ()  # test is a sibling
    assert [m.ref for m in from_train.models] == ["employment@1"]
    assert from_train.endpoints[0].path_text == (
        f"{chain.train.short_ref} -> run r1 -> employment@1 -> endpoint acs (champion, 95%)"
    )
    other = client.datasets.impact(None, "acs-2016")  # the store's only project
    assert [r.id for r in other.runs] == [chain.other_run_id]
    assert (other.models, other.endpoints, other.datasets) == ((), (), ())
    assert str(other.summary()) == (
        "0 derived versions, 1 run, 0 model versions, 0 endpoints serving it"
    )
    unused = client.datasets.impact(PROJECT, "acs-2017@latest")
    assert unused.empty and unused.paths() == []
    assert str(unused.summary()) == (
        f"Nothing was built on {unused.version.short_ref}: no derived versions, runs, model "
        "versions, evaluations or monitoring references."
    )


def test_depth_and_limit_bound_the_walk_and_say_so(store: Any, client: ms.Client) -> None:
    client.create_project(PROJECT)
    frame = _acs(2015, 400)
    root = client.datasets.register(PROJECT, "acs-2015", frame, target="employed")
    parts = client.datasets.split(PROJECT, root, fractions={"train": 0.5, "test": 0.5})
    grand = client.datasets.split(PROJECT, parts["train"], fractions={"a": 0.5, "b": 0.5})
    with client.start_run(PROJECT, "baseline", name="deep") as tracked:
        tracked.log_input(grand["a"], "training")
    full = dataset_impact(store, PROJECT, root)
    assert [d.level for d in full.datasets] == [1, 1, 2, 2]
    assert full.runs[0].path_text == (
        f"{root.short_ref} -> split -> {parts['train'].short_ref} -> split -> "
        f"{grand['a'].short_ref} -> run deep"
    )
    shallow = dataset_impact(store, PROJECT, root, depth=1)
    assert [d.level for d in shallow.datasets] == [1, 1] and shallow.runs == ()
    assert len(shallow.truncated) == 1 and "pass a larger depth" in shallow.truncated[0]
    assert str(shallow.summary()).endswith("(truncated: see the notes)")
    capped = dataset_impact(store, PROJECT, root, limit=3)
    assert len(capped.datasets) == 3
    assert any("only the first 3" in note for note in capped.truncated)


@pytest.mark.parametrize(
    ("ref", "kwargs", "error", "message"),
    [
        ("acs-2015@latest", {"depth": 0}, ms.InvalidInput, "depth must be an integer from 1"),
        ("acs-2015@latest", {"limit": -1}, ms.InvalidInput, "limit must be an integer from 1"),
        ("nope@latest", {}, ms.NotFound, "Dataset 'nope' does not exist in project 'acs'"),
        ("acs-2015@abc", {}, ms.InvalidInput, "a version prefix needs at least 8 hex digits"),
        ("acs-2015@zz", {}, ms.InvalidInput, "is not 'latest' nor a hexadecimal content hash"),
        ("acs-2015@deadbeef", {}, ms.NotFound, "has no version starting with 'deadbeef'"),
    ],
)
def test_bad_input_fails_with_what_was_expected(
    client: ms.Client, ref: str, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    client.create_project(PROJECT)
    client.datasets.register(PROJECT, "acs-2015", _acs(2015, 100), target="employed")
    with pytest.raises(error, match=re.escape(message)):
        client.datasets.impact(PROJECT, ref, **kwargs)


def test_which_project_is_asked_when_the_store_has_several(client: ms.Client) -> None:
    client.create_project("one")
    client.create_project("two")
    with pytest.raises(ms.InvalidInput, match=r"Which project\?.*pass project=NAME"):
        client.datasets.impact(None, "acs-2015@latest")


def test_the_cli_prints_a_tree_a_summary_and_json(
    client: ms.Client,
    store_uri: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = build_chain(client)
    monkeypatch.setenv("COLUMNS", "200")
    base = ["--uri", store_uri, "data", "impact"]
    capsys.readouterr()
    assert run([*base, "acs-2015@latest", "--project", PROJECT]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert chain.source.short_ref in lines[0]
    for expected in (
        f"split -> {chain.train.short_ref} (train, 1,400 rows)",
        f"run r1 [{chain.run_id[:8]}] (experiment 'baseline', finished",
        "model employment@1 (active; champion)",
        "endpoint acs (95% of traffic)",
        f"evaluation {chain.evaluation_id[:8]} of employment@1: pass",
        f"monitoring reference {chain.reference_id[:8]}",
    ):
        assert expected in out, expected
    # the tree nests: dataset -> derived -> run -> model -> endpoint
    order = [
        next(i for i, line in enumerate(lines) if text in line)
        for text in (chain.train.short_ref, "run r1", "model employment@1", "endpoint acs")
    ]
    assert order == sorted(order)
    assert lines[-1] == (
        "2 derived versions, 1 run, 1 model version (1 champion), 1 evaluation, "
        "1 monitoring reference, 1 endpoint serving it: acs"
    )
    assert run([*base, "acs-2015@latest", "--format", "json", "--depth", "1"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["depth"] == 1 and document["truncated"] == []
    assert [e["name"] for e in document["endpoints"]] == ["acs"]
    assert document["summary"]["endpoints"] == ["acs"]
    assert document["runs"][0]["path"].endswith("-> run r1")

    assert run([*base, "acs-2017@latest"]) == 0
    assert "Nothing was built on acs-2017@" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope@latest"], 3, "Dataset 'nope' does not exist in project 'acs'"),
        (["acs-2015@xyz"], 2, "Invalid dataset reference 'acs-2015@xyz'"),
        (["acs-2015@latest", "--depth", "0"], 2, "depth must be an integer from 1 to 20"),
        (["acs-2015@latest", "--format", "yaml"], 2, "expected text or json"),
    ],
)
def test_the_cli_refuses_bad_input_with_the_exit_code_of_the_error(
    client: ms.Client,
    store_uri: str,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    client.create_project(PROJECT)
    client.datasets.register(PROJECT, "acs-2015", _acs(2015, 100), target="employed")
    capsys.readouterr()
    assert run(["--uri", store_uri, "data", "impact", *args, "--project", PROJECT]) == code
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err
