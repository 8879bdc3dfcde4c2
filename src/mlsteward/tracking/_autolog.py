"""Autologging: patch ``fit`` of scikit-learn estimators (and LightGBM / XGBoost ones).

After ``autolog(store, project)``, each *outermost* ``fit`` call (a Pipeline's or a
GridSearchCV's, not those of the estimators they fit inside) logs, into the run active in
this thread or else into a new run of the autolog experiment:

- params: ``get_params(deep=True)``, nested estimators by class name, values cut to
  ``max_param_length`` characters;
- training metrics (when ``y`` is given): ``training_accuracy``, ``training_f1`` and
  ``training_roc_auc`` for classifiers, ``training_r2``, ``training_mae`` and
  ``training_rmse`` for regressors, ``training_score`` (the estimator's own ``score``),
  the best cross-validation score of a search, and the evaluation history of boosting
  models fitted with an ``eval_set``;
- the fitted model as a candidate artifact (skops, or LightGBM / XGBoost native formats);
- the input: a training DataFrame whose content hash matches a registered dataset version
  of the project is logged as that input (role ``training``); otherwise its shape,
  columns and hash are recorded as tags ``steward.input.training.*``.

Estimators of ``sklearn.preprocessing``, ``impute``, ``feature_extraction`` and
``feature_selection`` are not patched on their own (scikit-learn fits some of them inside
metric functions); pipelines that contain them are logged. "Outermost" is process-wide: while one patched ``fit`` runs, fits started by other threads
are not logged (joblib's threading backend fits inside them). A logging failure never
breaks the user's ``fit``: it is reported as a :class:`AutologWarning`.
``autolog(disable=True)`` restores the original methods.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import math
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlsteward.core import InvalidInput
from mlsteward.store import Store
from mlsteward.tracking._inputs import frame_fingerprint, matching_dataset
from mlsteward.tracking._models import class_path
from mlsteward.tracking._run import ActiveRun, active_run, start_run
from mlsteward.tracking._validation import MAX_PARAM_VALUE, check_key

__all__ = ["FRAMEWORKS", "AutologWarning", "autolog", "autolog_enabled"]

FRAMEWORKS = ("sklearn", "lightgbm", "xgboost")
# Preprocessing steps are fit inside pipelines, and by scikit-learn itself (metrics fit a
# LabelEncoder): fitting one alone is not a model worth a run.
EXCLUDED_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.feature_extraction",
    "sklearn.feature_selection",
)


class AutologWarning(UserWarning):
    """Autolog could not log something about a fit (the fit itself went through)."""


@dataclass
class _Config:
    store: Store
    project: str
    experiment: str
    log_models: bool
    log_datasets: bool
    max_param_length: int


_config: _Config | None = None
_originals: dict[type, Callable[..., Any]] = {}
_lock = threading.Lock()
_depth = 0
_model_counts: dict[str, int] = {}


def autolog_enabled() -> bool:
    return _config is not None


def _flavor(estimator: Any) -> str:
    module = type(estimator).__module__.split(".")[0]
    return module if module in {"lightgbm", "xgboost"} else "sklearn"


def _estimator_classes(frameworks: Sequence[str]) -> list[type]:
    from sklearn.base import BaseEstimator

    for name in frameworks:
        if name in {"lightgbm", "xgboost"} and importlib.util.find_spec(name) is not None:
            importlib.import_module(f"{name}.sklearn")
    classes: list[type] = []
    if "sklearn" in frameworks:
        from sklearn.utils import all_estimators

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            classes.extend(cls for _, cls in all_estimators())
    seen: set[type] = set(classes)
    todo = list(BaseEstimator.__subclasses__())
    while todo:  # already-imported subclasses: user estimators, LightGBM, XGBoost
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            root = cls.__module__.split(".")[0]
            if root in frameworks or root not in FRAMEWORKS:
                classes.append(cls)
        todo.extend(cls.__subclasses__())
    return classes


def _patch(cls: type) -> None:
    original = cls.__dict__.get("fit")
    if cls in _originals or not inspect.isfunction(original):
        return
    if cls.__module__.startswith(EXCLUDED_MODULES):
        return
    if getattr(original, "__steward_autolog__", False):
        return

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _patched_fit(self, original, args, kwargs)

    fit.__steward_autolog__ = True  # type: ignore[attr-defined]
    _originals[cls] = original
    cls.fit = fit  # type: ignore[attr-defined]


def _unpatch() -> None:
    for cls, original in _originals.items():
        cls.fit = original  # type: ignore[attr-defined]
    _originals.clear()


def autolog(
    store: Store | None = None,
    project: str | None = None,
    experiment: str = "autolog",
    *,
    disable: bool = False,
    log_models: bool = True,
    log_datasets: bool = True,
    max_param_length: int = 250,
    frameworks: Sequence[str] = FRAMEWORKS,
) -> None:
    """Turn autologging on for ``project`` (or off with ``disable=True``).

    ``frameworks`` limits patching to some of scikit-learn, LightGBM and XGBoost; those not
    installed are skipped.
    """
    global _config
    with _lock:
        if disable:
            _unpatch()
            _config = None
            return
        if store is None or project is None:
            raise InvalidInput(
                "autolog needs the store and the project to log into, e.g. "
                "st.autolog('acs-employment', experiment='baseline')."
            )
        unknown = sorted(set(frameworks) - set(FRAMEWORKS))
        if unknown:
            raise InvalidInput(f"Unknown frameworks {unknown}; autolog knows {list(FRAMEWORKS)}.")
        if not 20 <= max_param_length <= MAX_PARAM_VALUE:
            raise InvalidInput(
                f"max_param_length must be between 20 and {MAX_PARAM_VALUE}; "
                f"got {max_param_length}."
            )
        from mlsteward.projects import get_project
        from mlsteward.tracking._service import check_experiment_name

        get_project(store, project)
        check_experiment_name(experiment)
        _unpatch()
        for cls in _estimator_classes(frameworks):
            _patch(cls)
        _config = _Config(store, project, experiment, log_models, log_datasets, max_param_length)


def _enter() -> bool:
    global _depth
    with _lock:
        _depth += 1
        return _depth == 1


def _leave() -> None:
    global _depth
    with _lock:
        _depth -= 1


def _patched_fit(
    estimator: Any, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    outermost = _enter()
    try:
        config = _config
        if not outermost or config is None:
            return original(estimator, *args, **kwargs)
        current = active_run()
        own: ActiveRun | None = None
        if current is None:
            try:
                own = start_run(
                    config.store,
                    config.project,
                    config.experiment,
                    name=type(estimator).__name__,
                    tags={"steward.autolog": _flavor(estimator)},
                )
            except Exception as exc:
                _warn(estimator, "could not start a run", exc)
                return original(estimator, *args, **kwargs)
        run = own or current
        assert run is not None
        try:
            result = original(estimator, *args, **kwargs)
        except BaseException as exc:
            if own is not None:
                own.__exit__(type(exc), exc, exc.__traceback__)
            raise
        try:
            _log_fit(run, config, estimator, original, args, kwargs)
        except Exception as exc:
            _warn(estimator, "could not log the fit", exc)
        if own is not None:
            try:
                own.end()
            except Exception as exc:
                _warn(estimator, f"could not write run {own.id}", exc)
        return result
    finally:
        _leave()


def _warn(estimator: Any, what: str, exc: BaseException) -> None:
    warnings.warn(
        f"Steward autolog {what} of {type(estimator).__name__}: {type(exc).__name__}: {exc}",
        AutologWarning,
        stacklevel=4,
    )


def _bind(
    original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` of a fit call, whatever the parameters are named."""
    try:
        arguments = inspect.signature(original).bind(estimator, *args, **kwargs).arguments
    except TypeError:
        return (args[0] if args else None), (args[1] if len(args) > 1 else None), None
    values = list(arguments.values())
    x = values[1] if len(values) > 1 else None
    y = arguments.get("y", arguments.get("Y"))
    weight = arguments.get("sample_weight")
    return x, y, weight


def _param_text(value: Any, limit: int) -> str:
    from sklearn.base import BaseEstimator

    if isinstance(value, BaseEstimator):
        text = type(value).__name__
    elif callable(value) and hasattr(value, "__name__"):
        text = value.__name__
    else:
        text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _params(estimator: Any, limit: int) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        params = estimator.get_params(deep=True)
    except Exception:
        return out
    for key, value in params.items():
        try:
            check_key("param", key)
        except InvalidInput:
            continue
        out[key] = _param_text(value, limit)
    best = getattr(estimator, "best_params_", None)
    if isinstance(best, dict):
        for key, value in best.items():
            name = f"best_{key}"
            try:
                check_key("param", name)
            except InvalidInput:
                continue
            out[name] = _param_text(value, limit)
    return out


def _training_metrics(estimator: Any, x: Any, y: Any, weight: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics
    from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier, is_regressor

    out: dict[str, float] = {}

    def attempt(name: str, compute: Callable[[], float]) -> None:
        try:
            value = float(compute())
        except Exception:
            return
        out[name] = value

    if y is None or x is None:
        return out
    own_score = False  # the estimator's score is not the mixin's default
    if is_classifier(estimator):
        predicted = estimator.predict(x)
        classes = list(getattr(estimator, "classes_", np.unique(y)))
        attempt(
            "training_accuracy", lambda: metrics.accuracy_score(y, predicted, sample_weight=weight)
        )
        average = "binary" if len(classes) == 2 else "weighted"
        pos_label = classes[1] if len(classes) == 2 else 1
        attempt(
            "training_f1",
            lambda: metrics.f1_score(
                y, predicted, average=average, pos_label=pos_label, sample_weight=weight
            ),
        )
        if hasattr(estimator, "predict_proba"):

            def roc_auc() -> float:
                proba = estimator.predict_proba(x)
                if len(classes) == 2:
                    return float(metrics.roc_auc_score(y, proba[:, 1], sample_weight=weight))
                return float(
                    metrics.roc_auc_score(
                        y, proba, multi_class="ovr", labels=classes, sample_weight=weight
                    )
                )

            attempt("training_roc_auc", roc_auc)
        elif hasattr(estimator, "decision_function") and len(classes) == 2:
            attempt(
                "training_roc_auc",
                lambda: metrics.roc_auc_score(
                    y, estimator.decision_function(x), sample_weight=weight
                ),
            )
        own_score = type(estimator).score is not ClassifierMixin.score
        if not own_score and "training_accuracy" in out and weight is None:
            out["training_score"] = out["training_accuracy"]
    elif is_regressor(estimator):
        predicted = estimator.predict(x)
        attempt("training_r2", lambda: metrics.r2_score(y, predicted, sample_weight=weight))
        attempt(
            "training_mae", lambda: metrics.mean_absolute_error(y, predicted, sample_weight=weight)
        )
        attempt(
            "training_rmse",
            lambda: math.sqrt(metrics.mean_squared_error(y, predicted, sample_weight=weight)),
        )
        own_score = type(estimator).score is not RegressorMixin.score
        if not own_score and "training_r2" in out and weight is None:
            out["training_score"] = out["training_r2"]
    else:
        own_score = True
    if own_score and hasattr(estimator, "score"):
        attempt("training_score", lambda: estimator.score(x, y))
    best = getattr(estimator, "best_score_", None)
    if isinstance(best, int | float):
        out["best_cv_score"] = float(best)
    return out


def _eval_history(run: ActiveRun, estimator: Any) -> None:
    """Per-iteration evaluation results of boosting models fitted with an eval_set."""
    results = getattr(estimator, "evals_result_", None)
    if not isinstance(results, dict):
        return
    for data_name, by_metric in results.items():
        if not isinstance(by_metric, dict):
            continue
        for metric_name, values in by_metric.items():
            key = f"eval_{data_name}_{metric_name}".replace(" ", "_")
            try:
                check_key("metric", key)
            except InvalidInput:
                continue
            for step, value in enumerate(values):
                run.log_metric(key, float(value), step=step)


def _log_input(run: ActiveRun, config: _Config, x: Any) -> None:
    fingerprint = frame_fingerprint(x)
    if fingerprint is None:
        shape = getattr(x, "shape", None)
        if shape is not None:
            run.set_tags({"steward.input.training.shape": "x".join(str(s) for s in shape)})
        return
    digest = fingerprint["hash"]
    if digest is not None:
        version = matching_dataset(config.store, run.project, digest)
        if version is not None:
            run.log_input(version, "training")
            return
    columns = ",".join(fingerprint["columns"])
    run.set_tags(
        {
            "steward.input.training.rows": fingerprint["rows"],
            "steward.input.training.columns": columns[:4000],
            "steward.input.training.hash": digest or "unavailable",
        }
    )


def _log_fit(
    run: ActiveRun,
    config: _Config,
    estimator: Any,
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    x, y, weight = _bind(original, estimator, args, kwargs)
    run.set_tags(
        {"steward.autolog": _flavor(estimator), "steward.autolog.estimator": class_path(estimator)}
    )
    params = _params(estimator, config.max_param_length)
    try:
        run.log_params(params)
    except Exception as exc:  # e.g. a second fit with other params in the same run
        _warn(estimator, "could not log params", exc)
    metrics = _training_metrics(estimator, x, y, weight)
    if metrics:
        run.log_metrics(metrics)
    _eval_history(run, estimator)
    if config.log_datasets and x is not None:
        try:
            _log_input(run, config, x)
        except Exception as exc:
            _warn(estimator, "could not log the input dataset", exc)
    if config.log_models:
        count = _model_counts.get(run.id, 0) + 1
        _model_counts[run.id] = count
        run.log_model(estimator, "model" if count == 1 else f"model-{count}")
