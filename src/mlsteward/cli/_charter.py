"""steward charter init|validate|apply|show|list|diff|gates|schema"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from mlsteward.charter import (
    CHARTER_TEMPLATE,
    STAGES,
    Charter,
    Stage,
    charter_gates,
    charter_json_schema_text,
    check_charter_file,
)
from mlsteward.cli._common import STATE, console, print_json
from mlsteward.core import AlreadyExists, InvalidInput

app = typer.Typer(
    help="A project's charter: objective, success metrics, constraints, scope; its gates.",
    no_args_is_help=True,
)

_PROJECT = typer.Option(..., "--project", "-p", help="Project name.")
_JSON = typer.Option(False, "--json", help="Print JSON.")


@app.command("init")
def init(
    output: Path = typer.Option(Path("charter.yaml"), "--output", "-o", help="File to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented charter template to edit."""
    if output.exists() and not force:
        raise AlreadyExists(
            f"{output} already exists; the template would overwrite it. Pass --force to "
            "overwrite it, or write elsewhere with -o FILE."
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(CHARTER_TEMPLATE, encoding="utf-8")
    console.print(
        f"Wrote a charter template to {escape(str(output))}. Edit it, then check it with: "
        f"steward charter validate {escape(str(output))}"
    )


@app.command("validate")
def validate(
    file: Path = typer.Argument(..., help="Charter file (YAML or JSON)."),
    as_json: bool = _JSON,
) -> None:
    """Check a charter file; print every problem with its path (exit 2 when invalid)."""
    if as_json:
        problems = check_charter_file(file)
        print_json(
            {"file": str(file), "valid": not problems, "problems": [p.to_dict() for p in problems]}
        )
        if problems:
            raise typer.Exit(InvalidInput.exit_code)
        return
    charter = Charter.from_file(file)
    gates = charter_gates(charter)
    required = sum(g.required for g in gates)
    console.print(
        f"{escape(str(file))} is a valid charter: {charter.task.type} task predicting "
        f"{escape(repr(charter.task.target))}, {len(charter.success_metrics)} success "
        f"metric{'s' if len(charter.success_metrics) != 1 else ''}, {len(gates)} gates "
        f"({required} required)."
    )


@app.command("apply")
def apply(
    file: Path = typer.Argument(..., help="Charter file (YAML or JSON)."),
    project: str = _PROJECT,
    note: str = typer.Option("", "--note", "-m", help="Why this version (kept with it)."),
    as_json: bool = _JSON,
) -> None:
    """Store the charter as the project's next version (no new version if unchanged)."""
    result = STATE.client().charters.apply(project, file, note=note)
    if as_json:
        print_json(result.to_dict())
        return
    record = result.charter_version
    if result.created:
        console.print(
            f"Applied charter version {record.version} to project {escape(repr(project))} "
            f"(sha256 {record.content_hash[:12]})."
        )
    else:
        console.print(
            f"Charter unchanged: project {escape(repr(project))} is already at version "
            f"{record.version} with this content (sha256 {record.content_hash[:12]}); no new "
            "version."
        )


@app.command("show")
def show(
    project: str = typer.Argument(..., help="Project name."),
    version: int | None = typer.Option(None, "--version", "-v", help="Version (default: latest)."),
    as_json: bool = _JSON,
) -> None:
    """Print a version of the project's charter as YAML (or JSON)."""
    record = STATE.client().charters.get(project, version)
    if as_json:
        print_json(record.to_dict())
        return
    note = f": {record.note}" if record.note else ""
    header = (
        f"# Charter of project {project}, version {record.version} "
        f"(sha256 {record.content_hash[:12]})\n"
        f"# applied {record.created_at:%Y-%m-%d %H:%M:%S} UTC by {record.created_by}{note}\n"
    )
    console.print(header + record.charter.to_yaml(), markup=False, end="")


@app.command("list")
def list_(
    project: str = typer.Argument(..., help="Project name."),
    as_json: bool = _JSON,
) -> None:
    """List the versions of the project's charter."""
    records = STATE.client().charters.list(project)
    if as_json:
        print_json([{k: v for k, v in r.to_dict().items() if k != "charter"} for r in records])
        return
    if not records:
        console.print(
            f"Project {escape(repr(project))} has no charter yet. Apply one with: "
            f"steward charter apply charter.yaml --project {escape(project)}"
        )
        return
    table = Table("version", "applied (UTC)", "by", "sha256", "note")
    for r in records:
        table.add_row(
            str(r.version),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(r.created_by),
            r.content_hash[:12],
            escape(r.note),
        )
    console.print(table)


@app.command("diff")
def diff(
    project: str = typer.Argument(..., help="Project name."),
    v1: int = typer.Argument(..., help="From this version."),
    v2: int = typer.Argument(..., help="To this version."),
    as_json: bool = _JSON,
) -> None:
    """Show what changed between two versions, field by field."""
    result = STATE.client().charters.diff(project, v1, v2)
    if as_json:
        print_json(result.to_dict())
        return
    if result.identical:
        console.print(f"Versions {v1} and {v2} of the charter of {project!r} are identical.")
        return
    console.print(
        f"Charter of {project!r}, version {v1} -> {v2}: {len(result.changes)} "
        f"change{'s' if len(result.changes) != 1 else ''}",
        markup=False,
    )
    for change in result.changes:
        console.print(change.describe(), markup=False)


@app.command("gates")
def gates(
    project: str = typer.Argument(..., help="Project name."),
    version: int | None = typer.Option(None, "--version", "-v", help="Version (default: latest)."),
    stage: str | None = typer.Option(
        None, "--stage", help=f"Only gates judged at this stage: {', '.join(STAGES)}."
    ),
    as_json: bool = _JSON,
) -> None:
    """List the gates the charter sets: what is measured, the bar, and where it comes from."""
    selected: Stage | None = next((s for s in STAGES if s == stage), None)
    if stage is not None and selected is None:
        raise InvalidInput(f"Unknown stage {stage!r}; expected one of {', '.join(STAGES)}.")
    record = STATE.client().charters.get(project, version)
    found = charter_gates(record, selected)
    if as_json:
        print_json([g.to_dict() for g in found])
        return
    table = Table()
    for title in ("gate", "rule", "required", "source", "judged at"):
        table.add_column(title, overflow="fold")
    for gate in found:
        table.add_row(
            escape(gate.key),
            escape(gate.describe()),
            "yes" if gate.required else "no",
            escape(gate.source),
            ", ".join(gate.stages),
        )
    console.print(f"Gates of charter {escape(record.ref)}:")
    console.print(table)


@app.command("schema")
def schema(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
) -> None:
    """Print (or write) the JSON Schema of charter documents, for editors and CI."""
    text = charter_json_schema_text()
    if output is None:
        console.print(text, markup=False, end="")
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote the charter JSON Schema to {escape(str(output))}.")
