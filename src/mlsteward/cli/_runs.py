"""steward runs list|show|compare|history|export|end|reap, steward experiments list"""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from mlsteward.cli._common import STATE, console, print_json
from mlsteward.tracking import ReapedRun, Run, parse_duration

app = typer.Typer(
    help="Tracked runs: list (with filters), show, compare, metric history, export.",
    no_args_is_help=True,
)
experiments_app = typer.Typer(help="Experiments of a project.", no_args_is_help=True)

_PROJECT = typer.Option(..., "--project", "-p", help="Project name.")
_RUN = typer.Argument(..., help="Run id, or a unique id prefix of at least 6 characters.")
_JSON = typer.Option(False, "--json", help="Print JSON.")
_STATUS_STYLE = {"finished": "green", "failed": "red", "killed": "yellow", "running": "cyan"}


def _number(value: float | None, digits: int = 6) -> str:
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.{digits}g}"


def _status(run: Run) -> str:
    if run.stale:
        return f"[{_STATUS_STYLE['killed']}]{run.status} (stale)[/]"
    return f"[{_STATUS_STYLE.get(run.status, 'white')}]{run.status}[/]"


def _silence(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@app.command("list")
def list_(
    project: str = _PROJECT,
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Only this one."),
    filter: str | None = typer.Option(
        None,
        "--filter",
        "-f",
        help="e.g. \"metrics.roc_auc > 0.8 and params.max_depth = '5'\" (docs/tracking.md).",
    ),
    order_by: list[str] = typer.Option(
        [], "--order-by", "-o", help="e.g. 'metrics.roc_auc DESC' (repeatable)."
    ),
    max_results: int = typer.Option(50, "--max", help="At most this many runs."),
    metric: list[str] = typer.Option(
        [], "--metric", "-m", help="Metric columns to show (default: up to 4)."
    ),
    stale: bool = typer.Option(
        False, "--stale", help="Only stale runs: running, but no heartbeat for too long."
    ),
    as_json: bool = _JSON,
) -> None:
    """List runs of a project, newest first (or as ordered). A running run whose process
    seems dead shows as 'running (stale)'."""
    runs = STATE.client().search_runs(
        project,
        filter,
        order_by=order_by,
        max_results=max_results,
        experiment=experiment,
        stale=True if stale else None,
    )
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    if not runs:
        console.print(
            "No runs match." if filter or stale else f"No runs in project {project!r} yet."
        )
        return
    every = sorted(
        {k for r in runs for k in r.metrics}, key=lambda k: (k.startswith("training_"), k)
    )
    keys = metric or every[:2]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=32)
    table.add_column("name", overflow="ellipsis", no_wrap=True, max_width=20)
    if experiment is None:
        table.add_column("experiment", overflow="ellipsis", no_wrap=True, max_width=16)
    table.add_column("status", no_wrap=True, min_width=len("running (stale)"))
    table.add_column("started", no_wrap=True)
    for key in keys:
        table.add_column(escape(key), no_wrap=True, justify="right")
    for run in runs:
        cells = [run.id, escape(run.name)]
        if experiment is None:
            cells.append(escape(run.experiment))
        cells += [_status(run), run.start_time.strftime("%m-%d %H:%M")]
        table.add_row(*cells, *(_number(run.metrics.get(k), 4) for k in keys))
    console.print(table)


@app.command("show")
def show(run: str = _RUN, as_json: bool = _JSON) -> None:
    """Show a run: status, code version, params, latest metrics, tags, artifacts, inputs."""
    found = STATE.client().runs.get(run)
    if as_json:
        print_json(found.to_dict())
        return
    console.print(f"[bold]{escape(found.name)}[/bold] {found.id} {_status(found)}")
    duration = found.duration_seconds
    facts = [
        ("project / experiment", f"{found.project} / {found.experiment}"),
        ("started", found.start_time.isoformat(timespec="seconds")),
        ("duration", "-" if duration is None else f"{duration:.1f} s"),
        (
            "last heartbeat",
            "-" if found.heartbeat_at is None else found.heartbeat_at.isoformat(timespec="seconds"),
        ),
        ("parent", found.parent_id or "-"),
        ("by", found.created_by),
        (
            "code",
            f"{found.git_commit or 'no git commit'}"
            + (" (dirty)" if found.git_dirty else "")
            + f" {found.source or ''}",
        ),
        ("python", f"{found.python_version} on {found.platform}"),
    ]
    for key, value in facts:
        console.print(f"  [bold]{key}[/bold]: {escape(str(value))}")
    for title, mapping in (("params", found.params), ("tags", found.tags)):
        if mapping:
            console.print(f"[bold]{title}[/bold]")
            for key, value in mapping.items():
                console.print(f"  {escape(key)} = {escape(value)}")
    if found.metrics:
        console.print("[bold]metrics[/bold] (latest)")
        for key, number in found.metrics.items():
            console.print(f"  {escape(key)} = {_number(number)}")
    if found.inputs:
        console.print("[bold]inputs[/bold]")
        for item in found.inputs:
            console.print(f"  {item.role}: {escape(item.ref)}")
    if found.artifacts:
        console.print("[bold]artifacts[/bold]")
        for artifact in found.artifacts:
            console.print(
                f"  {escape(artifact.path)} ({artifact.kind}, {artifact.size:,} bytes) "
                f"{artifact.digest[:19]}"
            )


@app.command("compare")
def compare(
    runs: list[str] = typer.Argument(..., help="Two or more run ids (or id prefixes)."),
    all_keys: bool = typer.Option(False, "--all", help="Show equal values too."),
    as_json: bool = _JSON,
) -> None:
    """A table of the params and metrics that differ between runs."""
    result = STATE.client().runs.compare(runs, all=all_keys)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table("", *(f"{escape(r.name)}\n{r.id}" for r in result.runs))
    for key, values in result.params.items():
        table.add_row(
            f"params.{escape(key)}", *(escape(v) if v is not None else "-" for v in values)
        )
    for key, numbers in result.metrics.items():
        table.add_row(f"metrics.{escape(key)}", *(_number(v) for v in numbers))
    if not result.params and not result.metrics:
        console.print("The runs have the same params and metrics.")
    else:
        console.print(table)
    if result.same_params and not all_keys:
        same = ", ".join(f"{k}={v}" for k, v in list(result.same_params.items())[:12])
        console.print(f"[dim]same in every run: {escape(same)}[/dim]")


@app.command("history")
def history(
    run: str = _RUN,
    metric: str = typer.Option(..., "--metric", "-m", help="Metric key."),
    as_json: bool = _JSON,
) -> None:
    """Every point of one metric of a run."""
    points = STATE.client().runs.history(run, metric)
    if as_json:
        print_json([p.to_dict() for p in points])
        return
    table = Table("step", "value", "timestamp")
    for point in points:
        table.add_row(str(point.step), _number(point.value), point.timestamp.isoformat())
    console.print(table)


@app.command("export")
def export(
    run: str = _RUN,
    metric: list[str] = typer.Option(
        [], "--metric", "-m", help="Metric key (repeatable; default: every metric)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="A .csv or .parquet file."),
) -> None:
    """Export metric histories to CSV or Parquet (columns run_id, key, step, value, timestamp)."""
    path = STATE.client().runs.export(run, output, metric or None)
    console.print(f"Wrote {path}.")


@app.command("end")
def end(
    run: str = _RUN,
    status: str = typer.Option("killed", "--status", help="finished, failed or killed."),
) -> None:
    """Mark a run whose process died as ended."""
    STATE.client().runs.end(run, status)  # type: ignore[arg-type]  # validated by end_run
    console.print(f"Run {run} marked {status}.")


@app.command("reap")
def reap(
    project: str | None = typer.Option(
        None, "--project", "-p", help="Only this project (default: every project)."
    ),
    older_than: str | None = typer.Option(
        None,
        "--older-than",
        help="Silent for longer than this: 90s, 10m, 2h, 1d (default: STEWARD_RUN_STALE_SECONDS).",
    ),
    status: str = typer.Option("killed", "--status", help="killed (default) or failed."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be reaped; change nothing."
    ),
    as_json: bool = _JSON,
) -> None:
    """End stale runs: running, but without a heartbeat for too long (their process died).

    Each becomes killed (or failed) with its last heartbeat as end time, audited as
    run.reap. A run that heartbeats or ends meanwhile is left alone.
    """
    seconds = None if older_than is None else parse_duration(older_than, "--older-than")
    result = STATE.client().runs.reap(
        project,
        older_than=seconds,
        status=status,  # type: ignore[arg-type]  # validated by reap_runs
        dry_run=dry_run,
    )
    if as_json:
        print_json(result.to_dict())
        return
    where = f"project {project!r}" if project else "any project"
    limit = _silence(result.older_than_seconds)
    if not result.reaped:
        console.print(f"No stale runs in {where} (silent for more than {limit}).")
    else:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("id", no_wrap=True, min_width=32)
        table.add_column("name", overflow="ellipsis", no_wrap=True, max_width=20)
        table.add_column("project / experiment", overflow="ellipsis", no_wrap=True, max_width=30)
        table.add_column("last seen", no_wrap=True)
        table.add_column("silent", no_wrap=True, justify="right")
        for item in result.reaped:
            table.add_row(*_reaped_cells(item))
        console.print(table)
        verb = "Would mark" if result.dry_run else "Marked"
        console.print(
            f"{verb} {len(result.reaped)} stale run(s) {result.status} (silent for more than "
            f"{limit}; end time = last heartbeat)."
            + (" Nothing was changed (--dry-run)." if result.dry_run else "")
        )
    if result.skipped:
        console.print(
            f"Left {len(result.skipped)} run(s) alone: they sent a heartbeat or ended meanwhile."
        )


def _reaped_cells(item: ReapedRun) -> list[str]:
    return [
        item.id,
        escape(item.name),
        escape(f"{item.project} / {item.experiment}"),
        item.end_time.strftime("%m-%d %H:%M:%S"),
        _silence(item.silent_seconds),
    ]


@experiments_app.command("list")
def experiments_list(project: str = _PROJECT, as_json: bool = _JSON) -> None:
    """List the experiments of a project."""
    experiments = STATE.client().experiments.list(project)
    if as_json:
        print_json([e.to_dict() for e in experiments])
        return
    if not experiments:
        console.print(f"No experiments in {project!r} yet; the first run creates one.")
        return
    table = Table("name", "created", "by")
    for e in experiments:
        table.add_row(escape(e.name), e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.created_by)
    console.print(table)
