"""Checks computed from the profile, by streamed selection, by hashing or on a streamed
sample give exactly what the direct computation on the whole column gives (the way they
were computed before: numpy on the column, DuckDB ``SELECT DISTINCT``, Arrow value counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy.stats import rankdata as scipy_rankdata

import mlsteward as ms
from mlsteward.core import InvalidInput
from mlsteward.data import DatasetVersion
from mlsteward.data._checks import _context, _mad, _runner, _select
from mlsteward.data._checks._context import _Data
from mlsteward.data._checks._outliers import numpy_quantile
from mlsteward.data._checks._select import Rank, StaleCounts, order_keys, select
from mlsteward.data._checks._stats import outlier_mask, rankdata
from mlsteward.data._sketches import BucketHistogram
from mlsteward.data._versions import local_data_file

PROJECT = "proj"


def _run(
    st: ms.Client,
    version: DatasetVersion,
    *checks: dict[str, Any],
    reference: DatasetVersion | None = None,
) -> list[Any]:
    report = st.datasets.check(
        PROJECT,
        version,
        spec={"checks": list(checks)},
        reference=reference,
        now=datetime(2021, 1, 1),
        save=False,
    )
    return list(report.results)


@pytest.fixture
def stored(st: ms.Client) -> Callable[[DatasetVersion], Any]:
    """The stored Parquet file of a version, as a context manager."""
    return lambda version: local_data_file(st.store, version)


# -- outliers -----------------------------------------------------------------------------
def _outlier_frame(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    normal = rng.normal(50, 10, n)
    normal[:15] = rng.normal(50, 200, 15)
    missing = rng.normal(0, 1, n)
    missing[rng.random(n) < 0.2] = np.nan
    with_inf = rng.normal(5, 1, n)
    with_inf[[3, 9]] = [np.inf, -np.inf]
    return pd.DataFrame(
        {
            "normal": normal,
            "lognormal": rng.lognormal(8, 1.5, n),
            "negative": -rng.exponential(3.0, n),
            "ints": rng.integers(0, 100, n).astype(float),  # exact value counts
            "zeros": np.where(rng.random(n) < 0.53, 0.0, rng.exponential(5.0, n)),  # MAD 0
            "spike": np.where(rng.random(n) < 0.8, 5.0, rng.normal(5, 1, n)),  # IQR 0
            "missing": missing,
            "with_inf": with_inf,
        }
    )


@pytest.mark.parametrize("method", ["robust_z", "iqr"])
@pytest.mark.parametrize("small_limits", [False, True])
def test_outliers_equal_the_rule_on_the_whole_column(
    st: ms.Client, monkeypatch: pytest.MonkeyPatch, method: str, small_limits: bool
) -> None:
    if small_limits:  # force narrowing passes and the multi-pass MAD
        monkeypatch.setattr(_select, "COLLECT_LIMIT", 40)
        monkeypatch.setattr(_mad, "WINDOW_LIMIT", 40)
    df = _outlier_frame()
    version = st.datasets.register(
        PROJECT, "o", df, column_types=dict.fromkeys(df.columns, "numeric")
    )
    (result,) = _run(st, version, {"kind": "outliers", "method": method, "max_share": 0.5})
    for column in df.columns:
        values = df[column].dropna().to_numpy(dtype=np.float64)
        mask, rule = outlier_mask(values, method, 3.5, 1.5)
        expected = {
            "outliers": int(mask.sum()),
            "share": int(mask.sum()) / values.size,
            "rule": rule,
            "range": [float(values[mask].min()), float(values[mask].max())] if mask.any() else [],
        }
        assert result.details["columns"][column] == expected, column
    rules = {c: v["rule"] for c, v in result.details["columns"].items()}
    assert rules["zeros"].startswith("outside [Q1") and rules["spike"] == "IQR is 0"
    assert result.details["columns"]["normal"]["outliers"] >= 10


def test_select_finds_order_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_select, "COLLECT_LIMIT", 16)
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [rng.normal(0, 1, 500), np.full(300, 2.5), [0.0, -0.0, np.inf, -np.inf, 1e-300]]
    )
    rng.shuffle(values)
    ordered = np.sort(values)
    wanted = [0, 1, 250, 400, 650, 700, len(values) - 1]
    histogram = BucketHistogram.of_floats(values)

    def passes(columns: list[str]) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, len(values), 97):
            yield {"x": values[start : start + 97], "y": values[start : start + 97]}

    ranks = {
        "x": [Rank.of(r, len(values)) for r in wanted],
        "y": [Rank.of(r, len(values), histogram) for r in wanted],
    }
    select(ranks, passes)
    for column in ("x", "y"):
        assert [r.value for r in ranks[column]] == [float(ordered[r]) for r in wanted]
    keys = [int(k) for k in order_keys(np.array([-np.inf, -2.0, -0.0, 0.0, 1e-300, 3.0, np.inf]))]
    assert keys == sorted(keys) and keys[2] == keys[3] and len(set(keys)) == 6
    lying = BucketHistogram(histogram.mapping, histogram.keys, histogram.counts * 2)
    with pytest.raises(StaleCounts):
        select({"y": [Rank.of(10, 2 * len(values), lying)]}, passes)


def test_numpy_quantile_from_order_statistics_is_numpy_quantile() -> None:
    rng = np.random.default_rng(4)
    for n in [1, 2, 3, 4, 5, 10, 101, 1000]:
        values = np.sort(rng.lognormal(0, 2, n))
        for q in (0.25, 0.5, 0.75, 0.1, 0.99):
            got = numpy_quantile(lambda r, v=values: float(v[r]), n, q)
            assert got == np.quantile(values, q), (n, q)


def test_rankdata_is_scipys_average_ranks() -> None:
    rng = np.random.default_rng(5)
    values = np.round(rng.normal(size=2000), 1)  # many ties
    assert np.array_equal(rankdata(values), scipy_rankdata(values))
    assert np.array_equal(rankdata(np.array([3, 1, 2])), [3.0, 1.0, 2.0])


# -- duplicates ---------------------------------------------------------------------------
def test_duplicate_rows_equal_select_distinct(
    st: ms.Client, stored: Callable[[DatasetVersion], Any]
) -> None:
    rng = np.random.default_rng(6)
    n = 400
    df = pd.DataFrame(
        {
            "a": rng.integers(0, 3, n).astype(float),
            "b": rng.choice(["x", "y", None], n),
            "c": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 2, n)),
        }
    )
    version = st.datasets.register(PROJECT, "dups", df)
    (result,) = _run(st, version, {"kind": "duplicate_rows"})
    with stored(version) as path:
        ((distinct,),) = (
            duckdb.connect()
            .execute("SELECT count(*) FROM (SELECT DISTINCT * FROM read_parquet(?))", [str(path)])
            .fetchall()
        )
    assert result.details["duplicates"] == n - distinct == int(df.duplicated().sum()) > 300
    assert result.details["measured"] == result.details["share"] == (n - distinct) / n


def test_duplicate_ids_equal_value_counts(
    st: ms.Client, stored: Callable[[DatasetVersion], Any]
) -> None:
    ids = ["k9", "a1", "k9", None, "b2", "a1", "c3", "k9", None, "d4", "e5", "c3", "f6", "g7"]
    df = pd.DataFrame({"customer_id": ids, "x": np.arange(len(ids), dtype=float)})
    version = st.datasets.register(PROJECT, "ids", df, column_types={"customer_id": "id"})
    (result,) = _run(st, version, {"kind": "duplicate_ids"})
    with stored(version) as path:
        column = pq.read_table(path, columns=["customer_id"]).column(0)
    counts = pc.value_counts(column.drop_null())
    repeated = pc.filter(counts, pc.greater(counts.field("counts"), 1))
    found = result.details["columns"]["customer_id"]
    assert found == {
        "duplicated": len(column) - column.null_count - pc.count_distinct(column).as_py(),
        "nulls": column.null_count,
        "examples": repeated.field("values").to_pylist()[:5],
    }
    assert found["examples"] == ["k9", "a1", "c3"] and result.status == "fail"
    assert result.details["measured"] == {"customer_id": 6}


# -- what the profile answers -------------------------------------------------------------
def _mixed_frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    return pd.DataFrame(
        {
            "age": np.where(rng.random(n) < 0.1, np.nan, rng.integers(18, 90, n)),
            "income": rng.lognormal(10, 1, n),
            "code": rng.integers(1, 5, n),
            "flag": rng.random(n) < 0.3,
            "town": rng.choice(["a", "b", "c", None], n),
            "rate": rng.choice([0.5, 1.0, 1.5], n),
            "same": np.full(n, "US"),
            "empty": pd.Series([None] * n, dtype=object),
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(np.zeros(n), unit="D"),
            "label": rng.choice(["no", "yes", "maybe"], n, p=[0.6, 0.37, 0.03]),
        }
    )


def test_missing_constant_and_label_balance_match_a_scan(
    st: ms.Client, stored: Callable[[DatasetVersion], Any]
) -> None:
    df = _mixed_frame()
    version = st.datasets.register(PROJECT, "mixed", df, target="label")
    missing, constant, nearly, balance = _run(
        st,
        version,
        {"kind": "missing"},
        {"kind": "constant"},
        {"kind": "constant", "max_top_share": 0.3},
        {"kind": "label_balance"},
    )
    with stored(version) as path:
        table = pq.read_table(path)
    rows = table.num_rows
    assert missing.details["rates"] == {c: table.column(c).null_count / rows for c in df.columns}
    single = {
        c: pc.min_max(table.column(c)).as_py()["min"]
        for c in df.columns
        if len(pc.unique(table.column(c).drop_null())) <= 1
    }
    assert constant.details["columns"] == {c: {"value": v} for c, v in single.items()}
    assert set(single) == {"same", "empty", "when"}
    top_shares = {}
    for name in df.columns:
        column = table.column(name).drop_null().combine_chunks()
        top = pc.max(pc.value_counts(column).field("counts")).as_py() or 0
        top_shares[name] = top / rows
    flagged = {c: {"top_share": s} for c, s in top_shares.items() if s >= 0.3 and c not in single}
    assert nearly.details["columns"] == {**constant.details["columns"], **flagged}
    assert {"flag", "rate", "label"} <= set(flagged) and "income" not in flagged
    counts = pc.value_counts(table.column("label").combine_chunks())
    expected = {str(v): c for v, c in zip(*counts.flatten(), strict=True)}
    assert balance.details["counts"] == {k: expected[k].as_py() for k in sorted(expected)}
    assert balance.status == "fail" and balance.columns == ("label",)


def test_domain_from_the_profile_matches_a_scan(
    st: ms.Client, stored: Callable[[DatasetVersion], Any]
) -> None:
    types = {"rate": "categorical", "code": "categorical"}
    reference = st.datasets.register(PROJECT, "ref", _mixed_frame().iloc[:150], column_types=types)
    current = _mixed_frame().iloc[150:].copy()
    current.loc[current.index[:3], "income"] = 10.0**9
    current.loc[current.index[3:5], "town"] = "zz"
    current.loc[current.index[5], "rate"] = 7.25
    version = st.datasets.register(PROJECT, "cur", current, column_types=types)
    (result,) = _run(
        st,
        version,
        {"kind": "domain", "source": "reference", "max_share": 0.5},
        reference=reference,
    )
    with stored(reference) as path:
        ref = pq.read_table(path)
    with stored(version) as path:
        cur = pq.read_table(path)
    columns = result.details["columns"]
    low, high = pc.min_max(ref.column("income")).as_py().values()
    assert columns["income"]["allowed"] == [low, high]
    assert columns["income"]["out_of_domain"] == int(
        pc.sum(pc.greater(cur.column("income"), high)).as_py()
        + pc.sum(pc.less(cur.column("income"), low)).as_py()
    )
    assert columns["income"]["observed"] == list(pc.min_max(cur.column("income")).as_py().values())
    assert columns["town"]["unseen"] == ["zz"] and columns["town"]["out_of_domain"] == 2
    assert columns["rate"]["unseen"] == ["7.25"] and columns["rate"]["allowed"] == [
        "0.5",
        "1",
        "1.5",
    ]
    assert columns["flag"] == {"out_of_domain": 0, "allowed": ["false", "true"], "unseen": []}
    assert result.details["measured"] == result.details["shares"]


def test_without_a_stored_profile_checks_compute_one(
    st: ms.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = _outlier_frame(500).assign(label=np.arange(500) % 2)
    version = st.datasets.register(PROJECT, "np", df, target="label")
    checks = ({"kind": "missing"}, {"kind": "outliers"}, {"kind": "constant"})
    with_profile = [r.to_dict() for r in _run(st, version, *checks)]

    def unreadable(*args: Any) -> Any:
        raise InvalidInput("stored profile is unreadable")

    monkeypatch.setattr(_runner, "read_profile", unreadable)
    assert [r.to_dict() for r in _run(st, version, *checks)] == with_profile


# -- samples ------------------------------------------------------------------------------
def test_samples_are_drawn_as_from_the_whole_column(
    st: ms.Client, stored: Callable[[DatasetVersion], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(9)
    n = 700
    df = pd.DataFrame(
        {
            "label": np.where(rng.random(n) < 0.25, np.nan, rng.integers(0, 2, n)),
            "x": rng.normal(size=n),
            "email": np.where(rng.random(n) < 0.3, None, [f"u{i}@example.org" for i in range(n)]),
        }
    )
    version = st.datasets.register(PROJECT, "s", df, target="label")
    with stored(version) as path:
        data = _Data(version, Path(path))
        labelled_sample = data.labelled_sample("label", ["x"], 100)
        present = data.sample_present(["email"], 50)
        monkeypatch.setattr(_context, "BATCH_ROWS", 64)  # the same rows from many batches
        many_batches = _Data(version, Path(path))
        assert many_batches.labelled_sample("label", ["x"], 100).equals(labelled_sample)
        assert many_batches.sample_present(["email"], 50)["email"].equals(present["email"])
        table = pq.read_table(path)
    # the computation the checks used before: flatnonzero, choice, take on the whole column
    labelled = np.flatnonzero(table.column("label").is_valid().to_numpy(zero_copy_only=False))
    picked = np.sort(np.random.default_rng(0).choice(labelled, 100, replace=False))
    assert labelled_sample.equals(table.select(["label", "x"]).take(pa.array(picked)))
    values = table.column("email").cast(pa.string()).drop_null().combine_chunks()
    picks = np.sort(np.random.default_rng(0).choice(len(values), 50, replace=False))
    assert present["email"].equals(values.take(pa.array(picks)))


# -- the uniform result shape -------------------------------------------------------------
def test_every_result_has_measured_and_threshold(st: ms.Client) -> None:
    df = _mixed_frame().assign(row_id=np.arange(300), email=[f"p{i}@x.org" for i in range(300)])
    reference = st.datasets.register(PROJECT, "ref", df)
    version = st.datasets.register(
        PROJECT, "all", df, target="label", time_column="when", column_types={"row_id": "id"}
    )
    kinds = [
        {"kind": "schema"},
        {"kind": "missing"},
        {"kind": "domain"},
        {"kind": "duplicate_rows"},
        {"kind": "duplicate_ids"},
        {"kind": "outliers"},
        {"kind": "constant"},
        {"kind": "leakage"},
        {"kind": "label_balance"},
        {"kind": "freshness", "max_age_days": 10},
        {"kind": "coverage", "groups": ["town"], "min_rows": 10},
        {"kind": "relevance"},
        {"kind": "personal_data"},
    ]
    report = st.datasets.check(PROJECT, version, spec={"checks": kinds}, reference=reference)
    for r in report.results:
        assert "measured" in r.details and "threshold" in r.details, r.kind
        assert r.status == "skipped" or r.details["threshold"] is not None, r.kind
        assert r.status == "skipped" or r.details["measured"] is not None, r.kind
    by_kind = {r.kind: r for r in report.results}
    assert by_kind["freshness"].details["measured"] == by_kind["freshness"].details["age_days"]
    assert by_kind["personal_data"].details["measured"] == {"email": 1.0}
    from mlsteward.data._report import check_rows

    rows = {row["check"]: row for row in check_rows([r.to_dict() for r in report.results])}
    rates, failing = by_kind["missing"].details["rates"], by_kind["missing"].columns
    assert "age" in failing and rows["missing"]["measured"] == {c: rates[c] for c in failing}
    assert rows["missing"]["threshold"] == 0.05
    assert rows["personal_data"]["threshold"] == 0.5
