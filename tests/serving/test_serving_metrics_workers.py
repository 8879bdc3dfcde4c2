"""``/metrics`` of a server with several workers: one sum over all of them, whichever
worker answers the scrape; counters never go backwards; snapshots are written atomically;
the shared directory is gone when the server stops; one worker writes nothing."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
from serving_helpers import LiveServer, StoreCopy, free_port, records, wait_for

from mlsteward.serving._metrics import LATENCY_BUCKETS_MS, MetricsSnapshot, ServerMetrics
from mlsteward.serving._workermetrics import WorkerMetrics, WorkerSnapshot, read_snapshots

T = TypeVar("T")

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh event loop in its own thread: another test of this
    process (Playwright's sync API) may keep a loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def parse(text: str) -> Series:
    """The samples of a Prometheus text exposition: (name, labels) -> value."""
    samples: Series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        assert match is not None, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        key = (name, frozenset(_LABEL.findall(labels or "")))
        assert key not in samples, f"duplicate series {line!r}"
        samples[key] = float(value)
    return samples


def total(samples: Series, name: str = "steward_requests_total", **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def check_histograms(samples: Series) -> int:
    """Assert every latency histogram is cumulative and whole; return how many there are."""
    series: dict[frozenset[tuple[str, str]], dict[str, float]] = {}
    for (name, labels), value in samples.items():
        if name == "steward_request_latency_ms_bucket":
            le = dict(labels)["le"]
            series.setdefault(labels - {("le", le)}, {})[le] = value
    for labels, buckets in series.items():
        bounds = [f"{b:g}" for b in LATENCY_BUCKETS_MS] + ["+Inf"]
        assert list(buckets) == bounds, labels
        values = [buckets[b] for b in bounds]
        assert values == sorted(values), f"buckets of {dict(labels)} not cumulative: {values}"
        assert buckets["+Inf"] == samples[("steward_request_latency_ms_count", labels)]
    return len(series)


def worker_up(samples: Series) -> dict[str, float]:
    return {dict(ls)["worker"]: v for (n, ls), v in samples.items() if n == "steward_worker_up"}


def gone_pid() -> str:
    """The process id of a process that ended (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return str(process.pid)


def _metrics(observations: list[tuple[str, str, str, int, float, bool]]) -> ServerMetrics:
    metrics = ServerMetrics()
    for endpoint, model, status, rows, latency, shadow in observations:
        metrics.observe(endpoint, model, status, rows, latency, shadow=shadow)
    return metrics


# -- the merge ------------------------------------------------------------------------------


def test_two_snapshots_and_live_counters_sum_to_one_exposition(tmp_path: Path) -> None:
    a = _metrics([("acs", "acs@1", "ok", 1, 0.5, False), ("acs", "acs@1", "ok", 3, 7.0, False)])
    a.gauges["steward_prediction_log_queued_rows"] = lambda: 2
    b = _metrics(
        [
            ("acs", "acs@1", "ok", 2, 30.0, False),
            ("acs", "acs@1", "error", 1, 3000.0, False),
            ("acs", "acs@2", "ok", 1, 1.0, True),
            ('we"ird', "x@1", "rejected", 5, 1.0, False),
        ]
    )
    b.gauges["steward_prediction_log_queued_rows"] = lambda: 5
    b.gauges["steward_prediction_log_written_rows"] = lambda: 1_234_567
    c = _metrics([("acs", "acs@1", "ok", 10, 100.0, False)])
    b_pid, c_pid = gone_pid(), gone_pid()
    for worker, metrics in ((b_pid, b), (c_pid, c)):  # published, then read back from disk
        WorkerMetrics(tmp_path, metrics, worker=worker).write(
            1, WorkerSnapshot(worker, False, metrics.snapshot()).encode()
        )
    live = WorkerMetrics(tmp_path, a, worker=str(os.getpid()))

    text = run_async(live.render())
    samples = parse(text)
    ok = {"endpoint": "acs", "model": "acs@1", "status": "ok", "shadow": "false"}
    assert total(samples, **ok) == 4  # 2 live + 1 + 1
    assert total(samples, "steward_rows_total", **ok) == 1 + 3 + 2 + 10
    assert total(samples, "steward_errors_total", model="acs@1") == 1
    assert total(samples, shadow="true") == 1
    assert total(samples, endpoint='we\\"ird') == 1  # labels still escaped
    assert total(samples) == 7
    assert samples[("steward_prediction_log_queued_rows", frozenset())] == 7  # gauges summed
    assert "steward_prediction_log_written_rows 1234567\n" in text  # whole, not 1.23457e+06
    assert not [ls for n, ls in samples if n != "steward_worker_up" and "worker" in dict(ls)]
    assert worker_up(samples) == {str(os.getpid()): 1, b_pid: 0, c_pid: 0}
    assert check_histograms(samples) == 2
    acs1 = frozenset({("endpoint", "acs"), ("model", "acs@1")})
    assert samples[("steward_request_latency_ms_count", acs1)] == 5  # error counted, shadow not
    assert samples[("steward_request_latency_ms_sum", acs1)] == 0.5 + 7 + 30 + 3000 + 100
    assert samples[("steward_request_latency_ms_bucket", acs1 | {("le", "1")})] == 1
    assert samples[("steward_request_latency_ms_bucket", acs1 | {("le", "50")})] == 3
    assert samples[("steward_request_latency_ms_bucket", acs1 | {("le", "2500")})] == 4
    assert samples[("steward_request_latency_ms_bucket", acs1 | {("le", "+Inf")})] == 5


def test_a_snapshot_survives_its_json_and_a_broken_one_is_refused() -> None:
    metrics = _metrics([("acs", "acs@1", "ok", 4, 12.0, False), ("acs", "acs@2", "ok", 1, 1, True)])
    snapshot = metrics.snapshot()
    back = WorkerSnapshot.decode(WorkerSnapshot("7", True, snapshot).encode())
    assert back.worker == "7" and back.final and not back.running
    assert back.metrics == snapshot
    broken = snapshot.to_dict()
    broken["latency"][0][2] = [1, 2, 3]  # not the server's buckets
    for data in (broken, {"requests": []}, {**snapshot.to_dict(), "requests": [["a", 1]]}):
        try:
            MetricsSnapshot.from_dict(data)
        except ValueError:
            continue
        raise AssertionError(f"accepted {data}")


# -- the shared directory -------------------------------------------------------------------


def test_totals_never_go_backwards_whichever_worker_answers(tmp_path: Path) -> None:
    """Worker a counts requests between its snapshots; a scrape answered by b right after
    one answered by a must not report less (each answer writes its own snapshot first)."""
    a, b = ServerMetrics(), ServerMetrics()
    workers = {
        "a": WorkerMetrics(tmp_path, a, worker="1"),
        "b": WorkerMetrics(tmp_path, b, worker="2"),
    }

    async def scenario() -> list[float]:
        seen = []
        for step in range(60):
            counting = a if step % 3 else b
            for _ in range(step % 4 + 1):
                counting.observe("acs", "acs@1", "ok", 1, 2.0)
            answering = workers["a" if step % 2 else "b"]
            seen.append(total(parse(await answering.render())))
        await workers["a"].publish()  # periodic publishes in between change nothing
        seen.append(total(parse(await workers["b"].render())))
        return seen

    seen = run_async(scenario())
    assert all(x <= y for x, y in itertools.pairwise(seen)), seen
    assert seen[-1] == sum(v for v in a.requests.values()) + sum(b.requests.values())
    assert seen[-1] == sum(step % 4 + 1 for step in range(60))


def test_a_worker_that_stopped_or_died_keeps_its_counts(tmp_path: Path) -> None:
    gone = gone_pid()
    stopped = _metrics([("acs", "acs@1", "ok", 1, 1.0, False)] * 3)
    died = _metrics([("acs", "acs@1", "ok", 1, 1.0, False)] * 5)
    live = _metrics([("acs", "acs@1", "ok", 1, 1.0, False)])

    async def scenario() -> str:
        await WorkerMetrics(tmp_path, stopped, worker=str(os.getppid())).close()  # final
        await WorkerMetrics(tmp_path, died, worker=gone).publish()
        return await WorkerMetrics(tmp_path, live).render()

    samples = parse(run_async(scenario()))
    assert total(samples) == 9
    assert worker_up(samples) == {str(os.getppid()): 0, gone: 0, str(os.getpid()): 1}


def test_a_reader_never_sees_a_partial_snapshot(tmp_path: Path) -> None:
    metrics = ServerMetrics()
    writer = WorkerMetrics(tmp_path, metrics, worker="1")
    datas = []
    for i in range(1, 120):  # growing to ~300 kB: many write() calls per file
        for j in range(40):
            metrics.observe(f"endpoint-{i}-{j}-" + "x" * 40, "m@1", "ok", 1, 1.0)
        datas.append(WorkerSnapshot("1", False, metrics.snapshot()).encode())
    assert len(datas[-1]) > 200_000
    done = threading.Event()
    seen: list[int] = []
    failures: list[str] = []

    def read() -> None:
        while not done.is_set():
            try:
                data = writer.path.read_bytes()
            except FileNotFoundError:
                continue
            try:
                seen.append(sum(WorkerSnapshot.decode(data).metrics.requests.values()))
            except ValueError as exc:
                failures.append(f"{len(data)} bytes: {exc}")
            snapshots = read_snapshots(tmp_path)  # the temporary file is never read
            if len(snapshots) != 1:
                failures.append(f"{len(snapshots)} snapshots listed")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(3):  # the same growing series, three times
            for i, data in enumerate(datas, start=1):
                writer.write(round_ * 1000 + i, data)
    finally:
        done.set()
        reader.join()
    assert not failures, failures[:5]
    assert len(seen) > 20
    assert set(seen) <= {40 * i for i in range(1, 120)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [writer.name]


def test_an_older_snapshot_written_late_does_not_replace_a_newer_one(tmp_path: Path) -> None:
    writer = WorkerMetrics(tmp_path, ServerMetrics(), worker="1")
    new = WorkerSnapshot(
        "1", False, _metrics([("acs", "acs@1", "ok", 1, 1.0, False)] * 2).snapshot()
    )
    old = WorkerSnapshot("1", False, _metrics([("acs", "acs@1", "ok", 1, 1.0, False)]).snapshot())
    writer.write(2, new.encode())
    writer.write(1, old.encode())  # its thread ran last
    assert WorkerSnapshot.decode(writer.path.read_bytes()) == new


def test_a_foreign_file_is_skipped_not_summed(tmp_path: Path) -> None:
    (tmp_path / "worker-99-junk.json").write_bytes(b'{"format": 1, "metrics": {"requ')
    (tmp_path / "notes.txt").write_text("not a snapshot")
    live = _metrics([("acs", "acs@1", "ok", 1, 1.0, False)])
    samples = parse(run_async(WorkerMetrics(tmp_path, live, worker="1").render()))
    assert total(samples) == 1
    assert [p.name for p in tmp_path.glob("worker-1-*.json")]  # its own file was written


# -- real servers ---------------------------------------------------------------------------


def test_one_worker_writes_nothing_and_has_no_worker_label(
    acs_store: StoreCopy, live_server: Callable[..., LiveServer], acs_rows
) -> None:
    acs_store.client.deploy("acs@1", "acs", project="acs", strategy="direct")
    server = live_server(acs_store)
    assert server.runtime.shared_metrics is None
    for i in range(3):
        assert server.predict("acs", {"records": records(acs_rows.iloc[i : i + 2])}).is_success
    answer = server.http.get("/metrics")
    assert answer.headers["x-steward-worker"] == str(os.getpid())
    samples = parse(answer.text)
    assert total(samples, endpoint="acs", status="ok") == 3
    assert total(samples, "steward_rows_total", endpoint="acs") == 6
    assert "worker=" not in answer.text and "steward_worker_up" not in answer.text
    assert check_histograms(samples) == 1


def test_two_workers_report_one_total_whichever_answers(
    acs_store: StoreCopy, acs_rows, tmp_path: Path
) -> None:
    acs_store.client.deploy("acs@1", "acs", project="acs", strategy="direct")
    temporary = tmp_path / "tmp"  # the server's temporary directory: where its metrics go
    temporary.mkdir()
    port = free_port()
    command = [
        sys.executable, "-c", "from mlsteward.cli import main; main()", "--uri", acs_store.uri,
        "serve", "--endpoint", "acs", "--port", str(port), "--workers", "2", "--no-log",
        "--metrics-interval", "0.3", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "STEWARD_ARTIFACTS": acs_store.artifacts, "TMPDIR": str(temporary)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def scrape() -> tuple[str, Series]:
        answer = httpx.get(f"{url}/metrics", timeout=5)  # a new connection: any worker
        assert answer.status_code == 200
        return answer.headers["x-steward-worker"], parse(answer.text)

    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "")
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=90, interval=0.2)
        (directory,) = wait_for(lambda: list(temporary.glob("steward-metrics-*")))
        wait_for(lambda: len(read_snapshots(directory)) == 2)  # both workers published
        rows = records(acs_rows)
        scraped: list[float] = []  # what a scraper saw while the traffic ran
        stop = threading.Event()

        def scraper() -> None:
            while not stop.is_set():
                scraped.append(total(scrape()[1]))

        def send(i: int) -> int:
            body = {"records": rows[i : i + 1 + i % 3]}  # 1 to 3 rows
            return httpx.post(f"{url}/v1/endpoints/acs/predict", json=body, timeout=20).status_code

        def counted() -> list[int]:
            return [sum(p.metrics.requests.values()) for p in read_snapshots(directory)]

        watcher = threading.Thread(target=scraper)
        watcher.start()
        k = 0
        try:
            with ThreadPoolExecutor(4) as pool:  # new connections, spread over the workers
                for _ in range(10):  # until both workers answered some (almost always once)
                    assert list(pool.map(send, range(k, k + 30))) == [200] * 30
                    k += 30
                    wait_for(lambda: sum(counted()) == k, timeout=10)  # noqa: B023
                    if min(counted()) > 0:
                        break
        finally:
            stop.set()
            watcher.join()
        assert min(counted()) > 0, f"one worker answered every request: {counted()}"
        assert len(scraped) > 3 and scraped[-1] <= k
        assert all(x <= y for x, y in itertools.pairwise(scraped)), scraped  # under load
        expected_rows = sum(1 + i % 3 for i in range(k))

        totals: list[float] = []

        def settled() -> bool:
            totals.append(total(scrape()[1]))
            return totals[-1] == k

        wait_for(settled, timeout=10, interval=0.1)
        for _ in range(30):  # every scrape, whichever worker answers, reports the same
            worker, samples = scrape()
            totals.append(total(samples))
            assert total(samples, endpoint="acs", model="acs@1", status="ok") == k
            assert total(samples, "steward_rows_total") == expected_rows
            assert check_histograms(samples) == 1
            up = worker_up(samples)
            assert len(up) == 2 and set(up.values()) == {1}
            assert worker in up
            assert not any(n != "steward_worker_up" and "worker" in dict(ls) for n, ls in samples)
        assert all(x <= y for x, y in itertools.pairwise(scraped + totals)), totals
        assert totals[-30:] == [k] * 30
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""
    assert not list(temporary.glob("steward-metrics-*"))  # removed when the server stopped
