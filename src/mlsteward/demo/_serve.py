"""Demo step of serving: serve the champion, canary the challenger, replay 2016 traffic
through the server over HTTP on loopback, then send the delayed labels.

The server runs in this process (uvicorn in a thread, on a free 127.0.0.1 port) exactly as
``steward serve`` would run it; the replay is an asyncio httpx client with a few requests
in flight. Canary steps are held for fewer requests and seconds than the charter asks
(60 candidate requests and 1 s instead of 1,000 and 10 minutes) so that the demo takes
seconds; the guardrails are the charter's. The endpoint and where its log lives go to
``ctx.results["serving"]`` for the monitoring step.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from mlsteward.core import StewardError

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext

__all__ = ["ENDPOINT", "step_serve"]

ENDPOINT: Final = "acs-employment"
REPLAY_ROWS: Final = 3_000
IN_FLIGHT: Final = 8
CANARY: Final[dict[str, Any]] = {
    "steps": [5, 25, 50, 100],
    "min_requests": 60,
    "min_duration": 1.0,
    "guardrails": {"min_samples": 30, "min_shift_samples": 100, "min_labels": 100},
}
NOT_FEATURES: Final = ("employed", "id", "year", "prediction", "predicted_probability")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    import uvicorn
    from threadpoolctl import threadpool_limits

    from mlsteward.datasets import load_acs_employment
    from mlsteward.demo._registry import MODEL_NAME, step_registry
    from mlsteward.serving import ServeOptions, ServingRuntime, create_app, log_root

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
    runtime = ServingRuntime(
        ServeOptions(
            endpoints=(ENDPOINT,), flush_seconds=0.5, poll_seconds=0.5, check_seconds=0.5, seed=2016
        ),
        store=st.store,
        log_root=root,
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="steward-demo-server", daemon=True)
    limits = threadpool_limits(limits=1)  # as steward serve does: one native thread per worker
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise StewardError("The demo's model server did not start.")
            time.sleep(0.05)
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
        assert runtime.log is not None
        runtime.log.wait_idle()
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
        server.should_exit = True
        thread.join(timeout=30)
        limits.restore_original_limits()
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
