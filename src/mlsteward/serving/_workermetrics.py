"""One ``/metrics`` for all the workers of ``steward serve --workers N``.

A scrape reaches one worker at random; to answer for the whole server, every worker
publishes its numbers to a directory shared by the workers of one ``serve()`` run (a fresh
temporary directory, removed when the server stops) and the worker that answers a
scrape adds the others' latest numbers to its own::

    <dir>/worker-<pid>-<token>.json    {"format": 1, "worker": "<pid>", "final": false,
                                        "metrics": <MetricsSnapshot.to_dict()>}

- A worker writes its file every ``interval`` seconds (when its numbers changed), when it
  answers a scrape and when it stops (``final``). Writes are atomic (a temporary name in
  the same directory, then a rename), so a reader sees a whole file, old or new, never a
  part. Snapshots are taken on the event loop (which alone updates the counters) and
  written by a thread, so a slow disk never holds up a request.
- **Counters never go backwards.** The answering worker first writes its own snapshot and
  then sums exactly that snapshot with the files of the others; every file only grows, so
  a later scrape, whichever worker answers it, sums numbers at least as large.
- **Staleness.** The answering worker's own numbers are current; the others' are at most
  ``interval`` (plus one write) old.
- A worker that stopped, or died, keeps its last file: its counts stay in the sums
  (a restarted worker gets a new file). Gauges are summed too: a dead worker's queued log
  rows stay at their last value. ``steward_worker_up{worker=pid}`` says which workers run.

The token in the file name keeps a reused process id from overwriting the counts of the
worker that had it before.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from mlsteward.serving._metrics import MetricsSnapshot, ServerMetrics, merge, render

__all__ = ["FORMAT", "WorkerMetrics", "WorkerSnapshot", "read_snapshots"]

FORMAT: Final = 1
PREFIX: Final = "worker-"
SUFFIX: Final = ".json"

logger = logging.getLogger("mlsteward.serving")


@dataclass(frozen=True)
class WorkerSnapshot:
    """The numbers one worker published last."""

    worker: str
    final: bool
    metrics: MetricsSnapshot

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "format": FORMAT,
                "worker": self.worker,
                "final": self.final,
                "metrics": self.metrics.to_dict(),
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> WorkerSnapshot:
        """The snapshot ``encode`` gave; ValueError for anything else."""
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"not a worker snapshot of format {FORMAT}")
        metrics = MetricsSnapshot.from_dict(document.get("metrics") or {})
        return cls(str(document.get("worker")), bool(document.get("final")), metrics)

    @property
    def running(self) -> bool:
        """Whether the worker is still running (not stopped, and its process exists)."""
        return not self.final and _alive(self.worker)


def _alive(worker: str) -> bool:
    try:
        os.kill(int(worker), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True  # a process we may not signal exists; a strange name: assume running
    return True


def _snapshot_files(directory: Path, exclude: str | None = None) -> Iterator[Path]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in sorted(names):
        if name.startswith(PREFIX) and name.endswith(SUFFIX) and name != exclude:
            yield directory / name


def read_snapshots(directory: Path, exclude: str | None = None) -> list[WorkerSnapshot]:
    """The snapshots in ``directory`` (but the file named ``exclude``); a file that cannot
    be read is skipped with a warning (writes are atomic: only a foreign file can be)."""
    found = []
    for path in _snapshot_files(directory, exclude):
        try:
            found.append(WorkerSnapshot.decode(path.read_bytes()))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            logger.warning("Skipping metrics snapshot %s: %s", path, exc)
    return found


class WorkerMetrics:
    """This worker's side of the shared directory (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        metrics: ServerMetrics,
        *,
        interval: float = 1.0,
        worker: str | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"The metrics interval must be > 0 seconds, got {interval}.")
        self.directory = directory
        self.metrics = metrics
        self.interval = interval
        self.worker = str(os.getpid()) if worker is None else worker  # tests name workers
        self.name = f"{PREFIX}{self.worker}-{os.urandom(4).hex()}{SUFFIX}"
        self.path = directory / self.name
        self._temporary = directory / f".{self.name}.tmp"
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        self._written = 0  # the sequence number of the snapshot in the file
        self._content = b""

    def write(self, sequence: int, data: bytes) -> None:
        """Put ``data`` in place atomically, unless a later snapshot is there already
        (writes run in threads: they may finish out of order, the file never goes back)."""
        with self._lock:
            if sequence <= self._written:
                return
            if data != self._content:
                with open(self._temporary, "wb") as file:
                    file.write(data)
                os.replace(self._temporary, self.path)
                self._content = data
            self._written = sequence

    async def publish(self, *, final: bool = False) -> MetricsSnapshot:
        """Take this worker's snapshot (on the loop), write it (in a thread), return it."""
        snapshot = self.metrics.snapshot()
        sequence = next(self._sequence)
        data = WorkerSnapshot(self.worker, final, snapshot).encode()
        await asyncio.get_running_loop().run_in_executor(None, self.write, sequence, data)
        return snapshot

    async def run(self) -> None:
        """Publish every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.publish()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a full or vanished disk must not stop the server
                logger.warning("Cannot publish this worker's metrics to %s: %s", self.path, exc)
            await asyncio.sleep(self.interval)

    async def render(self) -> str:
        """``/metrics`` for the whole server: this worker's numbers plus the others'."""
        try:
            mine = await self.publish()
        except OSError as exc:  # still answer: the sums may lag until the disk is back
            logger.warning("Cannot publish this worker's metrics to %s: %s", self.path, exc)
            mine = self.metrics.snapshot()
        loop = asyncio.get_running_loop()
        others = await loop.run_in_executor(None, read_snapshots, self.directory, self.name)
        workers: dict[str, bool] = {}
        for other in others:
            workers[other.worker] = workers.get(other.worker, False) or other.running
        workers[self.worker] = True
        return render(merge([mine, *(other.metrics for other in others)]), workers)

    async def close(self) -> None:
        """Publish the final snapshot (after the log was flushed, so nothing is queued)."""
        with contextlib.suppress(OSError):
            await self.publish(final=True)
