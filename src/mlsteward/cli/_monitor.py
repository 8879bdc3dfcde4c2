"""steward monitor run|status|report|alerts"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from mlsteward.cli._common import STATE, console, print_json

app = typer.Typer(
    help="Monitoring: drift, estimated and realized performance, skew, data quality and "
    "operations over an endpoint's prediction log.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON.")
_ENDPOINT = typer.Argument(..., help="Endpoint name.")
_STYLE = {"critical": "red", "warning": "yellow", "info": "blue"}


def _number(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _windows_table(run: Any) -> Table:
    table = Table(
        "start", "rows", "labels", "drift", "drifted", "estimated", "real", "gates", "alerts"
    )
    for item in run.windows:
        perf = item["performance"]
        name = next((m for m in ("roc_auc", "accuracy", "mae") if m in perf["estimated"]), None)
        realized = perf["realized"]["metrics"]
        name = name or next((m for m in ("roc_auc", "accuracy", "mae") if m in realized), None)
        estimate = perf["estimated"].get(name) if name else None
        drift = item.get("drift") or {}
        est = (
            "—"
            if estimate is None
            else f"{estimate['value']:.3f}±{(estimate['high'] - estimate['low']) / 2:.3f}"
        )
        table.add_row(
            item["window"]["start"][:10],
            f"{item['window']['rows']:,}",
            f"{perf['realized']['labelled']:,}",
            _number(drift.get("drift_share"), 2),
            escape(", ".join(drift.get("drifted_features", [])[:3]) or "—"),
            est,
            _number(realized.get(name) if name else None),
            item.get("verdict") or "—",
            str(len(item["alerts"])),
        )
    metric = next(
        (
            m
            for item in run.windows
            for m in ("roc_auc", "accuracy", "mae")
            if m in item["performance"]["estimated"]
        ),
        "performance",
    )
    table.title = f"estimated / real: {metric}"
    return table


def _alerts_table(alerts: Any, limit: int = 30) -> Table:
    table = Table("severity", "window", "kind", "feature / metric", "message")
    for alert in list(alerts)[:limit]:
        table.add_row(
            f"[{_STYLE[alert.severity]}]{alert.severity}[/]",
            alert.window_start.strftime("%Y-%m-%d") if alert.window_start else str(alert.window),
            alert.kind,
            escape(alert.subject),
            escape(alert.message),
        )
    return table


def _show(run: Any, *, report_hint: bool = True) -> None:
    counts = run.counts()
    console.print(
        f"Monitor run {run.id[:12]} of endpoint {escape(repr(run.endpoint))}: {run.model}, "
        f"{len(run.windows)} windows of {run.window}, {run.rows:,} predictions "
        f"({run.labelled:,} labelled); verdict {run.verdict or 'no gates'}; alerts: "
        f"{counts['critical']} critical, {counts['warning']} warning, {counts['info']} info."
    )
    console.print(_windows_table(run))
    serious = run.alerts_at_least("warning")
    if serious:
        console.print(_alerts_table(serious))
        if len(serious) > 30:
            console.print(
                f"... and {len(serious) - 30} more (steward monitor alerts {run.endpoint})."
            )
    if report_hint:
        console.print(f"Report: steward monitor report {run.endpoint} -o report.html")


@app.command("run")
def run(
    endpoint: str = _ENDPOINT,
    start: str | None = typer.Option(None, "--from", help="Start time (ISO 8601), inclusive."),
    end: str | None = typer.Option(None, "--to", help="End time (ISO 8601), exclusive."),
    window: str | None = typer.Option(
        None,
        "--window",
        "-w",
        help="Window: a duration (1h, 1d, 30d) or a number of predictions (default: the charter's).",
    ),
    project: str | None = typer.Option(
        None, "--project", "-p", help="Project (default: the endpoint's)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Model version NAME@VERSION (default: the log's)."
    ),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="Drift reference dataset NAME@VERSION (default: the model's training data).",
    ),
    performance_reference: str | None = typer.Option(
        None,
        "--performance-reference",
        help="Labelled held-out dataset for estimation (default: the model's test/validation data).",
    ),
    log: Path | None = typer.Option(
        None, "--log", help="Prediction log directory (default: the endpoint's)."
    ),
    feedback: Path | None = typer.Option(None, "--feedback", help="Feedback directory for --log."),
    cost_per_hour: float | None = typer.Option(
        None,
        "--cost-per-hour",
        help="Serving cost per hour (charter currency), for cost per 1,000 predictions.",
    ),
    multivariate: bool = typer.Option(
        True, "--multivariate/--no-multivariate", help="Domain classifier and PCA checks."
    ),
    as_json: bool = _JSON,
) -> None:
    """Monitor an endpoint's log window by window; store the run and print its summary."""
    result = STATE.client().monitor(
        endpoint,
        project=project,
        model=model,
        reference=reference,
        performance_reference=performance_reference,
        log=log,
        feedback=feedback,
        start=start,
        end=end,
        window=window,
        cost_per_hour=cost_per_hour,
        multivariate=multivariate,
    )
    if as_json:
        print_json(result.summary() | {"alerts": [a.to_dict() for a in result.alerts]})
        return
    _show(result)


@app.command("status")
def status(endpoint: str = _ENDPOINT, as_json: bool = _JSON) -> None:
    """The latest monitor run of an endpoint: windows, verdict and alerts."""
    result = STATE.client().monitoring.status(endpoint)
    if as_json:
        print_json(result.summary() | {"alerts": [a.to_dict() for a in result.alerts]})
        return
    _show(result)


@app.command("report")
def report(
    endpoint: str = _ENDPOINT,
    output: Path = typer.Option(..., "--output", "-o", help="File to write (HTML or JSON)."),
    run_id: str | None = typer.Option(None, "--run", help="A run id (default: the latest run)."),
    format: str = typer.Option("html", "--format", help="html (self-contained page) or json."),
) -> None:
    """Write the report of an endpoint's latest run (or --run ID)."""
    monitoring = STATE.client().monitoring
    result = monitoring.get(run_id) if run_id else monitoring.status(endpoint)
    result.report(str(output), format=format)
    console.print(
        f"Wrote the {format} report of monitor run {result.id[:12]} ({len(result.windows)} "
        f"windows, {len(result.alerts)} alerts) to {escape(str(output))}."
    )


@app.command("alerts")
def alerts(
    endpoint: str = _ENDPOINT,
    feature: str | None = typer.Option(
        None, "--feature", "--metric", help="Only alerts naming this feature or metric."
    ),
    min_severity: str | None = typer.Option(
        None, "--min-severity", help="info, warning or critical."
    ),
    limit: int = typer.Option(100, "--limit", help="At most this many."),
    as_json: bool = _JSON,
) -> None:
    """Stored alerts of an endpoint's runs."""
    found = STATE.client().monitoring.alerts(
        endpoint, subject=feature, min_severity=min_severity, limit=limit
    )
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    if not found:
        console.print("No alert matches.")
        return
    console.print(_alerts_table(found, limit))
