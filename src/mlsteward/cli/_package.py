"""steward package NAME@VERSION -o DIR | steward package verify DIR"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from mlsteward.cli._common import STATE, console, err_console, print_json
from mlsteward.core import IntegrityViolation
from mlsteward.registry import verify_bundle


class _DefaultBuild(TyperGroup):
    """``steward package REF ...`` means ``steward package build REF ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultBuild,
    help="Package a model version as a self-contained bundle; verify a bundle.",
    no_args_is_help=True,
)


@app.command("build")
def build(
    ref: str = typer.Argument(..., help="NAME@VERSION, NAME@ALIAS or NAME@latest."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory to write the bundle to."),
    project: str | None = typer.Option(
        None, "--project", "-p", help="Project name (default: the store's only project)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a bundle already in the directory."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write the bundle (also: steward package NAME@VERSION -o DIR)."""
    bundle = STATE.client().package(ref, str(output), project=project, overwrite=force)
    if as_json:
        print_json(bundle.to_dict())
        return
    console.print(
        f"Packaged [bold]{escape(bundle.manifest['model']['ref'])}[/bold] into "
        f"{escape(str(bundle.directory))}: {len(bundle.files)} files + manifest.json "
        f"({bundle.manifest_digest}). Check it with: steward package verify "
        f"{escape(str(bundle.directory))}"
    )


@app.command("verify")
def verify(
    directory: Path = typer.Argument(..., help="The bundle's directory."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> Any:
    """Check every file of a bundle against its manifest (exit 8 naming each bad file)."""
    result = verify_bundle(directory)
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        console.print(
            f"Bundle {escape(str(directory))} is intact: {escape(str(result.model))}, "
            f"{result.files} files match manifest.json ({result.manifest_digest})."
        )
    else:
        err_console.print(
            f"[red]Bundle {escape(str(directory))} failed verification[/red] "
            f"({len(result.problems)} problem{'s' if len(result.problems) != 1 else ''}):"
        )
        for problem in result.problems:
            err_console.print(f"  {escape(problem.describe())}")
    if not result.ok:
        raise typer.Exit(IntegrityViolation.exit_code)
