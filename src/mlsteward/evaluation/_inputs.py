"""What an evaluation is given: a model (a registry reference or any object with
``predict``/``predict_proba``), data (a dataset reference or a DataFrame), a charter.

Each is turned into a small record that says what it is (``ModelInfo``, ``DataInfo``)
so that the evaluation can cite it, plus the object to use.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlsteward.charter import Charter, CharterVersion, get_charter, list_charters, load_charter
from mlsteward.core import InvalidInput
from mlsteward.data import DatasetVersion, load_dataset, resolve_dataset
from mlsteward.store import Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CharterInput",
    "DataInfo",
    "DomainSpec",
    "ModelInfo",
    "ResolvedModel",
    "resolve_charter",
    "resolve_data",
    "resolve_model",
]

CharterInput = Charter | CharterVersion | Mapping[str, Any] | str | int | None
"""A charter, a stored version, a document, a file path, a version number of the
project's charter, or None (the project's latest charter, when there is one)."""


@dataclass(frozen=True)
class ModelInfo:
    """Which model was evaluated: ``ref`` (``name@version``) and ``id`` when it came from
    the registry; ``kind`` is its class."""

    name: str
    kind: str
    ref: str | None = None
    id: str | None = None
    size_mb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "ref": self.ref,
            "id": self.id,
            "size_mb": self.size_mb,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        return cls(
            name=data["name"],
            kind=data["kind"],
            ref=data.get("ref"),
            id=data.get("id"),
            size_mb=data.get("size_mb"),
        )


@dataclass(frozen=True)
class DataInfo:
    """Which data: ``ref`` (``name@hash``), ``id`` and ``role`` for a dataset version."""

    name: str
    rows: int
    ref: str | None = None
    id: str | None = None
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "ref": self.ref,
            "id": self.id,
            "role": self.role,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataInfo:
        return cls(
            name=data["name"],
            rows=int(data["rows"]),
            ref=data.get("ref"),
            id=data.get("id"),
            role=data.get("role"),
        )


@dataclass(frozen=True)
class DomainSpec:
    """The valid values of one input: a range, or allowed categories."""

    min: float | None = None
    max: float | None = None
    categories: tuple[Any, ...] | None = None


@dataclass
class ResolvedModel:
    """The object to call and what is known about it."""

    predictor: Any
    info: ModelInfo
    classes: tuple[Any, ...] | None
    features: list[str] | None
    domain: dict[str, DomainSpec]
    version: Any = None

    @property
    def project(self) -> str | None:
        """The project of the registered model version, when it is one."""
        project = getattr(self.version, "project", None)
        return None if project is None else str(project)


def _class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _size_mb(model: Any, version: Any) -> float | None:
    size = getattr(version, "artifact_size", None)
    if isinstance(size, int | float) and not isinstance(size, bool):
        return float(size) / 1e6
    try:  # the size of the fitted object's bytes; nothing is ever loaded back
        return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6
    except Exception:
        return None


def _signature_domain(signature: Any) -> dict[str, DomainSpec]:
    domain: dict[str, DomainSpec] = {}
    for column in getattr(signature, "inputs", ()) or ():
        kind = getattr(column, "type", "any")
        categories = getattr(column, "categories", None)
        low, high = getattr(column, "min", None), getattr(column, "max", None)
        if kind == "numeric" and (low is not None or high is not None):
            domain[column.name] = DomainSpec(
                min=None if low is None else float(low), max=None if high is None else float(high)
            )
        elif categories is not None and kind in ("categorical", "boolean"):
            domain[column.name] = DomainSpec(categories=tuple(categories))
    return domain


def _registry_load(store: Store, project: str | None, ref: str) -> Any:
    """A registered model, loaded with its domain check off: an evaluation measures what
    the model computes on every row, including rows outside its training domain (the
    robustness checks probe the domain on purpose)."""
    from mlsteward.registry import load_model

    return load_model(store, project, ref, domain="off")


def resolve_model(store: Store | None, project: str | None, model: Any) -> ResolvedModel:
    """A registry reference (``NAME@V``, ``NAME@alias``) or a model object, ready to call."""
    if isinstance(model, str):
        if store is None:
            raise InvalidInput(
                f"The model {model!r} is a registry reference, which needs a store: call "
                "st.evaluate(...) on a client, or pass a fitted model object."
            )
        model = _registry_load(store, project, model)
    predict = getattr(model, "predict", None)
    if not callable(predict):
        raise InvalidInput(
            f"Cannot evaluate a {type(model).__name__}: a model needs a predict method (and "
            "predict_proba for probabilities). Pass a fitted estimator, a registry Predictor, "
            "or a reference such as 'churn@3'."
        )
    version = getattr(model, "model_version", None) or getattr(model, "version_record", None)
    signature = getattr(model, "signature", None) or getattr(version, "signature", None)
    classes = getattr(model, "classes_", None)
    if classes is None:
        classes = getattr(model, "classes", None) or getattr(version, "classes", None)
    features = getattr(model, "feature_names_in_", None)
    if features is None and signature is not None and not getattr(signature, "positional", False):
        features = getattr(signature, "names", None)
    ref = getattr(version, "ref", None)
    kind = getattr(version, "model_class", None) or _class_path(getattr(model, "model", model))
    name = getattr(version, "name", None) or type(getattr(model, "model", model)).__name__
    info = ModelInfo(
        name=str(name),
        kind=str(kind),
        ref=None if ref is None else str(ref),
        id=getattr(version, "id", None),
        size_mb=_size_mb(model, version),
    )
    return ResolvedModel(
        predictor=model,
        info=info,
        classes=None if classes is None else tuple(_plain(c) for c in classes),
        features=None if features is None else [str(f) for f in features],
        domain=_signature_domain(signature),
        version=version,
    )


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str) else value


def resolve_data(
    store: Store | None, project: str | None, dataset: Any
) -> tuple[pd.DataFrame, DataInfo, DatasetVersion | None]:
    """The rows to evaluate on, what they are, and the dataset version when registered."""
    import pandas as pd

    if isinstance(dataset, pd.DataFrame):
        return dataset, DataInfo(name="dataframe", rows=len(dataset)), None
    if isinstance(dataset, str | DatasetVersion):
        if store is None or project is None:
            raise InvalidInput(
                f"The dataset {dataset if isinstance(dataset, str) else dataset.ref!r} is a "
                "registered version, which needs a store and a project: call "
                "st.evaluate(..., project=P) or pass a DataFrame."
            )
        version = (
            dataset
            if isinstance(dataset, DatasetVersion)
            else resolve_dataset(store, project, dataset)
        )
        frame = load_dataset(store, project, version)
        assert isinstance(frame, pd.DataFrame)
        info = DataInfo(
            name=version.name, rows=len(frame), ref=version.ref, id=version.id, role=version.role
        )
        return frame, info, version
    raise InvalidInput(
        f"Cannot evaluate on a {type(dataset).__name__}: data is a pandas DataFrame or a "
        "dataset reference such as 'acs-test@latest'."
    )


def resolve_charter(
    store: Store | None, project: str | None, charter: CharterInput
) -> tuple[Charter | None, CharterVersion | None]:
    """The charter to judge by, and its stored version when it has one.

    None means the project's latest charter when there is a store and a project (and no
    charter at all otherwise, or when the project has none yet).
    """
    if isinstance(charter, CharterVersion):
        return charter.charter, charter
    if isinstance(charter, Charter):
        return charter, None
    if isinstance(charter, bool):
        raise InvalidInput("charter is a Charter, a path, a version number or None, not a boolean.")
    if isinstance(charter, int):
        if store is None or project is None:
            raise InvalidInput(
                f"charter={charter} names a version of a project's charter; give project=..."
            )
        version = get_charter(store, project, charter)
        return version.charter, version
    if charter is None:
        if store is None or project is None:
            return None, None
        versions = list_charters(store, project)
        if not versions:
            return None, None
        return versions[-1].charter, versions[-1]
    return load_charter(charter), None
