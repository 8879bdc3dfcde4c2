"""steward projects create|list|show"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from mlsteward.cli._common import STATE, console, print_json

app = typer.Typer(help="Create and inspect projects.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Project name: lowercase letters, digits, '-', '_', '.'."),
    description: str = typer.Option("", "--description", "-d", help="What the project is for."),
    as_json: bool = typer.Option(False, "--json", help="Print the project as JSON."),
) -> None:
    """Create a project."""
    project = STATE.client().create_project(name, description=description)
    if as_json:
        print_json(project.to_dict())
    else:
        console.print(f"Created project [bold]{project.name}[/bold] ({project.id}).")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List projects."""
    projects = STATE.client().list_projects()
    if as_json:
        print_json([p.to_dict() for p in projects])
        return
    if not projects:
        console.print("No projects yet. Create one with: steward projects create NAME")
        return
    table = Table("name", "description", "created", "by")
    for p in projects:  # user text is shown as is, never read as rich markup
        table.add_row(
            escape(p.name),
            escape(p.description),
            p.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(p.created_by),
        )
    console.print(table)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Project name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one project."""
    project = STATE.client().get_project(name)
    if as_json:
        print_json(project.to_dict())
        return
    for key, value in project.to_dict().items():
        console.print(f"[bold]{key}[/bold]: {escape(str(value))}")
