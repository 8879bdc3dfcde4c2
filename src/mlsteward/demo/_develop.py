"""Demo step of model development: three model families and a small tuning study, tracked.

The candidates train on the ``train`` part of the ACS 2015 split and are compared on its
``validation`` part (both registered by the data steps; without them the step splits ACS
2015 itself). Autolog records each fit (params, training metrics, the model as a skops
candidate); the step adds the validation metrics and the dataset inputs. A tuning study of
histogram gradient boosting runs on a subsample of the training rows to stay quick; its
best params are refitted on all of them as a fourth candidate. The candidates, best first,
go to ``ctx.results["candidates"]`` for the registry step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext
    from mlsteward.tracking import Trial

__all__ = ["EXPERIMENT", "TARGET", "step_develop"]

EXPERIMENT: Final = "candidates"
STUDY: Final = "hgb-acs-2015"
TARGET: Final = "employed"
NOT_FEATURES: Final = (TARGET, "id", "year", "prediction", "predicted_probability")
TUNING_ROWS: Final = 8_000
TUNING_TRIALS: Final = 6
SEED: Final = 2015


def _frames(ctx: DemoContext) -> tuple[pd.DataFrame, pd.DataFrame, Any, Any]:
    """Train and validation frames, and their dataset versions (None when split here)."""
    data = ctx.results.get("data") or {}
    if "train" in data and "validation" in data:
        train, valid = data["train"], data["validation"]
        load = ctx.client.datasets.load
        return load(ctx.project, train), load(ctx.project, valid), train, valid
    from sklearn.model_selection import train_test_split

    from mlsteward.datasets import load_acs_employment

    acs = ctx.results.get("acs")
    frame = load_acs_employment(years=[2015]) if acs is None else acs[acs["year"] == 2015]
    train_frame, valid_frame = train_test_split(
        frame, test_size=0.15, stratify=frame[TARGET], random_state=SEED
    )
    return train_frame, valid_frame, None, None


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in NOT_FEATURES if c in frame.columns])


def _validation_metrics(model: Any, x: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    proba = model.predict_proba(x)[:, 1]
    predicted = (proba >= 0.5).astype(int)
    return {
        "val_roc_auc": float(roc_auc_score(y, proba)),
        "val_accuracy": float(accuracy_score(y, predicted)),
        "val_f1": float(f1_score(y, predicted)),
        "val_log_loss": float(log_loss(y, np.clip(proba, 1e-7, 1 - 1e-7))),
    }


def _families() -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic-regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "hist-gradient-boosting": HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, random_state=SEED
        ),
        "random-forest": RandomForestClassifier(
            n_estimators=60, max_depth=12, min_samples_leaf=20, n_jobs=2, random_state=SEED
        ),
    }


def step_develop(ctx: DemoContext) -> str:
    """Train and track three model families and a tuned one; rank them on validation."""
    import optuna
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    st = ctx.client
    train_frame, valid_frame, train_version, valid_version = _frames(ctx)
    x_train, y_train = _features(train_frame), train_frame[TARGET]
    x_valid, y_valid = _features(valid_frame), valid_frame[TARGET]
    candidates: list[dict[str, Any]] = []

    def track(family: str, model: Any, tags: dict[str, str] | None = None) -> None:
        with st.start_run(ctx.project, EXPERIMENT, name=family, tags=tags) as run:
            if train_version is not None:
                run.log_input(train_version, "training")
                run.log_input(valid_version, "validation")
            model.fit(x_train, y_train)  # autolog: params, training metrics, model
            metrics = _validation_metrics(model, x_valid, y_valid)
            run.log_metrics(metrics)
        [model_artifact] = st.runs.get(run.id).models
        candidates.append({"family": family, "run_id": run.id, "model": model_artifact, **metrics})

    st.autolog(ctx.project, EXPERIMENT)
    try:
        for family, model in _families().items():
            track(family, model)
    finally:
        st.autolog(disable=True)

    sample = train_frame.sample(n=min(TUNING_ROWS, len(train_frame)), random_state=SEED)
    x_tune, y_tune = _features(sample), sample[TARGET]

    def objective(trial: Trial) -> float:
        model = HistGradientBoostingClassifier(random_state=SEED, **trial.params)
        model.fit(x_tune, y_tune)
        return float(roc_auc_score(y_valid, model.predict_proba(x_valid)[:, 1]))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = st.tune(
        ctx.project,
        objective,
        {
            "max_depth": {"type": "int", "low": 3, "high": 10},
            "learning_rate": {"type": "float", "low": 0.03, "high": 0.3, "log": True},
            "max_leaf_nodes": {"type": "int", "low": 15, "high": 63},
            "max_iter": {"type": "int", "low": 50, "high": 150, "step": 50},
        },
        n_trials=TUNING_TRIALS,
        study_name=STUDY,
        experiment="tuning",
        metric="val_roc_auc",
        sampler=optuna.samplers.TPESampler(seed=SEED),
    )
    st.autolog(ctx.project, EXPERIMENT)
    try:
        track(
            "hgb-tuned",
            HistGradientBoostingClassifier(random_state=SEED, **study.best_params),
            tags={"tuning.study": STUDY, "tuning.best_run_id": str(study.best_run_id)},
        )
    finally:
        st.autolog(disable=True)

    candidates.sort(key=lambda c: c["val_roc_auc"], reverse=True)
    ctx.results["candidates"] = candidates
    ctx.results["tuning"] = study
    ranking = ", ".join(f"{c['family']} {c['val_roc_auc']:.4f}" for c in candidates)
    return (
        f"{len(candidates)} candidates by validation ROC AUC: {ranking}; study {STUDY}: "
        f"{study.finished_trials} trials on {len(sample):,} rows, best {study.best_value:.4f}"
    )
