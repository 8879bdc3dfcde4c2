"""Splits: exact reproduction, class shares, time cut-offs, groups that never leak, lineage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import mlsteward as ms
from mlsteward.data import DatasetVersion, assign_parts

PROJECT = "proj"
Frame = Callable[..., pd.DataFrame]
State = Callable[[ms.Client], tuple[int, int, int]]


@pytest.fixture
def parent(st: ms.Client, make_frame: Frame) -> DatasetVersion:
    df = make_frame(n=1000)
    df["household"] = np.random.default_rng(9).integers(0, 120, len(df))
    return st.datasets.register(
        PROJECT,
        "people",
        df,
        role="train",
        target="employed",
        time_column="when",
        license="CC0-1.0",
    )


def _ids(st: ms.Client, version: DatasetVersion) -> list[int]:
    return list(st.datasets.load(PROJECT, version, columns=["id"])["id"])


def test_random_split_is_a_partition_that_reproduces(st: ms.Client, parent: DatasetVersion) -> None:
    children = st.datasets.split(PROJECT, parent, seed=7)
    assert list(children) == ["train", "validation", "test"]
    assert [c.row_count for c in children.values()] == [700, 150, 150]
    ids = {part: _ids(st, v) for part, v in children.items()}
    assert sorted(i for part_ids in ids.values() for i in part_ids) == list(range(1000))
    for part_ids in ids.values():
        assert part_ids == sorted(part_ids)  # parent row order kept
    child = children["test"]
    assert (child.role, child.target, child.time_column, child.license) == (
        "test",
        "employed",
        "when",
        "CC0-1.0",
    )
    assert child.column_types == parent.column_types and child.parents == (parent.ref,)
    events = len(st.audit_log())
    again = st.datasets.split(PROJECT, parent, seed=7)
    assert {p: v.ref for p, v in again.items()} == {p: v.ref for p, v in children.items()}
    assert len(st.audit_log()) == events  # nothing new to record
    other = st.datasets.split(PROJECT, parent, seed=8)
    assert other["test"].version != children["test"].version


def test_stratified_split_keeps_class_shares(st: ms.Client, parent: DatasetVersion) -> None:
    df = st.datasets.load(PROJECT, parent)
    children = st.datasets.split(
        PROJECT, parent, method="stratified", fractions={"train": 0.8, "test": 0.2}, seed=3
    )
    positives = int(df["employed"].sum())
    test = st.datasets.load(PROJECT, children["test"])
    assert abs(int(test["employed"].sum()) - 0.2 * positives) <= 1
    assert abs(len(test) - 200) <= 1
    edge = st.datasets.lineage(PROJECT, children["test"]).parents[0]
    assert edge.method == "split"
    assert edge.params == {
        "method": "stratified",
        "part": "test",
        "parts": ["train", "test"],
        "fractions": {"train": 0.8, "test": 0.2},
        "seed": 3,
        "stratify": "employed",
    }


def test_group_split_never_puts_a_group_on_two_sides(st: ms.Client, parent: DatasetVersion) -> None:
    children = st.datasets.split(PROJECT, parent, method="group", group_column="household", seed=1)
    groups = [set(st.datasets.load(PROJECT, v)["household"]) for v in children.values()]
    assert all(not (a & b) for i, a in enumerate(groups) for b in groups[i + 1 :])
    assert set().union(*groups) == set(st.datasets.load(PROJECT, parent)["household"])
    shares = [v.row_count / parent.row_count for v in children.values()]
    assert shares[0] == pytest.approx(0.7, abs=0.08)
    again = st.datasets.split(PROJECT, parent, method="group", group_column="household", seed=1)
    assert [v.version for v in again.values()] == [v.version for v in children.values()]


def test_time_split(st: ms.Client, parent: DatasetVersion) -> None:
    children = st.datasets.split(
        PROJECT, parent, method="time", cutoffs=["2021-01-01", "2022-01-01"]
    )
    assert list(children) == ["train", "validation", "test"]
    frames = {p: st.datasets.load(PROJECT, v) for p, v in children.items()}
    assert (
        frames["train"]["when"].max()
        < pd.Timestamp("2021-01-01")
        <= frames["validation"]["when"].min()
    )
    assert (
        frames["validation"]["when"].max()
        < pd.Timestamp("2022-01-01")
        <= frames["test"]["when"].min()
    )
    assert sum(v.row_count for v in children.values()) == 1000
    named = st.datasets.split(
        PROJECT, parent, method="time", cutoffs=["2021-01-01"], parts=["before", "after"]
    )
    assert list(named) == ["before", "after"] and named["before"].name == "people-before"


def test_time_split_on_years_puts_the_cutoff_after() -> None:
    table = pa.table({"year": [2015, 2016, 2017, 2018]})
    parts = assign_parts(table, "time", time_column="year", cutoffs=[2016, 2018])
    assert parts.tolist() == [0, 1, 1, 2]


def test_bad_splits_fail_and_write_nothing(
    st: ms.Client, parent: DatasetVersion, store_state: State
) -> None:
    before = store_state(st)
    cases: list[tuple[dict[str, object], str]] = [
        ({"fractions": {"train": 0.5, "test": 0.4}}, "must be positive and sum to 1"),
        ({"fractions": {"all": 1.0}}, "at least two parts"),
        ({"fractions": {"train": 0.9999, "test": 0.0001}}, "leaves part\\(s\\) test empty"),
        ({"method": "group"}, "needs group_column"),
        ({"method": "time", "cutoffs": ["2022-01-01", "2021-01-01"]}, "strictly increasing"),
        ({"method": "time", "cutoffs": ["soon"]}, "cannot be compared with the time column 'when'"),
        (
            {"method": "time", "cutoffs": ["2021-01-01"], "parts": ["a", "b", "c"]},
            "1 cutoff\\(s\\) make 2 parts",
        ),
        ({"method": "stratified", "stratify": "nope"}, "stratify 'nope' is not a column"),
        ({"method": "shuffle"}, "Unknown split method 'shuffle'"),
        ({"names": {"train": "Bad Name"}}, "Invalid dataset name"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ms.InvalidInput, match=message):
            st.datasets.split(PROJECT, parent, **kwargs)  # type: ignore[arg-type]
    assert store_state(st) == before


def test_lineage_of_a_split_of_a_split(st: ms.Client, parent: DatasetVersion) -> None:
    first = st.datasets.split(PROJECT, parent, fractions={"train": 0.8, "test": 0.2})
    second = st.datasets.split(
        PROJECT,
        first["train"],
        fractions={"fit": 0.75, "early_stop": 0.25},
        names={"fit": "people-fit", "early_stop": "people-es"},
    )
    lineage = st.datasets.lineage(PROJECT, parent)
    assert lineage.parents == ()
    train = next(n for n in lineage.children if n.version.ref == first["train"].ref)
    assert {n.version.name for n in train.children} == {"people-fit", "people-es"}
    assert second["early_stop"].role == "early_stop"  # the part is the role
    up = st.datasets.lineage(PROJECT, second["fit"])
    assert [n.version.ref for n in up.parents] == [first["train"].ref]
    assert [n.version.ref for n in up.parents[0].children] == [parent.ref]
    assert st.datasets.lineage(PROJECT, second["fit"], depth=1).parents[0].children == ()
    d = lineage.to_dict()
    assert d["ref"] == parent.ref and len(d["children"]) == 2
