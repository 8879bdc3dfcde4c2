"""Model artifact formats, and the trust rules for loading them.

Loading a model must not run code chosen by whoever wrote the file (DESIGN.md):

- ``skops`` (scikit-learn): loaded with :func:`skops.io.loads`, trusting skops' defaults
  plus :data:`TRUSTED_TYPES`, a list Steward holds. The types a file needs are read with
  ``skops.io.get_untrusted_types`` and compared with that list; a file that needs any
  other type is refused, naming it. Trust is never read from the artifact.
- ``xgboost-ubj`` / ``xgboost-json``: XGBoost's native formats (data, no code).
- ``lightgbm-text``: LightGBM's native text model, loaded as a :class:`LightGBMModel`.
- ``pickle`` / ``joblib``: loading runs arbitrary code, so they are accepted only when
  someone explicitly trusts the artifact (``trust=True``, ``--trust``); the registry
  records that decision in the audit trail.

ONNX is not supported yet: register the scikit-learn, XGBoost or LightGBM model itself.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from mlsteward.core import InvalidInput, MissingDependency, PermissionDenied

__all__ = [
    "FORMATS",
    "PICKLE_FORMATS",
    "SAFE_FORMATS",
    "TRUSTED_TYPES",
    "LightGBMModel",
    "SavedModel",
    "check_trusted_types",
    "class_path",
    "filename_for",
    "flavor_of",
    "format_of_file",
    "load_artifact",
    "model_meta",
    "save_model",
]

TRUSTED_TYPES: Final[frozenset[str]] = frozenset(
    {
        # fitted internals of scikit-learn estimators (skops does not trust them by default)
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance32",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance32",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance32",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance32",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.utils._bunch.Bunch",
        "sklearn.utils.validation.check_array",
        # plain data types: a dtype (OneHotEncoder(dtype=np.float64)), and partial, whose
        # wrapped function skops reports (and Steward checks) as a type of its own
        "numpy.dtype",
        "functools.partial",
    }
)
"""Types Steward trusts in skops files beyond skops' own defaults."""

SAFE_FORMATS: Final = ("skops", "xgboost-ubj", "xgboost-json", "lightgbm-text")
PICKLE_FORMATS: Final = ("pickle", "joblib")
FORMATS: Final = SAFE_FORMATS + PICKLE_FORMATS
_FLAVOR = {
    "skops": "sklearn",
    "xgboost-ubj": "xgboost",
    "xgboost-json": "xgboost",
    "lightgbm-text": "lightgbm",
    "pickle": "python",
    "joblib": "python",
}
_FILENAME = {
    "skops": "model.skops",
    "xgboost-ubj": "model.ubj",
    "xgboost-json": "model.json",
    "lightgbm-text": "model.txt",
    "pickle": "model.pkl",
    "joblib": "model.joblib",
}
_SUFFIX = {
    ".skops": "skops",
    ".ubj": "xgboost-ubj",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
}
_SAFE_ADVICE = (
    "Prefer a safe format: skops for scikit-learn (skops.io.dump), XGBoost's JSON/UBJ "
    "(model.save_model('model.ubj')), LightGBM's text model (booster.save_model('model.txt'))."
)


@dataclass(frozen=True)
class SavedModel:
    """Artifact bytes in ``format``, with what the registry records about the model."""

    data: bytes
    format: str
    flavor: str
    filename: str
    meta: dict[str, Any] = field(default_factory=dict)


def class_path(obj: object) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _plain_list(values: Any) -> list[Any]:
    out = []
    for value in list(values):
        item = value.item() if hasattr(value, "item") else value
        out.append(item if isinstance(item, str | int | float | bool) else str(item))
    return out


class LightGBMModel:
    """A LightGBM booster with the scikit-learn-like methods of the model it came from.

    ``classes`` are the labels of a classifier (None for a regressor); ``predict_proba``
    and ``predict`` give what ``LGBMClassifier`` gives (binary: ``[1 - p, p]``).
    """

    def __init__(self, booster: Any, classes: Sequence[Any] | None = None) -> None:
        self.booster = booster
        self.classes_ = None if classes is None else np.asarray(list(classes))
        self.feature_names_in_ = np.asarray(booster.feature_name(), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)

    def predict_proba(self, data: Any) -> np.ndarray:
        if self.classes_ is None:
            raise InvalidInput("This LightGBM model is a regressor: it has no predict_proba.")
        raw = np.asarray(self.booster.predict(data))
        if raw.ndim == 1:
            return np.vstack((1.0 - raw, raw)).T
        return raw

    def predict(self, data: Any) -> np.ndarray:
        if self.classes_ is None:
            return np.asarray(self.booster.predict(data))
        return np.asarray(self.classes_[np.argmax(self.predict_proba(data), axis=1)])

    def __repr__(self) -> str:
        kind = "regressor" if self.classes_ is None else f"classifier of {len(self.classes_)}"
        return f"LightGBMModel({kind}, {self.n_features_in_} features)"


def model_meta(model: Any) -> dict[str, Any]:
    """What the registry records about a fitted model: class, classes, feature names."""
    meta: dict[str, Any] = {"class": class_path(model)}
    classes = getattr(model, "classes_", None)
    if classes is not None:
        meta["classes"] = _plain_list(classes)
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        meta["feature_names"] = [str(n) for n in list(names)]
    n_features = getattr(model, "n_features_in_", None)
    if isinstance(n_features, int | np.integer):
        meta["n_features"] = int(n_features)
    meta["has_proba"] = classes is not None and hasattr(model, "predict_proba")
    return meta


# -- saving -------------------------------------------------------------------------------
def _save_lightgbm(model: Any) -> SavedModel | None:
    if "lightgbm" not in sys.modules:
        return None
    import lightgbm

    if isinstance(model, lightgbm.LGBMModel):
        booster = model.booster_
    elif isinstance(model, lightgbm.Booster):
        booster = model
    else:
        return None
    meta = model_meta(model)
    meta["framework_version"] = lightgbm.__version__
    if "feature_names" not in meta:
        meta["feature_names"] = list(booster.feature_name())
    data = booster.model_to_string().encode("utf-8")
    return SavedModel(data, "lightgbm-text", "lightgbm", _FILENAME["lightgbm-text"], meta)


def _save_xgboost(model: Any) -> SavedModel | None:
    if "xgboost" not in sys.modules:
        return None
    import xgboost

    if not isinstance(model, xgboost.XGBModel | xgboost.Booster):
        return None
    meta = model_meta(model)
    meta["framework_version"] = xgboost.__version__
    raw = model.save_raw("ubj") if isinstance(model, xgboost.Booster) else None
    if raw is None:
        import os
        import tempfile

        fd, tmp = tempfile.mkstemp(suffix=".ubj", prefix="steward-model-")
        os.close(fd)
        try:
            model.save_model(tmp)  # the wrapper's save keeps its scikit-learn attributes
            data = Path(tmp).read_bytes()
        finally:
            os.unlink(tmp)
    else:
        data = bytes(raw)
    return SavedModel(data, "xgboost-ubj", "xgboost", _FILENAME["xgboost-ubj"], meta)


def _skops() -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - skops is a dependency
        raise MissingDependency(
            "Saving and loading scikit-learn models needs skops: pip install skops"
        ) from exc
    return sio


def save_model(model: Any, format: str | None = None) -> SavedModel:
    """Serialize a fitted model: natively for LightGBM and XGBoost, with skops for
    scikit-learn; ``format='pickle'``/``'joblib'`` only when asked for."""
    if format is not None and format not in FORMATS:
        raise InvalidInput(
            f"Unknown model format {format!r}; expected one of {', '.join(FORMATS)}."
        )
    if format in PICKLE_FORMATS:
        buffer = io.BytesIO()
        if format == "joblib":
            import joblib

            joblib.dump(model, buffer)
        else:
            pickle.dump(model, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        meta = model_meta(model)
        return SavedModel(buffer.getvalue(), format, "python", _FILENAME[format], meta)
    for native in (_save_lightgbm, _save_xgboost):
        saved = native(model)
        if saved is not None:
            return saved
    from sklearn.base import BaseEstimator

    if not isinstance(model, BaseEstimator):
        raise InvalidInput(
            f"Cannot register a {class_path(model)} object: expected a fitted scikit-learn "
            "estimator or pipeline, a LightGBM model or an XGBoost model. Save other models "
            "to a file and register the file."
        )
    sio = _skops()
    try:
        data = sio.dumps(model)
    except Exception as exc:
        raise InvalidInput(
            f"Cannot save {class_path(model)} with skops: {type(exc).__name__}: {exc}. Use "
            "scikit-learn components skops can represent, or (if you trust the object) "
            "register it with format='pickle' and trust=True."
        ) from exc
    import sklearn

    meta = model_meta(model)
    meta["framework_version"] = sklearn.__version__
    return SavedModel(data, "skops", "sklearn", _FILENAME["skops"], meta)


# -- loading ------------------------------------------------------------------------------
def format_of_file(path: Path, data: bytes, format: str | None) -> str:
    """The format of a model file: ``format`` when given, else from its suffix/content."""
    if format is not None:
        if format not in FORMATS:
            raise InvalidInput(
                f"Unknown model format {format!r}; expected one of {', '.join(FORMATS)}."
            )
        return format
    suffix = path.suffix.lower()
    if suffix in _SUFFIX:
        return _SUFFIX[suffix]
    if data.startswith(b"tree\nversion="):
        return "lightgbm-text"
    if suffix == ".json" and b'"learner"' in data[:4096]:
        return "xgboost-json"
    raise InvalidInput(
        f"Cannot tell the format of model file {path.name}: give format= (CLI --format) "
        f"one of {', '.join(FORMATS)}. Known suffixes: .skops, .ubj, .pkl, .joblib; "
        "LightGBM text models and XGBoost JSON models are recognised by their content."
    )


def filename_for(format: str) -> str:
    return _FILENAME[format]


def flavor_of(format: str) -> str:
    return _FLAVOR[format]


def check_trusted_types(data: bytes, label: str) -> tuple[str, ...]:
    """The types beyond skops' defaults a skops file needs; PermissionDenied naming every
    type that is not in :data:`TRUSTED_TYPES`."""
    sio = _skops()
    try:
        needed = sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:
        raise InvalidInput(
            f"Model artifact {label} is not a readable skops file ({type(exc).__name__}: "
            f"{exc}). Save scikit-learn models with skops.io.dump, or give the right format."
        ) from exc
    refused = [t for t in needed if t not in TRUSTED_TYPES]
    if refused:
        raise PermissionDenied(
            f"Model artifact {label} needs types Steward does not trust: "
            f"{', '.join(refused)}. Loading them could run code chosen by whoever wrote the "
            "file; Steward trusts scikit-learn estimators and a fixed list of their internal "
            "types (mlsteward.registry.TRUSTED_TYPES), never a list read from the artifact. "
            "Build the model from scikit-learn components (no custom classes or function "
            "references), or, if you wrote it and trust it, save it with pickle or joblib and "
            "register it with trust=True (--trust), which the audit trail records."
        )
    return tuple(needed)


def _load_xgboost(data: bytes, meta: dict[str, Any], label: str) -> Any:
    try:
        import xgboost
    except ImportError as exc:
        raise MissingDependency(
            f"Loading model {label} (XGBoost) needs xgboost: pip install xgboost"
        ) from exc
    cls_name = str(meta.get("class", "")).rsplit(".", 1)[-1]
    wrapper = getattr(xgboost, cls_name, None)
    if not (isinstance(wrapper, type) and issubclass(wrapper, xgboost.XGBModel)):
        booster = xgboost.Booster()
        booster.load_model(bytearray(data))
        # a file saved by a scikit-learn wrapper says which one (XGBoost stores it)
        kind = json.loads(booster.attr("scikit_learn") or "{}").get("_estimator_type")
        wrappers = {"classifier": xgboost.XGBClassifier, "regressor": xgboost.XGBRegressor}
        if kind not in wrappers:
            return booster
        wrapper = wrappers[kind]
    model = wrapper()
    model.load_model(bytearray(data))
    return model


def _load_lightgbm(data: bytes, meta: dict[str, Any], label: str) -> Any:
    try:
        import lightgbm
    except ImportError as exc:
        raise MissingDependency(
            f"Loading model {label} (LightGBM) needs lightgbm: pip install lightgbm"
        ) from exc
    booster = lightgbm.Booster(model_str=data.decode("utf-8"))
    return LightGBMModel(booster, meta.get("classes"))


def load_artifact(
    data: bytes,
    format: str,
    meta: dict[str, Any] | None = None,
    *,
    label: str = "model",
    trusted: bool = False,
) -> Any:
    """The model in ``data`` (whose hash the caller has verified), by the rules above.

    ``trusted`` is the recorded, explicit trust decision a pickle-based format needs.
    """
    meta = meta or {}
    if format == "skops":
        needed = check_trusted_types(data, label)
        try:
            return _skops().loads(data, trusted=list(needed))
        except Exception as exc:
            raise InvalidInput(
                f"Model artifact {label} could not be loaded with skops "
                f"({type(exc).__name__}: {exc}). It may have been saved by an incompatible "
                "scikit-learn or skops version; install the versions it was trained with "
                "(see its requirements)."
            ) from exc
    if format in ("xgboost-ubj", "xgboost-json"):
        return _load_xgboost(data, meta, label)
    if format == "lightgbm-text":
        return _load_lightgbm(data, meta, label)
    if format in PICKLE_FORMATS:
        if not trusted:
            raise PermissionDenied(
                f"Model artifact {label} is a {format} file: loading it runs code chosen by "
                "whoever wrote it. Steward loads pickle-based formats only when you trust the "
                "artifact explicitly: pass trust=True (CLI: --trust); the decision is recorded "
                f"in the audit trail. {_SAFE_ADVICE}"
            )
        if format == "joblib":
            import joblib

            return joblib.load(io.BytesIO(data))
        return pickle.loads(data)  # explicitly trusted (and audited by the registry)
    raise InvalidInput(f"Unknown model format {format!r}; expected one of {', '.join(FORMATS)}.")
