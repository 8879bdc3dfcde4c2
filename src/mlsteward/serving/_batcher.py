"""Micro-batching: concurrent requests to one model version share one model call.

Requests for a model join a pending list; while no call is running, the first request
starts one at the next turn of the event loop with everything pending then (up to
``max_rows`` rows); requests that arrive while a call runs wait for the next one. There is
no timer: an idle server answers at once, a busy one batches as deep as its load, which
is where the per-call overhead of scikit-learn (input checks, thread pools: about a
millisecond per call whatever the rows) is shared.

The model runs in a thread of its own (one per model version), so that the event loop
keeps parsing and answering while it computes. When a batch fails, each request of it is
retried alone, so that one request the model cannot take fails alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping
from typing import Any

from mlsteward.serving._models import Outputs, ServedModel, merge_columns

__all__ = ["Batcher"]

_Item = tuple[Mapping[str, list[Any]], int, "asyncio.Future[Outputs]"]


class Batcher:
    """Batches the requests of one :class:`ServedModel` (see the module docstring)."""

    def __init__(self, model: ServedModel, *, max_rows: int = 512) -> None:
        self.model = model
        self.max_rows = max_rows
        self._pending: list[_Item] = []
        self._busy = False
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"steward-model-{model.key}"
        )
        self.calls = 0
        self.rows = 0

    def submit(self, columns: Mapping[str, list[Any]], n: int) -> asyncio.Future[Outputs]:
        """The outputs of ``n`` rows, once their batch has run."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outputs] = loop.create_future()
        self._pending.append((columns, n, future))
        if not self._busy:
            self._busy = True
            loop.call_soon(self._launch, loop)
        return future

    def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[_Item] = []
        rows = 0
        while self._pending and (not batch or rows + self._pending[0][1] <= self.max_rows):
            item = self._pending.pop(0)
            batch.append(item)
            rows += item[1]
        if not batch:
            self._busy = False
            return
        work = self._executor.submit(self._run, batch)
        work.add_done_callback(
            lambda done: loop.call_soon_threadsafe(self._finish, loop, batch, done)
        )

    def _run(self, batch: list[_Item]) -> list[Outputs | BaseException]:
        self.calls += 1
        self.rows += sum(n for _, n, _ in batch)
        if len(batch) == 1:
            try:
                return [self.model.predict_columns(batch[0][0])]
            except Exception as exc:
                return [exc]
        try:
            merged = merge_columns([columns for columns, _, _ in batch], self.model.validator.names)
            outputs = self.model.predict_columns(merged)
        except Exception:
            results: list[Outputs | BaseException] = []
            for columns, _, _ in batch:
                try:
                    results.append(self.model.predict_columns(columns))
                except Exception as exc:
                    results.append(exc)
            return results
        out: list[Outputs | BaseException] = []
        start = 0
        for _, n, _ in batch:
            out.append(outputs.slice(start, start + n))
            start += n
        return out

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Item],
        done: concurrent.futures.Future[list[Outputs | BaseException]],
    ) -> None:
        try:
            results = done.result()
        except BaseException as exc:  # pragma: no cover - _run catches what models raise
            results = [exc] * len(batch)
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if self._pending:
            self._launch(loop)
        else:
            self._busy = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
