"""The background writer: durability, concurrency, failures that surface, bounded memory."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import mlsteward as ms
from mlsteward.store.metadata import Base
from mlsteward.tracking import ActiveRun, get_run, metric_history, start_run

CHILD_LOGGER = """
import sys, time
import mlsteward as ms
st = ms.connect(sys.argv[1], artifacts=sys.argv[2])
run = st.start_run("acs", experiment="crash", name="doomed")
run.log_params({"seed": 7, "model": "hgb"})
for i in range(5000):
    run.log_metric("loss", 1.0 / (i + 1), step=i)
run.set_tag("phase", "flushed")
run.flush()
print("FLUSHED", run.id, flush=True)
for i in range(5000, 10_000_000):  # logged after the flush: may be lost
    run.log_metric("loss", 1.0 / (i + 1), step=i)
    if i % 1000 == 0:
        time.sleep(0.001)
"""


def test_what_was_flushed_survives_sigkill(st: Any, scripts: Any, tmp_path: Path) -> None:
    script = scripts.write("logger.py", CHILD_LOGGER)
    child = scripts.start(script, st.config.uri, st.config.artifacts)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("FLUSHED"), child.stderr.read() if child.stderr else line
        run_id = line.split()[1]
        time.sleep(0.3)  # the child keeps logging (and its writer keeps writing)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    run = get_run(st.store, run_id)
    assert run.status == "running"  # nobody ended it
    assert run.params == {"model": "hgb", "seed": "7"}
    assert run.tags == {"phase": "flushed"}
    points = metric_history(st.store, run_id, "loss")
    assert len(points) >= 5000
    assert [(p.step, p.value) for p in points[:5000]] == [(i, 1.0 / (i + 1)) for i in range(5000)]
    st.runs.end(run_id)  # a dead run can be closed afterwards
    assert get_run(st.store, run_id).status == "killed"


CONCURRENT_LOGGER = """
import sys
import mlsteward as ms
st = ms.connect(sys.argv[1], artifacts=sys.argv[2])
worker = int(sys.argv[3])
with st.start_run("acs", experiment="parallel", name=f"worker-{worker}") as run:
    run.log_params({"worker": worker, "kind": "parallel"})
    for i in range(3000):
        run.log_metric("value", worker * 10_000 + i, step=i)
        if i % 500 == 0:
            run.flush()
print("DONE", run.id, flush=True)
"""


def test_several_processes_log_at_once_on_sqlite(st: Any, scripts: Any) -> None:
    script = scripts.write("worker.py", CONCURRENT_LOGGER)
    children = [scripts.start(script, st.config.uri, st.config.artifacts, str(w)) for w in range(2)]
    outputs = [c.communicate(timeout=120) for c in children]
    assert [c.returncode for c in children] == [0, 0], [o[1][-2000:] for o in outputs]
    runs = st.search_runs("acs", experiment="parallel", order_by=["params.worker ASC"])
    assert [(r.name, r.status) for r in runs] == [(f"worker-{w}", "finished") for w in range(2)]
    for worker, run in enumerate(runs):
        points = st.runs.history(run.id, "value")
        assert [p.value for p in points] == [worker * 10_000 + i for i in range(3000)]
        assert run.metrics == {"value": worker * 10_000 + 2999}
    assert st.verify_audit().ok


def test_a_failing_store_surfaces_at_flush_and_nothing_is_lost(client: Any, project: str) -> None:
    store = client.store
    run = start_run(store, project)
    run.log_metric("loss", 1.0, step=0)
    run.flush()
    metric_points = Base.metadata.tables["metric_points"]
    with store.engine.begin() as connection:
        metric_points.drop(connection)
    for step in range(1, 4):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    with pytest.raises(
        ms.StoreUnavailable, match=r"3 logged items .* could not be written"
    ) as info:
        run.flush()
    assert "metric_points" in str(info.value)
    assert "call run.flush() to retry" in str(info.value)
    with store.engine.begin() as connection:  # the store comes back
        metric_points.create(connection)
    run.flush()  # retried: everything still held in memory is written
    run.end()
    assert [p.step for p in metric_history(store, run.id, "loss")] == [1, 2, 3]
    assert get_run(store, run.id).status == "finished"


def test_a_dead_database_surfaces_at_end(
    client: Any, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.store
    run = start_run(store, project)
    run.log_params({"a": 1})
    run.flush()
    dead = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    monkeypatch.setattr(store, "_write_engine", dead)
    run.log_metric("loss", 0.5)
    with pytest.raises(ms.StoreUnavailable, match="could not be written"):
        run.end()
    monkeypatch.undo()
    got = get_run(store, run.id)
    assert got.status == "running" and got.params == {"a": "1"} and got.metrics == {}


def test_backpressure_bounds_the_queue(st: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    base = start_run(st.store, "acs")
    run = ActiveRun(st.store, base.info(), max_pending=1000, batch_size=250, interval=0.01)
    writer = run._writer
    original = writer._write
    seen: list[int] = []

    def slow_write(*batch: Any) -> Any:
        seen.append(writer.queued_metrics)
        time.sleep(0.002)
        return original(*batch)

    monkeypatch.setattr(writer, "_write", slow_write)
    peak = 0
    for i in range(20_000):
        run.log_metric("x", float(i), step=i)
        peak = max(peak, writer.queued_metrics)
    run.flush()
    base.end()
    assert peak <= 1000
    assert max(seen) <= 1000
    assert len(metric_history(st.store, run.id, "x")) == 20_000


def test_a_paused_writer_with_a_full_queue_raises_instead_of_blocking(
    st: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = start_run(st.store, "acs")
    run = ActiveRun(st.store, base.info(), max_pending=100, batch_size=50, interval=0.01)

    def failing(*_batch: Any) -> Any:
        raise OSError("disk gone")

    monkeypatch.setattr(run._writer, "_write", failing)
    done = threading.Event()
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            for i in range(10_000):
                run.log_metric("x", float(i))
        except ms.StoreUnavailable as exc:
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=produce, daemon=True).start()
    assert done.wait(20), "the producer blocked forever"
    assert errors and "disk gone" in str(errors[0])
    base.end()


def test_ended_runs_leave_no_thread(st: Any) -> None:
    before = {t.name for t in threading.enumerate()}
    for _ in range(5):
        with st.start_run("acs") as run:
            run.log_metric("x", 1.0)
    after = {t.name for t in threading.enumerate() if t.name.startswith("steward-run-")}
    assert after <= before
    with st.store.engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM metric_points")).scalar_one()
    assert count == 5
