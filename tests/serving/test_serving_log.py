"""The prediction log and feedback: concurrency without loss or duplicates, crash
durability (SIGKILL), the Parquet layout and schema, feedback joined to predictions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from serving_helpers import LiveServer, StoreCopy, free_port, records, wait_for

import mlsteward as ms
from mlsteward.serving import LogItem, PredictionLog, join_feedback, read_predictions


@pytest.fixture
def server(acs_store: StoreCopy, live_server: Callable[..., LiveServer]) -> LiveServer:
    acs_store.client.deploy("acs@1", "acs", project="acs", strategy="direct")
    return live_server(acs_store)


def test_sixteen_concurrent_clients_lose_and_duplicate_nothing(
    server: LiveServer, acs_store: StoreCopy, acs_rows
) -> None:
    rows = records(acs_rows)
    sent: list[list[str]] = [[] for _ in range(16)]
    failures: list[str] = []

    def client(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(40):
                size = 1 + (i % 3)
                ids = [f"w{worker}-r{i}-{k}" for k in range(size)]
                start = (worker * 40 + i) % 2900
                answer = http.post(
                    "/v1/endpoints/acs/predict",
                    json={"records": rows[start : start + size], "ids": ids},
                )
                if answer.status_code != 200 or answer.json()["ids"] != ids:
                    failures.append(answer.text)
                sent[worker].extend(ids)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    all_sent = [i for ids in sent for i in ids]
    assert server.runtime.log is not None and server.runtime.log.wait_idle()
    logged = read_predictions(acs_store.root, "acs").column("request_id").to_pylist()
    assert len(all_sent) == 16 * sum(1 + (i % 3) for i in range(40))
    assert len(logged) == len(set(logged)), "duplicated log rows"
    assert set(logged) == set(all_sent), "lost log rows"
    assert server.runtime.log.dropped == 0


def test_the_log_layout_and_schema(server: LiveServer, acs_store: StoreCopy, acs_rows) -> None:
    rows = records(acs_rows.head(3))
    ok = server.predict("acs", {"records": rows, "ids": ["x1", "x2", "x3"]}).json()
    server.predict("acs", {"records": [{**rows[0], "SEX": "9"}], "ids": ["bad-1"]})
    assert server.runtime.log is not None and server.runtime.log.wait_idle()
    files = sorted((acs_store.root / "predictions" / "endpoint=acs").glob("date=*/part-*.parquet"))
    assert files and all(f.parent.name.startswith("date=20") for f in files)
    table = read_predictions(acs_store.root, "acs")
    names = set(table.column_names)
    assert {
        "request_id", "time", "endpoint", "project", "model", "model_version", "shadow",
        "status", "error", "latency_ms", "prediction", "score", "probabilities", "inputs", "raw",
    } <= names  # fmt: skip
    time_type = table.schema.field("time").type
    assert pa.types.is_timestamp(time_type) and time_type.tz in ("UTC", "Etc/UTC")
    assert table.schema.field("prediction").type == pa.int64()
    by_id = {r["request_id"]: r for r in table.to_pylist()}
    first = by_id["x1"]
    assert first["status"] == "ok" and first["model_version"] == 1 and first["shadow"] is False
    assert first["prediction"] == ok["predictions"][0]
    assert first["probabilities"] == pytest.approx(ok["probabilities"][0])
    assert first["score"] == pytest.approx(ok["probabilities"][0][1])
    assert first["inputs"]["AGEP"] == rows[0]["AGEP"] and first["inputs"]["SEX"] == rows[0]["SEX"]
    bad = by_id["bad-1"]
    assert bad["status"] == "rejected" and "'SEX'" in bad["error"] and '"SEX": "9"' in bad["raw"]
    # DuckDB reads the partitions directly, as monitoring will
    pattern = str(acs_store.root / "predictions" / "endpoint=*" / "date=*" / "part-*.parquet")
    count = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{pattern}', union_by_name = true) "
        "WHERE status = 'ok' AND inputs.SEX IS NOT NULL"
    ).fetchall()
    assert count == [(3,)]


def test_feedback_one_by_one_in_bulk_and_from_the_sdk_is_joined(
    server: LiveServer, acs_store: StoreCopy, acs_rows
) -> None:
    frame = acs_rows.head(30)
    ids = [f"p{i}" for i in range(30)]
    server.predict("acs", {"records": records(frame), "ids": ids})
    labels = frame["employed"].tolist()
    for i in range(5):  # one by one, the label as text
        answer = server.http.post(
            "/v1/endpoints/acs/feedback", json={"request_id": ids[i], "label": str(labels[i])}
        )
        assert answer.status_code == 200 and answer.json()["count"] == 1
    bulk = [{"request_id": ids[i], "label": labels[i]} for i in range(5, 15)]
    assert (
        server.http.post("/v1/endpoints/acs/feedback", json={"feedback": bulk}).json()["count"]
        == 10
    )
    receipt = acs_store.client.log_feedback("acs", ids[15:25], labels[15:25])
    assert receipt.count == 10
    wrong = server.http.post("/v1/endpoints/acs/feedback", json={"request_id": "p0", "label": 7})
    assert wrong.status_code == 422
    assert "not a class of model acs@1; expected one of 0, 1" in wrong.json()["message"]
    with pytest.raises(ms.InvalidInput, match="one label per id"):
        acs_store.client.log_feedback("acs", ids[:2], [1])
    assert server.runtime.log is not None and server.runtime.log.wait_idle()
    joined = {
        r["request_id"]: r
        for r in join_feedback(acs_store.root, "acs").to_arrow_table().to_pylist()
    }
    assert [joined[i]["label"] for i in ids[:25]] == labels[:25]
    assert all(joined[i]["label"] is None for i in ids[25:])
    con = duckdb.connect()
    relation = acs_store.client.endpoints.joined("acs", connection=con)
    relation.create_view("joined")
    accuracy = con.sql(
        "SELECT avg(CAST(prediction = label AS DOUBLE)) FROM joined WHERE label IS NOT NULL"
    ).fetchall()
    assert 0.5 <= accuracy[0][0] <= 1.0


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, max_queue_rows=5, fsync=False)
    item = LogItem("acs", None, ["a", "b", "c"], time.time(), 1.0, "error", "x")
    assert log.record(item) is True
    assert (
        log.record(LogItem("acs", None, ["d", "e", "f"], time.time(), 1.0, "error", "x")) is False
    )
    assert (log.pending, log.dropped) == (3, 3)
    assert log.flush() == 3
    (tmp_path / "predictions" / "endpoint=acs" / "date=2020-01-01").mkdir(parents=True)
    junk = tmp_path / "predictions" / "endpoint=acs" / "date=2020-01-01" / ".part-x.parquet.tmp"
    junk.write_bytes(b"half a segment")  # what a crash mid-write leaves: never read
    assert read_predictions(tmp_path, "acs").column("request_id").to_pylist() == ["a", "b", "c"]


def test_a_killed_server_loses_at_most_the_flush_interval(acs_store: StoreCopy, acs_rows) -> None:
    acs_store.client.deploy("acs@1", "acs", project="acs", strategy="direct")
    port = free_port()
    flush = 0.5
    command = [
        sys.executable, "-c", "from mlsteward.cli import main; main()",
        "--uri", acs_store.uri, "serve", "--endpoint", "acs", "--port", str(port),
        "--flush-seconds", str(flush), "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "STEWARD_ARTIFACTS": acs_store.artifacts}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "")
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=60, interval=0.1)
        rows = records(acs_rows)
        answered: list[tuple[str, float]] = []
        with httpx.Client(base_url=url, timeout=10) as http:
            deadline = time.monotonic() + 2.5
            i = 0
            while time.monotonic() < deadline:
                rid = f"k{i}"
                reply = http.post(
                    "/v1/endpoints/acs/predict", json={"records": [rows[i % 2900]], "ids": [rid]}
                )
                assert reply.status_code == 200
                answered.append((rid, time.monotonic()))
                i += 1
        killed_at = time.monotonic()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    files = list((acs_store.root / "predictions").rglob("part-*.parquet"))
    for file in files:  # every segment in place is whole
        pq.read_table(file)
    logged = read_predictions(acs_store.root, "acs").column("request_id").to_pylist()
    assert len(logged) == len(set(logged))
    assert set(logged) <= {rid for rid, _ in answered}
    bound = killed_at - flush - 0.5  # the flush interval, plus the time to write a segment
    must_be_there = {rid for rid, at in answered if at < bound}
    assert len(must_be_there) > 50
    missing = must_be_there - set(logged)
    assert not missing, f"{len(missing)} rows answered before the bound were lost"


def test_the_feedback_join_reads_only_what_the_window_needs(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from mlsteward.serving import LabelSpec, write_feedback
    from mlsteward.serving._segments import FEEDBACK, write_segment

    log = PredictionLog(tmp_path, fsync=False)
    now = time.time()
    for name, ids in (("old", ["o1", "o2"]), ("new", ["n1", "n2", "n3"])):
        moment = now - 3 * 86400 if name == "old" else now - 60
        assert log.record(LogItem("acs", None, ids, moment, 1.0, "error", "x"))
    assert log.flush() == 5
    spec = LabelSpec((0, 1))
    write_feedback(tmp_path, "acs", ["o1", "n1", "n2"], [1, 0, 1], spec, fsync=False)
    write_feedback(tmp_path, "acs", ["n1"], [1], spec, fsync=False)  # later: it wins
    # a segment dated before the window: labels arrive after their predictions, so the
    # join does not read that day (this one could only come from a skewed clock)
    stale = pa.table(
        {
            "request_id": ["n3"],
            "label": pa.array([1], pa.int64()),
            "time": pa.array([datetime.now(UTC) - timedelta(days=5)], pa.timestamp("us", "UTC")),
            "endpoint": ["acs"],
            "source": ["sdk"],
        }
    )
    write_segment(tmp_path, FEEDBACK, "acs", (datetime.now(UTC) - timedelta(days=5)).date(), stale)
    window = join_feedback(tmp_path, "acs", datetime.fromtimestamp(now - 3600, UTC))
    labels = {r["request_id"]: r["label"] for r in window.to_arrow_table().to_pylist()}
    assert labels == {"n1": 1, "n2": 1, "n3": None}
    everything = join_feedback(tmp_path, "acs")
    labels = {r["request_id"]: r["label"] for r in everything.to_arrow_table().to_pylist()}
    assert labels == {"o1": 1, "o2": None, "n1": 1, "n2": 1, "n3": 1}
