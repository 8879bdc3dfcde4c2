"""steward tune SPEC.yaml"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from mlsteward.cli._common import STATE, console, print_json
from mlsteward.tracking import load_tuning_spec, run_tuning_spec

__all__ = ["tune"]


def tune(
    spec: Path = typer.Argument(..., help="Tuning spec (YAML): project, study, search space..."),
    n_trials: int | None = typer.Option(
        None, "--n-trials", "-n", help="Override the spec's n_trials (the study's target)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run (or resume) a tuning study described by a spec file (see docs/tracking.md)."""
    loaded = load_tuning_spec(spec)
    result = run_tuning_spec(
        STATE.client().store, loaded, base=spec.resolve().parent, n_trials=n_trials
    )
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"Study [bold]{escape(result.study)}[/bold] ({result.project}): {result.new_trials} new "
        f"trial(s), {result.finished_trials} finished in all; parent run {result.parent_run_id}."
    )
    if result.best is not None:
        params = ", ".join(f"{k}={v}" for k, v in result.best.params.items())
        console.print(
            f"Best: trial {result.best.number} = {result.best.value:.6g} ({escape(params)}), "
            f"run {result.best.run_id}"
        )
