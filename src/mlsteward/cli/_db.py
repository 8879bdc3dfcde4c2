"""steward db status|upgrade"""

from __future__ import annotations

import typer

from mlsteward.cli._common import STATE, console, print_json
from mlsteward.core import load_config
from mlsteward.store import make_engine, schema_state, upgrade_store

app = typer.Typer(help="Metadata database schema.", no_args_is_help=True)


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the schema revision of the database and the one this Steward needs."""
    config = load_config({"uri": STATE.uri})
    engine = make_engine(config.uri)
    try:
        with engine.connect() as connection:
            state = schema_state(connection)
    finally:
        engine.dispose()
    data = {
        "uri": config.uri,
        "current": state.current,
        "head": state.head,
        "up_to_date": state.up_to_date,
    }
    if as_json:
        print_json(data)
    else:
        word = "up to date" if state.up_to_date else "needs: steward db upgrade"
        console.print(
            f"{config.uri}: revision {state.current} (this Steward: {state.head}) - {word}"
        )


@app.command("upgrade")
def upgrade(
    revision: str = typer.Option("head", "--revision", help="Target revision (default: head)."),
) -> None:
    """Upgrade the metadata database to this Steward's schema."""
    config = load_config({"uri": STATE.uri})
    before, after = upgrade_store(config.uri, revision)
    if before.current == after.current:
        console.print(f"Already at revision {after.current}; nothing to do.")
    else:
        console.print(f"Upgraded {config.uri} from {before.current} to {after.current}.")
