"""Every check on data built to pass and on data built to fail; the statistics behind them
against independent references (scikit-learn, scipy, pandas)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import median_abs_deviation, spearmanr
from sklearn.metrics import mutual_info_score, roc_auc_score

import mlsteward as ms
from mlsteward.data import CheckReport, CheckResult, DatasetVersion
from mlsteward.data._checks._stats import (
    auc,
    mutual_information,
    outlier_mask,
    quantile_codes,
    spearman,
)

PROJECT = "proj"
Frame = Callable[..., pd.DataFrame]


def _check(
    st: ms.Client,
    df: pd.DataFrame,
    check: dict[str, Any],
    *,
    reference: DatasetVersion | None = None,
    name: str = "d",
    **meta: Any,
) -> CheckResult:
    version = st.datasets.register(PROJECT, name, df, **meta)
    report = st.datasets.check(
        PROJECT, version, spec={"checks": [check]}, reference=reference, now=datetime(2021, 1, 1)
    )
    assert len(report.results) == 1
    return report.results[0]


# -- statistics against references ------------------------------------------------------
def test_auc_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    scores = y + rng.normal(0, 1.5, 500)
    scores[:50] = np.round(scores[:50])  # ties
    assert auc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert np.isnan(auc(scores, np.ones(500)))


def test_spearman_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    y = x**3 + rng.normal(size=300)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_mutual_information_matches_sklearn() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 6, 1000)
    y = (x + rng.integers(0, 3, 1000)) % 4
    assert mutual_information(x, y) == pytest.approx(mutual_info_score(x, y), abs=1e-12)
    noise = rng.integers(0, 10, 1000)
    corrected = mutual_information(noise, rng.integers(0, 2, 1000), corrected=True)
    assert corrected < 0.002 < mutual_info_score(noise, rng.integers(0, 2, 1000)) + 0.003


def test_outlier_rules_match_scipy_and_numpy() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(10, 2, 1000), [60.0, -45.0, 80.0]])
    mask, rule = outlier_mask(values, "robust_z", 3.5, 1.5)
    robust_z = (values - np.median(values)) / median_abs_deviation(values, scale="normal")
    assert (mask == (np.abs(robust_z) > 3.5)).all() and "robust z" in rule
    q1, q3 = np.percentile(values, [25, 75])
    fences = (values < q1 - 1.5 * (q3 - q1)) | (values > q3 + 1.5 * (q3 - q1))
    assert (outlier_mask(values, "iqr", 3.5, 1.5)[0] == fences).all()
    assert not outlier_mask(np.ones(50), "robust_z", 3.5, 1.5)[0].any()


def test_quantile_codes_give_missing_its_own_code() -> None:
    codes = quantile_codes(np.array([1.0, 2.0, 3.0, 4.0, np.nan]), 2)
    assert len(set(codes[:4])) == 2 and codes[4] not in set(codes[:4])


# -- schema -----------------------------------------------------------------------------
def test_schema(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame()
    expected = {c: t for c, t in st.datasets.register(PROJECT, "ref", df).column_types.items()}
    ok = _check(st, df, {"kind": "schema", "expected": expected})
    assert ok.status == "pass"
    changed = df.drop(columns=["score"]).assign(extra=1.0, sex=np.arange(len(df)) % 50 + 0.5)
    bad = _check(st, changed, {"kind": "schema", "expected": expected}, name="changed")
    assert bad.status == "fail" and bad.severity == "blocking"
    assert "missing column(s) score" in bad.message and "unexpected column(s) extra" in bad.message
    assert "sex: categorical -> numeric" in bad.message
    reference = st.datasets.get(PROJECT, "ref@latest")
    assert _check(st, df, {"kind": "schema"}, reference=reference, name="same").status == "pass"
    assert _check(st, df, {"kind": "schema"}, name="none").status == "skipped"


# -- missing ----------------------------------------------------------------------------
def test_missing(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame()
    df.loc[df.index[:20], "score"] = np.nan  # 10 %
    result = _check(st, df, {"kind": "missing", "max_rate": 0.05})
    assert result.status == "fail" and result.columns == ("score",)
    assert result.details["rates"]["score"] == pytest.approx(df["score"].isna().mean())
    assert "score 10.00% > 5.00%" in result.message
    relaxed = _check(st, df, {"kind": "missing", "max_rate": 0.05, "per_column": {"score": 0.2}})
    assert relaxed.status == "pass"


# -- domain -----------------------------------------------------------------------------
def test_domain_from_the_spec(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame()
    spec = {
        "kind": "domain",
        "ranges": {"age": {"min": 18, "max": 89}},
        "categories": {"sex": [1, 2]},
    }
    assert _check(st, df, spec).status == "pass"
    bad = df.copy()
    bad.loc[bad.index[0], "age"] = 140.0
    bad.loc[bad.index[1:3], "sex"] = "9"
    result = _check(st, bad, spec, name="bad")
    assert result.status == "fail" and set(result.columns) == {"age", "sex"}
    assert result.details["columns"]["age"]["out_of_domain"] == 1
    assert result.details["columns"]["sex"]["unseen"] == ["9"]
    assert _check(st, bad, {**spec, "max_share": 0.02}, name="bad").status == "pass"


def test_domain_from_a_reference(st: ms.Client, make_frame: Frame) -> None:
    reference = st.datasets.register(PROJECT, "ref", make_frame(seed=1), time_column="when")
    current = make_frame(seed=2)
    low, high = reference_range(st, reference, "age")
    current["age"] = current["age"].clip(low, high)
    low, high = reference_range(st, reference, "score")
    current["score"] = current["score"].clip(low, high)
    # the time column is left out (later batches are later by design)
    current["when"] = current["when"] + pd.Timedelta(days=1000)
    assert (
        _check(st, current, {"kind": "domain"}, reference=reference, time_column="when").status
        == "pass"
    )
    current.loc[current.index[0], "sex"] = "3"
    result = _check(st, current, {"kind": "domain"}, reference=reference, name="new")
    assert result.status == "fail" and result.columns == ("sex",)
    assert result.details["source"].startswith("reference ref@")


def reference_range(st: ms.Client, version: DatasetVersion, column: str) -> tuple[float, float]:
    values = st.datasets.load(PROJECT, version)[column]
    return float(values.min()), float(values.max())


def test_domain_from_the_charter(st: ms.Client) -> None:
    from mlsteward.datasets import load_acs_employment
    from mlsteward.demo._charter import acs_charter_path

    st.charters.apply(PROJECT, acs_charter_path())
    acs = (
        load_acs_employment([2015]).head(500).drop(columns=["prediction", "predicted_probability"])
    )
    ok = _check(st, acs, {"kind": "domain"})
    assert ok.status == "pass" and ok.details["source"].startswith("charter proj@")
    acs = acs.copy()
    acs["AGEP"] = acs["AGEP"].astype(float)
    acs.loc[acs.index[0], "AGEP"] = 130.0
    bad = _check(st, acs, {"kind": "domain"}, name="bad")
    assert bad.status == "fail" and bad.columns == ("AGEP",)


# -- duplicates -------------------------------------------------------------------------
def test_duplicate_rows(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame()
    assert _check(st, df, {"kind": "duplicate_rows"}).status == "pass"
    dup = pd.concat([df, df.iloc[:5].assign(id=np.arange(1000, 1005))], ignore_index=True)
    result = _check(st, dup, {"kind": "duplicate_rows"}, name="dup")
    expected = int(dup.drop(columns=["id"]).duplicated().sum())
    assert expected == 5 and result.status == "fail" and result.details["duplicates"] == expected
    # with the id compared too, the rows differ
    assert (
        _check(st, dup, {"kind": "duplicate_rows", "ignore_id_columns": False}, name="dup").status
        == "pass"
    )


def test_duplicate_ids(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame()
    assert _check(st, df, {"kind": "duplicate_ids"}).status == "pass"
    repeated = df.assign(id=df["id"].where(df["id"] != 7, 3))
    result = _check(st, repeated, {"kind": "duplicate_ids"}, name="rep", column_types={"id": "id"})
    assert result.status == "fail" and result.severity == "blocking"
    assert result.details["columns"]["id"]["duplicated"] == 1
    assert result.details["columns"]["id"]["examples"] == [3]
    no_ids = df.drop(columns=["id"])
    assert _check(st, no_ids, {"kind": "duplicate_ids"}, name="noid").status == "skipped"


# -- outliers and constants -------------------------------------------------------------
def test_outliers(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame(n=400)
    assert _check(st, df, {"kind": "outliers", "columns": ["score"]}).status == "pass"
    spiky = df.copy()
    spiky.loc[spiky.index[:10], "score"] = 50.0
    result = _check(st, spiky, {"kind": "outliers", "columns": ["score"]}, name="spiky")
    values = spiky["score"].to_numpy()
    z = (values - np.median(values)) / median_abs_deviation(values, scale="normal")
    assert result.status == "fail"
    assert result.details["columns"]["score"]["outliers"] == int((np.abs(z) > 3.5).sum())
    iqr = _check(
        st, spiky, {"kind": "outliers", "method": "iqr", "columns": ["score"]}, name="spiky"
    )
    assert iqr.status == "fail"


def test_constant(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame()
    assert _check(st, df, {"kind": "constant"}).status == "pass"
    result = _check(st, df.assign(country="US"), {"kind": "constant"}, name="c")
    assert result.status == "fail" and result.columns == ("country",)
    nearly = df.assign(flag=["a"] * 195 + ["b"] * 5)
    assert _check(st, nearly, {"kind": "constant"}, name="n").status == "pass"
    strict = _check(st, nearly, {"kind": "constant", "max_top_share": 0.95}, name="n")
    assert strict.status == "fail" and strict.details["columns"]["flag"]["top_share"] == 0.975


# -- target checks ----------------------------------------------------------------------
def test_leakage(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame(n=1000)
    ok = _check(st, df, {"kind": "leakage"}, target="employed")
    assert ok.status == "pass"
    age_auc = roc_auc_score(df["employed"], df["age"])
    assert ok.details["scores"]["age"]["auc"] == pytest.approx(max(age_auc, 1 - age_auc), abs=0.02)
    leaky = df.assign(
        paid_salary=df["employed"] * 100 + np.random.default_rng(0).normal(0, 1, len(df)),
        status=np.where(df["employed"] == 1, "working", "idle"),
    )
    result = _check(st, leaky, {"kind": "leakage"}, name="leaky", target="employed")
    assert result.status == "fail" and set(result.columns) == {"paid_salary", "status"}
    assert "Possible target leakage" in result.message


def test_leakage_on_a_numeric_target(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame(n=500)
    df["income"] = df["age"] * 1000 + np.random.default_rng(1).normal(0, 20000, len(df))
    df = df.drop(columns=["employed"])
    assert _check(st, df, {"kind": "leakage"}, target="income").status == "pass"
    leaky = df.assign(tax=df["income"] * 0.3)
    result = _check(st, leaky, {"kind": "leakage"}, name="leaky", target="income")
    assert result.status == "fail" and result.columns == ("tax",)


def test_label_balance(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame()
    assert _check(st, df, {"kind": "label_balance"}, target="employed").status == "pass"
    skewed = df.assign(employed=[1] * 196 + [0] * 4)
    result = _check(st, skewed, {"kind": "label_balance"}, name="s", target="employed")
    assert result.status == "fail" and result.details["shares"]["0"] == 0.02
    single = df.assign(employed=1)
    assert (
        _check(st, single, {"kind": "label_balance"}, name="one", target="employed").status
        == "fail"
    )
    assert _check(st, df, {"kind": "label_balance"}, name="nt").status == "skipped"


def test_relevance(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame(n=2000)
    df["noise"] = np.random.default_rng(5).normal(size=len(df))
    result = _check(
        st, df, {"kind": "relevance", "columns": ["age", "score", "noise"]}, target="employed"
    )
    assert result.status == "fail" and result.columns == ("noise",)
    codes = quantile_codes(df["age"].to_numpy(), 10)
    raw = mutual_info_score(codes, df["employed"])
    assert result.details["scores"]["age"]["mutual_info_raw"] == pytest.approx(raw, abs=1e-12)
    ok = _check(st, df, {"kind": "relevance", "columns": ["age", "score"]}, target="employed")
    assert ok.status == "pass"


# -- collection checks ------------------------------------------------------------------
def test_freshness(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame()  # daily from 2020-01-01: newest 2020-07-18
    fresh = {"kind": "freshness", "max_age_days": 30, "as_of": "2020-08-01T00:00:00Z"}
    result = _check(st, df, fresh, time_column="when")
    assert result.status == "pass" and result.details["age_days"] == pytest.approx(14.0)
    stale = _check(
        st, df, {"kind": "freshness", "max_age_days": 30}, time_column="when"
    )  # now = 2021-01-01
    assert stale.status == "fail" and stale.severity == "blocking" and "stale" in stale.message
    years = pd.DataFrame({"year": [2014, 2015, 2015], "x": [1.0, 2.0, 3.0]})
    by_year = _check(
        st,
        years,
        {"kind": "freshness", "max_age_days": 10, "as_of": "2016-01-05"},
        name="y",
        time_column="year",
    )
    assert by_year.status == "pass" and by_year.details["newest"].startswith("2015-12-31")


def test_coverage(st: ms.Client, make_frame: Frame) -> None:
    df = make_frame(n=400)
    df["region"] = np.where(np.arange(400) % 4 == 0, "north", "south")
    ok = _check(st, df, {"kind": "coverage", "groups": ["sex", "region"], "min_rows": 20})
    assert ok.status == "pass" and len(ok.details["cells"]) == 4
    counts = df.groupby(["sex", "region"]).size()
    assert ok.details["cells"]["1|north"]["rows"] == counts[("1", "north")]
    declared = {
        "kind": "coverage",
        "groups": ["sex", "region"],
        "min_rows": 20,
        "values": {"region": ["north", "south", "east"]},
    }
    missing = _check(st, df, declared)
    assert missing.status == "fail" and missing.details["cells"]["1|east"]["rows"] == 0
    shares = {
        "kind": "coverage",
        "groups": ["region"],
        "min_rows": 1,
        "expected_shares": {"north": 0.5, "south": 0.5},
        "tolerance": 0.2,
    }
    off = _check(st, df, shares)
    assert off.status == "fail" and "share 25.00% vs expected 50.00%" in off.message


def test_coverage_shares_from_a_reference(st: ms.Client, make_frame: Frame) -> None:
    reference = st.datasets.register(PROJECT, "ref", make_frame(n=1000, seed=1))
    current = make_frame(n=1000, seed=2)
    assert (
        _check(
            st,
            current,
            {"kind": "coverage", "groups": ["sex"], "min_rows": 10},
            reference=reference,
        ).status
        == "pass"
    )
    biased = current[(current["sex"] == "1") | (np.arange(1000) % 5 == 0)]
    result = _check(
        st,
        biased,
        {"kind": "coverage", "groups": ["sex"], "min_rows": 10},
        reference=reference,
        name="b",
    )
    assert result.status == "fail" and "expected" in result.message


def test_personal_data_is_found_and_tagged(st: ms.Client) -> None:
    n = 60
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "contact": [f"user{i}@example.org" for i in range(n)],
            "mobile_number": [f"(617) 555-{1000 + i}" for i in range(n)],
            "tax": [f"{100 + i:03d}-45-{6789 + i:04d}" for i in range(n)],
            "customer": [
                rng.choice(["Mary Smith", "John O'Neil", "Linda Park", "James Lee"])
                for _ in range(n)
            ],
            "dob": pd.date_range("1980-01-01", periods=n, freq="D"),
            "city": [rng.choice(["New York", "Boston", "Salem"]) for _ in range(n)],
            "when": pd.date_range("2020-01-01", periods=n, freq="D").astype(str),
        }
    )
    result = _check(st, df, {"kind": "personal_data"})
    found = result.details["columns"]
    assert result.status == "fail"
    assert set(found) == {"contact", "mobile_number", "tax", "customer", "dob"}
    assert "personal:email" in found["contact"] and "personal:phone" in found["mobile_number"]
    assert "personal:national_id" in found["tax"] and "personal:name" in found["customer"]
    assert found["dob"]["personal:date_of_birth"]["evidence"] == "column name"
    tags = {(t.column, t.tag) for t in st.datasets.tags(PROJECT, "d@latest")}
    assert ("contact", "personal:email") in tags and ("customer", "personal:name") in tags
    assert len(tags) == sum(len(v) for v in found.values())


def test_clean_data_has_no_personal_data(st: ms.Client, make_frame: Frame) -> None:
    assert _check(st, make_frame(), {"kind": "personal_data"}).status == "pass"
    assert st.datasets.tags(PROJECT, "d@latest") == []


# -- runs: storage, defaults, spec errors -----------------------------------------------
def test_runs_are_stored_and_blocking_failures_fail_the_run(
    st: ms.Client, make_frame: Frame
) -> None:
    df = make_frame()
    v = st.datasets.register(
        PROJECT, "d", df.assign(id=0), target="employed", column_types={"id": "id"}
    )
    report = st.datasets.check(PROJECT, v)  # the default spec
    kinds = [r.kind for r in report.results]
    assert kinds == [
        "missing",
        "duplicate_rows",
        "duplicate_ids",
        "outliers",
        "constant",
        "leakage",
        "label_balance",
        "relevance",
        "personal_data",
    ]
    assert not report.passed and [r.kind for r in report.results if r.blocking_failure] == [
        "duplicate_ids"
    ]
    stored = st.datasets.checks(PROJECT, v)
    assert [s.to_dict() for s in stored] == [report.to_dict()]
    events = st.audit_log(action="dataset.check")
    assert len(events) == 1 and events[0].payload["passed"] is False
    # the data report shows the latest stored run
    document = json.loads(st.datasets.report(PROJECT, v, format="json"))
    assert [c["raw"]["kind"] for c in document["checks"]] == kinds
    # warnings alone do not fail a run
    warn = st.datasets.check(
        PROJECT, v, spec={"checks": [{"kind": "duplicate_ids", "severity": "warning"}]}
    )
    assert warn.passed and warn.failures


def test_spec_errors_name_their_path_and_store_nothing(st: ms.Client, make_frame: Frame) -> None:
    v = st.datasets.register(PROJECT, "d", make_frame())
    bad_specs: list[tuple[Any, str]] = [
        ({"checks": [{"kind": "sparkle"}]}, r"checks\[0\]"),
        (
            {"checks": [{"kind": "missing", "max_rate": 1.5}]},
            r"checks\[0\]\.max_rate: Input should be less than or equal to 1",
        ),
        (
            {"checks": [{"kind": "missing", "max_rat": 0.1}]},
            r"checks\[0\]\.max_rat: Extra inputs are not permitted",
        ),
        ({"checks": []}, "checks: List should have at least 1 item"),
        ({"checks": [{"kind": "freshness"}]}, r"checks\[0\]\.max_age_days: Field required"),
    ]
    for spec, message in bad_specs:
        with pytest.raises(ms.InvalidInput, match=message):
            st.datasets.check(PROJECT, v, spec=spec)
    with pytest.raises(ms.InvalidInput, match="names columns 'nope', which dataset d@"):
        st.datasets.check(PROJECT, v, spec={"checks": [{"kind": "missing", "columns": ["nope"]}]})
    with pytest.raises(ms.InvalidInput, match="names target 'label'"):
        st.datasets.check(PROJECT, v, spec={"checks": [{"kind": "leakage", "target": "label"}]})
    assert st.datasets.checks(PROJECT, v) == []
    assert st.audit_log(action="dataset.check") == []


def test_spec_from_yaml_file(st: ms.Client, make_frame: Frame, tmp_path: Any) -> None:
    ref = st.datasets.register(PROJECT, "ref", make_frame(seed=1))
    v = st.datasets.register(PROJECT, "cur", make_frame(seed=2))
    spec = tmp_path / "checks.yaml"
    spec.write_text(
        "reference: ref@latest\n"
        "checks:\n"
        "  - kind: schema\n"
        "  - kind: missing\n"
        "    name: no gaps\n"
        "    max_rate: 0\n"
        "    severity: blocking\n"
    )
    report: CheckReport = st.datasets.check(PROJECT, v, spec=spec)
    assert report.reference == ref.ref
    assert [(r.name, r.status, r.severity) for r in report.results] == [
        ("schema", "pass", "blocking"),
        ("no gaps", "pass", "blocking"),
    ]
    spec.write_text("checks: [kind: missing")
    with pytest.raises(ms.InvalidInput, match="is not valid YAML"):
        st.datasets.check(PROJECT, v, spec=spec)
