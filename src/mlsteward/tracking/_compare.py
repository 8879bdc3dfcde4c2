"""Compare runs side by side, and read or export metric histories."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlsteward.core import InvalidInput, NotFound
from mlsteward.store import Store
from mlsteward.store.metadata import SqlRunRepository
from mlsteward.tracking._records import MetricPoint, Run, from_millis
from mlsteward.tracking._service import get_run, resolve_run

__all__ = ["RunComparison", "compare_runs", "export_metric_history", "metric_history"]


@dataclass(frozen=True)
class RunComparison:
    """Runs side by side: for each param and metric key, one value per run (None when a
    run lacks it). ``params`` and ``metrics`` hold the differing keys (all keys when
    compared with ``all=True``); ``same_params`` the params equal in every run."""

    runs: tuple[Run, ...]
    params: dict[str, tuple[str | None, ...]]
    metrics: dict[str, tuple[float | None, ...]]
    same_params: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        def clean(v: float | None) -> float | str | None:
            return v if v is None or math.isfinite(v) else str(v)

        return {
            "runs": [{"id": r.id, "name": r.name, "status": r.status} for r in self.runs],
            "params": {k: list(v) for k, v in self.params.items()},
            "metrics": {k: [clean(x) for x in v] for k, v in self.metrics.items()},
            "same_params": dict(self.same_params),
        }


def _same(values: Sequence[Any]) -> bool:
    first = values[0]
    for v in values[1:]:
        if isinstance(v, float) and isinstance(first, float):
            if not (v == first or (math.isnan(v) and math.isnan(first))):
                return False
        elif v != first:
            return False
    return True


def compare_runs(store: Store, refs: Sequence[str], *, all: bool = False) -> RunComparison:
    """Compare two or more runs (ids or id prefixes)."""
    if len(refs) < 2:
        raise InvalidInput(
            f"Comparing needs at least two runs; got {len(refs)}. "
            "Pass the ids (or id prefixes) of the runs to compare."
        )
    runs = tuple(get_run(store, ref) for ref in refs)
    param_keys = sorted({k for r in runs for k in r.params})
    metric_keys = sorted({k for r in runs for k in r.metrics})
    params: dict[str, tuple[str | None, ...]] = {}
    same: dict[str, str] = {}
    for key in param_keys:
        values = tuple(r.params.get(key) for r in runs)
        if _same(values) and values[0] is not None:
            same[key] = values[0]
            if not all:
                continue
        params[key] = values
    metrics: dict[str, tuple[float | None, ...]] = {}
    for key in metric_keys:
        mvalues = tuple(r.metrics.get(key) for r in runs)
        if all or not _same(mvalues):
            metrics[key] = mvalues
    return RunComparison(runs, params, metrics, same)


def metric_history(store: Store, run: str, key: str) -> list[MetricPoint]:
    """Every point of metric ``key`` of a run, by step then time."""
    with store.reader() as session:
        row = resolve_run(session, run)
        points = SqlRunRepository(session).metric_history(row.id, key)
        if not points:
            keys = sorted(SqlRunRepository(session).latest_metrics([row.id]).get(row.id, {}))
            raise NotFound(
                f"Run {row.id} has no metric {key!r}."
                + (f" Its metrics: {', '.join(keys[:20])}." if keys else " It logged no metric.")
            )
        return [
            MetricPoint(
                p.key,
                float("nan") if p.value is None else p.value,
                p.step,
                from_millis(p.timestamp),
            )
            for p in points
        ]


def export_metric_history(
    store: Store, run: str, keys: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """Write the history of metrics ``keys`` of a run to CSV or Parquet (by suffix).

    Columns: run_id, key, step, value, timestamp (UTC).
    """
    import pyarrow as pa

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise InvalidInput(
            f"Cannot export to {target}: the file name must end in .csv or .parquet."
        )
    if not keys:
        raise InvalidInput("Name at least one metric to export (--metric KEY).")
    with store.reader() as session:
        run_id = resolve_run(session, run).id
    columns: dict[str, list[Any]] = {k: [] for k in ("run_id", "key", "step", "value", "timestamp")}
    for key in keys:
        for point in metric_history(store, run_id, key):
            columns["run_id"].append(run_id)
            columns["key"].append(point.key)
            columns["step"].append(point.step)
            columns["value"].append(point.value)
            columns["timestamp"].append(point.timestamp)
    table = pa.table(
        {
            "run_id": pa.array(columns["run_id"], pa.string()),
            "key": pa.array(columns["key"], pa.string()),
            "step": pa.array(columns["step"], pa.int64()),
            "value": pa.array(columns["value"], pa.float64()),
            "timestamp": pa.array(columns["timestamp"], pa.timestamp("ms", tz="UTC")),
        }
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, target)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, target)
    return target
