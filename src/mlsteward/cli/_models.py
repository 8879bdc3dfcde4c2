"""steward models register|list|show|alias|deprecate|retire|lineage"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mlsteward.cli._common import STATE, console, print_json
from mlsteward.registry import LineageNode, ModelVersion, pipeline_summary

app = typer.Typer(
    help="The model registry: versions, aliases, states, lineage.",
    no_args_is_help=True,
)

_PROJECT = typer.Option(
    None, "--project", "-p", help="Project name (default: the store's only project)."
)
_REF = typer.Argument(..., help="NAME@VERSION, NAME@ALIAS or NAME@latest.")
_REASON = typer.Option(..., "--reason", "-r", help="Why (kept in the audit trail).")
_JSON = typer.Option(False, "--json", help="Print JSON.")
_STATE_STYLE = {"active": "green", "deprecated": "yellow", "retired": "red"}


def _state(version: ModelVersion) -> str:
    style = _STATE_STYLE.get(version.state, "")
    return f"[{style}]{version.state}[/{style}]"


def _print_version(version: ModelVersion) -> None:
    aliases = f" ({', '.join(version.aliases)})" if version.aliases else ""
    console.print(f"[bold]{escape(version.ref)}[/bold]{escape(aliases)}: {_state(version)}")
    fields = [
        ("project", version.project),
        ("state reason", version.state_reason),
        ("class", version.model_class),
        ("pipeline", pipeline_summary(version.pipeline)),
        (
            "format",
            f"{version.format} ({version.artifact_size:,} bytes, {version.artifact_digest})",
        ),
        ("trusted types", ", ".join(version.trusted_types)),
        ("pickle trusted", "yes (explicit, audited)" if version.pickle_trusted else None),
        ("run", version.source_run_id),
        ("charter", None if version.charter is None else version.charter.ref),
        ("datasets", ", ".join(f"{d.short_ref} ({d.role})" for d in version.datasets)),
        (
            "metrics",
            ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in version.metrics.items()
            ),
        ),
        (
            "requirements",
            ", ".join(
                f"{k}=={v}" for k, v in dict(version.requirements.get("packages", {})).items()
            ),
        ),
        ("created", f"{version.created_at:%Y-%m-%d %H:%M:%S} by {version.created_by}"),
        ("description", version.description),
    ]
    for key, value in fields:
        if value:
            console.print(f"  {key}: {escape(str(value))}")
    signature = version.signature
    table = Table(
        "input", "type", "expected", "missing ok", title=f"signature ({signature.source})"
    )
    for column in signature.inputs:
        table.add_row(
            escape(column.name),
            column.type,
            escape(column.expected()),
            "yes" if column.nullable else "no",
        )
    console.print(table)
    outputs = ", ".join(
        o.name + ("" if o.classes is None else f" {list(o.classes)}") for o in signature.outputs
    )
    console.print(f"  outputs: {escape(outputs)}")


@app.command("register")
def register(
    name: str = typer.Argument(..., help="Model name (created on first use)."),
    project: str | None = _PROJECT,
    run: str | None = typer.Option(None, "--run", help="Run id (or prefix) that logged the model."),
    artifact: str | None = typer.Option(
        None, "--artifact", help="Which model of the run (its path, e.g. model)."
    ),
    file: Path | None = typer.Option(None, "--file", help="A model file to register instead."),
    format: str | None = typer.Option(
        None,
        "--format",
        help="Format of --file: skops, xgboost-ubj, xgboost-json, "
        "lightgbm-text, pickle, joblib (default: from the file).",
    ),
    trust: bool = typer.Option(
        False, "--trust", help="Trust a pickle/joblib artifact (runs its code; audited)."
    ),
    datasets: list[str] = typer.Option(
        [], "--dataset", "-d", help="Dataset version it was trained on (default: the run's inputs)."
    ),
    description: str = typer.Option("", "--description", help="What this version is."),
    alias: str | None = typer.Option(None, "--alias", help="Point this alias at the new version."),
    reason: str | None = typer.Option(None, "--reason", "-r", help="Why the alias (with --alias)."),
    as_json: bool = _JSON,
) -> None:
    """Register a new version of a model from a run's model or a file."""
    version = STATE.client().models.register(
        name,
        project=project,
        run=run,
        artifact=artifact,
        file=file,
        format=format,
        trust=trust,
        datasets=datasets or None,
        description=description,
        alias=alias,
        reason=reason,
    )
    if as_json:
        print_json(version.to_dict())
        return
    alias_text = f" as {alias!r}" if alias else ""
    console.print(
        f"Registered [bold]{escape(version.ref)}[/bold]{escape(alias_text)} in project "
        f"{escape(repr(version.project))}: {escape(version.model_class)} ({version.format}), "
        f"{len(version.signature.inputs)} inputs (domain from {escape(version.signature.source)})."
    )


@app.command("list")
def list_(
    name: str | None = typer.Argument(None, help="A model name: list its versions."),
    project: str | None = _PROJECT,
    as_json: bool = _JSON,
) -> None:
    """List the project's models, or the versions of one model."""
    models = STATE.client().models
    if name is not None:
        versions = models.versions(name, project=project)
        if as_json:
            print_json([v.to_dict() for v in versions])
            return
        table = Table("version", "state", "aliases", "class", "run", "created", "by")
        for v in versions:
            table.add_row(
                str(v.version),
                _state(v),
                escape(", ".join(v.aliases)),
                escape(v.model_class.rsplit(".", 1)[-1]),
                (v.source_run_id or "")[:12],
                f"{v.created_at:%Y-%m-%d %H:%M:%S}",
                escape(v.created_by),
            )
        console.print(table)
        return
    registered = models.list(project=project)
    if as_json:
        print_json([m.to_dict() for m in registered])
        return
    if not registered:
        console.print("No models yet. Register one with: steward models register NAME --run RUN")
        return
    table = Table("model", "versions", "latest", "aliases", "states")
    for m in registered:
        table.add_row(
            escape(m.name),
            str(m.version_count),
            str(m.latest_version),
            escape(", ".join(f"{a} -> {v}" for a, v in m.aliases.items())),
            ", ".join(f"{k} {n}" for k, n in m.states.items()),
        )
    console.print(table)


@app.command("show")
def show(ref: str = _REF, project: str | None = _PROJECT, as_json: bool = _JSON) -> None:
    """Show a version: state, aliases, artifact, lineage references, signature."""
    version = STATE.client().models.get(ref, project=project)
    if as_json:
        print_json(version.to_dict())
        return
    _print_version(version)


@app.command("alias")
def alias(
    ref: str = typer.Argument(..., help="NAME@VERSION to point at (NAME with --delete)."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="Alias, e.g. champion."),
    reason: str = _REASON,
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    project: str | None = _PROJECT,
    as_json: bool = _JSON,
) -> None:
    """Point an alias at a version (or --delete it); audited with the reason."""
    models = STATE.client().models
    if delete:
        removed = models.delete_alias(ref, alias_name, reason=reason, project=project)
        if as_json:
            print_json(removed.to_dict())
            return
        console.print(
            f"Deleted alias {escape(removed.ref)} (it pointed to version {removed.version})."
        )
        return
    moved = models.alias(ref, alias_name, reason=reason, project=project)
    if as_json:
        print_json(moved.to_dict())
        return
    before = "" if moved.previous_version is None else f" (was {moved.previous_version})"
    console.print(f"{escape(moved.ref)} -> version {moved.version}{before}: {escape(moved.reason)}")


@app.command("deprecate")
def deprecate(
    ref: str = _REF, reason: str = _REASON, project: str | None = _PROJECT, as_json: bool = _JSON
) -> None:
    """Mark a version deprecated (still deployable, flagged as on its way out)."""
    version = STATE.client().models.deprecate(ref, reason=reason, project=project)
    if as_json:
        print_json(version.to_dict())
        return
    console.print(
        f"{escape(version.ref)} is {_state(version)}: {escape(version.state_reason or '')}"
    )


@app.command("retire")
def retire(
    ref: str = _REF, reason: str = _REASON, project: str | None = _PROJECT, as_json: bool = _JSON
) -> None:
    """Retire a version (final; refused while an endpoint routes to it or an alias names it)."""
    version = STATE.client().models.retire(ref, reason=reason, project=project)
    if as_json:
        print_json(version.to_dict())
        return
    console.print(
        f"{escape(version.ref)} is {_state(version)}: {escape(version.state_reason or '')}"
    )


def _tree(node: LineageNode, tree: Tree | None = None) -> Tree:
    style = {"charter": "bold", "model": "bold cyan", "endpoint": "green"}.get(node.kind, "")
    label = Text(node.label, style=style, overflow="fold")  # user text: never markup
    branch = Tree(label) if tree is None else tree.add(label)
    for child in node.children:
        _tree(child, branch)
    return branch


@app.command("lineage")
def lineage(ref: str = _REF, project: str | None = _PROJECT, as_json: bool = _JSON) -> None:
    """Print charter version -> dataset versions -> run -> model version (-> downstream)."""
    result = STATE.client().models.lineage(ref, project=project)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(_tree(result.tree()), soft_wrap=False)
