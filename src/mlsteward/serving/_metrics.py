"""Operational metrics of a model server in the Prometheus text format (``/metrics``).

Per endpoint and model version: requests and rows by outcome (``ok``, ``error``,
``rejected``; shadow copies counted apart), and a latency histogram; per process: the
prediction log's written, dropped and queued rows. Updated on the event loop only (no
locks); each worker process of ``steward serve --workers N`` reports its own numbers with
a ``worker`` label (its process id), as the Prometheus client does for multiprocess apps.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["LATENCY_BUCKETS_MS", "ServerMetrics"]

LATENCY_BUCKETS_MS: Final = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value_ms: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_MS, value_ms)] += 1
        self.total += value_ms
        self.count += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ServerMetrics:
    """Counters and histograms of one server process."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str], int] = {}
        self.rows: dict[tuple[str, str, str, str], int] = {}
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

    def render(self) -> str:
        worker = f'worker="{self.worker}"'
        lines = [
            "# HELP steward_requests_total Prediction requests by endpoint, model version and outcome.",
            "# TYPE steward_requests_total counter",
        ]
        for (endpoint, model, status, shadow), value in sorted(self.requests.items()):
            lines.append(
                f'steward_requests_total{{endpoint="{_label(endpoint)}",model="{_label(model)}",'
                f'status="{status}",shadow="{shadow}",{worker}}} {value}'
            )
        lines += [
            "# HELP steward_rows_total Rows predicted (a request may carry many).",
            "# TYPE steward_rows_total counter",
        ]
        for (endpoint, model, status, shadow), value in sorted(self.rows.items()):
            lines.append(
                f'steward_rows_total{{endpoint="{_label(endpoint)}",model="{_label(model)}",'
                f'status="{status}",shadow="{shadow}",{worker}}} {value}'
            )
        lines += [
            "# HELP steward_errors_total Requests the model failed to answer (HTTP 500).",
            "# TYPE steward_errors_total counter",
        ]
        for (endpoint, model, status, shadow), value in sorted(self.requests.items()):
            if status == "error":
                lines.append(
                    f'steward_errors_total{{endpoint="{_label(endpoint)}",'
                    f'model="{_label(model)}",shadow="{shadow}",{worker}}} {value}'
                )
        lines += [
            "# HELP steward_request_latency_ms Server-side latency of answered requests.",
            "# TYPE steward_request_latency_ms histogram",
        ]
        for (endpoint, model), histogram in sorted(self.latency.items()):
            base = f'endpoint="{_label(endpoint)}",model="{_label(model)}",{worker}'
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS_MS, histogram.counts, strict=False):
                cumulative += count
                lines.append(
                    f'steward_request_latency_ms_bucket{{{base},le="{bound:g}"}} {cumulative}'
                )
            lines.append(f'steward_request_latency_ms_bucket{{{base},le="+Inf"}} {histogram.count}')
            lines.append(f"steward_request_latency_ms_sum{{{base}}} {histogram.total:.6f}")
            lines.append(f"steward_request_latency_ms_count{{{base}}} {histogram.count}")
        for name, read in sorted(self.gauges.items()):
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name}{{{worker}}} {read():g}")
        return "\n".join(lines) + "\n"
