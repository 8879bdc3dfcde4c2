"""steward deploy NAME@V --endpoint E; steward endpoints list|show"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from mlsteward.cli._common import STATE, console, print_json

__all__ = ["deploy", "endpoints_app"]

endpoints_app = typer.Typer(help="Model endpoints: list them, show one.", no_args_is_help=True)


def _steps(text: str | None) -> list[int] | None:
    if text is None:
        return None
    from mlsteward.core import InvalidInput

    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise InvalidInput(
            f"--steps {text!r}: expected traffic percentages separated by commas, e.g. 5,25,50,100."
        ) from None


def deploy(
    ref: str = typer.Argument(..., help="The model version: NAME@VERSION or NAME@ALIAS."),
    endpoint: str = typer.Option(
        ..., "--endpoint", "-e", help="Endpoint name (created on first use)."
    ),
    project: str | None = typer.Option(None, "--project", "-p", help="Project of a new endpoint."),
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        "-s",
        help="direct, canary, blue-green or shadow (default: the charter's rollout.strategy).",
    ),
    override_reason: str | None = typer.Option(
        None,
        "--override-reason",
        help="Deploy although the latest evaluation failed a required gate (audited).",
    ),
    steps: str | None = typer.Option(None, "--steps", help="Canary steps, e.g. 5,25,50,100."),
    min_requests: int | None = typer.Option(
        None, "--min-requests", help="Candidate requests each canary step needs."
    ),
    min_duration: str | None = typer.Option(
        None, "--min-duration", help="Time each canary step lasts at least, e.g. 10m."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the deployment as JSON."),
) -> None:
    """Deploy a model version to an endpoint (checks its evaluation; routes traffic)."""
    deployment = STATE.client().deploy(
        ref,
        endpoint,
        project=project,
        strategy=strategy,  # type: ignore[arg-type]  # checked by deploy
        override_reason=override_reason,
        steps=_steps(steps),
        min_requests=min_requests,
        min_duration=min_duration,
    )
    if as_json:
        print_json(deployment.to_dict())
        return
    console.print(f"Deployed: {escape(deployment.describe())}.")
    for event in deployment.events:
        console.print(f"  {escape(event.describe())}")
    if deployment.override_reason:
        console.print(
            f"[yellow]Deployed over a failed evaluation gate[/yellow] "
            f"(override reason: {escape(deployment.override_reason)}; audited)."
        )
    if deployment.running:
        console.print(
            f"Serve it with: steward serve --endpoint {escape(deployment.endpoint)}; follow it "
            f"with: steward rollout status {escape(deployment.endpoint)}"
        )


@endpoints_app.command("list")
def list_(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project's."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List endpoints with their routes."""
    endpoints = STATE.client().endpoints.list(project=project)
    if as_json:
        print_json([e.to_dict() for e in endpoints])
        return
    if not endpoints:
        console.print("No endpoints yet. Create one with: steward deploy NAME@V --endpoint NAME")
        return
    table = Table("endpoint", "project", "routes", "latest deployment")
    for e in endpoints:
        table.add_row(
            escape(e.name),
            escape(e.project),
            escape(e.describe_routes()),
            "" if e.deployment is None else escape(e.deployment.describe()),
        )
    console.print(table)


@endpoints_app.command("show")
def show(
    name: str = typer.Argument(..., help="Endpoint name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show an endpoint: routes, latest deployment and its history, log location."""
    client = STATE.client()
    endpoint = client.endpoints.get(name)
    if as_json:
        print_json({**endpoint.to_dict(), "log_root": str(client.endpoints.log_root)})
        return
    console.print(f"[bold]{escape(endpoint.name)}[/bold] (project {escape(endpoint.project)})")
    console.print(f"routes: {escape(endpoint.describe_routes())}")
    if endpoint.deployment is not None:
        console.print(escape(endpoint.deployment.describe()))
        for event in endpoint.deployment.events:
            console.print(f"  {event.time:%Y-%m-%d %H:%M:%S} {escape(event.describe())}")
    console.print(f"prediction log: {client.endpoints.log_root / 'predictions'}")
