"""Operations of a window: volume, latency percentiles, error rate, cost per 1,000.

A request *failed* (an error) when its logged status is neither empty, ``rejected`` nor
one of ``ok``, ``success``, ``succeeded`` or a 2xx HTTP code; a *rejected* request (bad
input refused by the server's signature check, HTTP 422) is counted apart: it is a
data-quality problem of the caller, not a failure of the model, and does not count in
the error rate the charter's ``max_error_rate`` judges. The cost of 1,000 predictions is the
serving cost of the window's duration (``cost_per_hour``, in the charter's currency:
what the endpoint's replicas cost per hour) divided by its volume, times 1,000; it is
judged against the charter's ``constraints.max_cost_per_1k``. Without a cost per hour it
is not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["OperationsReport", "error_mask", "operations", "rejected_mask"]

_SUCCESS: Final = ("", "ok", "success", "succeeded", "true")
_REJECTED: Final = ("rejected", "invalid", "422")


@dataclass(frozen=True)
class OperationsReport:
    volume: int
    errors: int
    rejected: int
    duration_s: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    cost_per_1k: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.volume if self.volume else 0.0

    @property
    def rejected_rate(self) -> float:
        return self.rejected / self.volume if self.volume else 0.0

    @property
    def throughput(self) -> float:
        """Predictions per second over the window."""
        return self.volume / self.duration_s if self.duration_s > 0 else math.nan

    def measurements(self) -> dict[str, float]:
        """The values the charter's operational gates judge (only those measured)."""
        out: dict[str, float] = {"error_rate": self.error_rate}
        if self.latency_p95_ms is not None:
            out["latency_p95_ms"] = self.latency_p95_ms
        if self.latency_p99_ms is not None:
            out["latency_p99_ms"] = self.latency_p99_ms
        if self.cost_per_1k is not None:
            out["cost_per_1k"] = self.cost_per_1k
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "volume": self.volume,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "rejected": self.rejected,
            "rejected_rate": self.rejected_rate,
            "duration_s": self.duration_s,
            "throughput_per_s": None if math.isnan(self.throughput) else self.throughput,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "cost_per_1k": self.cost_per_1k,
        }


def _status_text(status: pa.ChunkedArray | pa.Array) -> Any:
    return pc.fill_null(pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(status, pa.string()))), "")


def rejected_mask(status: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True where a request was rejected for bad input."""
    hit = pc.is_in(_status_text(status), value_set=pa.array(_REJECTED))
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def error_mask(status: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True where a request was not answered: failed or rejected (see the module docstring)."""
    text = _status_text(status)
    ok = pc.or_(
        pc.is_in(text, value_set=pa.array(_SUCCESS)), pc.match_substring_regex(text, r"^2\d\d$")
    )
    return ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)


def operations(
    table: pa.Table, duration_s: float, *, cost_per_hour: float | None = None
) -> OperationsReport:
    """Operations of the rows of a window lasting ``duration_s`` seconds."""
    volume = table.num_rows
    failed = error_mask(table.column("status")) if volume else np.zeros(0, dtype=bool)
    refused = rejected_mask(table.column("status")) if volume else np.zeros(0, dtype=bool)
    errors, rejected = int((failed & ~refused).sum()), int(refused.sum())
    latency = np.asarray(
        table.column("latency_ms").to_numpy(zero_copy_only=False), dtype=np.float64
    )
    latency = latency[np.isfinite(latency)]
    if latency.size:
        p50, p95, p99 = (float(v) for v in np.quantile(latency, [0.5, 0.95, 0.99]))
        quantiles: tuple[float | None, float | None, float | None] = (p50, p95, p99)
    else:
        quantiles = (None, None, None)
    cost = None
    if cost_per_hour is not None and volume:
        cost = cost_per_hour * duration_s / 3600 / volume * 1000
    return OperationsReport(volume, errors, rejected, duration_s, *quantiles, cost)
