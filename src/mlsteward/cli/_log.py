"""steward log compact ENDPOINT"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mlsteward.cli._common import STATE, console, print_json, progress_bar
from mlsteward.core import InvalidInput

__all__ = ["app"]

app = typer.Typer(
    help="The prediction log and feedback of endpoints: compaction of past days.",
    no_args_is_help=True,
)

_KINDS = {
    "predictions": ("predictions",),
    "feedback": ("feedback",),
    "all": ("predictions", "feedback"),
}
_FORMATS = ("text", "json")


def _mb(value: int | None) -> str:
    return "—" if value is None else f"{value / 1024 / 1024:,.1f}"


@app.command("compact")
def compact(
    endpoint: str = typer.Argument(..., help="Endpoint whose log is compacted."),
    before: str | None = typer.Option(
        None,
        "--before",
        help="Compact the days before this one (YYYY-MM-DD; default: today, UTC).",
    ),
    kind: str = typer.Option("all", "--kind", help="predictions, feedback or all."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be merged only."),
    format: str = typer.Option("text", "--format", help="text (a table) or json."),
    log: Path | None = typer.Option(
        None,
        "--log",
        help="Directory of predictions/ and feedback/ (default: the store's home); with it "
        "the store is not opened and nothing is audited.",
    ),
) -> None:
    """Merge the segments of each past day of an endpoint's log into one segment."""
    from mlsteward.serving import compact_log

    if kind not in _KINDS:
        raise InvalidInput(f"--kind {kind!r} is not known; expected predictions, feedback or all.")
    if format not in _FORMATS:
        raise InvalidInput(f"--format {format!r} is not known; expected text or json.")
    kinds = _KINDS[kind]
    with progress_bar(f"Compacting the log of {endpoint}", disable=format == "json") as advance:
        if log is not None:
            report = compact_log(
                log, endpoint, kinds=kinds, before=before, dry_run=dry_run, progress=advance
            )
        else:
            report = STATE.client().endpoints.compact_log(
                endpoint, kinds=kinds, before=before, dry_run=dry_run, progress=advance
            )
    if format == "json":
        print_json(report.to_dict())
        return
    table = Table("log", "days", "segments", "rows", "MB")
    for name in (*report.kinds, None):
        totals = report.totals(name)
        if name is None and len(report.kinds) < 2:
            continue
        table.add_row(
            name or "total",
            f"{totals['days']:,}",
            f"{totals['segments_before']:,} -> {totals['segments_after']:,}",
            f"{totals['rows']:,}",
            f"{_mb(totals['bytes_before'])} -> {_mb(totals['bytes_after'])}",
        )
    verb = "Would compact" if report.dry_run else "Compacted"
    console.print(
        f"{verb} {len(report.days)} day(s) of endpoint {endpoint!r} before "
        f"{report.before.isoformat()}; {report.days_left} day(s) already had one segment"
        + (f"; {report.recovered} interrupted compaction(s) cleaned up" if report.recovered else "")
        + "."
    )
    console.print(table)
