"""End to end through the command line: ``steward deploy`` and ``steward serve --workers 2``
as a real process on loopback, a canary promoted by the server's own controller, feedback,
metrics, and a graceful stop that flushes every log row."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd

import mlsteward as ms
from mlsteward.cli import run
from mlsteward.serving import join_feedback, read_predictions

FEATURES = ["AGEP", "SCHL", "MAR", "SEX", "RAC1P"]


def _models() -> tuple[object, object, pd.DataFrame]:
    from sklearn.linear_model import LogisticRegression

    from mlsteward.datasets import load_acs_employment

    acs = load_acs_employment(years=[2015, 2016])
    frame = acs[FEATURES].astype(float)
    frame["employed"] = acs["employed"].to_numpy()
    frame["year"] = acs["year"].to_numpy()
    train = frame[frame["year"] == 2015].sample(4000, random_state=0)
    first = LogisticRegression(max_iter=300).fit(train[FEATURES], train["employed"])
    second = LogisticRegression(C=0.5, max_iter=300).fit(train[FEATURES], train["employed"])
    traffic = frame[frame["year"] == 2016].sample(400, random_state=1).reset_index(drop=True)
    return first, second, traffic


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_deploy_serve_canary_feedback_and_a_graceful_stop(tmp_path: Path, monkeypatch) -> None:
    first, second, traffic = _models()
    uri = f"sqlite:///{tmp_path / 'steward.db'}"
    monkeypatch.setenv("STEWARD_ARTIFACTS", str(tmp_path / "artifacts"))
    with ms.connect(uri) as st:
        st.create_project("e2e")
        st.models.register(
            "acs", project="e2e", model=first, input_example=traffic[FEATURES].head()
        )
        st.models.register(
            "acs", project="e2e", model=second, input_example=traffic[FEATURES].head()
        )
    assert run(["--uri", uri, "deploy", "acs@1", "-e", "acs", "-p", "e2e", "-s", "direct"]) == 0
    port = _port()
    command = [
        sys.executable, "-c", "from mlsteward.cli import main; main()", "--uri", uri, "serve",
        "--port", str(port), "--workers", "2", "--flush-seconds", "0.3", "--poll-seconds", "0.3",
        "--check-seconds", "0.3", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=dict(os.environ), stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    answered: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        code = run(["--uri", uri, "deploy", "acs@2", "-e", "acs", "-s", "canary", "--steps",
                    "50,100", "--min-requests", "15", "--min-duration", "0.3"])  # fmt: skip
        assert code == 0
        rows = traffic[FEATURES].to_dict(orient="records")
        versions = set()
        with httpx.Client(base_url=url, timeout=20) as http, ms.connect(uri) as st:
            for i in range(1500):
                reply = http.post("/v1/endpoints/acs/predict", json={"records": [rows[i % 400]]})
                assert reply.status_code == 200, reply.text
                answered.append(reply.json()["ids"][0])
                versions.add(reply.json()["model_version"])
                if i % 25 == 24 and st.rollouts.get("acs").state == "promoted":
                    break
            deployment = st.rollouts.get("acs")
            assert deployment.state == "promoted", [e.describe() for e in deployment.events]
            assert [e.action for e in deployment.events] == ["start", "advance", "promote"]
            assert versions == {1, 2}
            labels = [int(traffic["employed"][i % 400]) for i in range(len(answered))]
            fed = http.post(
                "/v1/endpoints/acs/feedback", json={"request_ids": answered, "labels": labels}
            )
            assert fed.status_code == 200 and fed.json()["count"] == len(answered)
            metrics = http.get("/metrics").text
            assert "steward_request_latency_ms_bucket" in metrics
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    logged = read_predictions(tmp_path, "acs").column("request_id").to_pylist()
    assert sorted(logged) == sorted(answered)  # both workers' rows, none lost on a graceful stop
    joined = join_feedback(tmp_path, "acs").filter("label IS NOT NULL").aggregate("count(*)")
    assert joined.fetchall() == [(len(answered),)]
