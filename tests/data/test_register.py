"""Registering, resolving and loading dataset versions, on every metadata backend and on
S3; bad inputs fail with a clear message and leave nothing behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import mlsteward as ms
from mlsteward.core import load_config
from mlsteward.data import (
    DatasetAlreadyRegistered,
    DatasetVersion,
    dataset_by_id,
    register,
    resolve_dataset,
)
from mlsteward.store import VERSION_TABLE, Transaction, canonical_json, open_store
from mlsteward.store.metadata import Base, DatasetVersionRow

PROJECT = "proj"
State = Callable[[ms.Client], tuple[int, int, int]]


def test_register_records_everything_on_every_backend(
    client: Any, make_frame: Callable[..., pd.DataFrame]
) -> None:
    client.create_project(PROJECT)
    df = make_frame()
    v = client.datasets.register(
        PROJECT,
        "people",
        df,
        role="train",
        source="synthetic",
        license="CC0-1.0",
        consent="not personal data",
        time_column="when",
        target="employed",
    )
    assert isinstance(v, DatasetVersion)
    assert len(v.version) == 64 and v.ref == f"people@{v.version}"
    assert v.row_count == 200 and v.columns == list(df.columns)
    assert v.column_types == {
        "id": "id",
        "age": "numeric",
        "sex": "categorical",
        "score": "numeric",
        "when": "datetime",
        "employed": "boolean",
    }
    assert (v.role, v.source, v.license, v.consent) == (
        "train",
        "synthetic",
        "CC0-1.0",
        "not personal data",
    )
    assert (v.time_column, v.target, v.parents, v.created_by) == ("when", "employed", (), "tester")
    assert v.profile_digest is not None and client.store.artifacts.has(v.profile_digest)
    # the stored data round-trips
    loaded = client.datasets.load(PROJECT, "people@latest")
    pd.testing.assert_frame_equal(loaded, df, check_dtype=False)
    assert v.load(client.store, columns=["age"], format="arrow").column("age").to_pylist() == list(
        df["age"]
    )
    assert client.datasets.get(PROJECT, v.ref) == v
    assert dataset_by_id(client.store, v.id) == v
    # one audit event naming the version
    events = client.audit_log(action="dataset.register")
    assert [e.entity_id for e in events] == [f"{PROJECT}/{v.ref}"]
    assert events[0].payload["row_count"] == 200


def test_profile_is_stored_and_matches_the_data(
    st: ms.Client, make_frame: Callable[..., pd.DataFrame]
) -> None:
    df = make_frame()
    v = st.datasets.register(PROJECT, "people", df)
    profile = st.datasets.profile(PROJECT, v)
    assert profile.row_count == len(df)
    assert profile["age"].max == df["age"].max()
    assert profile["age"].missing == 0
    assert profile.column_types == v.column_types


def test_registering_the_same_content_again_is_a_no_op_that_explains(
    st: ms.Client, make_frame: Callable[..., pd.DataFrame], store_state: State
) -> None:
    df = make_frame()
    first = st.datasets.register(PROJECT, "people", df, role="train")
    before = store_state(st)
    with pytest.warns(
        DatasetAlreadyRegistered, match=r"role 'test' differs from the recorded 'train'"
    ):
        again = st.datasets.register(PROJECT, "people", df.copy(), role="test")
    assert again == first and again.role == "train"
    assert store_state(st) == before
    outcome = register(st.store, PROJECT, "people", df)
    assert not outcome.created and outcome.notes == ()
    # another name in the same project is another dataset, sharing the stored bytes
    other = st.datasets.register(PROJECT, "copy", df)
    assert other.version == first.version and other.id != first.id
    assert other.artifact_digest == first.artifact_digest


def test_latest_and_prefix_resolution(
    st: ms.Client, make_frame: Callable[..., pd.DataFrame]
) -> None:
    v1 = st.datasets.register(PROJECT, "people", make_frame(seed=1))
    v2 = st.datasets.register(PROJECT, "people", make_frame(seed=2))
    assert st.datasets.get(PROJECT, "people@latest") == v2
    assert st.datasets.get(PROJECT, "people") == v2
    assert st.datasets.get(PROJECT, f"people@{v1.version[:8]}") == v1
    assert st.datasets.get(PROJECT, f"people@{v1.version.upper()}") == v1
    assert [v.version for v in st.datasets.list(PROJECT, "people")] == [v2.version, v1.version]
    assert [v.name for v in st.datasets.list(PROJECT, role="train")] == []


def test_ambiguous_and_bad_references(
    st: ms.Client, make_frame: Callable[..., pd.DataFrame]
) -> None:
    v = st.datasets.register(PROJECT, "people", make_frame())
    # a second version whose hash shares the first 10 digits (made by hand: real
    # collisions of 8+ hex digits are too rare to produce)
    twin = v.version[:10] + ("0" if v.version[10] != "0" else "1") + v.version[11:]
    with st.store.transaction() as tx:
        row = tx.session.get(DatasetVersionRow, v.id)
        assert row is not None
        tx.session.add(
            DatasetVersionRow(
                **{
                    c.name: getattr(row, c.name)
                    for c in DatasetVersionRow.__table__.columns
                    if c.name not in {"id", "version"}
                },
                id="f" * 32,
                version=twin,
            )
        )
    with pytest.raises(
        ms.InvalidInput,
        match=r"'people@" + v.version[:8] + r"' is ambiguous in project 'proj': 2 versions",
    ):
        st.datasets.get(PROJECT, f"people@{v.version[:8]}")
    assert st.datasets.get(PROJECT, f"people@{v.version}").id == v.id  # full hash is exact
    with pytest.raises(ms.InvalidInput, match="at least 8 hex digits, got 4"):
        st.datasets.get(PROJECT, f"people@{v.version[:4]}")
    with pytest.raises(ms.InvalidInput, match="is not 'latest' nor a hexadecimal"):
        st.datasets.get(PROJECT, "people@newest")
    with pytest.raises(ms.NotFound, match="has no version starting with '00000000'"):
        resolve_dataset(st.store, PROJECT, "people@00000000")
    with pytest.raises(
        ms.NotFound,
        match=r"Dataset 'nobody' does not exist in project 'proj'\. Datasets in it: people",
    ):
        st.datasets.get(PROJECT, "nobody@latest")
    with pytest.raises(ms.NotFound, match="Project 'ghost' does not exist"):
        st.datasets.get("ghost", "people@latest")


def test_load_formats_and_columns(st: ms.Client, make_frame: Callable[..., pd.DataFrame]) -> None:
    v = st.datasets.register(PROJECT, "people", make_frame())
    table = st.datasets.load(PROJECT, v, format="arrow", columns=["age", "sex"])
    assert isinstance(table, pa.Table) and table.column_names == ["age", "sex"]
    assert isinstance(st.datasets.load(PROJECT, v, format="polars"), pl.DataFrame)
    with pytest.raises(ms.InvalidInput, match="has no column\\(s\\) 'nope'"):
        st.datasets.load(PROJECT, v, columns=["nope"])


def test_parents_are_recorded(st: ms.Client, make_frame: Callable[..., pd.DataFrame]) -> None:
    raw = st.datasets.register(PROJECT, "raw", make_frame())
    clean = st.datasets.register(PROJECT, "clean", make_frame().dropna(), parents=[raw.ref])
    assert clean.version == raw.version  # same rows: the content decides the version
    assert clean.parents == (raw.ref,)
    lineage = st.datasets.lineage(PROJECT, clean)
    assert [n.version.ref for n in lineage.parents] == [raw.ref]
    assert lineage.parents[0].method == "derived"


# -- bad inputs: a clear message and nothing written ------------------------------------
def _bad_inputs(tmp_path: Path) -> list[tuple[object, type[Exception], str]]:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("name,city\nJosé,Séte\n".encode("latin-1"))
    text = tmp_path / "notes.txt"
    text.write_text("a,b\n1,2\n")
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    dup_csv = tmp_path / "dup.csv"
    dup_csv.write_text("a,b,a\n1,2,3\n")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    return [
        (tmp_path / "missing.csv", ms.NotFound, "does not exist; expected a CSV or Parquet file"),
        (text, ms.InvalidInput, r"it is a \.txt file; expected a CSV file"),
        (tmp_path, ms.InvalidInput, "it is a directory"),
        (latin1, ms.InvalidInput, "is not valid UTF-8 text .*iconv"),
        (empty_csv, ms.InvalidInput, "is empty; expected a header line"),
        (header_only, ms.InvalidInput, "has no rows; expected at least one row"),
        (pd.DataFrame({"a": pd.Series([], dtype=float)}), ms.InvalidInput, "has no rows"),
        (pd.DataFrame(), ms.InvalidInput, "has no columns"),
        (
            pd.DataFrame([[1, 2]], columns=["a", "a"]),
            ms.InvalidInput,
            "duplicate column names: 'a'",
        ),
        (dup_csv, ms.InvalidInput, "duplicate column names: 'a'"),
        (
            pd.DataFrame({"x": [1, "a"]}),
            ms.InvalidInput,
            "cannot be converted.*one type per column",
        ),
        (broken, ms.InvalidInput, "cannot be read as Parquet"),
        ([1, 2, 3], ms.InvalidInput, "Cannot register data of type builtins.list"),
    ]


def test_bad_inputs_fail_clearly_and_write_nothing(
    st: ms.Client, tmp_path: Path, store_state: State
) -> None:
    before = store_state(st)
    objects_before = list(st.store.artifacts.iter_objects())
    for data, error, message in _bad_inputs(tmp_path):
        with pytest.raises(error, match=message):
            st.datasets.register(PROJECT, "bad", data)
    assert store_state(st) == before
    assert st.audit_log(entity_kind="dataset_version") == []
    assert list(st.store.artifacts.iter_objects()) == objects_before


def test_bad_metadata_fails_before_anything_is_written(
    st: ms.Client, make_frame: Callable[..., pd.DataFrame], store_state: State
) -> None:
    df = make_frame()
    before = store_state(st)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"target": "label"}, ms.InvalidInput, "The target 'label' is not a column"),
        ({"time_column": "date"}, ms.InvalidInput, "The time column 'date' is not a column"),
        (
            {"column_types": {"age": "float"}},
            ms.InvalidInput,
            "is 'float', which is not a logical type",
        ),
        ({"role": "Train Set"}, ms.InvalidInput, "Invalid role name"),
        ({"parents": ["ghost@latest"]}, ms.NotFound, "Dataset 'ghost' does not exist"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            st.datasets.register(PROJECT, "people", df, **kwargs)
    with pytest.raises(ms.InvalidInput, match="Invalid dataset name"):
        st.datasets.register(PROJECT, "Bad Name", df)
    with pytest.raises(ms.NotFound, match="Project 'nope' does not exist"):
        st.datasets.register("nope", "people", df)
    assert store_state(st) == before


def test_a_failure_inside_the_transaction_leaves_no_version(
    st: ms.Client,
    make_frame: Callable[..., pd.DataFrame],
    store_state: State,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = store_state(st)

    def broken_audit(self: Transaction, *args: Any, **kwargs: Any) -> Any:
        raise ms.StoreUnavailable("audit trail unreachable (simulated)")

    monkeypatch.setattr(Transaction, "audit", broken_audit)
    with pytest.raises(ms.StoreUnavailable, match="simulated"):
        st.datasets.register(PROJECT, "people", make_frame())
    monkeypatch.undo()
    assert store_state(st) == before
    # and the same data registers normally afterwards
    assert st.datasets.register(PROJECT, "people", make_frame()).row_count == 200


def test_registration_with_artifacts_on_s3(
    s3_bucket: tuple[str, dict[str, Any]], tmp_path: Path, make_frame: Callable[..., pd.DataFrame]
) -> None:
    uri, options = s3_bucket
    config = load_config(
        {
            "uri": f"sqlite:///{tmp_path / 's3.db'}",
            "artifacts": uri,
            "artifacts_options": json.dumps(options),
        }
    )
    store = open_store(config)
    try:
        client = ms.Client(store, config)
        client.create_project(PROJECT)
        df = make_frame()
        v = client.datasets.register(PROJECT, "people", df, target="employed")
        assert store.artifacts.uri.startswith("s3://")
        assert store.artifacts.has(v.artifact_digest)
        pd.testing.assert_frame_equal(client.datasets.load(PROJECT, v), df, check_dtype=False)
        report = client.datasets.check(PROJECT, v, spec={"checks": [{"kind": "missing"}]})
        assert report.passed
    finally:
        store.close()


def test_dataset_tables_match_their_migration(store: Any) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, Base.metadata)

    def touches_datasets(diff: Any) -> bool:
        return "dataset_" in canonical_json(repr(diff))

    mine = [d for d in differences if touches_datasets(d)]
    assert mine == []
    assert "dataset_versions" in Base.metadata.tables
    assert [c.name for c in Base.metadata.tables["dataset_versions"].primary_key] == ["id"]
