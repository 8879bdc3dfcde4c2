"""Profile (and check) a 5,000,000 x 20 Parquet file: Steward against DuckDB's SUMMARIZE.

Run from the repository root::

    .venv/bin/python bench/profile_vs_duckdb.py            # 5,000,000 rows, 5 repeats
    .venv/bin/python bench/profile_vs_duckdb.py --rows 500000 --repeats 2   # a quick look

What it does, all in one run on one machine:

1. writes ``bench/work/profile_<rows>.parquet`` (12 numeric columns with 2-10 % missing,
   6 string categorical columns, an integer code and a unique string id) in chunks, unless
   the file is already there;
2. registers it once in a fresh store under ``bench/work/store`` (untimed setup; the
   checks need a registered version);
3. runs, alternating (A B C A B C ...), each in a fresh child process so that peak memory is
   the child's own ``ru_maxrss``:
   - ``steward-profile``: ``profile_dataset(path)`` (streamed in batches);
   - ``steward-full``: ``profile_dataset(path)`` and ``check_dataset(...)`` with the default
     checks (missing, duplicate rows and ids, outliers, constant columns, personal data,
     and with the target: leakage, label balance, relevance), results not saved; the
     checks read the version's stored profile (written at registration) and stream the
     file only for what the profile cannot answer;
   - ``duckdb``: ``SUMMARIZE SELECT * FROM read_parquet(path)``;
4. prints medians and the ratios, and writes ``bench/results/profile_vs_duckdb.json`` and
   ``.md`` with versions, sizes, wall and CPU seconds, the machine load (``uptime``) and the
   command.

Targets (issue 4): Steward's profile + checks within 3x DuckDB SUMMARIZE, peak memory
under 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
RESULTS = ROOT / "results"
PROJECT = "bench"
NAME = "wide"
KINDS = ("steward-profile", "steward-full", "duckdb")


# -- data ------------------------------------------------------------------------------------
def generate(path: Path, rows: int, chunk: int = 500_000) -> None:
    """Write the benchmark file chunk by chunk (memory bounded by one chunk)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    towns = np.array([f"town_{i:03d}" for i in range(300)])
    plans = np.array(["basic", "plus", "premium", "family", "student"])
    colours = np.array(["red", "green", "blue", "black", "white", "grey", "other"])
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            rng = np.random.default_rng(start)
            columns: dict[str, Any] = {}
            for i in range(12):
                if i % 4 == 0:
                    values = rng.normal(50 + i, 10, n)
                elif i % 4 == 1:
                    values = rng.lognormal(8, 1.5, n)
                elif i % 4 == 2:
                    values = rng.integers(0, 120, n).astype(np.float64)  # an age-like number
                else:
                    values = rng.exponential(3.0, n) - 1.0
                columns[f"num_{i:02d}"] = pa.array(values, mask=rng.random(n) < 0.02 + 0.008 * i)
            columns["town"] = pa.array(towns[rng.zipf(1.5, n) % 300], mask=rng.random(n) < 0.03)
            columns["plan"] = pa.array(plans[rng.integers(0, 5, n)])
            columns["colour"] = pa.array(colours[rng.integers(0, 7, n)], mask=rng.random(n) < 0.1)
            columns["segment"] = pa.array(np.char.add("s", rng.integers(0, 40, n).astype(str)))
            columns["channel"] = pa.array(
                rng.choice(["web", "shop", "phone"], n, p=[0.6, 0.3, 0.1])
            )
            columns["region"] = pa.array(rng.choice(["north", "south", "east", "west"], n))
            columns["label"] = pa.array(rng.integers(0, 2, n))
            columns["id"] = pa.array(np.char.add("c", np.arange(start, start + n).astype(str)))
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def setup_store(data: Path) -> tuple[str, str, str, float]:
    """A fresh store with the file registered; returns (uri, artifacts, ref, seconds)."""
    import shutil

    import mlsteward as ms

    home = WORK / "store"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    uri, artifacts = f"sqlite:///{home / 'steward.db'}", str(home / "artifacts")
    st = ms.connect(uri, artifacts=artifacts)
    try:
        st.create_project(PROJECT)
        started = time.perf_counter()
        version = st.datasets.register(PROJECT, NAME, data, target="label", role="benchmark")
        seconds = time.perf_counter() - started
        return uri, artifacts, version.ref, seconds
    finally:
        st.close()


# -- children -----------------------------------------------------------------------------------
def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _cpu() -> float:
    """CPU seconds (user + system, all threads) of this process so far."""
    times = os.times()
    return times.user + times.system


def child(kind: str, path: str, uri: str, artifacts: str, ref: str) -> dict[str, Any]:
    """One measured run in this (fresh) process."""
    out: dict[str, Any] = {"kind": kind}
    if kind == "duckdb":
        import duckdb

        connection = duckdb.connect()
        connection.execute("SET enable_progress_bar = false")
        out["rss_after_import_mb"] = _status_mb("VmRSS")
        cpu, started = _cpu(), time.perf_counter()
        rows = connection.execute("SUMMARIZE SELECT * FROM read_parquet(?)", [path]).fetchall()
        out["seconds"] = time.perf_counter() - started
        out["cpu_seconds"] = _cpu() - cpu
        out["columns"] = len(rows)
    else:
        import mlsteward as ms
        from mlsteward.data import profile_dataset

        st = ms.connect(uri, artifacts=artifacts)
        stored = st.datasets.get(PROJECT, ref)
        out["rss_after_import_mb"] = _status_mb("VmRSS")
        cpu, started = _cpu(), time.perf_counter()
        profile = profile_dataset(path, column_types=stored.column_types)
        out["profile_seconds"] = time.perf_counter() - started
        out["columns"] = len(profile.columns)
        if kind == "steward-full":
            checked = time.perf_counter()
            report = st.datasets.check(PROJECT, ref, save=False)
            out["check_seconds"] = time.perf_counter() - checked
            out["checks"] = [f"{r.kind}:{r.status}" for r in report.results]
        out["seconds"] = time.perf_counter() - started
        out["cpu_seconds"] = _cpu() - cpu
        st.close()
    # VmHWM is this process's own high-water mark; ru_maxrss would also count the
    # parent's memory copied at fork (Linux keeps it across exec)
    out["peak_rss_mb"] = _status_mb("VmHWM")
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_child(kind: str, path: Path, uri: str, artifacts: str, ref: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, str(path), uri, artifacts, ref]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- report ---------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    import duckdb
    import numpy
    import pyarrow

    import mlsteward

    return {
        "python": platform.python_version(),
        "mlsteward": mlsteward.__version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "numpy": numpy.__version__,
    }


def uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return "n/a"


def markdown(doc: dict[str, Any]) -> str:
    med = doc["medians"]
    lines = [
        "# Profiling: Steward vs DuckDB SUMMARIZE",
        "",
        f"Command: `{doc['command']}`",
        "",
        f"Data: {doc['data']['rows']:,} rows x {doc['data']['columns']} columns, "
        f"{doc['data']['file_mb']:.0f} MB Parquet ({doc['data']['row_groups']} row groups).",
        f"Machine: {doc['machine']['cpus']} CPUs, {doc['machine']['platform']}; "
        f"load before: `{doc['load_before']}`; after: `{doc['load_after']}`.",
        f"Versions: {', '.join(f'{k} {v}' for k, v in doc['versions'].items())}.",
        f"Repeats: {doc['repeats']} of each, alternating, each in a fresh process; medians.",
        "",
        "| run | median seconds | all runs (s) | median CPU s | peak RSS, median / max (MB) |",
        "|---|---:|---|---:|---:|",
    ]
    for kind in KINDS:
        times = ", ".join(f"{r['seconds']:.2f}" for r in doc["runs"][kind])
        peak = max(r["peak_rss_mb"] for r in doc["runs"][kind])
        cpu = med[kind].get("cpu_seconds")
        lines.append(
            f"| {kind} | {med[kind]['seconds']:.2f} | {times} | "
            f"{'n/a' if cpu is None else f'{cpu:.2f}'} | "
            f"{med[kind]['peak_rss_mb']:.0f} / {peak:.0f} |"
        )
    ratios = doc["ratios"]
    lines += [
        "",
        f"- Steward profile + checks / DuckDB SUMMARIZE: **{ratios['full_vs_duckdb']:.2f}x** "
        f"(target <= 3x: {'met' if doc['targets']['time_met'] else 'NOT met'})",
        f"- Steward profile only / DuckDB SUMMARIZE: **{ratios['profile_vs_duckdb']:.2f}x**",
        f"- Steward peak memory (profile + checks): **{med['steward-full']['peak_rss_mb']:.0f} MB** "
        f"median, {doc['targets']['memory_max_mb']:.0f} MB in the worst run (target < 1536 MB "
        f"in every run: {'met' if doc['targets']['memory_met'] else 'NOT met'}); profile "
        f"alone {med['steward-profile']['peak_rss_mb']:.0f} MB",
        f"- Of the full run, profiling took {med['steward-full']['profile_seconds']:.2f} s and "
        f"the checks {med['steward-full']['check_seconds']:.2f} s (medians).",
        f"- Checks run: {', '.join(doc['runs']['steward-full'][0].get('checks', []))}.",
        f"- Registration (untimed setup: hash, copy, profile): {doc['register_seconds']:.1f} s.",
        "",
        "The machine is shared: wall times move with its load (`uptime` above); CPU seconds "
        "(user + system, all threads) move less. "
        "Peak RSS is the child process's own high-water mark (`VmHWM`; interpreter and imports included: "
        f"Steward {med['steward-full']['rss_after_import_mb']:.0f} MB, DuckDB "
        f"{med['duckdb']['rss_after_import_mb']:.0f} MB after imports).",
        "",
    ]
    return "\n".join(lines)


def render(path: Path) -> None:
    """Rewrite the Markdown of a results JSON (after changing :func:`markdown`)."""
    doc = json.loads(path.read_text())
    full = doc["runs"]["steward-full"]
    doc["targets"]["memory_max_mb"] = max(r["peak_rss_mb"] for r in full)
    doc["targets"]["memory_met"] = doc["targets"]["memory_max_mb"] < 1536
    path.write_text(json.dumps(doc, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(doc))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", nargs=5, metavar=("KIND", "PATH", "URI", "ARTIFACTS", "REF"))
    parser.add_argument("--setup", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--render", metavar="JSON", help="only rewrite the Markdown of a result")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.setup:
        print(json.dumps(setup_store(Path(args.setup))))
        return
    if args.render:
        render(Path(args.render))
        return

    import pyarrow.parquet as pq

    command = "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__), *sys.argv[1:]]
    )
    WORK.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    data = WORK / f"profile_{args.rows}.parquet"
    if not data.exists():
        print(f"writing {data} ...", flush=True)
        generate(data, args.rows)
    meta = pq.ParquetFile(data).metadata
    print("registering (setup, in a child process) ...", flush=True)
    done = subprocess.run(
        [sys.executable, __file__, "--setup", str(data)], capture_output=True, text=True, check=True
    )
    uri, artifacts, ref, register_seconds = json.loads(done.stdout.strip().splitlines()[-1])
    load_before = uptime()
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for repeat in range(args.repeats):
        order = KINDS if repeat % 2 == 0 else tuple(reversed(KINDS))
        for kind in order:
            result = run_child(kind, data, uri, artifacts, ref)
            runs[kind].append(result)
            print(
                f"  {kind:16s} {result['seconds']:7.2f} s  peak {result['peak_rss_mb']:7.0f} MB",
                flush=True,
            )
    load_after = uptime()

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    medians = {
        kind: {
            key: median(kind, key)
            for key in (
                "seconds",
                "cpu_seconds",
                "peak_rss_mb",
                "rss_after_import_mb",
                "profile_seconds",
                "check_seconds",
            )
            if key in runs[kind][0]
        }
        for kind in KINDS
    }
    ratios = {
        "full_vs_duckdb": medians["steward-full"]["seconds"] / medians["duckdb"]["seconds"],
        "profile_vs_duckdb": medians["steward-profile"]["seconds"] / medians["duckdb"]["seconds"],
    }
    doc = {
        "benchmark": "profile_vs_duckdb",
        "command": command,
        "data": {
            "path": str(data.relative_to(ROOT.parent)),
            "rows": meta.num_rows,
            "columns": meta.num_columns,
            "row_groups": meta.num_row_groups,
            "file_mb": data.stat().st_size / 2**20,
        },
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(),
        "load_before": load_before,
        "load_after": load_after,
        "repeats": args.repeats,
        "register_seconds": register_seconds,
        "runs": runs,
        "medians": medians,
        "ratios": ratios,
        "targets": {
            "time_ratio_max": 3.0,
            "memory_mb_max": 1536,
            "time_met": ratios["full_vs_duckdb"] <= 3.0,
            "memory_max_mb": max(r["peak_rss_mb"] for r in runs["steward-full"]),
            "memory_met": max(r["peak_rss_mb"] for r in runs["steward-full"]) < 1536,
        },
    }
    stem = RESULTS / "profile_vs_duckdb"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
