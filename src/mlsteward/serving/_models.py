"""Served models: a loaded model version, its validator, and how it predicts a batch.

A :class:`ServedModel` turns the columns of many requests into one model call: a
DataFrame in signature order (a plain array for a positional signature), then
``predict_proba`` for a classifier (the prediction is the class of highest probability,
as scikit-learn's classifiers decide, except for threshold classifiers, which are asked
for ``predict`` too) or ``predict`` otherwise. Outputs come back as plain Python lists,
ready for JSON and for the prediction log.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mlsteward.registry import ColumnSpec, DomainMode, ModelVersion, Signature
from mlsteward.serving._validation import RowValidator

__all__ = ["Outputs", "ServedModel", "arrow_type_for", "merge_columns"]

_THRESHOLD_CLASSIFIERS = ("FixedThresholdClassifier", "TunedThresholdClassifierCV")


@dataclass(frozen=True)
class Outputs:
    """What a model answered for a batch: predictions, and for a classifier the score of
    each row (probability of the positive class for two classes, of the predicted class
    otherwise) and the probabilities of every class in ``classes`` order."""

    predictions: list[Any]
    scores: list[float] | None = None
    probabilities: list[list[float]] | None = None

    def slice(self, start: int, stop: int) -> Outputs:
        return Outputs(
            self.predictions[start:stop],
            None if self.scores is None else self.scores[start:stop],
            None if self.probabilities is None else self.probabilities[start:stop],
        )


def arrow_type_for(spec: ColumnSpec) -> pa.DataType:
    """The type of an input column in the prediction log."""
    if spec.type == "numeric":
        return pa.float64()
    if spec.type == "boolean" and (
        spec.categories is None or all(isinstance(c, bool) for c in spec.categories)
    ):
        return pa.bool_()
    if spec.type in ("categorical", "boolean") and spec.categories:
        if all(isinstance(c, int) and not isinstance(c, bool) for c in spec.categories):
            return pa.int64()
        if all(isinstance(c, int | float) and not isinstance(c, bool) for c in spec.categories):
            return pa.float64()
    return pa.string()


def _prediction_type(signature: Signature, classes: Sequence[Any] | None) -> pa.DataType:
    if classes is None:
        return pa.float64()
    if all(isinstance(c, bool) for c in classes):
        return pa.bool_()
    if all(isinstance(c, int) for c in classes):
        return pa.int64()
    if all(isinstance(c, int | float) for c in classes):
        return pa.float64()
    return pa.string()


def merge_columns(parts: Sequence[Mapping[str, list[Any]]], names: Sequence[str]) -> dict[str, Any]:
    """One column list per name from the columns of several requests."""
    if len(parts) == 1:
        return dict(parts[0])
    return {name: list(itertools.chain.from_iterable(p[name] for p in parts)) for name in names}


def _plain(values: np.ndarray) -> list[Any]:
    out: list[Any] = values.tolist()
    return out


class ServedModel:
    """A model version ready to answer requests.

    ``key`` is ``name@version``; ``model`` the estimator (anything with ``predict`` and,
    for a classifier, ``predict_proba``).
    """

    def __init__(
        self,
        model: Any,
        signature: Signature,
        *,
        name: str,
        version: int,
        project: str | None = None,
        version_id: str | None = None,
        domain: DomainMode = "strict",
    ) -> None:
        self.model = model
        self.signature = signature
        self.name = name
        self.version = version
        self.project = project
        self.version_id = version_id
        self.key = f"{name}@{version}"
        self.validator = RowValidator(signature, domain=domain, model=self.key)
        classes = signature.classes
        model_classes = getattr(model, "classes_", None)
        if classes is None and model_classes is not None:
            classes = tuple(np.asarray(model_classes).tolist())
        self.classes: list[Any] | None = None if classes is None else list(classes)
        self._class_array = None if classes is None else np.asarray(self.classes, dtype=object)
        self.has_proba = self.classes is not None and callable(
            getattr(model, "predict_proba", None)
        )
        self._needs_predict = type(model).__name__ in _THRESHOLD_CLASSIFIERS or (
            type(getattr(model, "steps", [(None, None)])[-1][1]).__name__ in _THRESHOLD_CLASSIFIERS
        )
        self.prediction_type = _prediction_type(signature, self.classes)
        self.input_types = {spec.name: arrow_type_for(spec) for spec in signature.inputs}

    @classmethod
    def from_version(
        cls, version: ModelVersion, model: Any, *, domain: DomainMode = "strict"
    ) -> ServedModel:
        return cls(
            model,
            version.signature,
            name=version.name,
            version=version.version,
            project=version.project,
            version_id=version.id,
            domain=domain,
        )

    def frame(self, columns: Mapping[str, list[Any]]) -> Any:
        """The model's input for ``columns`` (signature order)."""
        if self.signature.positional:
            return np.column_stack(
                [np.asarray(columns[n], dtype=object) for n in self.validator.names]
            )
        return pd.DataFrame(columns, columns=self.validator.names)

    def predict_columns(self, columns: Mapping[str, list[Any]]) -> Outputs:
        """Predict the rows given as columns (one model call)."""
        return self.predict_frame(self.frame(columns))

    def predict_frame(self, data: Any) -> Outputs:
        """Predict a checked model input (a DataFrame in signature order, or an array)."""
        if self.has_proba:
            proba = np.asarray(self.model.predict_proba(data), dtype=float)
            assert self._class_array is not None
            if self._needs_predict:
                predictions = _plain(np.asarray(self.model.predict(data)))
            else:
                predictions = self._class_array[proba.argmax(axis=1)].tolist()
            scores = proba[:, -1] if proba.shape[1] == 2 else proba.max(axis=1)
            return Outputs(predictions, _plain(scores), _plain(proba))
        values = np.asarray(self.model.predict(data))
        predictions = _plain(values)
        scores = _plain(values.astype(float)) if self.classes is None else None
        return Outputs(predictions, scores, None)

    def __repr__(self) -> str:
        return f"ServedModel({self.key!r}, {type(self.model).__name__})"
