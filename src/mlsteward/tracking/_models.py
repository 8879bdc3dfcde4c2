"""Fitted models as candidate-model artifacts, in formats that are data, not code.

- scikit-learn estimators (and pipelines): skops (``skops.io.dumps``). The types the file
  needs beyond skops' defaults (``skops.io.get_untrusted_types``) are recorded with the
  artifact as evidence; the registry holds the list of types it trusts.
- LightGBM (``LGBMModel`` wrappers and ``Booster``): LightGBM's native text model format.
- XGBoost (``XGBModel`` wrappers and ``Booster``): XGBoost's native UBJSON format.

Pickle is never used here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

from mlsteward.core import InvalidInput, MissingDependency

__all__ = ["SerializedModel", "class_path", "serialize_model"]


@dataclass(frozen=True)
class SerializedModel:
    data: bytes
    filename: str
    media_type: str
    meta: dict[str, Any] = field(default_factory=dict)


def class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _version(module: str) -> str | None:
    mod = sys.modules.get(module)
    return getattr(mod, "__version__", None) if mod is not None else None


def _json_list(value: Any) -> list[Any] | None:
    try:
        items = list(value)
    except TypeError:
        return None
    out: list[Any] = []
    for item in items:
        if hasattr(item, "item"):
            item = item.item()
        if not isinstance(item, str | int | float | bool):
            item = str(item)
        out.append(item)
    return out


def _common_meta(model: Any, flavor: str, fmt: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "flavor": flavor,
        "format": fmt,
        "class": class_path(model),
        "framework_version": _version(flavor if flavor != "sklearn" else "sklearn"),
    }
    classes = getattr(model, "classes_", None)
    if classes is not None:
        meta["classes"] = _json_list(classes)
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        meta["feature_names"] = _json_list(names)
    n_features = getattr(model, "n_features_in_", None)
    if isinstance(n_features, int):
        meta["n_features"] = n_features
    return meta


def _installed(module: str) -> bool:
    return module in sys.modules or importlib.util.find_spec(module) is not None


def _lightgbm(model: Any) -> SerializedModel | None:
    if "lightgbm" not in sys.modules:
        return None
    import lightgbm

    if isinstance(model, lightgbm.LGBMModel):
        booster = model.booster_
    elif isinstance(model, lightgbm.Booster):
        booster = model
    else:
        return None
    text = booster.model_to_string()
    meta = _common_meta(model, "lightgbm", "lightgbm-text")
    meta["framework_version"] = lightgbm.__version__
    return SerializedModel(text.encode("utf-8"), "model.txt", "text/plain", meta)


def _xgboost(model: Any) -> SerializedModel | None:
    if "xgboost" not in sys.modules:
        return None
    import xgboost

    if not isinstance(model, xgboost.XGBModel | xgboost.Booster):
        return None
    fd, tmp = tempfile.mkstemp(suffix=".ubj", prefix="steward-model-")
    os.close(fd)
    try:
        model.save_model(tmp)  # the wrapper's save keeps its scikit-learn attributes
        with open(tmp, "rb") as handle:
            data = handle.read()
    finally:
        os.unlink(tmp)
    meta = _common_meta(model, "xgboost", "xgboost-ubj")
    meta["framework_version"] = xgboost.__version__
    return SerializedModel(data, "model.ubj", "application/ubjson", meta)


def _skops(model: Any) -> SerializedModel:
    try:
        import skops
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - skops is a dependency
        raise MissingDependency(
            "Saving a scikit-learn model needs skops: pip install skops"
        ) from exc
    try:
        data = sio.dumps(model)
    except Exception as exc:
        raise InvalidInput(
            f"Cannot save {class_path(model)} with skops: {type(exc).__name__}: {exc}. "
            "Steward saves scikit-learn models with skops only (never pickle); a model with a "
            "component skops cannot represent must be logged as a plain artifact instead."
        ) from exc
    untrusted = sorted(sio.get_untrusted_types(data=data))
    meta = _common_meta(model, "sklearn", "skops")
    import sklearn

    meta["framework_version"] = sklearn.__version__
    meta["skops_version"] = skops.__version__
    meta["untrusted_types"] = untrusted
    return SerializedModel(data, "model.skops", "application/octet-stream", meta)


def serialize_model(model: Any) -> SerializedModel:
    """Serialize ``model`` in its safe native format (see the module docstring)."""
    for native in (_lightgbm, _xgboost):
        found = native(model)
        if found is not None:
            return found
    from sklearn.base import BaseEstimator

    if isinstance(model, BaseEstimator):
        return _skops(model)
    raise InvalidInput(
        f"Cannot log a {class_path(model)} as a model: expected a scikit-learn estimator "
        "(saved with skops), a LightGBM model or an XGBoost model. Save other models "
        "yourself and log the file with run.log_artifact(path)."
    )
