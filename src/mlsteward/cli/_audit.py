"""steward audit log|verify"""

from __future__ import annotations

from datetime import datetime

import typer
from rich.markup import escape
from rich.table import Table

from mlsteward.cli._common import STATE, console, err_console, print_json
from mlsteward.core import InvalidInput, ensure_utc

app = typer.Typer(help="Read and verify the audit trail.", no_args_is_help=True)


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return ensure_utc(datetime.fromisoformat(value))
    except ValueError as exc:
        raise InvalidInput(
            f"{option} {value!r} is not a date or time. Expected ISO 8601, "
            "e.g. 2026-11-26 or 2026-11-26T09:30:00+00:00."
        ) from exc


@app.command("log")
def log(
    entity: str | None = typer.Option(
        None, "--entity", help="KIND or KIND:ID, e.g. project or project:acs."
    ),
    actor: str | None = typer.Option(None, "--actor", help="Only events by this actor."),
    action: str | None = typer.Option(
        None, "--action", help="Only this action, e.g. project.create."
    ),
    since: str | None = typer.Option(None, "--since", help="From this time (ISO 8601)."),
    until: str | None = typer.Option(None, "--until", help="Up to this time (ISO 8601)."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="At most this many (newest)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List audit events, oldest first."""
    kind, entity_id = None, None
    if entity:
        kind, _, rest = entity.partition(":")
        entity_id = rest or None
    events = STATE.client().audit_log(
        entity_kind=kind,
        entity_id=entity_id,
        actor=actor,
        action=action,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
        limit=limit,
        newest_first=limit is not None,
    )
    events.sort(key=lambda e: e.seq)
    if as_json:
        print_json([e.to_dict() for e in events])
        return
    if not events:
        console.print("No audit events match.")
        return
    table = Table("#", "time (UTC)", "actor", "action", "entity", "hash")
    for e in events:  # user text is shown as is, never read as rich markup
        table.add_row(
            str(e.seq),
            e.time.strftime("%Y-%m-%d %H:%M:%S"),
            escape(e.actor),
            escape(e.action),
            escape(f"{e.entity_kind}:{e.entity_id}"),
            e.hash[:12],
        )
    console.print(table)


@app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Recompute the hash chain: exit 0 when intact, 8 at the first bad event."""
    result = STATE.client().verify_audit()
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        console.print(f"Audit chain intact: {result.count} events verified.")
    else:
        err_console.print(
            f"[red]Audit chain broken[/red] at event #{result.first_bad_seq} "
            f"after {result.count} good events: {escape(result.reason or '')}"
        )
    if not result.ok:
        raise typer.Exit(8)
