"""The demo: the lifecycle on bundled real data, as a thin script over the SDK.

Each lifecycle stage adds one step (a function of the :class:`DemoContext`) to
:data:`STEPS`; :func:`run_demo` runs them in order with a progress display.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

import mlsteward as ms
from mlsteward.core import InvalidInput
from mlsteward.demo._charter import step_charter
from mlsteward.demo._data import step_check, step_register, step_split
from mlsteward.demo._develop import step_develop
from mlsteward.demo._evaluate import step_evaluate
from mlsteward.demo._monitor import step_monitor
from mlsteward.demo._registry import step_registry
from mlsteward.demo._serve import step_serve

__all__ = ["STEPS", "DemoContext", "DemoStep", "run_demo"]

MARKER = ".steward-demo"


@dataclass
class DemoContext:
    """What the steps share: the client, the output directory and earlier results."""

    client: ms.Client
    directory: Path
    console: Console
    project: str = "acs-employment"
    results: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoStep:
    title: str
    run: Callable[[DemoContext], str]


def _step_project(ctx: DemoContext) -> str:
    project = ctx.client.create_project(
        ctx.project,
        description="Predict whether a Massachusetts resident is employed (ACS PUMS 2015-2018).",
    )
    ctx.results["project"] = project
    return f"project {project.name!r} created"


def _step_load(ctx: DemoContext) -> str:
    from mlsteward.datasets import load_acs_employment, load_adult

    acs = load_acs_employment()
    adult = load_adult()
    ctx.results["acs"] = acs
    years = acs["year"].value_counts().sort_index()
    per_year = ", ".join(f"{year}: {count:,}" for year, count in years.items())
    return (
        f"bundled data loaded: ACS employment {len(acs):,} rows ({per_year}); "
        f"Adult {len(adult):,} rows"
    )


STEPS: list[DemoStep] = [
    DemoStep("Create the project", _step_project),
    DemoStep("Apply the charter", step_charter),
    DemoStep("Load the bundled data", _step_load),
    DemoStep("Register the data", step_register),
    DemoStep("Check the data", step_check),
    DemoStep("Split the training data", step_split),
    DemoStep("Develop candidate models", step_develop),
    DemoStep("Register champion and challenger", step_registry),
    DemoStep("Evaluate champion and challenger", step_evaluate),
    DemoStep("Serve the champion, canary the challenger", step_serve),
    DemoStep("Monitor 2016-2018 traffic, with a pipeline fault", step_monitor),
]


def _prepare(directory: Path) -> None:
    if directory.exists():
        if not (directory / MARKER).exists() and any(directory.iterdir()):
            raise InvalidInput(
                f"{directory} exists and is not a Steward demo directory; the demo starts from "
                "a fresh store and would delete it. Pass another --dir, or empty it."
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("Created by `steward demo`; deleted by the next run.\n")


def run_demo(directory: Path, console: Console | None = None) -> DemoContext:
    """Run every demo step in a fresh store under ``directory``."""
    console = console or Console()
    directory = directory.resolve()
    _prepare(directory)
    uri = f"sqlite:///{directory / 'steward.db'}"
    client = ms.connect(uri, artifacts=str(directory / "artifacts"))
    ctx = DemoContext(client=client, directory=directory, console=console)
    console.print(f"[bold]Steward demo[/bold] - store: {uri}")
    start = time.perf_counter()
    try:
        for number, step in enumerate(STEPS, start=1):
            t0 = time.perf_counter()
            with console.status(f"[{number}/{len(STEPS)}] {step.title}..."):
                summary = step.run(ctx)
            console.print(
                f"[green]✓[/green] [{number}/{len(STEPS)}] {step.title}: {summary} "
                f"[dim]({time.perf_counter() - t0:.1f}s)[/dim]"
            )
        verification = client.verify_audit()
        console.print(
            f"[green]✓[/green] audit chain intact: {verification.count} events "
            f"(steward --uri {uri} audit log)"
        )
    finally:
        client.close()
    console.print(
        f"Done in {time.perf_counter() - start:.1f}s. Store: {directory}. "
        f"Explore it with: STEWARD_URI={uri} STEWARD_ARTIFACTS={directory / 'artifacts'} "
        "steward projects list"
    )
    return ctx
