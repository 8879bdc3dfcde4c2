"""Operational metrics of a model server in the Prometheus text format (``/metrics``).

Per endpoint and model version: requests and rows by outcome (``ok``, ``error``,
``rejected``; shadow copies counted apart), and a latency histogram; per process: the
prediction log's written, dropped and queued rows. Updated on the event loop only (no
locks, no I/O).

A :class:`MetricsSnapshot` is a copy of those numbers that can be encoded to JSON, read
back and added to others: the workers of ``steward serve --workers N`` publish theirs
(``_workermetrics``) and ``/metrics`` renders their sum, so no series carries a
``worker`` label and ``sum(rate(...))`` over the server is right.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

__all__ = ["LATENCY_BUCKETS_MS", "MetricsSnapshot", "ServerMetrics", "merge", "render"]

LATENCY_BUCKETS_MS: Final = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0)

_Key = tuple[str, str, str, str]  # endpoint, model version, status, shadow ("true"/"false")


@dataclass
class _Histogram:
    """Counts per bucket (not cumulative; the last one is above every bound)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value_ms: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_MS, value_ms)] += 1
        self.total += value_ms
        self.count += 1

    def copy(self) -> _Histogram:
        return _Histogram(list(self.counts), self.total, self.count)

    def add(self, other: _Histogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total
        self.count += other.count


@dataclass
class MetricsSnapshot:
    """The numbers of one process (or the sum of several) at one moment."""

    requests: dict[_Key, int] = field(default_factory=dict)
    rows: dict[_Key, int] = field(default_factory=dict)
    latency: dict[tuple[str, str], _Histogram] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)

    def add(self, other: MetricsSnapshot) -> None:
        """Add ``other`` to this snapshot, series by series."""
        for key, value in other.requests.items():
            self.requests[key] = self.requests.get(key, 0) + value
        for key, value in other.rows.items():
            self.rows[key] = self.rows.get(key, 0) + value
        for pair, histogram in other.latency.items():
            mine = self.latency.get(pair)
            if mine is None:
                self.latency[pair] = histogram.copy()
            else:
                mine.add(histogram)
        for name, number in other.gauges.items():
            self.gauges[name] = self.gauges.get(name, 0.0) + number

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": [[*key, value] for key, value in self.requests.items()],
            "rows": [[*key, value] for key, value in self.rows.items()],
            "latency": [[e, m, h.counts, h.total, h.count] for (e, m), h in self.latency.items()],
            "gauges": self.gauges,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricsSnapshot:
        """The snapshot ``to_dict`` gave; ValueError when ``data`` is not one."""
        try:
            snapshot = cls(
                {_key(k): int(v) for *k, v in data["requests"]},
                {_key(k): int(v) for *k, v in data["rows"]},
                {},
                {str(name): float(v) for name, v in data["gauges"].items()},
            )
            for endpoint, model, counts, total, count in data["latency"]:
                counts = [int(c) for c in counts]
                if len(counts) != len(LATENCY_BUCKETS_MS) + 1 or sum(counts) != int(count):
                    raise ValueError(f"histogram of {endpoint}/{model} does not add up")
                snapshot.latency[(str(endpoint), str(model))] = _Histogram(
                    counts, float(total), int(count)
                )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a metrics snapshot: {type(exc).__name__}: {exc}") from exc
        return snapshot

    def encode(self) -> bytes:
        return orjson.dumps(self.to_dict())


def _key(parts: list[Any]) -> _Key:
    endpoint, model, status, shadow = (str(p) for p in parts)
    return endpoint, model, status, shadow


def merge(snapshots: Iterable[MetricsSnapshot]) -> MetricsSnapshot:
    """The sum of ``snapshots`` (a new snapshot; the inputs are left as they are)."""
    total = MetricsSnapshot()
    for snapshot in snapshots:
        total.add(snapshot)
    return total


class ServerMetrics:
    """Counters and histograms of one server process."""

    def __init__(self) -> None:
        self.requests: dict[_Key, int] = {}
        self.rows: dict[_Key, int] = {}
        self.latency: dict[tuple[str, str], _Histogram] = {}
        self.gauges: dict[str, Callable[[], float]] = {}
        self.worker = str(os.getpid())

    def observe(
        self,
        endpoint: str,
        model: str,
        status: str,
        rows: int,
        latency_ms: float,
        *,
        shadow: bool = False,
    ) -> None:
        key = (endpoint, model, status, "true" if shadow else "false")
        self.requests[key] = self.requests.get(key, 0) + 1
        self.rows[key] = self.rows.get(key, 0) + rows
        if not shadow:
            histogram = self.latency.get((endpoint, model))
            if histogram is None:
                histogram = self.latency[(endpoint, model)] = _Histogram()
            histogram.observe(latency_ms)

    def snapshot(self) -> MetricsSnapshot:
        """A copy of the numbers now (call it on the event loop that updates them)."""
        return MetricsSnapshot(
            dict(self.requests),
            dict(self.rows),
            {pair: h.copy() for pair, h in self.latency.items()},
            {name: float(read()) for name, read in self.gauges.items()},
        )

    def render(self) -> str:
        """This process's numbers in the Prometheus text format."""
        return render(self.snapshot())


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """A whole number as digits (``:g`` would print 1234567 as 1.23457e+06)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(snapshot: MetricsSnapshot, workers: Mapping[str, bool] | None = None) -> str:
    """``snapshot`` in the Prometheus text format; with ``workers`` (process id: running),
    a ``steward_worker_up`` gauge per worker whose numbers the snapshot sums."""
    lines: list[str] = []
    for name, help_text, counts in (
        (
            "steward_requests_total",
            "Prediction requests by endpoint, model version and outcome.",
            snapshot.requests,
        ),
        ("steward_rows_total", "Rows predicted (a request may carry many).", snapshot.rows),
    ):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        for (endpoint, model, status, shadow), value in sorted(counts.items()):
            lines.append(
                f'{name}{{endpoint="{_label(endpoint)}",model="{_label(model)}",'
                f'status="{status}",shadow="{shadow}"}} {value}'
            )
    lines += [
        "# HELP steward_errors_total Requests the model failed to answer (HTTP 500).",
        "# TYPE steward_errors_total counter",
    ]
    for (endpoint, model, status, shadow), value in sorted(snapshot.requests.items()):
        if status == "error":
            lines.append(
                f'steward_errors_total{{endpoint="{_label(endpoint)}",'
                f'model="{_label(model)}",shadow="{shadow}"}} {value}'
            )
    lines += [
        "# HELP steward_request_latency_ms Server-side latency of answered requests.",
        "# TYPE steward_request_latency_ms histogram",
    ]
    for (endpoint, model), histogram in sorted(snapshot.latency.items()):
        base = f'endpoint="{_label(endpoint)}",model="{_label(model)}"'
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS_MS, histogram.counts, strict=False):
            cumulative += count
            lines.append(f'steward_request_latency_ms_bucket{{{base},le="{bound:g}"}} {cumulative}')
        lines.append(f'steward_request_latency_ms_bucket{{{base},le="+Inf"}} {histogram.count}')
        lines.append(f"steward_request_latency_ms_sum{{{base}}} {histogram.total:.6f}")
        lines.append(f"steward_request_latency_ms_count{{{base}}} {histogram.count}")
    for name, number in sorted(snapshot.gauges.items()):
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name} {_number(number)}")
    if workers is not None:
        lines += [
            "# HELP steward_worker_up Worker processes summed above: 1 running, 0 gone "
            "(its last published numbers stay in the sums).",
            "# TYPE steward_worker_up gauge",
        ]
        for worker, up in sorted(workers.items(), key=lambda item: (len(item[0]), item[0])):
            lines.append(f'steward_worker_up{{worker="{_label(worker)}"}} {int(up)}')
    return "\n".join(lines) + "\n"
