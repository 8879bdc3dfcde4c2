"""Monitoring references: everything a window is compared with, computed once and stored.

A reference holds, for one model version and its reference data:

- the drift summaries of every input feature on the *drift reference* (the model's
  training dataset version by default), see :mod:`._summary`;
- the summaries of the model's outputs (positive-class score and predicted class) on the
  *performance reference* (a labelled held-out dataset version: the model's test or
  validation data by default), so that output drift is not judged against the
  overconfident scores of training rows;
- a sample of up to 5,000 reference rows (the domain classifier's reference side) and the
  PCA model with its held-out reconstruction error;
- the performance estimator fitted on the performance reference (calibration checked),
  and for regressors up to 20,000 labelled rows to refit the loss models.

The document is one immutable artifact (JSON; the sample as Parquet beside it) recorded in
``monitor_references`` under a key hashing what it summarises; a monitor run finds it
there instead of recomputing it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pyarrow as pa

from mlsteward.core import InvalidInput, new_id, utcnow
from mlsteward.monitoring._estimation import ClassifierEstimator, RegressorEstimator
from mlsteward.monitoring._multiclass import MulticlassEstimator
from mlsteward.monitoring._multivariate import PCAModel, encode
from mlsteward.monitoring._performance import Task
from mlsteward.monitoring._summary import category_key, category_keys, class_indices
from mlsteward.monitoring._tables import DataSummary, column_items, summarise
from mlsteward.store import Store
from mlsteward.store.metadata import MonitorReferenceRow, SqlMonitoringRepository

__all__ = [
    "OUTPUT_CLASS",
    "OUTPUT_SCORE",
    "REFERENCE_FORMAT",
    "Reference",
    "build_reference",
    "load_or_build_reference",
]

REFERENCE_FORMAT: Final = "mlsteward.monitor-reference"
OUTPUT_SCORE: Final = "output:score"
OUTPUT_CLASS: Final = "output:class"
SAMPLE_ROWS: Final = 5000
REGRESSION_ROWS: Final = 20_000


def _parquet(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _unparquet(data: bytes) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


@dataclass
class Reference:
    """A monitoring reference (see the module docstring)."""

    features: list[str]
    kinds: dict[str, str]
    task: Task
    inputs: DataSummary
    outputs: DataSummary | None
    sample: pa.Table | None
    pca: PCAModel | None
    estimator: ClassifierEstimator | MulticlassEstimator | None
    positive_class: Any = 1
    threshold: float = 0.5
    classes: list[Any] | None = None
    describe: dict[str, Any] = field(default_factory=dict)
    regression_rows: pa.Table | None = None
    id: str | None = None
    _regressor: RegressorEstimator | None = None

    @property
    def rows(self) -> int:
        return self.inputs.row_count

    def regressor(self) -> RegressorEstimator | None:
        """The direct-loss estimator: fitted when the reference is built and stored with
        it; fitted again from the stored rows only if the stored models cannot be read
        (a reference stored by another scikit-learn version)."""
        if self._regressor is None and self.regression_rows is not None:
            self._regressor = _fit_regressor(self.regression_rows, self.features, self.inputs)
        return self._regressor

    def to_document(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The JSON document and the binary parts (name to bytes) it refers to."""
        parts: dict[str, bytes] = {}
        if self.sample is not None:
            parts["sample"] = _parquet(self.sample)
        if self.regression_rows is not None:
            parts["regression_rows"] = _parquet(self.regression_rows)
        regressor = None
        if self._regressor is not None:
            regressor, parts["regressor"] = self._regressor.to_stored()
        document = {
            "format": REFERENCE_FORMAT,
            "version": 1,
            "features": self.features,
            "kinds": self.kinds,
            "task": self.task,
            "positive_class": self.positive_class,
            "threshold": self.threshold,
            "classes": self.classes,
            "inputs": self.inputs.to_dict(),
            "outputs": None if self.outputs is None else self.outputs.to_dict(),
            "pca": None if self.pca is None else self.pca.to_dict(),
            "estimator": None if self.estimator is None else self.estimator.to_dict(),
            "describe": self.describe,
            "regressor": regressor,
        }
        return document, parts

    @classmethod
    def from_document(cls, document: Mapping[str, Any], parts: Mapping[str, bytes]) -> Reference:
        if document.get("format") != REFERENCE_FORMAT or document.get("version") != 1:
            raise InvalidInput(
                f"Not a monitoring reference of format {REFERENCE_FORMAT} v1; recompute it "
                "(it is rebuilt automatically when its stored key changes)."
            )
        outputs = document.get("outputs")
        regressor = None
        if document.get("regressor") is not None and "regressor" in parts:
            try:
                regressor = RegressorEstimator.from_stored(
                    document["regressor"], parts["regressor"]
                )
            except Exception:  # unreadable here (another scikit-learn?): refit from the rows
                regressor = None
        return cls(
            features=list(document["features"]),
            kinds=dict(document["kinds"]),
            task=document["task"],
            inputs=DataSummary.from_dict(document["inputs"]),
            outputs=None if outputs is None else DataSummary.from_dict(outputs),
            sample=_unparquet(parts["sample"]) if "sample" in parts else None,
            pca=None if document.get("pca") is None else PCAModel.from_dict(document["pca"]),
            estimator=_estimator(document.get("estimator")),
            positive_class=document.get("positive_class", 1),
            threshold=float(document.get("threshold", 0.5)),
            classes=document.get("classes"),
            describe=dict(document.get("describe", {})),
            regression_rows=_unparquet(parts["regression_rows"])
            if "regression_rows" in parts
            else None,
            _regressor=regressor,
        )


def _estimator(
    data: Mapping[str, Any] | None,
) -> ClassifierEstimator | MulticlassEstimator | None:
    if data is None:
        return None
    if data.get("kind") == "multiclass":
        return MulticlassEstimator.from_dict(data)
    return ClassifierEstimator.from_dict(data)


def _fit_regressor(
    rows: pa.Table, features: Sequence[str], inputs: DataSummary
) -> RegressorEstimator:
    """Direct loss estimation fitted on the reference's labelled rows."""
    _, items = column_items(rows.select(list(features)))
    x = encode(items, inputs.columns, frequencies=True)
    return RegressorEstimator.fit(
        x,
        np.asarray(rows.column("__prediction").to_numpy(zero_copy_only=False), dtype=float),
        np.asarray(rows.column("__target").to_numpy(zero_copy_only=False), dtype=float),
    )


def _positive_index(classes: Sequence[Any] | None, positive: Any) -> int:
    if not classes:
        return 1
    keys = [category_key(c) for c in classes]
    key = category_key(positive)
    if key not in keys:
        raise InvalidInput(
            f"The positive class {positive!r} is not one of the model's classes "
            f"{list(classes)}; fix task.positive_class in the charter."
        )
    return keys.index(key)


def build_reference(
    data: Any,
    *,
    features: Sequence[str],
    kinds: Mapping[str, str],
    task: Task = "binary",
    performance_data: Any = None,
    target: str | None = None,
    scorer: Any = None,
    positive_class: Any = 1,
    threshold: float = 0.5,
    classes: Sequence[Any] | None = None,
    describe: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> Reference:
    """Build a reference from drift reference ``data`` (and labelled ``performance_data``
    with its ``target`` column, scored by ``scorer``: a predictor with ``predict`` and,
    for classifiers, ``predict_proba``)."""
    missing = [f for f in features if f not in column_items(data)[1]]
    if missing:
        raise InvalidInput(
            f"The reference data has no column(s) {', '.join(map(repr, missing))} of the model's "
            "inputs; choose a reference holding every input feature."
        )
    frame_types = {f: kinds[f] for f in features}
    inputs = summarise(data, columns=list(features), column_types=frame_types)
    table = _to_table(data, features)
    rng = np.random.default_rng(seed)
    sample = table.take(
        pa.array(
            np.sort(rng.choice(table.num_rows, min(SAMPLE_ROWS, table.num_rows), replace=False))
        )
    )
    pca = None
    _, items = column_items(sample)
    matrix = encode(items, inputs.columns, frequencies=True)
    if matrix.shape[0] >= 20 and matrix.shape[1] >= 2:
        pca = PCAModel.fit(matrix, seed=seed)
    outputs = None
    estimator: ClassifierEstimator | MulticlassEstimator | None = None
    regression_rows = None
    if performance_data is not None and scorer is not None:
        perf = _to_table(performance_data, [*features, *([target] if target else [])])
        frame = perf.select(list(features)).to_pandas()
        if task == "regression":
            predictions = np.asarray(scorer.predict(frame), dtype=np.float64)
            outputs = summarise({OUTPUT_SCORE: predictions}, column_types={OUTPUT_SCORE: "numeric"})
            if target is not None:
                keep = perf.select(list(features)).append_column(
                    "__prediction", pa.array(predictions)
                )
                keep = keep.append_column(
                    "__target",
                    pa.array(
                        np.asarray(perf.column(target).to_numpy(zero_copy_only=False), dtype=float)
                    ),
                )
                regression_rows = keep.slice(0, REGRESSION_ROWS)
        else:
            probabilities = np.asarray(scorer.predict_proba(frame), dtype=np.float64)
            if task == "multiclass" and probabilities.ndim == 2:
                scores = probabilities.max(axis=1)  # as the log's score: P(predicted class)
            else:
                index = _positive_index(classes, positive_class)
                scores = probabilities[:, index] if probabilities.ndim == 2 else probabilities
            predicted = np.asarray(scorer.predict(frame))
            predicted_keys = category_keys(pa.array(predicted))
            outputs = summarise(
                {OUTPUT_SCORE: scores, OUTPUT_CLASS: pa.array(predicted_keys, pa.string())},
                column_types={OUTPUT_SCORE: "numeric", OUTPUT_CLASS: "categorical"},
            )
            if target is not None and task == "multiclass" and probabilities.ndim == 2:
                keys = [category_key(c) for c in (classes or [])]
                if len(keys) == probabilities.shape[1]:
                    estimator = MulticlassEstimator.fit(
                        probabilities,
                        class_indices(category_keys(perf.column(target)), keys),
                        predicted=class_indices(predicted_keys, keys),
                        seed=seed,
                    )
            if target is not None and task == "binary":
                positive = category_key(positive_class)
                labels = category_keys(perf.column(target)) == positive
                predicted_positive = predicted_keys == positive
                estimator = ClassifierEstimator.fit(
                    scores, labels, threshold=threshold, predicted=predicted_positive, seed=seed
                )
    reference = Reference(
        features=list(features),
        kinds=dict(frame_types),
        task=task,
        inputs=inputs,
        outputs=outputs,
        sample=sample,
        pca=pca,
        estimator=estimator,
        positive_class=positive_class,
        threshold=threshold,
        classes=None if classes is None else list(classes),
        describe=dict(describe or {}),
        regression_rows=regression_rows,
    )
    if regression_rows is not None and regression_rows.num_rows >= 20:
        reference._regressor = _fit_regressor(regression_rows, features, inputs)
    return reference


def _to_table(data: Any, columns: Sequence[str]) -> pa.Table:
    if isinstance(data, pa.Table):
        return data.select(list(columns))
    if hasattr(data, "iloc"):
        return pa.Table.from_pandas(data[list(columns)], preserve_index=False)
    return pa.table({c: data[c] for c in columns})


def reference_key(parts: Mapping[str, Any]) -> str:
    # "estimation" 2: multiclass estimators and stored loss models (references stored
    # before them are rebuilt once, under a new key)
    text = json.dumps(
        {"format": REFERENCE_FORMAT, "version": 1, "estimation": 2, **parts},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_or_build_reference(
    store: Store,
    project_id: str,
    key_parts: Mapping[str, Any],
    build: Any,
    *,
    dataset_version_id: str | None,
    model_version_id: str | None,
    description: str,
) -> Reference:
    """The stored reference under the key of ``key_parts``, or ``build()`` stored now."""
    key = reference_key(key_parts)
    with store.reader() as session:
        row = SqlMonitoringRepository(session).find_reference(key)
    if row is not None:
        container = json.loads(
            store.artifacts.get(row.summary_digest, name=f"monitoring reference {row.id}")
        )
        parts = {
            name: store.artifacts.get(digest, name=f"monitoring reference {row.id} ({name})")
            for name, digest in container["parts"].items()
        }
        stored = Reference.from_document(container["document"], parts)
        stored.id = row.id
        return stored
    reference: Reference = build()
    document, parts = reference.to_document()
    digests = {name: store.artifacts.put(data) for name, data in parts.items()}
    payload = json.dumps(
        {"document": document, "parts": digests}, allow_nan=False, default=_plain
    ).encode("utf-8")
    digest = store.artifacts.put(payload)
    with store.transaction() as tx:
        repo = SqlMonitoringRepository(tx.session)
        existing = repo.find_reference(key)
        if existing is not None:  # another run stored it meanwhile: same content
            reference.id = existing.id
            return reference
        row = MonitorReferenceRow(
            id=new_id(),
            project_id=project_id,
            key=key,
            dataset_version_id=dataset_version_id,
            model_version_id=model_version_id,
            description=description,
            row_count=reference.rows,
            summary_digest=digest,
            summary_size=len(payload),
            created_at=utcnow(),
            created_by=store.actor,
        )
        repo.add_reference(row)
        tx.audit(
            "monitor.reference",
            "monitor_reference",
            row.id,
            {"key": key, "description": description, "digest": digest},
        )
    reference.id = row.id
    return reference


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    return str(value)
