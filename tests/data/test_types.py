"""Logical type inference: each documented rule, overrides, and bad overrides."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

import mlsteward as ms
from mlsteward.data import LOGICAL_TYPES, infer_column_types


def test_each_rule() -> None:
    n = 100
    table = pa.table(
        {
            "flag": pa.array([True, False] * 50),
            "when": pa.array([dt.datetime(2020, 1, 1)] * n),
            "day": pa.array([dt.date(2020, 1, 1)] * n),
            "code_dict": pa.array(["a", "b"] * 50).dictionary_encode(),
            "customer_id": pa.array(range(n)),
            "user_key": pa.array([f"u{i}" for i in range(n)]),
            "label01": pa.array([0, 1] * 50),
            "year": pa.array([2015 + i % 4 for i in range(n)]),
            "code": pa.array([i % 9 + 1 for i in range(n)]),
            "count": pa.array(range(1000, 1000 + n)),
            "price": pa.array([float(i) for i in range(n)]),
            "comment": pa.array(
                [f"a long free-text comment about this row, number {i}" for i in range(n)]
            ),
            "token": pa.array([f"tok{i:05d}" for i in range(n)]),
            "city": pa.array(["Boston", "Salem", "Lowell", "Worcester"] * 25),
            "nothing": pa.nulls(n),
        }
    )
    assert infer_column_types(table) == {
        "flag": "boolean",
        "when": "datetime",
        "day": "datetime",
        "code_dict": "categorical",
        "customer_id": "id",
        "user_key": "id",
        "label01": "boolean",
        "year": "numeric",
        "code": "categorical",
        "count": "numeric",
        "price": "numeric",
        "comment": "text",
        "token": "id",
        "city": "categorical",
        "nothing": "categorical",
    }
    assert set(infer_column_types(table).values()) <= set(LOGICAL_TYPES)


def test_few_codes_in_a_small_table_stay_numeric_when_mostly_unique() -> None:
    # 10 rows, 10 distinct integers: more than one distinct value per two rows
    table = pa.table({"x": list(range(10, 20))})
    assert infer_column_types(table) == {"x": "numeric"}


def test_an_id_named_column_that_repeats_is_not_an_id() -> None:
    table = pa.table({"store_id": [1, 2, 3, 1, 2, 3] * 10})
    assert infer_column_types(table) == {"store_id": "categorical"}


def test_overrides_win_and_are_validated() -> None:
    table = pa.table({"code": [1, 2, 1, 2] * 10})
    assert infer_column_types(table, overrides={"code": "numeric"}) == {"code": "numeric"}
    with pytest.raises(
        ms.InvalidInput, match=r"overrides\['code'\] is 'number'.*numeric, categorical"
    ):
        infer_column_types(table, overrides={"code": "number"})
    with pytest.raises(ms.InvalidInput, match="names column 'other', which the data does not have"):
        infer_column_types(table, overrides={"other": "numeric"})
