"""Helpers of the monitoring tests: prediction logs in the serving package's layout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_log(
    root: Path,
    endpoint: str,
    *,
    times: Sequence[datetime],
    inputs: Mapping[str, Sequence[Any]],
    scores: Sequence[float],
    ids: Sequence[str] | None = None,
    model: str = "m",
    version: int = 1,
    shadow: Sequence[bool] | None = None,
    status: Sequence[str] | None = None,
    threshold: float = 0.5,
    latency: Sequence[float] | None = None,
    probabilities: Sequence[Sequence[float]] | None = None,
    predictions: Sequence[Any] | None = None,
) -> list[str]:
    """Write log rows as the serving package does (``predictions/endpoint=E/date=D/``,
    schema version 1); return the request ids. A binary model's probabilities and
    predictions follow from ``scores``; give ``probabilities`` (one row per request, one
    column per class) and ``predictions`` for a multiclass one."""
    n = len(times)
    ids = [f"r{i:07d}" for i in range(n)] if ids is None else list(ids)
    score = np.asarray(scores, dtype=float)
    table = pa.table(
        {
            "request_id": pa.array(ids, pa.string()),
            "time": pa.array(list(times), pa.timestamp("us", tz="UTC")),
            "endpoint": pa.array([endpoint] * n),
            "project": pa.array(["p"] * n),
            "model": pa.array([model] * n),
            "model_version": pa.array([version] * n, pa.int32()),
            "shadow": pa.array(list(shadow) if shadow is not None else [False] * n),
            "status": pa.array(list(status) if status is not None else ["ok"] * n),
            "error": pa.array([None] * n, pa.string()),
            "latency_ms": pa.array(
                list(latency) if latency is not None else np.full(n, 3.0), pa.float64()
            ),
            "prediction": pa.array(
                (score >= threshold).astype(np.int64) if predictions is None else list(predictions)
            ),
            "score": pa.array(score),
            "probabilities": pa.array(
                [[1 - s, s] for s in score]
                if probabilities is None
                else [list(map(float, row)) for row in probabilities],
                pa.list_(pa.float64()),
            ),
            "inputs": pa.StructArray.from_arrays(
                [pa.array(list(v)) for v in inputs.values()], names=list(inputs)
            ),
            "raw": pa.array([None] * n, pa.string()),
        }
    )
    days = np.array([t.date().isoformat() for t in times])
    for day in np.unique(days):
        directory = root / "predictions" / f"endpoint={endpoint}" / f"date={day}"
        directory.mkdir(parents=True, exist_ok=True)
        count = len(list(directory.glob("part-*.parquet")))
        pq.write_table(table.filter(pa.array(days == day)), directory / f"part-{count:04d}.parquet")
    return ids


def write_labels(root: Path, endpoint: str, ids: Sequence[str], labels: Sequence[int]) -> None:
    """Feedback through the serving package's writer."""
    from mlsteward.serving import LabelSpec, write_feedback

    write_feedback(root, endpoint, list(ids), list(labels), LabelSpec((0, 1)))


def spread(start: datetime, days: float, n: int, seed: int = 0) -> list[datetime]:
    """``n`` sorted times over ``days`` days from ``start``."""
    offsets = np.sort(np.random.default_rng(seed).uniform(0, days * 86400, n))
    return [start + timedelta(seconds=float(s)) for s in offsets]


START = datetime(2016, 1, 1, tzinfo=UTC)
