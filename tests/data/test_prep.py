"""The preparation pipeline built from logical types."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import mlsteward as ms
from mlsteward.data import CategoricalCleaner, DatetimeFeatures, build_preprocessor, feature_columns

PROJECT = "proj"


def test_features_by_type_leave_out_target_ids_and_text() -> None:
    types = {
        "id": "id",
        "age": "numeric",
        "sex": "categorical",
        "note": "text",
        "y": "boolean",
        "ok": "boolean",
        "t": "datetime",
    }
    assert feature_columns(types, target="y") == {
        "numeric": ["age"],
        "categorical": ["sex"],
        "boolean": ["ok"],
        "datetime": ["t"],
    }


def test_preprocessor_fits_imputes_scales_and_ignores_unknown_categories(
    st: ms.Client, make_frame: Callable[..., pd.DataFrame]
) -> None:
    df = make_frame(n=300)
    df.loc[df.index[:10], "age"] = np.nan
    v = st.datasets.register(PROJECT, "people", df, target="employed", time_column="when")
    pre = st.datasets.preprocessor(PROJECT, v)
    X = df.drop(columns=["employed"])
    out = pre.fit_transform(X)
    names = list(pre.get_feature_names_out())
    assert names == ["numeric__age", "numeric__score", "categorical__sex_1", "categorical__sex_2"]
    age = out[:, 0]
    filled = df["age"].fillna(df["age"].median())
    assert age == pytest.approx(((filled - filled.mean()) / filled.std(ddof=0)).to_numpy())
    unseen = X.head(2).assign(sex=["9", None])
    assert pre.transform(unseen)[:, 2:].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    model = make_pipeline(build_preprocessor(v, exclude=["when"]), LogisticRegression()).fit(
        X, df["employed"]
    )
    assert model.score(X, df["employed"]) > 0.6


def test_categorical_cleaner_unifies_codes() -> None:
    cleaner = CategoricalCleaner().fit(pd.DataFrame({"c": [1, 2]}))
    out = cleaner.transform(pd.DataFrame({"c": [1.0, "2", None]}))
    assert out[:, 0].tolist() == ["1", "2", "__missing__"]


def test_datetime_features() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2021-03-04 05:00", None])})
    parts = DatetimeFeatures().fit(frame)
    assert list(parts.get_feature_names_out()) == [
        "t_year",
        "t_month",
        "t_day",
        "t_day_of_week",
        "t_hour",
    ]
    values = parts.transform(frame)
    assert values[0].tolist() == [2021, 3, 4, 3, 5] and np.isnan(values[1]).all()


def test_nothing_to_prepare_is_an_error() -> None:
    with pytest.raises(ms.InvalidInput, match="No feature columns to prepare"):
        build_preprocessor({"id": "id", "y": "boolean"}, target="y")
