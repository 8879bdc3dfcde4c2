"""Hyperparameter tuning on Optuna, with the study in the metadata database.

``tune`` runs trials of a study named ``study_name`` in a project. Each call records a
parent run (``tune:<study>``); each trial is a child run with the trial's params, the
values reported with :meth:`Trial.report` (as the history of the objective metric) and
the final value. Pruned trials end ``killed`` with the tag ``tuning.state = pruned``;
failed trials end ``failed``.

``n_trials`` is the study's target: trials already finished in the stored study (complete
or pruned, by any process) count toward it, so calling ``tune`` again with the same study
name resumes a stopped study, and several workers given the same ``n_trials`` stop
together (each may overshoot by the trials still running elsewhere). Raise ``n_trials`` to
add trials to a finished study.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from mlsteward.core import Conflict, InvalidInput, StewardError
from mlsteward.store import Store
from mlsteward.tracking._optuna_storage import open_optuna_storage
from mlsteward.tracking._records import RunStatus
from mlsteward.tracking._run import ActiveRun, start_run
from mlsteward.tracking._service import check_experiment_name, end_run
from mlsteward.tracking._space import ParamSpec, parse_search_space, suggest
from mlsteward.tracking._validation import check_key

__all__ = ["Trial", "TrialRecord", "TuningResult", "optuna_study_name", "tune"]

RUN_ID_ATTR = "steward.run_id"
Direction = Literal["maximize", "minimize"]


def optuna_study_name(project: str, study: str) -> str:
    """The name of the Optuna study behind a Steward study (studies are per project)."""
    return f"{project}::{study}"


class Trial:
    """What an objective receives: the sampled ``params``, the trial's child ``run``, and
    ``report`` / ``should_prune`` for pruning."""

    def __init__(self, optuna_trial: Any, run: ActiveRun, params: dict[str, Any], metric: str):
        self._trial = optuna_trial
        self.run = run
        self.params = params
        self.metric = metric

    @property
    def number(self) -> int:
        return int(self._trial.number)

    @property
    def optuna_trial(self) -> Any:
        """The underlying ``optuna.Trial`` (for samplers' extra features)."""
        return self._trial

    def report(self, value: float, step: int) -> None:
        """Report an intermediate objective value (logged to the run at ``step``)."""
        self.run.log_metric(self.metric, value, step=step)
        self._trial.report(float(value), step)

    def should_prune(self) -> bool:
        """Whether the pruner stops this trial now; call :meth:`prune` if so."""
        return bool(self._trial.should_prune())

    def prune(self) -> NoReturn:
        import optuna

        raise optuna.TrialPruned()


@dataclass(frozen=True)
class TrialRecord:
    number: int
    state: str  # complete, pruned, fail, running, waiting
    value: float | None
    params: dict[str, Any]
    run_id: str | None

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        return {
            "number": self.number,
            "state": self.state,
            "value": value if value is None or math.isfinite(value) else str(value),
            "params": self.params,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class TuningResult:
    """The state of a study after a ``tune`` call."""

    project: str
    study: str
    direction: Direction
    parent_run_id: str
    new_trials: int
    trials: tuple[TrialRecord, ...]
    best: TrialRecord | None

    @property
    def finished_trials(self) -> int:
        return sum(t.state in {"complete", "pruned"} for t in self.trials)

    @property
    def best_value(self) -> float | None:
        return None if self.best is None else self.best.value

    @property
    def best_params(self) -> dict[str, Any]:
        return {} if self.best is None else dict(self.best.params)

    @property
    def best_run_id(self) -> str | None:
        return None if self.best is None else self.best.run_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "study": self.study,
            "direction": self.direction,
            "parent_run_id": self.parent_run_id,
            "new_trials": self.new_trials,
            "finished_trials": self.finished_trials,
            "best": None if self.best is None else self.best.to_dict(),
            "trials": [t.to_dict() for t in self.trials],
        }


def _check_options(n_trials: Any, direction: Any, timeout: Any) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise InvalidInput(f"n_trials must be a positive integer; got {n_trials!r}.")
    if direction not in ("maximize", "minimize"):
        raise InvalidInput(f"direction must be 'maximize' or 'minimize'; got {direction!r}.")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise InvalidInput(f"timeout must be a positive number of seconds; got {timeout!r}.")


def _records(study: Any) -> tuple[TrialRecord, ...]:
    out = []
    for t in study.get_trials(deepcopy=False):
        out.append(
            TrialRecord(
                number=t.number,
                state=t.state.name.lower(),
                value=None if t.value is None else float(t.value),
                params=dict(t.params),
                run_id=t.user_attrs.get(RUN_ID_ATTR),
            )
        )
    return tuple(out)


def _best(trials: Sequence[TrialRecord], direction: Direction) -> TrialRecord | None:
    done = [t for t in trials if t.state == "complete" and t.value is not None]
    if not done:
        return None
    pick = max if direction == "maximize" else min
    return pick(done, key=lambda t: (t.value, -t.number))


def _objective_value(value: Any, number: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or hasattr(value, "shape"):
        try:
            return float(value)  # NumPy scalars
        except (TypeError, ValueError):
            raise InvalidInput(
                f"The objective returned {value!r} for trial {number}; it must return one "
                "number (the value to maximize or minimize)."
            ) from None
    return float(value)


def tune(
    store: Store,
    project: str,
    objective: Callable[[Trial], float],
    search_space: Mapping[str, Any],
    *,
    n_trials: int = 20,
    direction: Direction = "maximize",
    study_name: str | None = None,
    sampler: Any = None,
    pruner: Any = None,
    timeout: float | None = None,
    experiment: str = "tuning",
    metric: str = "objective",
    catch: Sequence[type[Exception]] = (),
) -> TuningResult:
    """Tune ``objective`` over ``search_space`` (see :mod:`._space`) with Optuna.

    The objective receives a :class:`Trial` and returns the value to optimise; it may call
    ``trial.report(value, step)`` and ``trial.prune()`` when ``trial.should_prune()``.
    ``study_name`` defaults to the experiment name. ``sampler`` and ``pruner`` are Optuna
    objects (Optuna's defaults: TPE and the median pruner). Exceptions listed in ``catch``
    fail their trial and tuning goes on; any other exception fails the trial and stops.
    """
    import optuna

    _check_options(n_trials, direction, timeout)
    check_experiment_name(experiment)
    study = check_experiment_name(study_name or experiment)
    check_key("metric", metric)
    specs: list[ParamSpec] = parse_search_space(search_space)
    if not callable(objective):
        raise InvalidInput(f"objective must be callable (trial -> float); got {objective!r}.")

    def stale(_study: Any, trial: Any) -> None:  # a dead worker's trial
        run_id = trial.user_attrs.get(RUN_ID_ATTR)
        if run_id:
            with contextlib.suppress(StewardError):
                end_run(store, run_id, "killed")

    storage = open_optuna_storage(store, stale)
    try:
        try:
            ostudy = optuna.create_study(
                storage=storage,
                study_name=optuna_study_name(project, study),
                direction=direction,
                sampler=sampler,
                pruner=pruner,
                load_if_exists=True,
            )
        except ValueError as exc:
            raise Conflict(
                f"Study {study!r} of project {project!r} exists with another direction: "
                f"{exc}. Use the study's direction, or another study name."
            ) from exc
        stored = ostudy.direction.name.lower()
        if stored != direction:
            raise Conflict(
                f"Study {study!r} of project {project!r} exists with another direction: it "
                f"{stored}s its objective, and this call asks to {direction} it. Use "
                f"direction={stored!r}, or another study name."
            )
        finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        done = len(ostudy.get_trials(deepcopy=False, states=finished_states))
        remaining = max(n_trials - done, 0)
        with start_run(
            store,
            project,
            experiment,
            name=f"tune:{study}",
            tags={"tuning.study": study, "tuning.role": "parent"},
        ) as parent:
            parent.log_params(
                {
                    "tuning.study": study,
                    "tuning.direction": direction,
                    "tuning.n_trials": n_trials,
                    "tuning.sampler": type(ostudy.sampler).__name__,
                    "tuning.pruner": type(ostudy.pruner).__name__,
                }
            )
            parent.log_dict({s.name: s.to_dict() for s in specs}, "search_space.json")

            started: list[int] = []

            def run_trial(otrial: Any) -> float:
                started.append(otrial.number)
                params = suggest(otrial, specs)
                child = start_run(
                    store,
                    project,
                    experiment,
                    name=f"{study}-trial-{otrial.number}",
                    parent=parent.id,
                    tags={"tuning.study": study, "tuning.trial": str(otrial.number)},
                )
                otrial.set_user_attr(RUN_ID_ATTR, child.id)
                status: RunStatus = "failed"
                state = "fail"
                try:
                    child.log_params(params)
                    value = _objective_value(
                        objective(Trial(otrial, child, params, metric)), otrial.number
                    )
                    child.log_metric(metric, value)
                    status, state = "finished", "complete"
                    return value
                except optuna.TrialPruned:
                    status, state = "killed", "pruned"
                    raise
                except KeyboardInterrupt:
                    status, state = "killed", "fail"
                    raise
                except Exception as exc:
                    child.set_tag("steward.error", f"{type(exc).__name__}: {exc}"[:5000])
                    raise
                finally:
                    child.set_tag("tuning.state", state)
                    child.end(status)

            if remaining:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    ostudy.optimize(
                        run_trial,
                        n_trials=remaining,
                        timeout=timeout,
                        catch=tuple(catch),
                        callbacks=[
                            optuna.study.MaxTrialsCallback(n_trials, states=finished_states)
                        ],
                    )
            trials = _records(ostudy)
            best = _best(trials, direction)
            finished = sum(t.state in {"complete", "pruned"} for t in trials)
            parent.log_metric("tuning.finished_trials", finished)
            if best is not None and best.value is not None:
                parent.log_metric(f"best_{metric}", best.value)
                if best.run_id:
                    parent.set_tag("tuning.best_run_id", best.run_id)
        return TuningResult(
            project=project,
            study=study,
            direction=direction,
            parent_run_id=parent.id,
            new_trials=len(started),
            trials=trials,
            best=best,
        )
    finally:
        storage.engine.dispose()
