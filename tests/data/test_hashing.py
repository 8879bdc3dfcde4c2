"""The version hash: the same content from any input kind gives the same version; the
documented order rules hold; Parquet encoding details do not count."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mlsteward as ms
from mlsteward.data import hash_table, register_dataset

PROJECT = "proj"


def _content() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [1, 2, 3, 4],
            "b": [1.5, np.nan, 2.25, -0.5],
            "c": ["x", "y", None, "zé"],
            "t": pd.to_datetime(
                [
                    "2020-01-01 00:00:00",
                    "2021-02-03 04:05:06",
                    "2022-01-01 00:00:00",
                    "2023-06-30 12:00:00",
                ]
            ),
            "flag": [True, False, True, True],
        }
    )


def test_same_content_same_version_across_every_input_kind(st: ms.Client, tmp_path: Path) -> None:
    df = _content()
    csv = tmp_path / "data.csv"
    df.to_csv(csv, index=False)
    parquet = tmp_path / "data.parquet"
    df.to_parquet(parquet)
    inputs: dict[str, object] = {
        "pandas": df,
        "polars": pl.from_pandas(df),
        "arrow": pa.Table.from_pandas(df, preserve_index=False),
        "csv": csv,
        "parquet": parquet,
        "csv-as-str": str(csv),
    }
    versions = {
        kind: register_dataset(st.store, PROJECT, "d", data).version
        for kind, data in inputs.items()
    }
    assert len(set(versions.values())) == 1, versions
    assert len(st.datasets.list(PROJECT, "d")) == 1  # one version, no duplicates
    assert len(st.audit_log(action="dataset.register")) == 1


def test_encodings_and_widths_do_not_count(tmp_path: Path) -> None:
    df = _content()
    base = hash_table(pa.Table.from_pandas(df, preserve_index=False))
    narrow = pa.Table.from_pandas(df.astype({"a": "int16"}), preserve_index=False)
    dictionary = pa.Table.from_pandas(df.astype({"c": "category"}), preserve_index=False)
    large = pa.Table.from_pandas(df, preserve_index=False).cast(
        pa.schema(
            [
                pa.field("a", pa.int64()),
                pa.field("b", pa.float64()),
                pa.field("c", pa.large_string()),
                pa.field("t", pa.timestamp("ns")),
                pa.field("flag", pa.bool_()),
            ]
        )
    )
    rechunked = pa.concat_tables(
        [
            pa.Table.from_pandas(df.iloc[:1], preserve_index=False),
            pa.Table.from_pandas(df.iloc[1:], preserve_index=False),
        ]
    )
    assert rechunked.column("a").num_chunks == 2
    for table in (narrow, dictionary, large, rechunked):
        assert hash_table(table) == base
    # Parquet compression and row-group size are not content
    for compression, row_group in (("zstd", 1), ("snappy", 3), ("none", 100)):
        path = tmp_path / f"{compression}.parquet"
        pq.write_table(
            pa.Table.from_pandas(df, preserve_index=False),
            path,
            compression=compression,
            row_group_size=row_group,
        )
        assert hash_table(pq.read_table(path)) == base


def test_column_order_does_not_count_row_order_does() -> None:
    table = pa.Table.from_pandas(_content(), preserve_index=False)
    reordered = table.select(["t", "flag", "c", "b", "a"])
    assert hash_table(reordered) == hash_table(table)
    assert hash_table(table.take([1, 0, 2, 3])) != hash_table(table)


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.assign(a=[1, 2, 3, 5]),  # a value
        lambda df: df.assign(b=[1.5, 0.0, 2.25, -0.5]),  # a missing value filled
        lambda df: df.rename(columns={"a": "A"}),  # a column name
        lambda df: df.assign(a=df["a"].astype(float)),  # integer vs float kind
        lambda df: df.assign(c=["x", "y", "", "zé"]),  # empty text is not missing
        lambda df: df.iloc[:3],  # a row less
        lambda df: df.drop(columns=["flag"]),  # a column less
    ],
)
def test_content_changes_change_the_version(change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    df = _content()
    assert hash_table(pa.Table.from_pandas(change(df), preserve_index=False)) != hash_table(
        pa.Table.from_pandas(df, preserve_index=False)
    )


def test_nan_and_null_are_both_missing() -> None:
    with_nan = pa.table({"x": pa.array([1.0, float("nan"), 3.0])})
    with_null = pa.table({"x": pa.array([1.0, None, 3.0])})
    assert hash_table(with_nan) == hash_table(with_null)


def test_the_hash_is_pinned() -> None:
    """The method is stable across releases: this digest must never change silently
    (a change needs a new HASH_METHOD)."""
    table = pa.table({"n": [1, 2, None], "s": ["a", None, "c"], "f": [0.5, None, 2.0]})
    assert hash_table(table) == PINNED


PINNED = "cf689600b4a09c76366f18afb4f81eb55bedd7d50edc4c13fbbed1bc32dbde7c"
