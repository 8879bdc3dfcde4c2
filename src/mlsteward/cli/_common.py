"""What every command shares: the console, the client of this invocation, output helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from mlsteward.client import Client
from mlsteward.core import load_config
from mlsteward.store import open_store

__all__ = ["STATE", "State", "console", "err_console", "print_json", "progress_bar"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    """Options given before the command (``steward --uri ... COMMAND``)."""

    uri: str | None = None
    debug: bool = False
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        """The client for this invocation, opening (and creating) the store on first use."""
        if self._client is None:
            config = load_config({"uri": self.uri})
            self._client = Client(open_store(config), config)
        return self._client

    def reset(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        self.uri = None
        self.debug = False


STATE = State()


def print_json(value: Any) -> None:
    """Machine-readable output: JSON on stdout, nothing else."""
    console.print_json(json.dumps(value, default=str, ensure_ascii=False), highlight=False)


@contextmanager
def progress_bar(
    description: str, *, disable: bool = False
) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar; yields the ``progress(done, total)`` callback that the
    stage functions with long work accept."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance
