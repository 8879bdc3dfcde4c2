"""Dead runs: heartbeats, staleness, reaping, and the writer of a reaped run.

Every test runs on SQLite and PostgreSQL. Intervals are made small through the settings
(``run_heartbeat_seconds=0.1``, ``run_stale_seconds=1``); a run that "died" without a child
process is a run whose writer no longer heartbeats (taken off the flusher) and whose
heartbeat is moved back in time, so no test waits for a timeout it can compute.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect, update

import mlsteward as ms
from mlsteward.cli import run as cli
from mlsteward.core import utcnow
from mlsteward.store import VERSION_TABLE, make_engine, sqlite_path, upgrade, upgrade_store
from mlsteward.store._migrate import alembic_config
from mlsteward.store.metadata import Base, RunRow, UTCDateTime
from mlsteward.tracking import ActiveRun, get_run, metric_history
from mlsteward.tracking import _liveness as liveness
from mlsteward.tracking._writer import _FLUSHER

PROJECT = "acs"
HEARTBEAT, STALE = 0.1, 1.0
SETTINGS_ENV = {
    "STEWARD_RUN_HEARTBEAT_SECONDS": str(HEARTBEAT),
    "STEWARD_RUN_STALE_SECONDS": str(STALE),
}


@pytest.fixture
def fast(store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client whose runs heartbeat every 0.1 s and go stale after 1 s (both backends);
    the environment says the same, for the CLI and child processes."""
    for key, value in SETTINGS_ENV.items():
        monkeypatch.setenv(key, value)
    st = ms.connect(store_uri, artifacts=str(tmp_path / "artifacts"), actor="tester")
    assert (st.config.run_heartbeat_seconds, st.config.run_stale_seconds) == (HEARTBEAT, STALE)
    st.create_project(PROJECT)
    try:
        yield st
    finally:
        st.close()


def _cli(st: Any, *args: str) -> int:
    return cli(["--uri", st.config.uri, *args])


def _wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _play_dead(st: Any, run: ActiveRun, silent_for: float = 3600) -> datetime:
    """Make ``run`` look like the run of a dead process: its writer stops heartbeating and
    its last heartbeat is ``silent_for`` seconds ago. Returns that heartbeat."""
    run.flush()
    _FLUSHER.unregister(run._writer)
    old = utcnow() - timedelta(seconds=silent_for)
    with st.store.transaction() as tx:
        tx.session.execute(update(RunRow).where(RunRow.id == run.id).values(heartbeat_at=old))
    return old


def _reap_events(st: Any, run_id: str) -> list[Any]:
    return st.audit_log(entity_kind="run", entity_id=run_id, action="run.reap")


# -- heartbeats --------------------------------------------------------------------------------
def test_a_live_run_heartbeats_while_logging_and_while_idle_and_is_never_stale(
    fast: Any,
) -> None:
    run = fast.start_run(PROJECT, name="alive")
    run.flush()
    first = get_run(fast.store, run.id)
    assert first.heartbeat_at is not None and first.heartbeat_at >= first.start_time
    assert first.to_dict()["heartbeat_at"] == first.heartbeat_at.isoformat()

    # while logging: the heartbeat rides on the metric batches
    step = 0
    while True:
        run.log_metric("loss", 1.0 / (step + 1))
        step += 1
        time.sleep(0.002)
        latest = get_run(fast.store, run.id)
        assert not latest.stale
        if latest.heartbeat_at is not None and latest.heartbeat_at > first.heartbeat_at:
            break
        assert step < 1000, "the heartbeat did not advance while logging"
    logging_beat = latest.heartbeat_at
    run.flush()
    events_before = fast.audit_log(entity_kind="run", entity_id=run.id)
    assert [e.action for e in events_before] == ["run.create"] + ["run.log"] * (
        len(events_before) - 1
    )

    # idle for longer than the stale timeout: alone, as a one-row UPDATE, never stale
    idle_start = time.monotonic()
    seen = {logging_beat}
    while time.monotonic() - idle_start < STALE * 1.5:
        now = get_run(fast.store, run.id)
        assert now.status == "running" and not now.stale
        seen.add(now.heartbeat_at)
        time.sleep(0.05)
    assert len(seen) >= 5  # it kept beating (every 0.1 s)
    assert max(h for h in seen if h is not None) > logging_beat
    assert fast.search_runs(PROJECT, stale=True) == []
    assert [r.id for r in fast.search_runs(PROJECT, stale=False)] == [run.id]
    assert not fast.runs.reap(PROJECT).reaped

    # heartbeats are liveness, not content: idle beats appended no audit event
    assert fast.audit_log(entity_kind="run", entity_id=run.id) == events_before
    run.end()
    ended = get_run(fast.store, run.id)
    assert ended.status == "finished" and not ended.stale


def test_a_writer_paused_by_a_failing_store_keeps_its_items_and_keeps_beating(fast: Any) -> None:
    metric_points = Base.metadata.tables["metric_points"]
    with fast.store.engine.begin() as connection:
        metric_points.drop(connection)
    run = fast.start_run(PROJECT, name="paused")
    run.log_metric("loss", 1.0, step=0)  # its first batch (with the run itself) fails
    time.sleep(0.5)  # several heartbeat intervals: no heartbeat for a run not yet stored
    with pytest.raises(ms.StoreUnavailable, match="2 logged items"):
        run.flush()
    with fast.store.engine.begin() as connection:
        metric_points.create(connection)
    run.flush()  # nothing was dropped
    created = get_run(fast.store, run.id).heartbeat_at
    assert created is not None

    with fast.store.engine.begin() as connection:
        metric_points.drop(connection)
    run.log_metric("loss", 0.5, step=1)  # fails in the background: the writer pauses
    assert _wait_for(lambda: get_run(fast.store, run.id).heartbeat_at != created)
    assert not get_run(fast.store, run.id).stale  # alive, though its data waits
    with pytest.raises(ms.StoreUnavailable, match="1 logged items"):
        run.flush()
    with fast.store.engine.begin() as connection:
        metric_points.create(connection)
    run.end()
    # step 0 went with the dropped table; step 1 waited in memory and was written
    assert [p.step for p in metric_history(fast.store, run.id, "loss")] == [1]
    assert get_run(fast.store, run.id).status == "finished"


# -- a killed process ------------------------------------------------------------------------
DOOMED = """
import sys, time
import mlsteward as ms
st = ms.connect(sys.argv[1], artifacts=sys.argv[2])
run = st.start_run("acs", experiment="crash", name="doomed")
run.log_params({"seed": 7})
run.log_metric("loss", 1.0, step=0)
run.flush()
print("FLUSHED", run.id, flush=True)
step = 1
while True:
    run.log_metric("loss", 1.0 / (step + 1), step=step)
    step += 1
    time.sleep(0.01)
"""


def test_a_sigkilled_run_goes_stale_and_is_reaped_at_its_last_heartbeat(
    fast: Any, scripts: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    script = scripts.write("doomed.py", DOOMED)
    child = scripts.start(script, fast.config.uri, fast.config.artifacts)  # inherits the env
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("FLUSHED"), child.stderr.read() if child.stderr else line
        run_id = line.split()[1]
        first = get_run(fast.store, run_id).heartbeat_at
        assert first is not None
        assert _wait_for(lambda: get_run(fast.store, run_id).heartbeat_at != first)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    killed = get_run(fast.store, run_id)
    last_beat = killed.heartbeat_at
    assert last_beat is not None and last_beat > first
    assert killed.status == "running"

    # no heartbeat any more: stale once the timeout has passed (1 s)
    assert _wait_for(lambda: get_run(fast.store, run_id).stale, seconds=STALE + 1)
    stale = get_run(fast.store, run_id)
    assert (stale.status, stale.heartbeat_at) == ("running", last_beat)
    assert [r.id for r in fast.search_runs(PROJECT, stale=True)] == [run_id]
    assert _cli(fast, "runs", "list", "-p", PROJECT) == 0
    assert "running (stale)" in capsys.readouterr().out
    assert _cli(fast, "runs", "list", "-p", PROJECT, "--stale", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["stale"]) for r in listed] == [(run_id, "running", True)]

    assert _cli(fast, "runs", "reap", "-p", PROJECT) == 0
    out = capsys.readouterr().out
    assert run_id in out and "Marked 1 stale run(s) killed" in out
    reaped = get_run(fast.store, run_id)
    assert (reaped.status, reaped.end_time, reaped.stale) == ("killed", last_beat, False)
    assert "last heartbeat at" in reaped.tags["steward.reaped"]
    (event,) = _reap_events(fast, run_id)
    assert event.actor == "tester"
    assert event.payload["status"] == "killed"
    assert event.payload["previous_status"] == "running"
    assert event.payload["heartbeat_at"] == last_beat.isoformat()
    assert event.payload["end_time"] == last_beat.isoformat()
    assert "taken for dead" in event.payload["reason"]
    assert event.payload["stale_after_seconds"] == STALE
    assert _cli(fast, "audit", "verify") == 0
    capsys.readouterr()
    assert fast.verify_audit().ok
    # what the child flushed is still there
    assert metric_history(fast.store, run_id, "loss")[0].value == 1.0


# -- what reap leaves alone -----------------------------------------------------------------------
def test_reap_ends_only_stale_runs_and_leaves_finished_and_live_runs_alone(fast: Any) -> None:
    with fast.start_run(PROJECT, name="done") as done:
        done.log_metric("x", 1.0)
    failed = fast.start_run(PROJECT, name="failed")
    failed.end("failed")
    live = fast.start_run(PROJECT, name="live")
    live.flush()
    dead = fast.start_run(PROJECT, name="dead")
    dead_beat = _play_dead(fast, dead)
    before = {r.id: r for r in fast.search_runs(PROJECT)}
    assert {r.name for r in before.values() if r.stale} == {"dead"}

    result = fast.runs.reap(PROJECT)
    assert [r.id for r in result.reaped] == [dead.id]
    assert result.reaped[0].heartbeat_at == dead_beat
    assert result.reaped[0].silent_seconds > 3500
    assert (result.status, result.older_than_seconds, result.dry_run) == ("killed", STALE, False)
    after = {r.id: r for r in fast.search_runs(PROJECT)}
    for run in (done, failed, live):
        assert (after[run.id].status, after[run.id].end_time) == (
            before[run.id].status,
            before[run.id].end_time,
        )
        assert _reap_events(fast, run.id) == []
    assert after[live.id].status == "running"
    assert (after[dead.id].status, after[dead.id].end_time) == ("killed", dead_beat)
    assert len(_reap_events(fast, dead.id)) == 1
    assert fast.runs.reap(PROJECT).reaped == ()  # nothing left to reap
    with pytest.raises(ms.Conflict, match="reaped as stale"):
        dead.end()
    live.end()
    assert get_run(fast.store, live.id).status == "finished"
    assert fast.verify_audit().ok


def test_a_heartbeat_or_an_end_between_listing_and_reaping_wins(
    fast: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    revived = fast.start_run(PROJECT, name="revived")
    _play_dead(fast, revived)
    ended = fast.start_run(PROJECT, name="ended")
    _play_dead(fast, ended)
    listed = liveness._find_stale

    def list_then_race(*args: Any) -> Any:
        found = listed(*args)
        assert {r.name for r in found} == {"revived", "ended"}
        assert revived._writer.write_heartbeat()  # the live writer beats in between
        fast.runs.end(ended.id, "failed")  # and this run ends by other means
        return found

    monkeypatch.setattr(liveness, "_find_stale", list_then_race)
    result = fast.runs.reap(PROJECT)
    assert result.reaped == ()
    assert {r.name for r in result.skipped} == {"revived", "ended"}
    still = get_run(fast.store, revived.id)
    assert (still.status, still.end_time, still.stale) == ("running", None, False)
    assert get_run(fast.store, ended.id).status == "failed"  # as it ended, not "killed"
    assert _reap_events(fast, revived.id) == [] and _reap_events(fast, ended.id) == []
    revived.log_metric("after", 1.0)
    revived.end()  # the writer never noticed anything
    assert get_run(fast.store, revived.id).metrics == {"after": 1.0}
    with pytest.raises(ms.Conflict, match="was already ended \\(failed\\)"):
        ended.end()


# -- the writer of a reaped run -------------------------------------------------------------
def test_a_reaped_runs_writer_refuses_its_next_write_saying_why(fast: Any) -> None:
    logging = fast.start_run(PROJECT, name="logging")
    logging.log_metric("loss", 0.5, step=0)
    beat = _play_dead(fast, logging)
    idle = fast.start_run(PROJECT, name="idle")
    _play_dead(fast, idle)
    assert {r.name for r in fast.runs.reap(PROJECT, status="failed").reaped} == {
        "logging",
        "idle",
    }

    # the process was alive after all: its next batch is refused, not written
    logging.log_metric("loss", 0.25, step=1)  # enqueued: the writer does not know yet
    with pytest.raises(ms.Conflict) as info:
        logging.flush()
    message = str(info.value)
    assert f"Run {logging.id} was reaped as stale and is now 'failed'" in message
    assert f"last heartbeat at {beat.isoformat(timespec='seconds')}" in message
    assert "Start a new run" in message and "STEWARD_RUN_STALE_SECONDS" in message
    assert "1 logged items" in "".join(getattr(info.value, "__notes__", []))
    with pytest.raises(ms.Conflict, match="was reaped as stale"):
        logging.log_metric("loss", 0.1, step=2)  # every later call says the same at once
    with pytest.raises(ms.Conflict, match="was reaped as stale"):
        logging.log_params({"lr": 0.1})
    with pytest.raises(ms.Conflict, match="was reaped as stale"):
        logging.end()
    stored = get_run(fast.store, logging.id)
    assert (stored.status, stored.end_time) == ("failed", beat)  # not resurrected
    assert [p.step for p in metric_history(fast.store, logging.id, "loss")] == [0]
    assert stored.params == {}

    # a writer with nothing to log learns it from its own heartbeat
    with pytest.raises(ms.Conflict, match="was reaped as stale"):
        idle._writer.write_heartbeat()
    with pytest.raises(ms.Conflict, match="was reaped as stale"):
        idle.log_metric("x", 1.0)
    assert get_run(fast.store, idle.id).status == "failed"
    assert fast.verify_audit().ok


# -- the CLI and its inputs -------------------------------------------------------------------
def test_reap_dry_run_changes_nothing_and_bad_options_say_what_is_expected(
    fast: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = fast.start_run(PROJECT, name="dead")
    _play_dead(fast, dead, silent_for=1800)  # 30 min
    events = len(fast.audit_log())

    assert _cli(fast, "runs", "reap", "--dry-run", "--json") == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["dry_run"] is True
    assert [r["id"] for r in planned["reaped"]] == [dead.id]
    assert _cli(fast, "runs", "reap", "--dry-run") == 0
    assert "Would mark 1 stale run(s) killed" in capsys.readouterr().out
    assert get_run(fast.store, dead.id).status == "running"
    assert len(fast.audit_log()) == events

    for args, words in [
        (["--older-than", "10x"], ["Invalid duration '10x' for --older-than", "10m, 2h or 1d"]),
        (["--older-than", "10"], ["Invalid duration '10'", "e.g. 90s, 10m"]),
        (["--older-than", "0m"], ["it must be positive"]),
        (["--older-than", "0.05s"], ["not longer than the heartbeat interval"]),
        (["--status", "finished"], ["Invalid status 'finished'", "'killed'", "'failed'"]),
        (["-p", "nope"], ["nope"]),
    ]:
        code = _cli(fast, "runs", "reap", *args)
        err = capsys.readouterr().err
        assert code == (3 if args[0] == "-p" else 2), (args, err)
        for word in words:
            assert word in err, (word, err)
        assert "Traceback" not in err
    assert get_run(fast.store, dead.id).status == "running"
    assert len(fast.audit_log()) == events

    assert _cli(fast, "runs", "reap", "-p", PROJECT, "--older-than", "1h") == 0  # 30 min < 1 h
    assert "No stale runs in project 'acs'" in capsys.readouterr().out
    assert _cli(fast, "runs", "reap", "--older-than", "10m", "--status", "failed") == 0
    assert "Marked 1 stale run(s) failed" in capsys.readouterr().out
    assert get_run(fast.store, dead.id).status == "failed"
    assert _reap_events(fast, dead.id)[0].payload["stale_after_seconds"] == 600
    with pytest.raises(ms.Conflict, match="reaped as stale"):
        dead.end()


def test_stale_is_a_flag_not_a_status_in_filters(fast: Any) -> None:
    with pytest.raises(ms.InvalidInput) as info:
        fast.search_runs(PROJECT, "attributes.status = 'stale'")
    assert "'stale' is not a status" in str(info.value)
    assert "stale=True" in str(info.value) and "--stale" in str(info.value)
    with pytest.raises(ms.InvalidInput, match="stale must be True"):
        fast.search_runs(PROJECT, stale="yes")
    dead = fast.start_run(PROJECT, name="dead")
    _play_dead(fast, dead)
    running = fast.search_runs(PROJECT, "status = 'running'")
    assert [(r.id, r.stale) for r in running] == [(dead.id, True)]  # still running, stale
    assert fast.search_runs(PROJECT, "status = 'running'", stale=False) == []
    dead.end()  # a silent run can still end itself: stale is only a presumption
    assert [(r.status, r.stale) for r in fast.search_runs(PROJECT)] == [("finished", False)]


# -- the migration -------------------------------------------------------------------------------
_PROJECTS = sa.table(
    "projects",
    sa.column("id"),
    sa.column("name"),
    sa.column("description"),
    sa.column("created_at", UTCDateTime()),
    sa.column("created_by"),
)
_EXPERIMENTS = sa.table(
    "experiments",
    sa.column("id"),
    sa.column("project_id"),
    sa.column("name"),
    sa.column("created_at", UTCDateTime()),
    sa.column("created_by"),
)
_RUNS_0008 = sa.table(
    "runs",
    *(
        sa.column(name)
        for name in ("id", "project_id", "experiment_id", "name", "status", "created_by")
    ),
    sa.column("start_time", UTCDateTime()),
    sa.column("end_time", UTCDateTime()),
    sa.column("python_version"),
    sa.column("platform"),
)


def test_a_0008_database_with_runs_upgrades_and_old_runs_fall_back_to_start_time(
    store_uri: str, tmp_path: Path
) -> None:
    engine = make_engine(store_uri)
    started = utcnow() - timedelta(hours=2)
    try:
        assert upgrade(engine, sqlite_path(store_uri), "0008").current == "0008"
        with engine.begin() as connection:
            assert "heartbeat_at" not in {
                c["name"] for c in inspect(connection).get_columns("runs")
            }
            connection.execute(
                _PROJECTS.insert(),
                {
                    "id": "p" * 32,
                    "name": PROJECT,
                    "description": "",
                    "created_at": started,
                    "created_by": "old",
                },
            )
            connection.execute(
                _EXPERIMENTS.insert(),
                {
                    "id": "e" * 32,
                    "project_id": "p" * 32,
                    "name": "default",
                    "created_at": started,
                    "created_by": "old",
                },
            )
            common = {
                "project_id": "p" * 32,
                "experiment_id": "e" * 32,
                "created_by": "old",
                "start_time": started,
                "python_version": "3.11",
                "platform": "linux",
            }
            connection.execute(
                _RUNS_0008.insert(),
                [
                    {
                        **common,
                        "id": "a" * 32,
                        "name": "orphan",
                        "status": "running",
                        "end_time": None,
                    },
                    {
                        **common,
                        "id": "b" * 32,
                        "name": "done",
                        "status": "finished",
                        "end_time": started + timedelta(minutes=5),
                    },
                ],
            )
    finally:
        engine.dispose()

    before, after = upgrade_store(store_uri)
    assert before.current == "0008" and after.current == after.head  # through 0009
    with ms.connect(store_uri, artifacts=str(tmp_path / "a"), actor="tester") as st:
        orphan, done = st.runs.get("a" * 32), st.runs.get("b" * 32)
        assert (orphan.heartbeat_at, orphan.last_seen, orphan.stale) == (None, started, True)
        assert (done.heartbeat_at, done.stale) == (None, False)
        assert [r.id for r in st.search_runs(PROJECT, stale=True)] == ["a" * 32]
        result = st.runs.reap(PROJECT)
        assert [(r.id, r.heartbeat_at) for r in result.reaped] == [("a" * 32, None)]
        assert "no heartbeat since it started" in result.reaped[0].reason
        reaped = st.runs.get("a" * 32)
        assert (reaped.status, reaped.end_time) == ("killed", started)
        assert st.runs.get("b" * 32).end_time == started + timedelta(minutes=5)
        assert st.verify_audit().ok and st.verify_audit().count == 1
        # new runs on the upgraded store heartbeat
        with st.start_run(PROJECT) as run:
            run.flush()
            assert run.info().heartbeat_at is not None

    # and the revision can be undone (the column goes, the runs stay)
    engine = make_engine(store_uri)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0008")
        with engine.connect() as connection:
            assert "heartbeat_at" not in {
                c["name"] for c in inspect(connection).get_columns("runs")
            }
            version = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
            assert version.scalar_one() == "0008"
            assert connection.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 3
    finally:
        engine.dispose()
