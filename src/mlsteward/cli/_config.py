"""steward config show"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from mlsteward.cli._common import STATE, console, print_json
from mlsteward.core import SETTINGS, load_config

app = typer.Typer(help="Settings and where their values come from.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show every setting, its value and its source."""
    config = load_config({"uri": STATE.uri})
    values = {
        "home": str(config.home),
        "uri": config.uri,
        "artifacts": config.artifacts,
        "artifacts_options": config.artifacts_options,
        "actor": config.actor,
        "debug": config.debug,
        "run_heartbeat_seconds": config.run_heartbeat_seconds,
        "run_stale_seconds": config.run_stale_seconds,
    }
    if as_json:
        print_json({k: {"value": values[k], "source": config.sources[k]} for k in SETTINGS})
        return
    table = Table("setting", "env var", "value", "source", "meaning")
    for name, setting in SETTINGS.items():
        table.add_row(
            name,
            setting.env_var,
            escape(str(values[name])),
            config.sources[name],
            escape(setting.help),
        )
    console.print(table)
