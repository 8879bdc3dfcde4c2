"""Preparation: cleaning and feature steps as a scikit-learn pipeline built from logical types.

The preprocessor returned by :func:`build_preprocessor` is an ordinary scikit-learn
``ColumnTransformer``; put it in front of an estimator in a ``Pipeline`` and the whole
pipeline is what gets stored with the model (registry stage), so serving applies exactly
the transformation that training fitted. Per logical type:

============  ===================================================================
numeric       median imputation, then standard scaling (``scale_numeric=False``
              keeps the values)
categorical   missing -> ``"__missing__"``, values as text, one-hot encoding with
              ``handle_unknown="ignore"`` (a category unseen in training becomes all
              zeros instead of an error) and rare categories grouped
              (``min_frequency``)
boolean       as 0/1, most-frequent imputation
datetime      year, month, day, day of week, hour as numbers, median imputation
text, id      dropped (ids carry no generalisable signal; text needs its own model)
============  ===================================================================

The two small transformers here (:class:`CategoricalCleaner`,
:class:`DatetimeFeatures`) are plain data-holding estimators, so they serialise with
skops once their types are on Steward's trusted list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlsteward.core import InvalidInput
from mlsteward.data._records import DatasetVersion
from mlsteward.data._types import validate_column_types

__all__ = [
    "MISSING_CATEGORY",
    "CategoricalCleaner",
    "DatetimeFeatures",
    "build_preprocessor",
    "feature_columns",
]

MISSING_CATEGORY: Final = "__missing__"
_DATETIME_PARTS: Final = ("year", "month", "day", "day_of_week", "hour")


def _frame(X: Any, columns: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X, dtype=object)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    names = list(columns) if columns is not None else [f"x{i}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=names)


class CategoricalCleaner(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Categories as text with missing values as :data:`MISSING_CATEGORY`.

    Makes codes such as 1, 1.0 and "1" the same category (integral floats lose ".0"), so
    that data read from CSV, Parquet or pandas categoricals encode alike.
    """

    def fit(self, X: Any, y: Any = None) -> CategoricalCleaner:
        frame = _frame(X, None)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        frame = _frame(X, list(self.feature_names_in_))
        out = np.empty(frame.shape, dtype=object)
        for position, name in enumerate(frame.columns):  # columns, not rows
            column = frame[name]
            values = column.astype(object)
            missing = column.isna().to_numpy()
            numeric = pd.to_numeric(values, errors="coerce")
            integral = numeric.notna() & (numeric == np.floor(numeric))
            text = values.astype(str)
            text[integral.to_numpy()] = numeric[integral].astype(np.int64).astype(str)
            text[missing] = MISSING_CATEGORY
            out[:, position] = text.to_numpy(dtype=object)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_in_, dtype=object)


class DatetimeFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Year, month, day, day of week and hour of each datetime column (NaN when missing)."""

    def fit(self, X: Any, y: Any = None) -> DatetimeFeatures:
        frame = _frame(X, None)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        frame = _frame(X, list(self.feature_names_in_))
        parts = []
        for name in frame.columns:  # columns, not rows
            moments = pd.to_datetime(frame[name], errors="coerce", utc=True)
            for part in _DATETIME_PARTS:
                parts.append(getattr(moments.dt, part).astype("float64").to_numpy())
        return np.column_stack(parts) if parts else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(
            [f"{name}_{part}" for name in self.feature_names_in_ for part in _DATETIME_PARTS],
            dtype=object,
        )


def feature_columns(
    column_types: Mapping[str, str] | DatasetVersion,
    *,
    target: str | None = None,
    exclude: Sequence[str] = (),
) -> dict[str, list[str]]:
    """Feature columns grouped by logical type (the target, ``exclude``, ids and text
    left out)."""
    if isinstance(column_types, DatasetVersion):
        target = target or column_types.target
        column_types = column_types.column_types
    types = validate_column_types(column_types)
    skip = {target, *exclude}
    groups: dict[str, list[str]] = {"numeric": [], "categorical": [], "boolean": [], "datetime": []}
    for name, kind in types.items():
        if name not in skip and kind in groups:
            groups[kind].append(name)
    return groups


def build_preprocessor(
    column_types: Mapping[str, str] | DatasetVersion,
    *,
    target: str | None = None,
    exclude: Sequence[str] = (),
    scale_numeric: bool = True,
    min_frequency: int | float | None = None,
) -> ColumnTransformer:
    """A ``ColumnTransformer`` for the features of a version (or of a column -> logical
    type mapping), as described in the module docstring.

    >>> pre = build_preprocessor({"age": "numeric", "sex": "categorical", "y": "boolean"},
    ...                          target="y")
    >>> [name for name, _, _ in pre.transformers]
    ['numeric', 'categorical']
    """
    groups = feature_columns(column_types, target=target, exclude=exclude)
    transformers: list[tuple[str, Any, list[str]]] = []
    if groups["numeric"]:
        steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
        if scale_numeric:
            steps.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(steps), groups["numeric"]))
    if groups["categorical"]:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist" if min_frequency else "ignore",
            min_frequency=min_frequency,
            sparse_output=False,
        )
        transformers.append(
            (
                "categorical",
                Pipeline([("clean", CategoricalCleaner()), ("onehot", encoder)]),
                groups["categorical"],
            )
        )
    if groups["boolean"]:
        transformers.append(("boolean", SimpleImputer(strategy="most_frequent"), groups["boolean"]))
    if groups["datetime"]:
        transformers.append(
            (
                "datetime",
                Pipeline(
                    [("parts", DatetimeFeatures()), ("impute", SimpleImputer(strategy="median"))]
                ),
                groups["datetime"],
            )
        )
    if not transformers:
        raise InvalidInput(
            "No feature columns to prepare: every column is the target, excluded, an id or "
            "text. Check the logical types (steward data show) or the exclusions."
        )
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
