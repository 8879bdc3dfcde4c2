"""Registration, references, aliases, states, routes, lineage (both metadata backends)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlsteward as ms
from mlsteward.registry import (
    check_deployable,
    list_routes,
    register_route,
    resolve_model,
    set_routes,
    unregister_route,
)

CHARTER = {
    "schema_version": 1,
    "objective": {
        "statement": "Find people to reach with information about benefits.",
        "decision": "Who gets a letter.",
        "owners": [{"name": "Analytics", "contact": "a@example.org", "role": "model owner"}],
    },
    "task": {"type": "binary", "target": "y", "prediction_unit": "person", "positive_class": 1},
    "success_metrics": [{"metric": "roc_auc", "threshold": 0.8}],
    "scope": {"intended_use": "Outreach lists."},
}


def test_register_from_a_run_records_everything(
    client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    client.create_project("reg")
    client.charters.apply("reg", CHARTER)
    t = train(client, frame, fitted_pipeline)
    version = client.models.register("acs", project="reg", run=t.run_id)

    assert (version.ref, version.state, version.project) == ("acs@1", "active", "reg")
    assert version.source_run_id == t.run_id
    assert version.source_artifact_path == "model/model.skops"
    assert [(d.ref, d.role) for d in version.datasets] == [(t.dataset.ref, "training")]
    assert version.charter is not None and version.charter.version == 1
    assert version.metrics == {"val_accuracy": 0.84, "val_roc_auc": 0.91}
    assert version.params == {"C": "1.0"}
    assert version.model_class == "sklearn.pipeline.Pipeline"
    steps = [s["name"] for s in version.pipeline["steps"]]
    assert steps == ["prep", "clf"]
    transformers = version.pipeline["steps"][0]["transformers"]
    assert [(tr["name"], tr["columns"]) for tr in transformers] == [
        ("num", ["age", "hours"]),
        ("cat", ["sex", "edu"]),
    ]
    # the signature: the model's columns, the domain from the training profile
    sig = version.signature
    assert sig.names == ["age", "hours", "sex", "edu"]
    assert sig.source == f"profile of {t.dataset.short_ref}"
    age = sig.column("age")
    assert (age.type, age.min, age.max) == ("numeric", frame["age"].min(), frame["age"].max())
    assert sig.column("sex").categories == ("f", "m")
    assert sig.column("edu").categories == (1, 2, 3, 4)
    assert sig.classes == (0, 1)
    packages = version.requirements["packages"]
    assert {"scikit-learn", "numpy", "skops", "mlsteward"} <= set(packages)
    assert "pytest" not in packages
    # loading verifies the hash and predicts what the in-memory model predicts
    predictor = client.load_model("acs@1", project="reg")
    x = frame.drop(columns="y")
    assert np.array_equal(predictor.predict_proba(x), fitted_pipeline.predict_proba(x))
    [event] = client.audit_log(action="model.register")
    assert event.entity_id == "reg/acs"
    assert event.payload["source_run_id"] == t.run_id
    assert event.payload["charter_version"] == 1


def test_versions_are_numbered_per_model_and_references_resolve(
    client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    t = train(client, frame, fitted_pipeline)
    first = client.models.register("acs", run=t.run_id)
    second = client.models.register("acs", run=t.run_id, alias="champion", reason="newer")
    other = client.models.register("other", project="reg", model=fitted_pipeline)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert other.source_run_id is None and other.datasets == ()
    assert client.models.get("acs@latest").version == 2
    assert client.models.get("acs").version == 2
    assert client.models.get("acs@v1").id == first.id
    assert client.models.get("acs@champion").id == second.id
    assert resolve_model(client.store, "reg", "acs@2").aliases == ("champion",)
    listed = {m.name: m for m in client.models.list()}
    assert listed["acs"].latest_version == 2 and listed["acs"].aliases == {"champion": 2}
    assert [v.version for v in client.models.versions("acs")] == [1, 2]

    with pytest.raises(ms.NotFound, match="no version 9; its versions are 1 to 2"):
        client.models.get("acs@9")
    with pytest.raises(ms.NotFound, match=r"no alias 'challenger'.*champion \(-> 2\)"):
        client.models.get("acs@challenger")
    with pytest.raises(ms.NotFound, match="Models in it: acs, other"):
        client.models.get("nope@1")
    with pytest.raises(ms.InvalidInput, match="neither a version number nor an alias"):
        client.models.get("acs@Bad Alias")


def test_alias_moves_are_audited_with_their_reason(
    sqlite_client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    st = sqlite_client
    t = train(st, frame, fitted_pipeline)
    st.models.register("acs", run=t.run_id)
    st.models.register("acs", run=t.run_id)
    with pytest.raises(ms.InvalidInput, match="needs a reason"):
        st.models.alias("acs@1", "champion", reason="  ")
    with pytest.raises(ms.InvalidInput, match="'latest' and version numbers"):
        st.models.alias("acs@1", "latest", reason="x")
    first = st.models.alias("acs@1", "champion", reason="baseline")
    moved = st.models.alias("acs@2", "champion", reason="better ROC AUC on 2015 test")
    assert (first.previous_version, moved.previous_version, moved.version) == (None, 1, 2)
    assert st.models.get("acs@champion").version == 2
    events = st.audit_log(action="model.alias.set")
    assert [(e.payload["version"], e.payload["previous_version"]) for e in events] == [
        (1, None),
        (2, 1),
    ]
    assert events[-1].payload["reason"] == "better ROC AUC on 2015 test"
    assert events[-1].actor == "tester" and events[-1].entity_id == "reg/acs"
    removed = st.models.delete_alias("acs", "champion", reason="no champion for now")
    assert removed.version == 2
    with pytest.raises(ms.NotFound):
        st.models.get("acs@champion")
    assert st.audit_log(action="model.alias.delete")[0].payload["reason"] == "no champion for now"
    assert st.verify_audit().ok


def test_retire_refuses_a_routed_or_aliased_version_naming_the_endpoint(
    client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    t = train(client, frame, fitted_pipeline)
    client.models.register("acs", run=t.run_id, alias="champion", reason="first")
    client.models.register("acs", run=t.run_id)
    store = client.store
    register_route(store, "reg", "acs-prod", "acs@1", weight=0.9)
    register_route(store, "reg", "acs-shadow", "acs@1", weight=0, mode="shadow")
    with pytest.raises(ms.Conflict) as info:
        client.models.retire("acs@1", reason="replaced")
    message = str(info.value)
    assert "endpoint 'acs-prod' (live, weight 0.9)" in message
    assert "endpoint 'acs-shadow' (shadow, weight 0)" in message
    assert client.models.get("acs@1").state == "active"

    set_routes(store, "reg", "acs-prod", {"acs@2": 1.0})
    assert unregister_route(store, "reg", "acs-shadow") == 1
    assert [(r.endpoint, r.ref, r.weight) for r in list_routes(store, "reg")] == [
        ("acs-prod", "acs@2", 1.0)
    ]
    with pytest.raises(ms.Conflict, match=r"alias.*champion point to it"):
        client.models.retire("acs@1", reason="replaced")
    client.models.alias("acs@2", "champion", reason="v2 takes over")
    retired = client.models.retire("acs@1", reason="replaced by v2")
    assert (retired.state, retired.state_reason) == ("retired", "replaced by v2")
    # a retired version cannot be deployed, routed to or aliased; it still loads
    with pytest.raises(ms.Conflict, match=r"retired .*cannot be deployed"):
        check_deployable(store, "reg", "acs@1")
    assert check_deployable(store, "reg", "acs@2").version == 2
    with pytest.raises(ms.Conflict, match="retired"):
        register_route(store, "reg", "acs-prod", "acs@1")
    with pytest.raises(ms.Conflict, match="retired"):
        client.models.alias("acs@1", "challenger", reason="x")
    with pytest.raises(ms.Conflict, match="retirement is final"):
        client.models.deprecate("acs@1", reason="x")
    assert client.load_model("acs@1").model_version.state == "retired"
    actions = [e.action for e in client.audit_log(entity_kind="model", entity_id="reg/acs")]
    assert actions.count("model.route.register") == 3
    assert actions[-2:] == ["model.alias.set", "model.retire"]


def test_deprecated_versions_stay_deployable(
    sqlite_client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    st = sqlite_client
    t = train(st, frame, fitted_pipeline)
    st.models.register("acs", run=t.run_id)
    version = st.models.deprecate("acs@1", reason="superseded soon")
    assert (version.state, version.state_reason) == ("deprecated", "superseded soon")
    assert check_deployable(st.store, "reg", "acs@1").state == "deprecated"
    again = st.models.deprecate("acs@1", reason="twice")
    assert again.state_reason == "superseded soon"
    assert len(st.audit_log(action="model.deprecate")) == 1


def test_lineage_chains_charter_data_run_model_and_deployments(
    sqlite_client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    st = sqlite_client
    st.create_project("reg")
    st.charters.apply("reg", CHARTER)
    t = train(st, frame, fitted_pipeline, name="baseline")
    st.models.register("acs", run=t.run_id, alias="champion", reason="first")
    register_route(st.store, "reg", "acs-prod", "acs@champion")
    lineage = st.models.lineage("acs@champion")
    tree = lineage.tree()
    assert tree.kind == "charter" and tree.ref == "reg@1"
    data = tree.children[0]
    assert data.kind == "data" and t.dataset.short_ref in data.label
    run = data.children[0]
    assert run.kind == "run" and run.ref == t.run_id and "'baseline'" in run.label
    model = run.children[0]
    assert model.ref == "acs@1" and "champion" in model.label
    assert [(n.kind, n.ref) for n in model.children] == [("endpoint", "acs-prod")]
    assert lineage.to_dict()["model"] == "acs@1"


def test_registration_errors_say_what_to_do(
    sqlite_client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    st = sqlite_client
    t = train(st, frame, fitted_pipeline)
    with pytest.raises(ms.InvalidInput, match="exactly one source"):
        st.models.register("acs", run=t.run_id, model=fitted_pipeline)
    with pytest.raises(ms.InvalidInput, match="needs a reason"):
        st.models.register("acs", run=t.run_id, alias="champion")
    with pytest.raises(ms.InvalidInput, match="belongs to project 'reg'"):
        st.create_project("other")
        st.models.register("acs", project="other", run=t.run_id)
    with pytest.raises(ms.NotFound, match="Artifact 'nope' of run"):
        st.models.register("acs", run=t.run_id, artifact="nope")
    with pytest.raises(ms.InvalidInput, match="Which project"):
        st.models.register("acs", model=fitted_pipeline)
    with pytest.raises(ms.InvalidInput, match="Invalid model name"):
        st.models.register("Bad Name", run=t.run_id)
    assert st.models.list(project="reg") == []


def test_a_candidate_from_log_model_registers_directly(
    sqlite_client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    st = sqlite_client
    t = train(st, frame, fitted_pipeline)
    [candidate] = st.runs.get(t.run_id).models
    version = st.models.register("acs", model=candidate)
    assert (version.source_run_id, version.source_artifact_path) == (t.run_id, candidate.path)
    assert version.artifact_digest == candidate.digest


def test_routes_join_the_callers_transaction(
    sqlite_client: Any, frame: pd.DataFrame, fitted_pipeline: Any, train: Any
) -> None:
    st = sqlite_client
    t = train(st, frame, fitted_pipeline)
    st.models.register("acs", run=t.run_id)
    with pytest.raises(ms.InvalidInput), st.store.transaction() as tx:
        register_route(tx, "reg", "acs-prod", "acs@1")
        register_route(tx, "reg", "acs-prod", "acs@1", weight=-1)  # rolls both back
    assert list_routes(st.store, "reg") == []
    with st.store.transaction() as tx:
        route = register_route(tx, "reg", "acs-prod", "acs@1", weight=0.5)
    assert [r.to_dict() for r in list_routes(st.store, "reg", ref="acs@1")] == [route.to_dict()]
    with pytest.raises(ms.InvalidInput, match="'live' or 'shadow'"):
        register_route(st.store, "reg", "acs-prod", "acs@1", mode="mirror")
    with pytest.raises(ms.InvalidInput, match="Invalid endpoint name"):
        register_route(st.store, "reg", "Prod Endpoint", "acs@1")
