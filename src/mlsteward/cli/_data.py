"""steward data register|list|show|check|split|lineage|impact|report"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mlsteward.cli._common import STATE, console, err_console, print_json
from mlsteward.core import InvalidInput
from mlsteward.data import (
    CheckReport,
    DatasetVersion,
    Impact,
    ImpactNode,
    Lineage,
    LineageNode,
    check_dataset,
    compliance_tags,
    latest_check_report,
    list_datasets,
    register,
    resolve_dataset,
    split_dataset,
)

app = typer.Typer(
    help="Dataset versions: register, inspect, check, split, lineage, impact, report.",
    no_args_is_help=True,
)

_PROJECT = typer.Option(..., "--project", "-p", help="Project name.")
_REF = typer.Argument(..., help="NAME@VERSION (hash or 8+ digit prefix), or NAME@latest.")
_JSON = typer.Option(False, "--json", help="Print JSON.")
_STATUS_STYLE = {"pass": "green", "fail": "red", "skipped": "dim"}


def _pairs(values: list[str], option: str, example: str) -> dict[str, str]:
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInput(f"{option} {item!r} is not KEY=VALUE; expected e.g. {example}.")
        pairs[key.strip()] = value.strip()
    return pairs


def _print_version(version: DatasetVersion) -> None:
    console.print(f"[bold]{escape(version.name)}[/bold]@{version.version}")
    fields = [
        ("project", version.project),
        ("role", version.role),
        ("rows", f"{version.row_count:,}"),
        ("columns", str(len(version.schema))),
        ("target", version.target),
        ("time column", version.time_column),
        ("source", version.source),
        ("licence", version.license),
        ("consent", version.consent),
        (
            "parents",
            ", ".join(p.split("@")[0] + "@" + p.split("@")[1][:12] for p in version.parents),
        ),
        ("created", f"{version.created_at:%Y-%m-%d %H:%M:%S} by {version.created_by}"),
        ("data", version.artifact_digest),
        ("profile", version.profile_digest),
    ]
    for key, value in fields:
        if value:
            console.print(f"  {key}: {escape(str(value))}")


@app.command("register")
def register_(
    file: Path = typer.Argument(..., help="CSV or Parquet file."),
    project: str = _PROJECT,
    name: str = typer.Option(..., "--name", "-n", help="Dataset name."),
    role: str | None = typer.Option(None, "--role", help="e.g. train, validation, test, batch."),
    source: str | None = typer.Option(None, "--source", help="Where the data comes from."),
    license: str | None = typer.Option(None, "--license", help="Licence of the data."),
    consent: str | None = typer.Option(None, "--consent", help="Consent / lawful basis."),
    time_column: str | None = typer.Option(None, "--time-column", help="Time column."),
    target: str | None = typer.Option(None, "--target", help="Target (label) column."),
    parent: list[str] = typer.Option([], "--parent", help="Parent version NAME@VERSION."),
    column_type: list[str] = typer.Option(
        [], "--type", help="COLUMN=TYPE override (numeric, categorical, boolean, ...)."
    ),
    as_json: bool = _JSON,
) -> None:
    """Register a CSV or Parquet file as an immutable, content-addressed version."""
    outcome = register(
        STATE.client().store,
        project,
        name,
        file,
        role=role,
        source=source,
        license=license,
        consent=consent,
        time_column=time_column,
        target=target,
        parents=parent or None,
        column_types=_pairs(column_type, "--type", "AGEP=numeric") or None,
    )
    if as_json:
        print_json(
            {"created": outcome.created, "notes": list(outcome.notes), **outcome.version.to_dict()}
        )
        return
    version = outcome.version
    if outcome.created:
        console.print(
            f"Registered {escape(version.ref)} ({version.row_count:,} rows, {len(version.schema)} columns)."
        )
    else:
        console.print(f"Already registered: {escape(version.ref)} (same content; nothing written).")
    for note in outcome.notes:
        err_console.print(f"[yellow]Note:[/yellow] {escape(note)}")


@app.command("list")
def list_(
    project: str = _PROJECT,
    name: str | None = typer.Option(None, "--name", "-n", help="Only this dataset."),
    role: str | None = typer.Option(None, "--role", help="Only this role."),
    as_json: bool = _JSON,
) -> None:
    """List dataset versions, newest first."""
    versions = list_datasets(STATE.client().store, project, name, role=role)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    if not versions:
        console.print(
            f"No dataset versions in {project!r}. Register one with: steward data register FILE --project {project} --name NAME"
        )
        return
    table = Table("dataset", "version", "role", "rows", "cols", "created")
    for v in versions:
        table.add_row(
            v.name,
            v.version[:12],
            v.role or "",
            f"{v.row_count:,}",
            str(len(v.schema)),
            f"{v.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("show")
def show(ref: str = _REF, project: str = _PROJECT, as_json: bool = _JSON) -> None:
    """Show a version: metadata, schema, compliance tags, latest check run."""
    store = STATE.client().store
    version = resolve_dataset(store, project, ref)
    tags = compliance_tags(store, version)
    report = latest_check_report(store, project, version)
    if as_json:
        print_json(
            {
                **version.to_dict(),
                "compliance_tags": [t.to_dict() for t in tags],
                "latest_check": None if report is None else report.to_dict(),
            }
        )
        return
    _print_version(version)
    table = Table("column", "logical type", "stored as")
    for column in version.schema:
        table.add_row(column.name, column.type, column.physical)
    console.print(table)
    for tag in tags:
        console.print(
            f"  tag [yellow]{escape(tag.tag)}[/yellow] on {escape(tag.column or '(dataset)')} ({tag.source})"
        )
    if report is None:
        console.print(
            f"Not checked yet: steward data check {escape(version.short_ref)} --project {project}"
        )
    else:
        word = "[green]passed[/green]" if report.passed else "[red]failed[/red]"
        console.print(
            f"Latest check run {report.created_at:%Y-%m-%d %H:%M} {word}: {len(report.failures)} failure(s)."
        )


def _print_report(report: CheckReport) -> None:
    table = Table(
        "check",
        "status",
        "severity",
        "message",
        title=f"Checks of {report.dataset.split('@')[0]}@{report.dataset.split('@')[1][:12]}",
    )
    for r in report.results:
        style = (
            _STATUS_STYLE[r.status]
            if not (r.status == "fail" and r.severity == "warning")
            else "yellow"
        )
        table.add_row(r.name, f"[{style}]{r.status}[/{style}]", r.severity, escape(r.message))
    console.print(table)
    if report.passed:
        console.print("[green]No blocking check failed.[/green]")
    else:
        blocking = [r.name for r in report.results if r.blocking_failure]
        console.print(f"[red]Blocking check(s) failed:[/red] {', '.join(blocking)}")


@app.command("check")
def check(
    ref: str = _REF,
    project: str = _PROJECT,
    spec: Path | None = typer.Option(None, "--spec", help="Check spec (YAML or JSON)."),
    reference: str | None = typer.Option(None, "--reference", help="Reference NAME@VERSION."),
    groups: str | None = typer.Option(None, "--groups", help="Coverage groups, e.g. SEX,RAC1P."),
    as_json: bool = _JSON,
) -> None:
    """Run quality and collection checks; exit 1 when a blocking check fails."""
    report = check_dataset(
        STATE.client().store,
        project,
        ref,
        spec=spec,
        reference=reference,
        coverage_groups=[g.strip() for g in groups.split(",") if g.strip()] if groups else None,
    )
    if as_json:
        print_json(report.to_dict())
    else:
        _print_report(report)
    if not report.passed:
        raise typer.Exit(1)


@app.command("split")
def split(
    ref: str = _REF,
    project: str = _PROJECT,
    method: str = typer.Option("random", "--method", help="random, stratified, time or group."),
    fraction: list[str] = typer.Option([], "--fraction", help="PART=SHARE, e.g. train=0.8."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    stratify: str | None = typer.Option(None, "--stratify", help="Column (default: target)."),
    time_column: str | None = typer.Option(None, "--time-column", help="Default: the version's."),
    cutoff: list[str] = typer.Option([], "--cutoff", help="Time split cutoff(s), e.g. 2016-01-01."),
    part: list[str] = typer.Option([], "--part", help="Time split part names, in order."),
    group_column: str | None = typer.Option(None, "--group-column", help="Group split column."),
    as_json: bool = _JSON,
) -> None:
    """Split a version into child versions recorded with lineage."""
    if method not in {"random", "stratified", "time", "group"}:
        raise InvalidInput(
            f"--method {method!r} is not known; expected random, stratified, time or group."
        )
    fractions = None
    if fraction:
        pairs = _pairs(fraction, "--fraction", "train=0.8")
        try:
            fractions = {k: float(v) for k, v in pairs.items()}
        except ValueError as exc:
            raise InvalidInput(f"--fraction values must be numbers, got {pairs}.") from exc
    cutoffs: list[Any] = [int(c) if c.lstrip("-").isdigit() else c for c in cutoff]
    children = split_dataset(
        STATE.client().store,
        project,
        ref,
        method=method,  # type: ignore[arg-type]  # checked above
        fractions=fractions,
        seed=seed,
        stratify=stratify,
        time_column=time_column,
        cutoffs=cutoffs or None,
        parts=part or None,
        group_column=group_column,
    )
    if as_json:
        print_json({p: v.to_dict() for p, v in children.items()})
        return
    table = Table("part", "version", "rows")
    for name, v in children.items():
        table.add_row(name, v.short_ref, f"{v.row_count:,}")
    console.print(table)


def _edge_text(node: LineageNode) -> str:
    params = node.params
    keys = ("method", "part", "seed", "stratify", "group_column", "time_column", "cutoffs")
    shown = [f"{k}={params[k]}" for k in keys if k in params and k != "method"]
    how = " ".join(str(x) for x in (node.method, params.get("method")) if x)
    return escape(how + (" " + ", ".join(shown) if shown else ""))


def _add(tree: Tree, nodes: tuple[LineageNode, ...]) -> None:
    for node in nodes:
        v = node.version
        label = (
            f"[bold]{escape(v.short_ref)}[/bold] {escape(v.role or '')} {v.row_count:,} rows "
            f"[dim]({_edge_text(node)})[/dim]"
        )
        _add(tree.add(Text.from_markup(label, overflow="fold")), node.children)


@app.command("lineage")
def lineage(
    ref: str = _REF,
    project: str = _PROJECT,
    depth: int = typer.Option(20, "--depth", min=1, help="Levels in each direction."),
    as_json: bool = _JSON,
) -> None:
    """Show the parents and children of a version as a tree."""
    result: Lineage = STATE.client().datasets.lineage(project, ref, depth=depth)
    if as_json:
        print_json(result.to_dict())
        return
    v = result.version
    tree = Tree(f"[bold]{escape(v.short_ref)}[/bold] {v.role or ''} {v.row_count:,} rows")
    parents = tree.add("parents") if result.parents else tree.add("parents: none")
    _add(parents, result.parents)
    children = tree.add("children") if result.children else tree.add("children: none")
    _add(children, result.children)
    console.print(tree, soft_wrap=False)


_KIND_STYLE = {
    "dataset": "bold",
    "run": "cyan",
    "model": "magenta",
    "endpoint": "bold red",
    "evaluation": "green",
    "reference": "yellow",
}


def _add_impact(tree: Tree, nodes: tuple[ImpactNode, ...]) -> None:
    for node in nodes:
        style = _KIND_STYLE.get(node.kind, "")
        label = Text(node.label, style=style, overflow="fold")
        _add_impact(tree.add(label), node.children)


@app.command("impact")
def impact(
    ref: str = _REF,
    project: str | None = typer.Option(
        None, "--project", "-p", help="Project name (default: the store's only project)."
    ),
    format: str = typer.Option("text", "--format", "-f", help="text (a tree) or json."),
    depth: int = typer.Option(20, "--depth", help="Levels of derived versions to follow."),
    limit: int = typer.Option(500, "--limit", help="At most this many items of each kind."),
) -> None:
    """Show everything built on a version: derived versions, runs, model versions and the
    endpoints serving them, evaluations and monitoring references."""
    if format not in {"text", "json"}:
        raise InvalidInput(f"--format {format!r} is not known; expected text or json.")
    result: Impact = STATE.client().datasets.impact(project, ref, depth=depth, limit=limit)
    if format == "json":
        print_json(result.to_dict())
        return
    root = result.tree()
    tree = Tree(Text(root.label, style="bold", overflow="fold"))
    _add_impact(tree, root.children)
    console.print(tree, soft_wrap=False)
    for note in result.truncated:
        err_console.print(f"[yellow]Truncated:[/yellow] {escape(note)}")
    console.print(escape(result.summary().text()))


@app.command("report")
def report(
    ref: str = _REF,
    project: str = _PROJECT,
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
    format: str = typer.Option("html", "--format", help="html or json."),
) -> None:
    """Write the data report (profile, charts, check table): self-contained HTML or JSON."""
    from mlsteward.data import dataset_report

    if format not in {"html", "json"}:
        raise InvalidInput(f"--format {format!r} is not known; expected html or json.")
    kind: Literal["html", "json"] = "html" if format == "html" else "json"
    text = dataset_report(STATE.client().store, project, ref, format=kind)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote the {format} report of {escape(ref)} to {escape(str(output))}.")
