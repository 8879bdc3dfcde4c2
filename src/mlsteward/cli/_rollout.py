"""steward rollout status|promote|rollback ENDPOINT"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from mlsteward.cli._common import STATE, console, print_json

__all__ = ["app"]

app = typer.Typer(help="Rollouts: follow, promote or roll back a deployment.", no_args_is_help=True)


@app.command("status")
def status(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The latest deployment, its history and (while it runs) its guardrails now."""
    result = STATE.client().rollouts.status(endpoint)
    if as_json:
        print_json(result.to_dict())
        return
    deployment = result.deployment
    console.print(escape(deployment.describe()))
    for event in deployment.events:
        console.print(f"  {event.time:%Y-%m-%d %H:%M:%S} {escape(event.describe())}")
    decision = result.decision
    if decision is None:
        return
    console.print(f"now: [bold]{decision.action}[/bold] - {escape(decision.reason)}")
    table = Table("guardrail", "status", "value", "threshold", "detail")
    for check in decision.checks:
        table.add_row(
            check.name,
            check.status,
            "" if check.value is None else f"{check.value:.4g}",
            "" if check.threshold is None else f"{check.threshold:g}",
            escape(check.reason),
        )
    console.print(table)


@app.command("promote")
def promote(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the audit trail)."),
) -> None:
    """Promote the running deployment: its model takes all traffic."""
    deployment = STATE.client().rollouts.promote(endpoint, reason=reason)
    console.print(f"Promoted: {escape(deployment.describe())}.")


@app.command("rollback")
def rollback(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the audit trail)."),
) -> None:
    """Roll the latest deployment back: the previous version takes all traffic again."""
    deployment = STATE.client().rollouts.rollback(endpoint, reason=reason)
    console.print(f"Rolled back: {escape(deployment.describe())}.")
