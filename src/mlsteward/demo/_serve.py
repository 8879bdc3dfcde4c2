"""Demo step of serving: serve the champion, canary the challenger, replay 2016 traffic
through the server over HTTP on loopback, then send the delayed labels.

The server is ``steward serve`` in a child process on a free 127.0.0.1 port (stopped
gracefully at the end, which flushes its log); the replay is an asyncio httpx client in
this process with a few requests in flight. Canary steps are held for fewer requests and seconds than the charter asks
(60 candidate requests and 1 s instead of 1,000 and 10 minutes) so that the demo takes
seconds; the guardrails are the charter's. The endpoint and where its log lives go to
``ctx.results["serving"]`` for the monitoring step.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from mlsteward.core import StewardError

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext

__all__ = ["ENDPOINT", "step_serve"]

ENDPOINT: Final = "acs-employment"
REPLAY_ROWS: Final = 3_000
IN_FLIGHT: Final = 4
CANARY: Final[dict[str, Any]] = {
    "steps": [5, 25, 50, 100],
    "min_requests": 60,
    "min_duration": 1.0,
    "guardrails": {"min_samples": 30, "min_shift_samples": 150, "min_labels": 100},
}
NOT_FEATURES: Final = ("employed", "id", "year", "prediction", "predicted_probability")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_server(st: Any, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``steward serve`` in a child process, on loopback, with short intervals."""
    command = [
        sys.executable, "-c", "from mlsteward.cli import main; main()",
        "--uri", st.store.uri, "serve", "--endpoint", ENDPOINT, "--port", str(port),
        "--flush-seconds", "0.5", "--poll-seconds", "0.5", "--check-seconds", "0.5",
        "--log-level", "warning",
    ]  # fmt: skip
    env = {
        **os.environ,
        "STEWARD_ARTIFACTS": st.store.artifacts.uri,
        "STEWARD_ACTOR": st.store.actor,
    }
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise StewardError(f"The demo's model server stopped: {log.read_text()[-1500:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise StewardError(f"The demo's model server did not become ready in 60 s (see {log}).")


def _override(ctx: DemoContext, ref: str) -> str | None:
    """A reason to deploy over a failed evaluation (the demo shows the audited override)."""
    from mlsteward.serving import latest_evaluation

    version = ctx.client.models.get(ref, project=ctx.project)
    status = latest_evaluation(ctx.client.store, version)
    if not status.failed:
        return None
    gates = ", ".join(g.split(" (")[0] for g in status.failed_gates) or "a required gate"
    return f"demo: {version.ref} failed {gates} in evaluation; deployed to show the rollout"


async def _replay(url: str, rows: list[dict[str, Any]], ids: list[str]) -> dict[str, int]:
    import httpx

    counts: dict[str, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(rows)):
        queue.put_nowait(index)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            answer = await client.post(
                f"/v1/endpoints/{ENDPOINT}/predict",
                json={"records": [rows[index]], "ids": [ids[index]]},
            )
            key = (
                f"acs v{answer.json().get('model_version')}"
                if answer.status_code == 200
                else (f"HTTP {answer.status_code}")
            )
            counts[key] = counts.get(key, 0) + 1

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(IN_FLIGHT)))
    return counts


def step_serve(ctx: DemoContext) -> str:
    """Serve, canary, replay 2016 traffic, send the labels; report what happened."""
    import httpx

    from mlsteward.datasets import load_acs_employment
    from mlsteward.demo._registry import MODEL_NAME, step_registry
    from mlsteward.serving import log_root

    st = ctx.client
    if "registry" not in ctx.results:
        step_registry(ctx)
    champion = f"{MODEL_NAME}@champion"
    challenger = f"{MODEL_NAME}@challenger"
    st.deploy(
        champion, ENDPOINT, project=ctx.project, strategy="direct",
        override_reason=_override(ctx, champion),
    )  # fmt: skip
    root = log_root(st.store, st.config)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start_server(st, port, ctx.directory / "server.log")
    try:
        _wait_ready(server, url, ctx.directory / "server.log")
        canary = st.deploy(
            challenger, ENDPOINT, strategy="canary", override_reason=_override(ctx, challenger),
            **CANARY,
        )  # fmt: skip
        acs = ctx.results.get("acs")
        frame = load_acs_employment(years=[2016]) if acs is None else acs[acs["year"] == 2016]
        sample = frame.sample(n=REPLAY_ROWS, random_state=2016).reset_index(drop=True)
        features = sample.drop(columns=[c for c in NOT_FEATURES if c in sample.columns])
        rows: list[dict[str, Any]] = [
            {str(k): (v if k == "AGEP" else str(v)) for k, v in row.items()}
            for row in features.to_dict(orient="records")
        ]
        ids = [f"acs2016-{i}" for i in sample["id"].tolist()]
        t0 = time.perf_counter()
        counts = asyncio.run(_replay(url, rows, ids))
        seconds = time.perf_counter() - t0
        settle = time.monotonic() + 5
        while st.rollouts.get(ENDPOINT).running and time.monotonic() < settle:
            time.sleep(0.25)
        labels = sample["employed"].astype(int).tolist()
        sent = 0
        with httpx.Client(base_url=url, timeout=60) as client:
            for start in range(0, len(ids), 1000):
                answer = client.post(
                    f"/v1/endpoints/{ENDPOINT}/feedback",
                    json={
                        "request_ids": ids[start : start + 1000],
                        "labels": labels[start : start + 1000],
                    },
                )
                answer.raise_for_status()
                sent += int(answer.json()["count"])
    finally:
        server.send_signal(signal.SIGTERM)  # a graceful stop flushes the prediction log
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    final = st.rollouts.get(ENDPOINT, canary.number)
    for event in final.events:
        ctx.console.print(f"    rollout: {event.describe()}")
    joined = st.endpoints.joined(ENDPOINT).filter("label IS NOT NULL AND NOT shadow")
    accuracy = joined.aggregate("avg(CAST(prediction = label AS DOUBLE))").fetchall()[0][0]
    ctx.results["serving"] = {
        "endpoint": ENDPOINT,
        "log_root": root,
        "predictions": root / "predictions" / f"endpoint={ENDPOINT}",
        "feedback": root / "feedback" / f"endpoint={ENDPOINT}",
        "deployment": final,
        "url": url,
    }
    answered = ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items()))
    outcome = {
        "promoted": f"{final.model} promoted to 100%",
        "rolled_back": f"{final.model} rolled back ({final.reason})",
    }.get(final.state, f"{final.model} still at {final.weight:g}% ({final.reason})")
    return (
        f"served {REPLAY_ROWS:,} ACS 2016 requests in {seconds:.1f}s over HTTP ({answered}); "
        f"canary: {outcome}; {sent:,} delayed labels sent, realized accuracy "
        f"{accuracy:.3f}; log: {(root / 'predictions').relative_to(ctx.directory)}"
    )
