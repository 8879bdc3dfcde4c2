"""Signatures: inference and validation of inputs (every bad column in one error)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlsteward as ms
from mlsteward.registry import (
    ColumnSpec,
    DomainWarning,
    Signature,
    SignatureMismatch,
    check_input,
)

SIGNATURE = Signature(
    (
        ColumnSpec("age", "numeric", "int64", nullable=False, min=18, max=89),
        ColumnSpec("hours", "numeric", "double", nullable=True, min=10.5, max=60.0),
        ColumnSpec("sex", "categorical", "string", nullable=False, categories=("f", "m")),
        ColumnSpec("edu", "categorical", "int64", nullable=False, categories=(1, 2, 3, 4)),
        ColumnSpec(
            "when",
            "datetime",
            None,
            nullable=True,
            min="2015-01-01T00:00:00",
            max="2015-12-31T00:00:00",
        ),
        ColumnSpec("member", "boolean", "bool", nullable=True),
    )
)
GOOD = {"age": 30, "hours": 40.0, "sex": "f", "edu": 2, "when": "2015-06-01", "member": True}


def test_good_rows_pass_in_signature_order() -> None:
    rows = [GOOD, {**GOOD, "age": 89, "extra": "ignored"}]
    checked = check_input(SIGNATURE, list(reversed(rows)))
    assert list(checked.data.columns) == SIGNATURE.names
    assert checked.extra_columns == ("extra",)
    assert checked.rows == 2 and checked.warnings == ()
    assert checked.data["age"].tolist() == [89, 30]
    single = check_input(SIGNATURE, GOOD)
    assert single.rows == 1


def test_every_bad_column_and_value_is_listed_with_what_was_expected() -> None:
    rows = [
        {"age": 17, "hours": "forty", "sex": "x", "edu": 2, "when": "not a date", "member": 3},
        {"age": None, "hours": 40.0, "sex": "f", "edu": "2", "when": "2016-02-01", "member": 1},
        {"age": 95, "hours": 12.0, "sex": "q", "edu": 7, "when": "2015-03-01", "member": 0},
    ]
    with pytest.raises(SignatureMismatch) as info:
        check_input(SIGNATURE, rows, model="acs@3")
    error = info.value
    assert isinstance(error, ms.InvalidInput) and error.exit_code == 2
    found = {(p.column, p.kind): p for p in error.problems}
    assert set(found) == {
        ("age", "missing_value"),
        ("age", "out_of_range"),
        ("hours", "wrong_type"),
        ("sex", "unseen_category"),
        ("edu", "wrong_type"),
        ("edu", "unseen_category"),
        ("when", "wrong_type"),
        ("when", "out_of_range"),
        ("member", "wrong_type"),
    }
    assert found[("age", "out_of_range")].values == (17, 95)
    assert found[("age", "out_of_range")].rows == (0, 2)
    assert found[("sex", "unseen_category")].values == ("x", "q")
    assert found[("edu", "wrong_type")].values == ("2",)
    assert found[("edu", "unseen_category")].values == (7,)
    assert found[("hours", "wrong_type")].values == ("forty",)
    message = str(error)
    assert message.startswith(
        "Input for model acs@3 does not match its signature (9 problems in 6 columns)"
    )
    assert "'age': out of the training range: 17, 95 (rows 0, 2); expected numbers in [18, 89]" in (
        message
    )
    assert (
        "'sex': categories not seen in training: 'x', 'q' (rows 0, 2); expected one of 'f', 'm'"
        in (message)
    )
    assert "'hours': wrong type: 'forty' (row 0); expected numbers in [10.5, 60]" in message
    assert "'age': missing values (row 1); expected no missing values" in message
    assert "steward models show acs@3" in message
    assert error.to_dict()["problems"][0]["column"] == "age"


def test_missing_columns_are_listed_together() -> None:
    with pytest.raises(SignatureMismatch) as info:
        check_input(SIGNATURE, [{"age": 30}])
    missing = [p.column for p in info.value.problems if p.kind == "missing_column"]
    assert missing == ["hours", "sex", "edu", "when", "member"]
    assert "'edu': missing column; expected a column of one of 1, 2, 3, 4" in str(info.value)


def test_warn_mode_accepts_domain_problems_with_a_warning_but_not_wrong_types() -> None:
    row = {**GOOD, "age": 120, "sex": "q"}
    with pytest.warns(DomainWarning, match="'age': out of the training range: 120"):
        checked = check_input(SIGNATURE, [row], domain="warn")
    assert {p.kind for p in checked.warnings} == {"out_of_range", "unseen_category"}
    with pytest.raises(SignatureMismatch) as info:
        check_input(SIGNATURE, [{**row, "hours": "x"}], domain="warn")
    assert [p.kind for p in info.value.problems] == ["wrong_type"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_input(SIGNATURE, [row], domain="off").warnings == ()
    with pytest.raises(ms.InvalidInput, match="'strict'"):
        check_input(SIGNATURE, [row], domain="lenient")  # type: ignore[arg-type]


def test_many_bad_values_are_counted_not_all_printed() -> None:
    rows = [{**GOOD, "age": 100 + i} for i in range(30)]
    with pytest.raises(SignatureMismatch) as info:
        check_input(SIGNATURE, rows)
    [problem] = info.value.problems
    assert (problem.count, problem.distinct, len(problem.values), len(problem.rows)) == (
        30,
        30,
        20,
        10,
    )
    assert "and 10 more (30 rows: 0, 1" in str(info.value)


def test_bad_input_shapes_are_refused_clearly() -> None:
    with pytest.raises(ms.InvalidInput, match="expected a pandas DataFrame, a list of dicts"):
        check_input(SIGNATURE, "age=3")
    with pytest.raises(ms.InvalidInput, match="Row 1 of the input is a int"):
        check_input(SIGNATURE, [GOOD, 3])
    with pytest.raises(ms.InvalidInput, match="no rows"):
        check_input(SIGNATURE, [])


def test_signatures_round_trip_through_json() -> None:
    again = Signature.from_json(SIGNATURE.to_json())
    assert again == SIGNATURE
    assert again.column("edu").categories == (1, 2, 3, 4)
    with pytest.raises(ms.InvalidInput, match="more than once"):
        Signature((ColumnSpec("a"), ColumnSpec("a")))


def test_the_predictor_validates_before_predicting(trained: Any) -> None:
    st = trained.client
    st.models.register("acs", run=trained.run_id)
    predictor = st.load_model("acs@1")
    x = trained.features
    shuffled = x[list(reversed(x.columns))]
    assert np.array_equal(predictor.predict(shuffled), trained.model.predict(x))
    records = x.head(3).to_dict(orient="records")
    assert np.array_equal(predictor.predict_proba(records), trained.model.predict_proba(x.head(3)))
    bad = [{**records[0], "age": 300, "sex": "q"}, {"hours": 1.0}]
    with pytest.raises(SignatureMismatch) as info:
        predictor.predict(bad)
    columns = {p.column for p in info.value.problems}
    assert columns == {"age", "sex", "edu", "hours"}
    lenient = st.load_model("acs@1", domain="warn")
    with pytest.warns(DomainWarning):
        assert lenient.predict([{**records[0], "age": 300}]).shape == (1,)


def test_a_model_without_column_names_gets_a_positional_signature(
    sqlite_client: Any, frame: pd.DataFrame
) -> None:
    from sklearn.linear_model import LinearRegression

    x = frame[["age", "hours"]].to_numpy()
    model = LinearRegression().fit(x, frame["edu"])
    sqlite_client.create_project("reg")
    version = sqlite_client.models.register("lin", model=model)
    assert version.signature.positional and version.signature.names == ["x0", "x1"]
    assert version.signature.task == "regression"
    predictor = sqlite_client.load_model("lin@1")
    rows = [{"x0": a, "x1": b} for a, b in x[:5]]
    assert np.allclose(predictor.predict(rows), model.predict(x[:5]))
    with pytest.raises(ms.InvalidInput, match="not a classifier"):
        predictor.predict_proba(rows)
