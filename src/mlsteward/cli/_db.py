"""steward db status|upgrade"""

from __future__ import annotations

import typer

from mlsteward.cli._common import STATE, console, print_json
from mlsteward.core import load_config
from mlsteward.store import read_schema_state, upgrade_store

app = typer.Typer(help="Metadata database schema.", no_args_is_help=True)

# Also accepted after the command (``steward db upgrade --uri ...``), as the refusal of an
# outdated database spells it, so that the command in the message can be pasted as is.
_URI_HELP = "Metadata store URI (same as the global --uri)."


def _store_uri(uri: str | None) -> str:
    return load_config({"uri": uri or STATE.uri}).uri


@app.command("status")
def status(
    uri: str | None = typer.Option(None, "--uri", help=_URI_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the schema revision of the database and the one this Steward needs."""
    store_uri = _store_uri(uri)
    state = read_schema_state(store_uri)
    data = {
        "uri": store_uri,
        "current": state.current,
        "head": state.head,
        "up_to_date": state.up_to_date,
        "known": state.known,
    }
    if as_json:
        print_json(data)
        return
    if state.up_to_date:
        word = "up to date"
    elif not state.known:
        word = "written by a newer Steward: pip install --upgrade mlsteward"
    else:
        word = "needs: steward db upgrade"
    console.print(f"{store_uri}: revision {state.current} (this Steward: {state.head}) - {word}")


@app.command("upgrade")
def upgrade(
    uri: str | None = typer.Option(None, "--uri", help=_URI_HELP),
    revision: str = typer.Option("head", "--revision", help="Target revision (default: head)."),
) -> None:
    """Upgrade the metadata database to this Steward's schema."""
    store_uri = _store_uri(uri)
    before, after = upgrade_store(store_uri, revision)
    if before.current == after.current:
        console.print(f"Already at revision {after.current}; nothing to do.")
    else:
        console.print(f"Upgraded {store_uri} from {before.current} to {after.current}.")
