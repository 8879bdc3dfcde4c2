"""Monitor runs end to end: a model, its reference data, a log with a pipeline fault,
stored runs and alerts, the CLI, and the report drawn in a browser."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from monitoring_logs import START, spread, write_labels, write_log

import mlsteward as ms
from mlsteward.cli import run as cli
from mlsteward.core import InvalidInput, NotFound
from mlsteward.store.metadata import MonitorReferenceRow, MonitorWindowRow

PROJECT = "acs"
ENDPOINT = "acs-prod"
NOT_FEATURES = ["employed", "id", "year", "prediction", "predicted_probability"]
FAULT_DAY = 90


@pytest.fixture(scope="module")
def acs() -> pd.DataFrame:
    from mlsteward.datasets import load_acs_employment

    return load_acs_employment()


@pytest.fixture
def monitored(sqlite_client: ms.Client, acs: pd.DataFrame, tmp_path: Path) -> dict[str, Any]:
    """A project with the demo charter, a model trained on ACS 2015 with its training and
    validation data, and 120 days of 2016 traffic in the log (AGEP in months for a third
    of the rows from day 90), labels for the first 60 days."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from mlsteward.demo import _charter

    st = sqlite_client
    st.create_project(PROJECT)
    st.charters.apply(PROJECT, Path(_charter.__file__).with_name("acs_charter.yaml"))
    y2015 = (
        acs[acs["year"] == 2015]
        .sample(n=16_000, random_state=0)
        .drop(columns=["prediction", "predicted_probability"])
    )
    train = st.datasets.register(
        PROJECT, "acs-train", y2015.iloc[:10_000].reset_index(drop=True), role="train",
        target="employed", column_types={"id": "id"},
    )  # fmt: skip
    valid = st.datasets.register(
        PROJECT, "acs-valid", y2015.iloc[10_000:].reset_index(drop=True), role="validation",
        target="employed", column_types={"id": "id"},
    )  # fmt: skip
    features = [c for c in y2015.columns if c not in NOT_FEATURES]
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(
            y2015.iloc[:10_000][features], y2015.iloc[:10_000]["employed"]
        )
    version = st.models.register(
        "employment", project=PROJECT, model=model, datasets=[train, valid]
    )
    traffic = acs[acs["year"] == 2016].sample(n=6000, random_state=1).reset_index(drop=True)
    times = spread(START, 120, len(traffic), seed=2)
    days = np.array([(t - START).days for t in times])
    sent = traffic[features].copy()
    broken = (days >= FAULT_DAY) & (traffic["id"].to_numpy() % 3 == 0)
    sent.loc[broken, "AGEP"] *= 12
    with threadpool_limits(limits=1):
        scores = model.predict_proba(sent)[:, 1]
    root = tmp_path  # the store's home: where serving logs for this store
    ids = write_log(
        root, ENDPOINT, times=times, inputs={c: sent[c].tolist() for c in features},
        scores=scores, ids=[str(i) for i in traffic["id"]], model="employment",
        version=version.version,
    )  # fmt: skip
    labelled = days < 60
    write_labels(root, ENDPOINT, [i for i, ok in zip(ids, labelled, strict=True) if ok],
                 traffic.loc[labelled, "employed"].astype(int).tolist())  # fmt: skip
    return {"st": st, "version": version, "root": root, "broken": int(broken.sum())}


def test_a_run_catches_the_fault_naming_the_feature_and_is_stored(monitored) -> None:
    st = monitored["st"]
    run = st.monitor(ENDPOINT, project=PROJECT, window="30d", cost_per_hour=0.0001)
    assert [w["window"]["rows"] for w in run.windows] == [1500] * 4 or len(run.windows) == 4
    assert run.model == "employment@1" and run.rows == 6000
    fault_window = FAULT_DAY // 30
    agep = run.alerts_for("AGEP")
    assert agep, "the fault was not caught"
    assert {a.window for a in agep} == {fault_window}
    assert {(a.kind, a.metric) for a in agep} >= {
        ("drift", "wasserstein"),
        ("quality", "out_of_domain_share"),
    }
    drift_alert = next(a for a in agep if a.kind == "drift")
    assert drift_alert.value is not None and drift_alert.threshold is not None
    assert drift_alert.value > drift_alert.threshold and "acs-train@" in drift_alert.reference
    assert "AGEP" in drift_alert.message
    out_of_domain = next(a for a in agep if a.kind == "quality")
    assert "[0, 99] (charter)" in out_of_domain.reference
    # nothing else drifts: the other windows are clean
    assert all(not w["drift"]["drifted_features"] for w in run.windows[:fault_window])
    # estimated performance everywhere, realized where labels arrived, with coverage
    for item in run.windows:
        estimate = item["performance"]["estimated"]["roc_auc"]
        assert 0.8 < estimate["low"] <= estimate["value"] <= estimate["high"] < 0.97
    realized = [w["performance"]["realized"] for w in run.windows]
    assert [r["coverage"] for r in realized[:2]] == [1.0, 1.0]
    assert [r["labelled"] for r in realized[2:]] == [0, 0]
    series = run.series("roc_auc")
    assert all(abs(p["estimated"] - p["realized"]) < 0.03 for p in series[:2])
    ops = run.windows[0]["operations"]
    assert ops["error_rate"] == 0 and ops["latency_p95_ms"] == pytest.approx(3.0)
    assert ops["cost_per_1k"] == pytest.approx(
        0.0001 * 30 * 24 / run.windows[0]["window"]["rows"] * 1000
    )
    gates = {v["gate"]["key"]: v["status"] for v in run.windows[0]["gates"]["gates"]}
    assert gates["latency_p95_ms"] == "pass" and gates["drift_share"] == "pass"
    assert run.windows[fault_window]["multivariate"]["pca"]["drifted"]

    stored = st.monitoring.status(ENDPOINT)
    assert stored.id == run.id and stored.verdict == run.verdict
    assert [a.to_dict() for a in stored.alerts] == [a.to_dict() for a in run.alerts]
    assert st.monitoring.get(run.id[:10]).id == run.id
    assert {a.subject for a in st.monitoring.alerts(ENDPOINT, subject="AGEP")} == {"AGEP"}
    assert all(
        a.severity == "critical" for a in st.monitoring.alerts(ENDPOINT, min_severity="critical")
    )
    with st.store.reader() as session:
        rows = session.query(MonitorWindowRow).filter_by(run_id=run.id).all()
        assert len(rows) == len(run.windows)
        assert json.loads(rows[fault_window].drifted_json) == ["AGEP"]
    events = st.audit_log(action="monitor.run")
    assert events and events[-1].payload["run"] == run.id


def test_the_reference_is_computed_once_and_reused(monitored) -> None:
    st = monitored["st"]
    first = st.monitor(ENDPOINT, project=PROJECT, window="60d", multivariate=False)
    second = st.monitor(ENDPOINT, project=PROJECT, window=3000, multivariate=False)
    with st.store.reader() as session:
        assert session.query(MonitorReferenceRow).count() == 1
    assert first.reference["id"] == second.reference["id"]
    assert [w["window"]["rows"] for w in second.windows] == [3000, 3000]
    assert second.window == "3000"


def test_skew_compares_served_features_with_offline_ones(monitored, acs: pd.DataFrame) -> None:
    st = monitored["st"]
    offline = acs[acs["year"] == 2016].drop(columns=["prediction", "predicted_probability"])
    st.datasets.register(PROJECT, "acs-2016", offline.reset_index(drop=True), role="batch",
                         target="employed", column_types={"id": "id"})  # fmt: skip
    run = st.monitor(
        ENDPOINT, project=PROJECT, window="30d", multivariate=False,
        skew_reference="acs-2016@latest", entity="id", entity_column="request_id",
    )  # fmt: skip
    skews = [w["skew"] for w in run.windows]
    assert all(s["matched"] == w["window"]["rows"] for s, w in zip(skews, run.windows, strict=True))
    assert [s["skewed_features"] for s in skews] == [[], [], [], ["AGEP"]]
    agep = next(f for f in skews[3]["features"] if f["feature"] == "AGEP")
    assert agep["mismatch_share"] > 0.2 and agep["examples"]
    assert skews[3]["prediction"]["class_disagreement"] > 0.0
    assert skews[0]["prediction"]["mean_abs_score_difference"] == pytest.approx(0.0, abs=1e-9)


def test_errors_say_what_to_do(monitored, tmp_path: Path) -> None:
    st = monitored["st"]
    with pytest.raises(NotFound, match="No prediction log for endpoint 'nowhere'"):
        st.monitor("nowhere", project=PROJECT)
    with pytest.raises(InvalidInput, match="must be after the start"):
        st.monitor(ENDPOINT, project=PROJECT, start="2016-03-01", end="2016-02-01")
    with pytest.raises(NotFound, match="has no monitor run yet"):
        st.monitoring.status("other")


def _cli(capsys: pytest.CaptureFixture[str], uri: str, *argv: str) -> tuple[int, str]:
    code = cli(["--uri", uri, *argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_the_cli_runs_shows_and_reports(
    monitored, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = monitored["st"]
    monkeypatch.setenv("STEWARD_ARTIFACTS", st.store.artifacts.uri)
    monkeypatch.setenv("COLUMNS", "200")
    uri = st.store.uri
    code, out = _cli(capsys, uri, "monitor", "run", ENDPOINT, "--project", PROJECT, "--window", "30d",
                     "--from", "2016-01-01", "--to", "2016-03-01", "--no-multivariate")  # fmt: skip
    assert code == 0, out
    assert "2 windows of 30d" in out and "employment@1" in out
    code, out = _cli(
        capsys, uri, "monitor", "run", ENDPOINT, "--project", PROJECT, "--window", "30d"
    )
    assert code == 0, out
    assert "AGEP" in out
    code, out = _cli(capsys, uri, "monitor", "status", ENDPOINT, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["windows"] == 4 and any(a["subject"] == "AGEP" for a in summary["alerts"])
    code, out = _cli(capsys, uri, "monitor", "alerts", ENDPOINT, "--feature", "AGEP", "--json")
    assert code == 0 and {a["subject"] for a in json.loads(out)} == {"AGEP"}
    report = tmp_path / "monitor.html"
    code, out = _cli(capsys, uri, "monitor", "report", ENDPOINT, "-o", str(report))
    assert code == 0 and report.exists() and "4 windows" in out
    code, out = _cli(capsys, uri, "monitor", "status", "unknown-endpoint")
    assert code == 3 and "has no monitor run yet" in out


def test_cli_drift_lists_every_feature_as_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, acs: pd.DataFrame
) -> None:
    columns = ["AGEP", "SCHL", "SEX", "RAC1P"]
    ref = acs[acs["year"] == 2015][columns]
    cur = acs[acs["year"] == 2018][columns].copy()
    cur["AGEP"] = cur["AGEP"] * 12
    pq.write_table(pa.Table.from_pandas(ref, preserve_index=False), tmp_path / "ref.parquet")
    pq.write_table(pa.Table.from_pandas(cur, preserve_index=False), tmp_path / "cur.parquet")
    code = cli(
        ["drift", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet"), "--format", "json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    document = json.loads(out)
    assert [f["feature"] for f in document["features"]] == columns
    for item in document["features"]:
        assert {"test", "statistic", "p_value", "threshold", "drifted"} <= set(item)
        assert item["test"] in ("wasserstein", "jensen_shannon")
    assert document["drifted_features"] == ["AGEP"]
    agep = document["features"][0]
    assert agep["drifted"] and agep["statistic"] > agep["threshold"] and agep["p_value"] is None
    code = cli(
        [
            "drift",
            str(tmp_path / "ref.parquet"),
            str(tmp_path / "cur.parquet"),
            "-o",
            str(tmp_path / "d.html"),
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0 and (tmp_path / "d.html").read_text().startswith("<!DOCTYPE html>")
    assert "1 of 4 columns drifted" in out
    code = cli(["drift", str(tmp_path / "ref.parquet"), str(tmp_path / "missing.parquet")])
    assert code == 3


@pytest.mark.browser
def test_the_report_draws_offline_in_a_browser(monitored, browser: Any, tmp_path: Path) -> None:
    st = monitored["st"]
    run = st.monitor(ENDPOINT, project=PROJECT, window="30d")
    path = tmp_path / "report.html"
    st.monitoring.report(ENDPOINT, str(path))
    context = browser.new_context(offline=True)
    try:
        tab = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        tab.on("request", lambda r: requests.append(r.url))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(path.as_uri())
        tab.wait_for_function(
            "document.querySelectorAll('.st-chart[data-rendered]').length"
            " + document.querySelectorAll('.st-chart-error').length"
            " === document.querySelectorAll('.st-chart').length",
            timeout=30_000,
        )
        charts = tab.locator(".st-chart")
        assert charts.count() >= 8  # timeline, drift, 5 performance metrics, multivariate, ops
        for i in range(charts.count()):
            assert charts.nth(i).get_attribute("data-rendered") == "true"
            assert charts.nth(i).locator("svg").count() >= 1
        assert tab.locator("#alert-table tbody tr").count() == len(run.alerts)
        assert tab.locator("#alert-table").inner_text().count("AGEP") >= 2
        assert errors == []
        assert [u for u in requests if not u.startswith(("file:", "data:", "about:"))] == []
    finally:
        context.close()
    assert timedelta(days=30).days == 30


def test_the_charter_fairness_limits_are_judged_on_every_window(monitored) -> None:
    st = monitored["st"]
    run = st.monitor(ENDPOINT, project=PROJECT, window="30d")
    for index, item in enumerate(run.windows):
        measured = {(d["metric"], d["attribute"]): d for d in item["fairness"]["disparities"]}
        # selection-rate limits need no label: measured in every window
        assert ("demographic_parity_difference", "SEX") in measured, index
        sex = measured[("demographic_parity_difference", "SEX")]
        assert sex["low"] <= sex["value"] <= sex["high"]
        assert {g["group"] for g in sex["groups"]} == {"1", "2"}
        # error-rate limits only where labels arrived (the first 60 days)
        assert (("equalized_odds_difference", "SEX") in measured) == (index < 2), index
        keys = {v["gate"]["key"] for v in item["gates"]["gates"]}
        assert any("demographic_parity_difference" in k and "SEX" in k for k in keys), keys
    html = run.report()
    assert "Fairness" in html and "demographic_parity_difference by SEX" in html


def test_a_biased_pipeline_is_caught_naming_the_attribute(monitored, acs) -> None:
    """A month in which one source sends every woman's request with a score of zero."""
    st, root, version = monitored["st"], monitored["root"], monitored["version"]
    traffic = acs[acs["year"] == 2017].sample(n=2000, random_state=3).reset_index(drop=True)
    features = [c for c in traffic.columns if c not in NOT_FEATURES]
    model = st.models.load(version.ref, project=PROJECT, domain="off")
    scores = model.predict_proba(traffic[features])[:, 1]
    scores = np.where(traffic["SEX"].astype(str).to_numpy() == "2", 0.0, scores)
    start = START + timedelta(days=150)
    write_log(
        root, ENDPOINT, times=spread(start, 20, len(traffic), seed=4),
        inputs={c: traffic[c].tolist() for c in features}, scores=scores,
        ids=[f"b{i}" for i in range(len(traffic))], model="employment", version=version.version,
    )  # fmt: skip
    run = st.monitor(ENDPOINT, project=PROJECT, window="30d", start=start)
    (item,) = run.windows
    sex = next(
        d
        for d in item["fairness"]["disparities"]
        if (d["metric"], d["attribute"]) == ("demographic_parity_difference", "SEX")
    )
    women = next(g for g in sex["groups"] if g["group"] == "2")
    assert women["selection_rate"] == 0.0 and sex["low"] > 0.05
    alerts = run.alerts_for("SEX")
    assert any(
        a.kind == "gate"
        and a.severity == "critical"
        and "demographic_parity_difference" in a.metric
        for a in alerts
    ), alerts
