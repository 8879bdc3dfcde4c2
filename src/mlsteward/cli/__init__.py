"""The ``steward`` command line (Typer + rich). One module per command group."""

from mlsteward.cli._app import app, main, run

__all__ = ["app", "main", "run"]
