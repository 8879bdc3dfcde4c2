"""Serve one scikit-learn model with MLflow and with Steward; load both from another process.

Run from the repository root (it takes about 3 minutes)::

    .venv/bin/python bench/serving_vs_mlflow.py
    .venv/bin/python bench/serving_vs_mlflow.py --duration 5 --rounds 1   # a quick look

What it does, all in one run on one machine:

1. trains a HistGradientBoostingClassifier (100 trees) on ACS 2015 (16 features sent as
   numbers) and saves it with skops, once;
2. registers it in a fresh Steward store under ``bench/work/serving/`` and deploys it to
   endpoint ``acs``; in MLflow's own virtual environment (``bench/.venv-mlflow``, created
   with ``pip install mlflow scikit-learn==<ours> skops`` when missing; MLflow is never a
   dependency of Steward) loads the same skops file and saves it as an MLflow model;
3. starts, each on a free 127.0.0.1 port: ``mlflow models serve -m DIR --env-manager
   local`` (its defaults: one uvicorn worker), ``steward serve`` with the prediction log
   on, and ``steward serve --no-log``, both with ``--workers`` (default 1: on this 2-core
   machine, shared with wrk, one worker answered more than two);
4. loads them from a second process, ``wrk`` (Debian's package; an asyncio httpx client
   when wrk is missing): 16 connections, single-row JSON requests cycling through 256
   distinct ACS 2016 rows (MLflow: ``{"dataframe_records": [row]}`` on ``/invocations``;
   Steward: ``{"records": [row]}`` on ``/v1/endpoints/acs/predict``), a warm-up of 3 s,
   then ``--duration`` seconds per run, alternating the servers (A B C A B C ...) for
   ``--rounds`` rounds;
5. prints medians and ratios, checks that every answer was a 2xx and that the log holds
   every logged request, and writes ``bench/results/serving_vs_mlflow.json`` and ``.md``
   with versions, the machine load (``uptime``) and the command.

Targets (issue 8): Steward's throughput at least 10x MLflow's with a lower p99 latency,
logging on; logging costs at most 10 % of the throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
WORK = ROOT / "work" / "serving"
RESULTS = ROOT / "results"
MLFLOW_VENV = ROOT / ".venv-mlflow"
ENDPOINT = "acs"
CONCURRENCY = 16
ROWS = 256
FEATURES = [
    "AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY",
    "DEAR", "DEYE", "DREM", "SEX", "RAC1P",
]  # fmt: skip


# -- setup -----------------------------------------------------------------------------------
def _frame(year: int) -> Any:
    from mlsteward.datasets import load_acs_employment

    acs = load_acs_employment(years=[year])
    out = acs[FEATURES].astype(float)
    out["employed"] = acs["employed"].astype(int).to_numpy()
    return out.reset_index(drop=True)


def prepare(work: Path) -> dict[str, Any]:
    """Train, save (skops), register and deploy the model; return what the runs need."""
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    import mlsteward as ms
    from mlsteward.registry import ColumnSpec, OutputSpec, Signature

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    train = _frame(2015)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    model.fit(train[FEATURES], train["employed"])
    skops_file = work / "model.skops"
    skops_file.write_bytes(sio.dumps(model))
    signature = Signature(
        tuple(
            ColumnSpec(
                c,
                "numeric",
                "float64",
                nullable=False,
                min=float(train[c].min()),
                max=float(train[c].max()),
            )
            for c in FEATURES
        ),
        (
            OutputSpec("prediction", "categorical", (0, 1)),
            OutputSpec("probabilities", "numeric", (0, 1)),
        ),
        source="bench",
        task="classification",
    )
    uri = f"sqlite:///{work / 'steward.db'}"
    artifacts = str(work / "artifacts")
    st = ms.connect(uri, artifacts=artifacts)
    try:
        st.create_project("bench")
        st.models.register("acs", project="bench", model=model, signature=signature)
        st.deploy("acs@1", ENDPOINT, project="bench", strategy="direct")
    finally:
        st.close()
    traffic = _frame(2016).sample(n=ROWS, random_state=2016)[FEATURES]
    rows = traffic.to_dict(orient="records")
    return {"uri": uri, "artifacts": artifacts, "skops": skops_file, "rows": rows}


def ensure_mlflow(sklearn_version: str) -> Path:
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "mlflow>=3,<4",
             f"scikit-learn=={sklearn_version}", "skops"],
            check=True,
        )  # fmt: skip
    return python


_SAVE = """
import sys, mlflow.sklearn, skops.io as sio
from mlflow.models import infer_signature
import pandas as pd
path, out = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
trusted = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
model = sio.loads(data, trusted=trusted)
example = pd.DataFrame([{c: 1.0 for c in model.feature_names_in_}])
mlflow.sklearn.save_model(
    model, out, signature=infer_signature(example, model.predict(example)),
    skops_trusted_types=trusted,
)
"""


def save_for_mlflow(python: Path, skops_file: Path, out: Path) -> None:
    subprocess.run([str(python), "-c", _SAVE, str(skops_file), str(out)], check=True)


# -- servers ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(
        self, name: str, command: list[str], url: str, ready: str, env: dict[str, str], log: Path
    ):
        self.name, self.command, self.url, self.ready = name, command, url, ready
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait(self, timeout: float = 120) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.ready, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not become ready in {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# -- load ------------------------------------------------------------------------------------
_LUA = """
local bodies = {BODIES}
local i = 0
request = function()
  i = (i % #bodies) + 1
  return wrk.format("POST", "{PATH}", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def _lua(path: str, bodies: list[str]) -> str:
    quoted = ",\n".join("[==[" + b + "]==]" for b in bodies)
    return _LUA.replace("{BODIES}", "{" + quoted + "}").replace("{PATH}", path)


def _ms(text: str) -> float:
    match = re.match(r"([0-9.]+)(us|ms|s)", text)
    assert match, text
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(url: str, path: str, bodies: list[str], seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(_lua(path, bodies))
        script = handle.name
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{round(seconds)}s", "--latency", "-s", script, url],
            check=True, capture_output=True, text=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"([0-9]+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    latency = {q: _ms(v) for q, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    return {
        "rps": rps,
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else None,
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
    }


async def _httpx_load(url: str, path: str, bodies: list[str], seconds: float) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    bad = 0
    stop = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal bad
        i = offset
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            answer = await client.post(
                path, content=bodies[i % len(bodies)], headers={"content-type": "application/json"}
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            bad += answer.status_code >= 300
            i += 1

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client, k) for k in range(CONCURRENCY)))
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "requests": len(latencies),
        "non_2xx": bad,
        "socket_errors": None,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
    }


def load(url: str, path: str, bodies: list[str], seconds: float) -> dict[str, Any]:
    if shutil.which("wrk"):
        return run_wrk(url, path, bodies, seconds)
    return asyncio.run(_httpx_load(url, path, bodies, seconds))


# -- main ------------------------------------------------------------------------------------
def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:  # pragma: no cover
        return "n/a"


def _markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = [
        "# Serving: Steward vs MLflow",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}  ",
        f"Load before: `{result['uptime_before']}`  ",
        f"Load after: `{result['uptime_after']}`  ",
        f"Versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}  ",
        f"Model: {result['model']}; load generator: {result['load_generator']}, "
        f"{CONCURRENCY} connections, single-row requests, {result['duration_s']:g} s per run "
        f"after a 3 s warm-up, {result['rounds']} rounds alternating the servers.",
        "",
        "| server | runs (req/s) | median req/s | median p50 ms | median p99 ms |",
        "|---|---|---:|---:|---:|",
    ]
    for name, runs in result["runs"].items():
        each = ", ".join(format(r["rps"], ",.0f") for r in runs)
        lines.append(
            f"| {name} | {each} | {s[name]['rps']:,.0f} | "
            f"{s[name]['p50_ms']:.2f} | {s[name]['p99_ms']:.2f} |"
        )
    lines += [
        "",
        f"- Throughput, Steward (log on) / MLflow: **{s['ratio_log_on']:.1f}x** (target >= 10x)",
        f"- p99 latency, Steward (log on) vs MLflow: {s['steward']['p99_ms']:.2f} ms vs "
        f"{s['mlflow']['p99_ms']:.2f} ms (target: lower)",
        f"- Cost of the prediction log: {s['log_cost']:.1%} of the throughput (target <= 10 %)",
        f"- Rows in the prediction log: {result['logged_rows']:,} for "
        f"{result['logged_requests']:,} requests wrk counted as answered by the logging server "
        "(warm-up included; the log may hold a few more: requests in flight when wrk stops "
        "its clock are answered and logged but not counted)",
        f"- Workers: steward {result['steward_workers']}, mlflow {result['mlflow_workers']} "
        "(both defaults of this script; on this 2-core machine, shared with wrk and other "
        "tenants, one steward worker answered more than two)",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of A B C")
    parser.add_argument("--workers", type=int, default=1, help="steward serve --workers")
    args = parser.parse_args()
    import sklearn

    import mlsteward

    uptime_before = _uptime()
    setup = prepare(WORK)
    python = ensure_mlflow(sklearn.__version__)
    mlflow_model = WORK / "mlflow-model"
    save_for_mlflow(python, setup["skops"], mlflow_model)
    mlflow_version = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    env = {**os.environ, "STEWARD_ARTIFACTS": setup["artifacts"], "PYTHONUNBUFFERED": "1"}
    steward = [
        sys.executable,
        "-c",
        "from mlsteward.cli import main; main()",
        "--uri",
        setup["uri"],
    ]
    ports = {name: free_port() for name in ("mlflow", "steward", "steward-no-log")}
    servers = {
        "mlflow": Server(
            "mlflow",
            [
                str(MLFLOW_VENV / "bin" / "mlflow"),
                "models",
                "serve",
                "-m",
                str(mlflow_model),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(ports["mlflow"]),
            ],
            f"http://127.0.0.1:{ports['mlflow']}",
            f"http://127.0.0.1:{ports['mlflow']}/ping",
            {**env, "PATH": f"{MLFLOW_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"},
            WORK / "mlflow.log",
        ),
        "steward": Server(
            "steward",
            [
                *steward,
                "serve",
                "--endpoint",
                ENDPOINT,
                "--port",
                str(ports["steward"]),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            f"http://127.0.0.1:{ports['steward']}",
            f"http://127.0.0.1:{ports['steward']}/readyz",
            env,
            WORK / "steward.log",
        ),
        "steward-no-log": Server(
            "steward-no-log",
            [
                *steward,
                "serve",
                "--endpoint",
                ENDPOINT,
                "--port",
                str(ports["steward-no-log"]),
                "--workers",
                str(args.workers),
                "--no-log",
                "--no-controller",
                "--log-dir",
                str(WORK / "no-log"),
                "--log-level",
                "warning",
            ],
            f"http://127.0.0.1:{ports['steward-no-log']}",
            f"http://127.0.0.1:{ports['steward-no-log']}/readyz",
            env,
            WORK / "steward-no-log.log",
        ),
    }
    paths = {"mlflow": "/invocations", "steward": f"/v1/endpoints/{ENDPOINT}/predict"}
    paths["steward-no-log"] = paths["steward"]
    bodies = {
        "mlflow": [json.dumps({"dataframe_records": [r]}) for r in setup["rows"]],
        "steward": [json.dumps({"records": [r]}) for r in setup["rows"]],
    }
    bodies["steward-no-log"] = bodies["steward"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    warm: dict[str, dict[str, Any]] = {}
    try:
        for server in servers.values():
            server.wait()
        warm = {name: load(s.url, paths[name], bodies[name], 3) for name, s in servers.items()}
        for round_ in range(args.rounds):
            for name, server in servers.items():
                result = load(server.url, paths[name], bodies[name], args.duration)
                runs[name].append(result)
                print(
                    f"round {round_ + 1} {name:15s} {result['rps']:9,.0f} req/s  "
                    f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  "
                    f"non-2xx {result['non_2xx']}",
                    flush=True,
                )
    finally:
        for server in servers.values():
            server.stop()
    from mlsteward.serving import read_predictions

    logged = read_predictions(WORK, ENDPOINT).num_rows
    answered = warm["steward"]["requests"] + sum(r["requests"] for r in runs["steward"])
    summary: dict[str, Any] = {}
    for name, items in runs.items():
        summary[name] = {
            key: statistics.median(r[key] for r in items) for key in ("rps", "p50_ms", "p99_ms")
        }
    summary["ratio_log_on"] = summary["steward"]["rps"] / summary["mlflow"]["rps"]
    summary["ratio_log_off"] = summary["steward-no-log"]["rps"] / summary["mlflow"]["rps"]
    summary["log_cost"] = 1 - summary["steward"]["rps"] / summary["steward-no-log"]["rps"]
    result = {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
        "uptime_before": uptime_before,
        "uptime_after": _uptime(),
        "versions": {
            "mlsteward": mlsteward.__version__,
            "mlflow": mlflow_version,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
        "model": "HistGradientBoostingClassifier(max_iter=100) on ACS 2015, 16 numeric features",
        "load_generator": "wrk" if shutil.which("wrk") else "httpx (asyncio)",
        "duration_s": args.duration,
        "rounds": args.rounds,
        "steward_workers": args.workers,
        "mlflow_workers": 1,
        "runs": runs,
        "summary": summary,
        "logged_rows": logged,
        "logged_requests": answered,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serving_vs_mlflow.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "serving_vs_mlflow.md").write_text(_markdown(result))
    print(_markdown(result))


if __name__ == "__main__":
    main()
