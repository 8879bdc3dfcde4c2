"""Reading a day's window of the prediction log before and after compaction.

Run from the repository root::

    .venv/bin/python bench/log_compaction.py                      # 5 days x 2,000 segments
    .venv/bin/python bench/log_compaction.py --segments 200 --repeats 3   # a quick look

What it does, in one run on one machine (no peers):

1. writes a fresh log under ``bench/work/log_compaction``: ``--days`` past days of
   ``--segments`` segments of ``--rows`` rows each, in the serving layout and schema
   (``write_segment``, as ``steward serve`` writes them: one segment per flush);
2. times, ``--repeats`` times (median), opening ``LogReader.for_endpoint`` (it lists and
   describes the whole log) and reading one day's window with ``LogReader.read`` (the
   monitor's read: that day's rows with their labels);
3. compacts the log (``compact_log``, timed) and times the same two things again;
4. prints the ratios and writes ``bench/results/log_compaction.json`` and ``.md`` with the
   command, the machine (``os.cpu_count()``, ``uptime``) and the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work" / "log_compaction"
RESULTS = ROOT / "results"
ENDPOINT = "bench"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def write_log(root: Path, days: list[date], segments: int, rows: int) -> int:
    """The log: a template table in the server's schema, with fresh ids and times for
    each segment (times spread over the day, segments interleaved as flushes are)."""
    import numpy as np
    import pyarrow as pa

    from mlsteward.serving._segments import PREDICTIONS, write_segment

    rng = np.random.default_rng(0)
    score = rng.uniform(size=rows)
    template = pa.table(
        {
            "request_id": pa.array([""] * rows),
            "time": pa.array(np.zeros(rows, dtype=np.int64)).cast(pa.timestamp("us", tz="UTC")),
            "endpoint": pa.array([ENDPOINT] * rows),
            "project": pa.array(["bench"] * rows),
            "model": pa.array(["m"] * rows),
            "model_version": pa.array([1] * rows, pa.int32()),
            "shadow": pa.array([False] * rows),
            "status": pa.array(["ok"] * rows),
            "error": pa.array([None] * rows, pa.string()),
            "latency_ms": pa.array(rng.uniform(1, 5, rows)),
            "prediction": pa.array((score > 0.5).astype(np.int64)),
            "score": pa.array(score),
            "probabilities": pa.array([[1 - s, s] for s in score], pa.list_(pa.float64())),
            "inputs": pa.StructArray.from_arrays(
                [
                    pa.array(rng.integers(18, 90, rows).astype(float)),
                    pa.array(rng.integers(1, 3, rows).astype(str)),
                    pa.array(rng.normal(size=rows)),
                ],
                names=["age", "sex", "income"],
            ),
            "raw": pa.array([None] * rows, pa.string()),
        }
    ).replace_schema_metadata({"mlsteward.predictions": "1"})
    step_us = 86_400_000_000 // segments
    written = 0
    for s in range(segments):
        for day in days:
            start_us = int(_midnight(day).timestamp() * 1e6) + s * step_us
            times = np.sort(start_us + rng.integers(0, step_us, rows))
            table = template.set_column(
                1, "time", pa.array(times).cast(pa.timestamp("us", tz="UTC"))
            ).set_column(0, "request_id", pa.array([f"{day}-{s}-{i}" for i in range(rows)]))
            write_segment(root, PREDICTIONS, ENDPOINT, day, table, fsync=False)
            written += rows
    return written


def median_seconds(action: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure(root: Path, day: date, repeats: int) -> dict[str, Any]:
    """Median seconds to open the reader, and to read one day's window with it (each read
    lists the day's segments again, as a monitor's read does)."""
    from mlsteward.monitoring import LogReader

    def open_reader() -> None:
        LogReader.for_endpoint(root, ENDPOINT).close()

    opened, _ = median_seconds(open_reader, repeats)
    with LogReader.for_endpoint(root, ENDPOINT) as reader:
        window, rows = median_seconds(
            lambda: reader.read(start=_midnight(day), end=_midnight(day + timedelta(days=1))),
            repeats,
        )
    files = sum(1 for _ in (root / "predictions").rglob("part-*.parquet"))
    return {
        "files": files,
        "open_seconds": round(opened, 4),
        "window_seconds": round(window, 4),
        "window_rows": rows.num_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--segments", type=int, default=2000, help="Segments per day.")
    parser.add_argument("--rows", type=int, default=50, help="Rows per segment.")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from mlsteward.serving import compact_log

    shutil.rmtree(WORK, ignore_errors=True)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=d) for d in range(args.days, 0, -1)]
    started = time.perf_counter()
    rows = write_log(WORK, days, args.segments, args.rows)
    wrote = time.perf_counter() - started
    window_day = days[len(days) // 2]
    print(f"wrote {rows:,} rows in {args.days * args.segments:,} segments ({wrote:.1f}s)")

    before = measure(WORK, window_day, args.repeats)
    print(f"before: {before}")
    started = time.perf_counter()
    report = compact_log(WORK, ENDPOINT)
    compaction = time.perf_counter() - started
    print(f"compacted {len(report.days)} days in {compaction:.1f}s")
    after = measure(WORK, window_day, args.repeats)
    print(f"after:  {after}")
    if after["window_rows"] != before["window_rows"]:
        raise SystemExit("The window lost or gained rows in the compaction: a bug.")
    window_ratio = before["window_seconds"] / after["window_seconds"]
    open_ratio = before["open_seconds"] / after["open_seconds"]
    print(f"one day's window: {window_ratio:.1f}x faster; opening the reader {open_ratio:.1f}x")

    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    command = shlex.join([".venv/bin/python", "bench/log_compaction.py", *sys.argv[1:]])
    totals = report.totals()
    result = {
        "command": command,
        "machine": {
            "cpu_count": os.cpu_count(),
            "uptime": uptime,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "log": {
            "days": args.days,
            "segments_per_day": args.segments,
            "rows_per_segment": args.rows,
            "rows": rows,
            "window_day": window_day.isoformat(),
        },
        "before": before,
        "after": after,
        "compaction": {
            "seconds": round(compaction, 2),
            "segments_before": totals["segments_before"],
            "segments_after": totals["segments_after"],
            "bytes_before": totals["bytes_before"],
            "bytes_after": totals["bytes_after"],
        },
        "window_speedup": round(window_ratio, 2),
        "open_speedup": round(open_ratio, 2),
        "repeats": args.repeats,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "log_compaction.json").write_text(json.dumps(result, indent=2) + "\n")
    mb = 1024 * 1024
    md = f"""# Log compaction: reading a day's window before and after

Command: `{command}` (from the repository root)

Machine: {os.cpu_count()} CPUs, `{uptime}`; Python {platform.python_version()}.

Log: {args.days} past days x {args.segments:,} segments x {args.rows} rows
({rows:,} rows, the serving schema with a 3-column `inputs` struct), written as
`steward serve` writes it. Medians of {args.repeats} runs.

| | files | open `LogReader` (s) | read one day's window (s) | window rows |
|---|---:|---:|---:|---:|
| before | {before["files"]:,} | {before["open_seconds"]:.3f} | {before["window_seconds"]:.3f} | {before["window_rows"]:,} |
| after | {after["files"]:,} | {after["open_seconds"]:.3f} | {after["window_seconds"]:.3f} | {after["window_rows"]:,} |
| ratio | | {open_ratio:.1f}x | {window_ratio:.1f}x | |

Compaction: {compaction:.1f} s for {totals["segments_before"]:,} segments ->
{totals["segments_after"]}, {totals["bytes_before"] / mb:.1f} MB ->
{(totals["bytes_after"] or 0) / mb:.1f} MB.
"""
    (RESULTS / "log_compaction.md").write_text(md)


if __name__ == "__main__":
    main()
