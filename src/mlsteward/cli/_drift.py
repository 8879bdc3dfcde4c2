"""steward drift REF CUR: ad-hoc drift between two datasets or files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from mlsteward.cli._common import STATE, console, print_json
from mlsteward.core import InvalidInput

__all__ = ["drift"]


def drift(
    reference: str = typer.Argument(
        ..., help="Reference: a Parquet/CSV path or a dataset NAME@VERSION."
    ),
    current: str = typer.Argument(
        ..., help="Current: a Parquet/CSV path or a dataset NAME@VERSION."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the report (HTML, or JSON with --format json)."
    ),
    format: str = typer.Option("text", "--format", help="text (a table), json or html."),
    project: str | None = typer.Option(
        None, "--project", "-p", help="Project of dataset references."
    ),
    columns: list[str] | None = typer.Option(
        None, "--column", "-c", help="Compare only these columns (repeat)."
    ),
    method: str | None = typer.Option(
        None, "--method", help="auto, ks, chi2, psi, jensen_shannon, wasserstein or hellinger."
    ),
    p_value: float | None = typer.Option(
        None, "--p-value", help="Alarm level of the tests (default 0.01)."
    ),
    distance: float | None = typer.Option(
        None, "--distance", help="Alarm level of the distances (default 0.1)."
    ),
) -> None:
    """Compare two datasets column by column: test, statistic, p-value or distance,
    threshold and drifted flag for every column."""
    if format not in ("text", "json", "html"):
        raise InvalidInput(f"Unknown --format {format!r}; expected text, json or html.")
    needs_store = any("@" in s and not Path(s).exists() for s in (reference, current))
    settings: dict[str, Any] = {
        k: v
        for k, v in {"method": method, "p_value": p_value, "distance": distance}.items()
        if v is not None
    }
    if needs_store:
        report = STATE.client().drift(
            reference, current, project=project, columns=columns, **settings
        )
    else:
        from mlsteward.monitoring import drift as compare

        report = compare(reference, current, columns=columns, **settings)
    if output is not None:
        from mlsteward.monitoring import drift_report

        kind = "json" if format == "json" else "html"
        drift_report(report, str(output), format=kind)
        if format != "json":
            console.print(
                f"Wrote the drift report ({len(report.drifted)} of {len(report.features)} columns "
                f"drifted) to {escape(str(output))}."
            )
            return
    if format == "json":
        print_json(report.to_dict())
        return
    table = Table("column", "kind", "test", "statistic", "p-value", "threshold", "drifted", "why")
    for f in sorted(report.features, key=lambda f: -f.score):
        t = f.test
        table.add_row(
            escape(f.feature),
            f.kind,
            t.method,
            f"{t.statistic:.4g}",
            "—" if t.p_value is None else f"{t.p_value:.3g}",
            f"{max(t.threshold, t.null_distance or 0.0):.4g}",
            "[red]yes[/]" if f.drifted else "no",
            ", ".join(f.reasons),
        )
    console.print(
        f"{escape(report.current)} ({report.current_rows:,} rows) against "
        f"{escape(report.reference)} ({report.reference_rows:,} rows): {len(report.drifted)} of "
        f"{len(report.features)} columns drifted ({report.drift_share:.0%})."
    )
    console.print(table)
