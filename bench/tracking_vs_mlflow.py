"""Experiment tracking: Steward against MLflow 3.x, both on SQLite, same machine, same run.

Run from the repository root::

    .venv/bin/python bench/tracking_vs_mlflow.py              # the full benchmark
    .venv/bin/python bench/tracking_vs_mlflow.py --quick      # small sizes, a quick look

MLflow is installed only in the benchmark's own environment ``bench/.venv-mlflow``, created
on first use (``python3 -m venv bench/.venv-mlflow`` and ``pip install 'mlflow>=3,<4'``);
it is never a dependency of Steward. Every measurement runs in a fresh child process (the
MLflow side with that environment's Python), sides alternating A B A B, and the medians and
ratios are reported. Workloads (issue 5):

1. ``metric``: per-point ``log_metric`` calls, timed from the first call until the points
   are durable (Steward: ``run.flush()`` returned; MLflow: every call is synchronous).
   Steward logs 20,000 points; MLflow logs ``--mlflow-points`` (its cost per call is
   constant, so its throughput is measured on fewer points to keep the run short).
   Target: Steward's throughput >= 50x MLflow's.
2. ``runs``: 200 runs, each with 10 params and 10 metrics, started and ended.
   Target: >= 20x faster.
3. ``search``: a store of 10,000 runs (the same seeded params and metrics on both sides,
   each logged through the side's own API, untimed and cached under ``bench/work``);
   ``search_runs`` with a metric filter, median latency of 15 queries after a warm-up.
   Target: median < 100 ms and faster than MLflow on the same runs.
4. ``memory``: one Steward process logging 1,000,000 points (and one logging 100,000, for
   comparison) per point; peak RSS of each. Target: bounded (independent of the count).

Results go to ``bench/results/tracking_vs_mlflow.json`` and ``.md`` with versions, sizes,
the machine load (``uptime``) before and after, and the command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
WORK = ROOT / "work" / "tracking"
RESULTS = ROOT / "results"
MLFLOW_VENV = ROOT / ".venv-mlflow"
MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "python"
PROJECT = "bench"
EXPERIMENT = "bench"
FILTERS = {
    "metric": "metrics.roc_auc > 0.95",
    "metric+param": "metrics.roc_auc > 0.9 and params.max_depth = '5'",
}
ORDER_BY = ["metrics.roc_auc DESC"]
SEARCH_MAX_RESULTS = 100


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _params(i: int) -> dict[str, str]:
    return {f"param_{j}": f"value-{(i * 7 + j) % 13}" for j in range(10)}


def _metrics(i: int) -> dict[str, float]:
    return {f"metric_{j}": ((i * 31 + j * 17) % 1000) / 1000 for j in range(10)}


def _search_data(n: int) -> list[tuple[dict[str, str], dict[str, float]]]:
    rng = random.Random(42)
    rows = []
    for _ in range(n):
        params = {"max_depth": str(rng.randint(1, 8)), "kind": rng.choice(["hgb", "lr", "rf"])}
        metrics = {"roc_auc": round(rng.uniform(0.5, 1.0), 6), "loss": rng.uniform(0, 1)}
        rows.append((params, metrics))
    return rows


# -- Steward side -------------------------------------------------------------------------------
def _steward(directory: Path, fresh: bool = True) -> Any:
    import mlsteward as ms

    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    st = ms.connect(f"sqlite:///{directory / 'steward.db'}", artifacts=str(directory / "a"))
    if not any(p.name == PROJECT for p in st.list_projects()):
        st.create_project(PROJECT)
    return st


def steward_metric(directory: Path, n: int) -> dict[str, Any]:
    st = _steward(directory)
    with st.start_run(PROJECT, EXPERIMENT) as warm:
        warm.log_metric("warm", 1.0)
    run = st.start_run(PROJECT, EXPERIMENT)
    run.flush()
    start = time.perf_counter()
    for i in range(n):
        run.log_metric("loss", 1.0 / (i + 1), step=i)
    run.flush()
    seconds = time.perf_counter() - start
    run.end()
    durable = len(st.runs.history(run.id, "loss"))
    return {"points": n, "seconds": seconds, "durable_points": durable}


def steward_runs(directory: Path, n: int) -> dict[str, Any]:
    st = _steward(directory)
    with st.start_run(PROJECT, EXPERIMENT) as warm:
        warm.log_params(_params(-1))
    start = time.perf_counter()
    for i in range(n):
        with st.start_run(PROJECT, EXPERIMENT) as run:
            run.log_params(_params(i))
            run.log_metrics(_metrics(i))
    seconds = time.perf_counter() - start
    found = len(st.search_runs(PROJECT, "params.param_0 != ''", max_results=n + 10))
    return {"runs": n, "seconds": seconds, "durable_runs": found}


def steward_populate(directory: Path, n: int) -> dict[str, Any]:
    st = _steward(directory)
    start = time.perf_counter()
    for params, metrics in _search_data(n):
        with st.start_run(PROJECT, EXPERIMENT) as run:
            run.log_params(params)
            run.log_metrics(metrics)
    return {"runs": n, "seconds": time.perf_counter() - start}


def steward_search(directory: Path, repeats: int) -> dict[str, Any]:
    st = _steward(directory, fresh=False)
    out: dict[str, Any] = {}
    for label, text in FILTERS.items():
        query = dict(order_by=ORDER_BY, max_results=SEARCH_MAX_RESULTS, experiment=EXPERIMENT)
        found = st.search_runs(PROJECT, text, **query)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            st.search_runs(PROJECT, text, **query)
            times.append(time.perf_counter() - start)
        matches = len(st.search_runs(PROJECT, text, max_results=50_000))
        out[label] = {
            "median_ms": statistics.median(times) * 1000,
            "returned": len(found),
            "matches": matches,
            "top": [round(r.metrics["roc_auc"], 6) for r in found[:3]],
        }
    return out


def steward_memory(directory: Path, n: int) -> dict[str, Any]:
    st = _steward(directory)
    run = st.start_run(PROJECT, EXPERIMENT)
    run.log_metric("warm", 1.0)
    run.flush()
    before = _rss_mb()
    start = time.perf_counter()
    for i in range(n):
        run.log_metric("loss", 1.0 / (i + 1), step=i)
    run.end()
    seconds = time.perf_counter() - start
    with st.store.engine.connect() as connection:
        from sqlalchemy import text

        durable = connection.execute(
            text("SELECT count(*) FROM metric_points WHERE key = 'loss'")
        ).scalar_one()
    return {
        "points": n,
        "seconds": seconds,
        "durable_points": durable,
        "rss_before_mb": before,
        "peak_rss_mb": _peak_rss_mb(),
    }


# -- MLflow side --------------------------------------------------------------------------------
def _mlflow(directory: Path, fresh: bool = True) -> Any:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import mlflow

    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{directory / 'mlflow.db'}")
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


def mlflow_metric(directory: Path, n: int) -> dict[str, Any]:
    mlflow = _mlflow(directory)
    with mlflow.start_run():
        mlflow.log_metric("warm", 1.0)
    with mlflow.start_run() as run:
        start = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        seconds = time.perf_counter() - start
    durable = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss"))
    return {"points": n, "seconds": seconds, "durable_points": durable}


def mlflow_runs(directory: Path, n: int) -> dict[str, Any]:
    mlflow = _mlflow(directory)
    with mlflow.start_run():
        mlflow.log_params(_params(-1))
    start = time.perf_counter()
    for i in range(n):
        with mlflow.start_run():
            mlflow.log_params(_params(i))
            mlflow.log_metrics(_metrics(i))
    seconds = time.perf_counter() - start
    experiment = mlflow.get_experiment_by_name(EXPERIMENT).experiment_id
    found = len(
        mlflow.MlflowClient().search_runs([experiment], "params.param_0 != ''", max_results=n + 10)
    )
    return {"runs": n, "seconds": seconds, "durable_runs": found}


def mlflow_populate(directory: Path, n: int) -> dict[str, Any]:
    mlflow = _mlflow(directory)
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient()
    experiment = mlflow.get_experiment_by_name(EXPERIMENT).experiment_id
    start = time.perf_counter()
    now = int(time.time() * 1000)
    for params, metrics in _search_data(n):  # its fastest public path: one batch per run
        run = client.create_run(experiment)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
        )
        client.set_terminated(run.info.run_id)
    return {"runs": n, "seconds": time.perf_counter() - start}


def mlflow_search(directory: Path, repeats: int) -> dict[str, Any]:
    mlflow = _mlflow(directory, fresh=False)
    client = mlflow.MlflowClient()
    experiment = mlflow.get_experiment_by_name(EXPERIMENT).experiment_id
    out: dict[str, Any] = {}
    for label, text in FILTERS.items():
        query = dict(filter_string=text, order_by=ORDER_BY, max_results=SEARCH_MAX_RESULTS)
        found = client.search_runs([experiment], **query)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            client.search_runs([experiment], **query)
            times.append(time.perf_counter() - start)
        matches = len(client.search_runs([experiment], filter_string=text, max_results=50_000))
        out[label] = {
            "median_ms": statistics.median(times) * 1000,
            "returned": len(found),
            "matches": matches,
            "top": [round(r.data.metrics["roc_auc"], 6) for r in found[:3]],
        }
    return out


WORKERS = {
    ("steward", "metric"): steward_metric,
    ("steward", "runs"): steward_runs,
    ("steward", "populate"): steward_populate,
    ("steward", "search"): steward_search,
    ("steward", "memory"): steward_memory,
    ("mlflow", "metric"): mlflow_metric,
    ("mlflow", "runs"): mlflow_runs,
    ("mlflow", "populate"): mlflow_populate,
    ("mlflow", "search"): mlflow_search,
}


# -- the driver ---------------------------------------------------------------------------------
def _ensure_mlflow() -> str:
    if not MLFLOW_PYTHON.exists():
        print(f"Creating {MLFLOW_VENV} with MLflow 3.x (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run(
            [str(MLFLOW_PYTHON), "-m", "pip", "install", "--quiet", "mlflow>=3,<4"], check=True
        )
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _child(side: str, task: str, directory: Path, n: int) -> dict[str, Any]:
    python = str(MLFLOW_PYTHON) if side == "mlflow" else sys.executable
    command = [python, __file__, "--worker", task, "--side", side, "--dir", str(directory)]
    command += ["--n", str(n)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MLFLOW_TRACKING_URI": ""}
    if side == "steward":
        env["PYTHONPATH"] = str(REPO / "src")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=WORK)
    if done.returncode != 0:
        raise RuntimeError(f"{side} {task} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unavailable"


def _median(items: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(item[key]) for item in items)


def _ab(task: str, sizes: dict[str, int], repeats: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"steward": [], "mlflow": []}
    for repeat in range(repeats):
        for side in ("steward", "mlflow"):
            result = _child(side, task, WORK / f"{task}-{side}", sizes[side])
            out[side].append(result)
            print(f"  {task} {side} #{repeat + 1}: {json.dumps(result)}", flush=True)
    return out


def _populated(side: str, n: int) -> Path:
    directory = WORK / f"search-{side}-{n}"
    marker = directory / "populated.json"
    if not marker.exists():
        print(f"  populating {n:,} runs for {side} (untimed, cached) ...", flush=True)
        result = _child(side, "populate", directory, n)
        marker.write_text(json.dumps(result))
    return directory


def _versions(mlflow_version: str) -> dict[str, str]:
    import sqlite3

    import sqlalchemy

    sys.path.insert(0, str(REPO / "src"))
    from mlsteward import __version__

    return {
        "mlsteward": __version__,
        "mlflow": mlflow_version,
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
    }


def _markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        "# Experiment tracking: Steward vs MLflow (SQLite)",
        "",
        f"Command: `{report['command']}`  ",
        f"Versions: {', '.join(f'{k} {v}' for k, v in report['versions'].items())}  ",
        f"Load before: `{report['uptime_before']}`  ",
        f"Load after: `{report['uptime_after']}`  ",
        f"Repeats: {report['repeats']} per side, alternating A B A B; medians.",
        "",
        "| workload | Steward | MLflow | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in s["rows"]:
        lines.append(
            f"| {row['workload']} | {row['steward']} | {row['mlflow']} | {row['ratio']} | "
            f"{row['target']} | {'yes' if row['met'] else 'NO'} |"
        )
    memory = report["memory"]
    lines += [
        "",
        "## Memory while logging per point (Steward, one process each)",
        "",
        "| points | seconds | durable | RSS before logging | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for item in memory:
        lines.append(
            f"| {item['points']:,} | {item['seconds']:.1f} | {item['durable_points']:,} | "
            f"{item['rss_before_mb']:.0f} MB | {item['peak_rss_mb']:.0f} MB |"
        )
    lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker")
    parser.add_argument("--side")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--mlflow-points", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--search-runs", type=int, default=10_000)
    parser.add_argument("--memory-points", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats")
    args = parser.parse_args()

    if args.worker:
        worker = WORKERS[(args.side, args.worker)]
        size = args.n if args.worker != "search" else 15
        print(json.dumps(worker(args.dir, size)))
        return

    if args.quick:
        args.repeats, args.points, args.mlflow_points = 2, 5_000, 500
        args.runs, args.search_runs, args.memory_points = 50, 1_000, 100_000
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    mlflow_version = _ensure_mlflow()
    uptime_before = _uptime()
    print(f"Load: {uptime_before}", flush=True)

    metric = _ab("metric", {"steward": args.points, "mlflow": args.mlflow_points}, args.repeats)
    runs = _ab("runs", {"steward": args.runs, "mlflow": args.runs}, args.repeats)
    search_dirs = {side: _populated(side, args.search_runs) for side in ("steward", "mlflow")}
    search: dict[str, list[dict[str, Any]]] = {"steward": [], "mlflow": []}
    for repeat in range(args.repeats):
        for side in ("steward", "mlflow"):
            result = _child(side, "search", search_dirs[side], 15)
            search[side].append(result)
            print(f"  search {side} #{repeat + 1}: {json.dumps(result)}", flush=True)
    memory = [
        _child("steward", "memory", WORK / "memory", n)
        for n in sorted({min(100_000, args.memory_points), args.memory_points})
    ]
    for item in memory:
        print(f"  memory: {json.dumps(item)}", flush=True)
    uptime_after = _uptime()

    rows = []
    st_rate = statistics.median(r["points"] / r["seconds"] for r in metric["steward"])
    ml_rate = statistics.median(r["points"] / r["seconds"] for r in metric["mlflow"])
    rows.append(
        {
            "workload": f"log_metric per point until durable ({args.points:,} Steward / "
            f"{args.mlflow_points:,} MLflow points)",
            "steward": f"{st_rate:,.0f} points/s",
            "mlflow": f"{ml_rate:,.0f} points/s",
            "ratio": f"{st_rate / ml_rate:.0f}x",
            "target": ">= 50x",
            "met": st_rate / ml_rate >= 50,
        }
    )
    st_runs, ml_runs = _median(runs["steward"], "seconds"), _median(runs["mlflow"], "seconds")
    rows.append(
        {
            "workload": f"{args.runs} runs x (10 params + 10 metrics)",
            "steward": f"{st_runs:.2f} s",
            "mlflow": f"{ml_runs:.2f} s",
            "ratio": f"{ml_runs / st_runs:.0f}x",
            "target": ">= 20x",
            "met": ml_runs / st_runs >= 20,
        }
    )
    for label in FILTERS:
        st_ms = statistics.median(r[label]["median_ms"] for r in search["steward"])
        ml_ms = statistics.median(r[label]["median_ms"] for r in search["mlflow"])
        same = search["steward"][0][label]["matches"] == search["mlflow"][0][label]["matches"]
        rows.append(
            {
                "workload": f"search_runs `{FILTERS[label]}` over {args.search_runs:,} runs, "
                f"top {SEARCH_MAX_RESULTS} by roc_auc (matches: "
                f"{search['steward'][0][label]['matches']:,}, same on both: {same})",
                "steward": f"{st_ms:.1f} ms",
                "mlflow": f"{ml_ms:.1f} ms",
                "ratio": f"{ml_ms / st_ms:.1f}x",
                "target": "< 100 ms and faster",
                "met": st_ms < 100 and st_ms < ml_ms and same,
            }
        )
    peaks = [m["peak_rss_mb"] for m in memory]
    memory_note = ", ".join(f"{m['points']:,} points -> {m['peak_rss_mb']:.0f} MB" for m in memory)
    report = {
        "command": command,
        "versions": _versions(mlflow_version),
        "uptime_before": uptime_before,
        "uptime_after": uptime_after,
        "repeats": args.repeats,
        "sizes": {
            "points": args.points,
            "mlflow_points": args.mlflow_points,
            "runs": args.runs,
            "search_runs": args.search_runs,
            "memory_points": args.memory_points,
        },
        "summary": {"rows": rows, "memory_bounded": max(peaks) - min(peaks) < 100},
        "raw": {"metric": metric, "runs": runs, "search": search},
        "memory": memory,
        "notes": [
            "Each measurement is a fresh child process; MLflow runs with the Python of "
            "bench/.venv-mlflow, Steward with the repository's.",
            "MLflow's log_metric is synchronous (durable when it returns); Steward's is "
            "timed until run.flush() returned (committed).",
            "The search stores were filled through each side's own API with the same seeded "
            "values (MLflow: create_run + log_batch + set_terminated per run); filling is "
            "not timed.",
            "Memory is bounded when the peak RSS does not grow with the number of points: "
            f"{memory_note}.",
        ],
    }
    (RESULTS / "tracking_vs_mlflow.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "tracking_vs_mlflow.md").write_text(_markdown(report))
    print(_markdown(report))


if __name__ == "__main__":
    main()
