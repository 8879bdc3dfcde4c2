"""Tuning specs: ``steward tune SPEC.yaml``.

A spec names the project, the study, the search space and the objective, either an
importable function ``"package.module:function"`` (taking a :class:`Trial`, returning a
number; the spec's directory is importable) or a built-in objective that fits a
scikit-learn estimator and scores it::

    project: acs-employment
    experiment: tuning            # default: tuning
    study: hgb                    # default: the experiment name
    n_trials: 20                  # the study's target (finished trials count toward it)
    direction: maximize
    timeout: 600                  # seconds, optional
    sampler: {type: tpe, seed: 0}             # tpe | random
    pruner: {type: median, n_warmup_steps: 1} # median | hyperband | none
    search_space:
      max_depth: {type: int, low: 2, high: 10}
      learning_rate: {type: float, low: 0.01, high: 0.3, log: true}
    objective:
      estimator: sklearn.ensemble.HistGradientBoostingClassifier
      params: {max_iter: 100}     # fixed params, merged under the trial's
      data: {dataset: acs-2015-train@latest}  # or {path: train.parquet}
      validation: {dataset: acs-2015-valid@latest}  # or {path: ...} or {cv: 3}
      target: employed
      features: [AGEP, SCHL]      # default: every column but the target
      metric: roc_auc             # a scikit-learn scorer name
      sample: 20000               # subsample the training rows (seeded), optional
      seed: 0

With a validation set each trial fits once, scores, and logs its model as a candidate;
with ``cv: K`` each fold's running mean is reported, so the pruner can stop a trial early.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlsteward.core import InvalidInput, NotFound
from mlsteward.store import Store
from mlsteward.tracking._space import parse_search_space
from mlsteward.tracking._tuning import Trial, TuningResult, tune

__all__ = ["EstimatorObjective", "TuningSpec", "load_tuning_spec", "run_tuning_spec"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSpec(_Strict):
    dataset: str | None = None
    path: str | None = None
    cv: int | None = Field(default=None, ge=2, le=20)

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        given = [n for n in ("dataset", "path", "cv") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of 'dataset', 'path' or 'cv' (validation only); got {given}"
            )
        return self


class EstimatorSpec(_Strict):
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    data: DataSpec
    validation: DataSpec = Field(default_factory=lambda: DataSpec(cv=3))
    target: str
    features: list[str] | None = None
    metric: str
    sample: int | None = Field(default=None, ge=100)
    seed: int = 0
    log_models: bool = True

    @model_validator(mode="after")
    def _data_is_a_table(self) -> EstimatorSpec:
        if self.data.cv is not None:
            raise ValueError("'data' names the training table: give 'dataset' or 'path'")
        return self


class SamplerSpec(_Strict):
    type: Literal["tpe", "random"] = "tpe"
    seed: int | None = None


class PrunerSpec(_Strict):
    type: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = Field(default=5, ge=0)
    n_warmup_steps: int = Field(default=0, ge=0)


class TuningSpec(_Strict):
    project: str
    experiment: str = "tuning"
    study: str | None = None
    n_trials: int = Field(default=20, ge=1)
    direction: Literal["maximize", "minimize"] = "maximize"
    timeout: float | None = Field(default=None, gt=0)
    metric: str | None = None
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    pruner: PrunerSpec = Field(default_factory=PrunerSpec)
    search_space: dict[str, Any]
    objective: str | EstimatorSpec


def _messages(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def load_tuning_spec(path: str | os.PathLike[str]) -> TuningSpec:
    """Read and validate a tuning spec (YAML or JSON)."""
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"Tuning spec {file} does not exist.")
    try:
        raw = yaml.safe_load(file.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"Tuning spec {file} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"Tuning spec {file} must be a mapping (project:, search_space:, ...).")
    try:
        spec = TuningSpec.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(
            f"Tuning spec {file} is invalid:\n{_messages(exc)}\nSee docs/tracking.md for the "
            "format."
        ) from exc
    parse_search_space(spec.search_space)
    return spec


def _import(reference: str, base: Path | None) -> Any:
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidInput(
            f"Objective {reference!r} must be 'package.module:function' (an importable "
            "function taking a Trial and returning a number)."
        )
    if base is not None and str(base) not in sys.path:
        sys.path.insert(0, str(base))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NotFound(
            f"Cannot import module {module_name!r} of objective {reference!r}: {exc}. "
            "Put it next to the spec or on PYTHONPATH."
        ) from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise NotFound(
            f"Module {module_name!r} has no {attribute!r} (objective {reference!r})."
        ) from None


def _estimator_class(path: str) -> type:
    from sklearn.base import BaseEstimator

    module_name, _, name = path.rpartition(".")
    if not module_name:
        raise InvalidInput(
            f"Estimator {path!r} must be a full class path such as "
            "'sklearn.ensemble.HistGradientBoostingClassifier'."
        )
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise NotFound(f"Cannot import estimator class {path!r}: {exc}.") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise InvalidInput(f"{path!r} is not a scikit-learn estimator class (BaseEstimator).")
    return cls


@dataclass
class _Frame:
    frame: Any
    dataset: Any  # the DatasetVersion, when the data came from the store


def _load(store: Store, project: str, spec: DataSpec, base: Path) -> _Frame:
    import pandas as pd

    if spec.dataset is not None:
        from mlsteward.data import load_dataset, resolve_dataset

        version = resolve_dataset(store, project, spec.dataset)
        return _Frame(load_dataset(store, project, version), version)
    assert spec.path is not None
    file = Path(spec.path)
    if not file.is_absolute():
        file = base / file
    if not file.is_file():
        raise NotFound(f"Data file {file} does not exist.")
    if file.suffix.lower() == ".csv":
        return _Frame(pd.read_csv(file), None)
    return _Frame(pd.read_parquet(file), None)


class EstimatorObjective:
    """The built-in objective: fit ``estimator(**params, **trial.params)`` and score it."""

    def __init__(self, store: Store, project: str, spec: EstimatorSpec, base: Path) -> None:
        from sklearn.metrics import get_scorer, get_scorer_names

        if spec.metric not in get_scorer_names():
            known = ", ".join(
                n for n in get_scorer_names() if not n.startswith("neg_") or "mean" in n
            )
            raise InvalidInput(
                f"Unknown metric {spec.metric!r}: expected a scikit-learn scorer name such as "
                f"roc_auc, accuracy, f1, r2, neg_mean_absolute_error (known: {known})."
            )
        self.spec = spec
        self.cls = _estimator_class(spec.estimator)
        self.scorer = get_scorer(spec.metric)
        train = _load(store, project, spec.data, base)
        frame = train.frame
        if spec.target not in frame.columns:
            raise InvalidInput(
                f"Target column {spec.target!r} is not in the training data; its columns: "
                f"{', '.join(map(str, frame.columns))}."
            )
        if spec.sample is not None and spec.sample < len(frame):
            frame = frame.sample(n=spec.sample, random_state=spec.seed)
        self.features = spec.features or [c for c in frame.columns if c != spec.target]
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise InvalidInput(f"Feature columns {missing} are not in the training data.")
        self.x, self.y = frame[self.features], frame[spec.target]
        self.inputs: list[tuple[Any, str]] = []
        if train.dataset is not None:
            self.inputs.append((train.dataset, "training"))
        self.x_valid = self.y_valid = None
        if spec.validation.cv is None:
            valid = _load(store, project, spec.validation, base)
            self.x_valid = valid.frame[self.features]
            self.y_valid = valid.frame[spec.target]
            if valid.dataset is not None:
                self.inputs.append((valid.dataset, "validation"))

    def __call__(self, trial: Trial) -> float:
        from sklearn.base import clone, is_classifier
        from sklearn.model_selection import KFold, StratifiedKFold

        estimator = self.cls(**{**self.spec.params, **trial.params})
        for dataset, role in self.inputs:
            trial.run.log_input(dataset, role)
        if self.x_valid is not None:
            estimator.fit(self.x, self.y)
            score = float(self.scorer(estimator, self.x_valid, self.y_valid))
            if self.spec.log_models:
                trial.run.log_model(estimator)
            return score
        folds_cls = StratifiedKFold if is_classifier(estimator) else KFold
        folds = folds_cls(
            n_splits=self.spec.validation.cv or 3, shuffle=True, random_state=self.spec.seed
        )
        scores: list[float] = []
        for fold, (train_idx, valid_idx) in enumerate(folds.split(self.x, self.y)):
            fitted = clone(estimator).fit(self.x.iloc[train_idx], self.y.iloc[train_idx])
            scores.append(
                float(self.scorer(fitted, self.x.iloc[valid_idx], self.y.iloc[valid_idx]))
            )
            trial.report(sum(scores) / len(scores), fold)
            if trial.should_prune():
                trial.prune()
        return sum(scores) / len(scores)


def _sampler(spec: SamplerSpec) -> Any:
    import optuna

    if spec.type == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed)


def _pruner(spec: PrunerSpec) -> Any:
    import optuna

    if spec.type == "none":
        return optuna.pruners.NopPruner()
    if spec.type == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=spec.n_startup_trials, n_warmup_steps=spec.n_warmup_steps
    )


def run_tuning_spec(
    store: Store,
    spec: TuningSpec,
    *,
    base: str | os.PathLike[str] = ".",
    n_trials: int | None = None,
) -> TuningResult:
    """Run the study a spec describes (``base``: the directory paths are relative to)."""
    base_dir = Path(base).resolve()
    objective: Callable[[Trial], float]
    metric = spec.metric
    if isinstance(spec.objective, str):
        objective = _import(spec.objective, base_dir)
        if not callable(objective):
            raise InvalidInput(f"Objective {spec.objective!r} is not callable.")
    else:
        objective = EstimatorObjective(store, spec.project, spec.objective, base_dir)
        metric = metric or spec.objective.metric
    return tune(
        store,
        spec.project,
        objective,
        spec.search_space,
        n_trials=n_trials or spec.n_trials,
        direction=spec.direction,
        study_name=spec.study,
        sampler=_sampler(spec.sampler),
        pruner=_pruner(spec.pruner),
        timeout=spec.timeout,
        experiment=spec.experiment,
        metric=metric or "objective",
    )
