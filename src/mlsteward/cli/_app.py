"""The root ``steward`` command: global options, command groups, error handling."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import typer
from rich.markup import escape

from mlsteward._version import __version__
from mlsteward.cli import (
    _audit,
    _charter,
    _config,
    _data,
    _db,
    _deploy,
    _drift,
    _evaluate,
    _log,
    _models,
    _monitor,
    _package,
    _predict,
    _projects,
    _rollout,
    _runs,
    _serve,
    _tune,
)
from mlsteward.cli._common import STATE, console, err_console
from mlsteward.core import StewardError, load_config

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="steward",
    help="Steward: the whole ML model lifecycle in one system, with one history.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"steward {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    uri: str | None = typer.Option(
        None, "--uri", help="Metadata store URI (default: STEWARD_URI or .steward/steward.db)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    STATE.uri = uri
    STATE.debug = debug


@app.command("init")
def init() -> None:
    """Create the store (metadata database and artifact directory) if it does not exist."""
    client = STATE.client()
    state = client.store.schema()
    console.print(
        f"Store ready: {client.store.display_uri} (schema {state.current}); "
        f"artifacts: {client.store.artifacts.uri}"
    )


@app.command("demo")
def demo(
    directory: Path = typer.Option(
        Path("steward-demo"), "--dir", help="Where the demo's fresh store goes (recreated)."
    ),
) -> None:
    """Run the lifecycle on bundled real data in a fresh store."""
    from mlsteward.demo import run_demo

    run_demo(directory, console)


app.add_typer(_projects.app, name="projects")
app.add_typer(_audit.app, name="audit")
app.add_typer(_db.app, name="db")
app.add_typer(_config.app, name="config")
# stage command groups: each lifecycle stage adds its add_typer line below
app.add_typer(_charter.app, name="charter")
app.add_typer(_data.app, name="data")
app.add_typer(_runs.app, name="runs")
app.add_typer(_runs.experiments_app, name="experiments")
app.command("tune")(_tune.tune)
app.add_typer(_models.app, name="models")
app.add_typer(_package.app, name="package")
app.add_typer(_evaluate.app, name="evaluate")
app.command("deploy")(_deploy.deploy)
app.add_typer(_deploy.endpoints_app, name="endpoints")
app.command("serve")(_serve.serve)
app.add_typer(_rollout.app, name="rollout")
app.command("predict")(_predict.predict)
app.add_typer(_monitor.app, name="monitor")
app.command("drift")(_drift.drift)
app.add_typer(_log.app, name="log")


def _debug_setting() -> bool:
    """STEWARD_DEBUG or ``debug`` in steward.toml (``--debug`` is read by the root callback)."""
    try:
        return load_config().debug
    except StewardError:
        return False


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv``; return the exit code instead of exiting."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        code = app(args=args, prog_name="steward", standalone_mode=False)
        # without standalone mode, click returns (not raises) the code of a typer.Exit
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err_console.print("Aborted.")
        return 130
    except StewardError as exc:
        if STATE.debug or _debug_setting():
            err_console.print(traceback.format_exc(), markup=False)
        err_console.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        return 130
    except Exception as exc:
        # usage errors (bad option, missing argument) from Typer's parser
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show(file=sys.stderr)
            return code
        raise
    finally:
        STATE.reset()


def main() -> None:
    """Console entry point."""
    sys.exit(run())
