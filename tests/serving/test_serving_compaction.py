"""Compaction of the prediction log and feedback: one segment per past day, the same rows,
safe at every step of a crash and while readers read."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlsteward.core import Conflict, InvalidInput, NotFound
from mlsteward.monitoring import LogReader
from mlsteward.registry import ColumnSpec, OutputSpec, Signature
from mlsteward.serving import (
    LabelSpec,
    LogItem,
    Outputs,
    PredictionLog,
    ServedModel,
    compact_log,
    join_feedback,
    read_feedback,
    read_predictions,
    segment_files,
    write_feedback,
)
from mlsteward.serving._predlog import build_table
from mlsteward.serving._segments import PREDICTIONS, write_segment

Capture = pytest.CaptureFixture[str]
TODAY = datetime.now(UTC).date()
PAST = (TODAY - timedelta(days=2), TODAY - timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _model() -> ServedModel:
    signature = Signature(
        (
            ColumnSpec("age", "numeric", "float64"),
            ColumnSpec("sex", "categorical", "object", categories=("1", "2")),
        ),
        (
            OutputSpec("prediction", "categorical", (0, 1)),
            OutputSpec("probabilities", "numeric", (0, 1)),
        ),
        task="classification",
    )
    return ServedModel(object(), signature, name="m", version=1, project="p")


def _items(day: date, n: int, rng: np.random.Generator, prefix: str) -> list[LogItem]:
    """``n`` one-row requests at random times of ``day`` (up to now for today)."""
    model = _model()
    span = 86_399.0
    if day == TODAY:
        span = max(1.0, (datetime.now(UTC) - _midnight(day)).total_seconds() - 1)
    items = []
    for i in range(n):
        score = float(rng.uniform())
        items.append(
            LogItem(
                "acs",
                model,
                [f"{prefix}-{i}"],
                _midnight(day).timestamp() + float(rng.uniform(0, span)),
                float(rng.uniform(1, 5)),
                outputs=Outputs([int(score > 0.5)], [score], [[1 - score, score]]),
                columns={"age": [float(rng.integers(18, 90))], "sex": [str(rng.integers(1, 3))]},
            )
        )
    return items


def write_traffic(
    root: Path, days: tuple[date, ...] = (*PAST, TODAY), segments: int = 6, rows: int = 5
) -> int:
    """``segments`` flushes of ``rows`` requests for each day (one segment per flush and
    day, times shuffled across segments); return the number of rows."""
    rng = np.random.default_rng(7)
    log = PredictionLog(root, fsync=False)
    for s in range(segments):
        for day in days:
            for item in _items(day, rows, rng, f"{day}-{s}"):
                assert log.record(item)
        log.flush()
    return segments * rows * len(days)


def parts(root: Path, kind: str = PREDICTIONS) -> dict[str, list[str]]:
    """The part files on disk per day (not through the reader's rules)."""
    base = root / kind / "endpoint=acs"
    return {
        d.name[5:]: sorted(p.name for p in d.glob("part-*.parquet"))
        for d in sorted(base.glob("date=*"))
    }


def hidden(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file()]


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda r: r["request_id"])


def same_rows(before: pa.Table, after: pa.Table) -> bool:
    return rows_of(before) == rows_of(after.select(before.column_names))


# -- what it does ----------------------------------------------------------------------------
def test_each_past_day_becomes_one_sorted_segment_with_the_same_rows(tmp_path: Path) -> None:
    n = write_traffic(tmp_path)
    today_files = parts(tmp_path)[TODAY.isoformat()]
    before = read_predictions(tmp_path, "acs")
    assert before.num_rows == n and len(today_files) == 6

    report = compact_log(tmp_path, "acs")

    on_disk = parts(tmp_path)
    assert [len(on_disk[d.isoformat()]) for d in PAST] == [1, 1]
    assert on_disk[TODAY.isoformat()] == today_files  # the live day is not touched
    after = read_predictions(tmp_path, "acs")
    assert after.num_rows == n
    assert same_rows(before, after)
    assert (report.totals()["days"], report.totals()["segments_before"]) == (2, 12)
    assert report.totals()["segments_after"] == 2 and report.totals()["rows"] == 60
    assert report.totals()["bytes_after"] < report.totals()["bytes_before"]
    merged = pq.read_table(
        tmp_path / "predictions/endpoint=acs" / f"date={PAST[0]}" / on_disk[PAST[0].isoformat()][0]
    )
    times = merged.column("time").to_pylist()
    assert times == sorted(times) and len(times) == 30
    assert merged.schema.metadata == {b"mlsteward.predictions": b"1"}
    assert merged.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert not hidden(tmp_path)
    again = compact_log(tmp_path, "acs")  # nothing left to do
    assert again.days == () and again.days_left == 2 and parts(tmp_path) == on_disk


def test_a_segment_with_an_extra_column_keeps_it_with_nulls_elsewhere(tmp_path: Path) -> None:
    write_traffic(tmp_path, days=(PAST[0],), segments=3)
    extra = build_table(_items(PAST[0], 4, np.random.default_rng(1), "extra"))
    extra = extra.append_column("region", pa.array(["n", "s", None, "e"], pa.string()))
    write_segment(tmp_path, PREDICTIONS, "acs", PAST[0], extra, fsync=False)
    before = read_predictions(tmp_path, "acs")
    assert "region" in before.column_names

    compact_log(tmp_path, "acs")

    [merged_name] = parts(tmp_path)[PAST[0].isoformat()]
    merged = pq.read_table(next((tmp_path / "predictions").rglob(merged_name)))
    assert merged.num_rows == 19
    regions = dict(zip(merged["request_id"].to_pylist(), merged["region"].to_pylist(), strict=True))
    assert [regions[f"extra-{i}"] for i in range(4)] == ["n", "s", None, "e"]
    assert sum(v is not None for v in regions.values()) == 3  # the others are null
    assert merged.schema.field("inputs").type == before.schema.field("inputs").type
    assert same_rows(before, read_predictions(tmp_path, "acs"))


def test_feedback_compaction_keeps_the_latest_label_of_each_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlsteward.serving._feedback as feedback

    write_traffic(tmp_path, days=(PAST[0],), segments=2, rows=3)
    ids = [f"{PAST[0]}-0-{i}" for i in range(3)]
    spec = LabelSpec((0, 1))
    moments = iter(_midnight(PAST[1]) + timedelta(hours=h) for h in range(1, 20))
    monkeypatch.setattr(feedback, "utcnow", lambda: next(moments))
    for labels in ([0, 0, 1], [1, None, None], [None, 1, None], [0, None, None]):
        chosen = [(i, v) for i, v in zip(ids, labels, strict=True) if v is not None]
        write_feedback(tmp_path, "acs", [i for i, _ in chosen], [v for _, v in chosen], spec)
    expected = {ids[0]: 0, ids[1]: 1, ids[2]: 1}  # the latest of each
    joined = join_feedback(tmp_path, "acs").to_arrow_table()
    assert {r["request_id"]: r["label"] for r in joined.to_pylist() if r["label"] is not None} == (
        expected
    )
    labels_before = read_feedback(tmp_path, "acs")

    report = compact_log(tmp_path, "acs", kinds=("feedback",))

    assert report.kinds == ("feedback",) and report.totals("feedback")["segments_before"] == 4
    assert [len(v) for v in parts(tmp_path, "feedback").values()] == [1]
    assert len(parts(tmp_path)[PAST[0].isoformat()]) == 2  # predictions were not asked for
    joined = join_feedback(tmp_path, "acs").to_arrow_table()
    assert {r["request_id"]: r["label"] for r in joined.to_pylist() if r["label"] is not None} == (
        expected
    )
    assert same_rows(labels_before.sort_by("time"), read_feedback(tmp_path, "acs"))
    [name] = next(iter(parts(tmp_path, "feedback").values()))
    merged = pq.read_table(next((tmp_path / "feedback").rglob(name)))
    assert merged.schema.metadata == {b"mlsteward.feedback": b"1"}
    assert merged.column("label").type == pa.int64()


def test_a_dry_run_changes_nothing_and_reports_what_would_be_merged(tmp_path: Path) -> None:
    write_traffic(tmp_path)
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    report = compact_log(tmp_path, "acs", dry_run=True)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == files
    assert report.totals()["rows"] == 60 and report.totals()["bytes_after"] is None
    assert [d.day for d in report.days] == list(PAST) and not report.changed


def test_bad_input_says_what_was_wrong(tmp_path: Path) -> None:
    write_traffic(tmp_path, days=(PAST[0],), segments=2)
    with pytest.raises(InvalidInput, match="after today"):
        compact_log(tmp_path, "acs", before=TODAY + timedelta(days=1))
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        compact_log(tmp_path, "acs", before="2024-13-01")
    with pytest.raises(InvalidInput, match="expected one or both of predictions, feedback"):
        compact_log(tmp_path, "acs", kinds=("logs",))
    with pytest.raises(NotFound, match="No log for endpoint 'other'"):
        compact_log(tmp_path, "other")
    assert [len(v) for v in parts(tmp_path).values()] == [2]


def test_a_second_compaction_of_the_endpoint_at_the_same_time_is_refused(tmp_path: Path) -> None:
    write_traffic(tmp_path, days=(PAST[0],), segments=2)
    descriptor = os.open(tmp_path / "predictions" / "endpoint=acs", os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        with pytest.raises(Conflict, match="Another compaction of endpoint 'acs'"):
            compact_log(tmp_path, "acs")
    finally:
        os.close(descriptor)
    assert compact_log(tmp_path, "acs").totals()["days"] == 1


# -- crashes ---------------------------------------------------------------------------------
_CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from mlsteward.serving import _compaction as c

    root, step = Path(sys.argv[1]), sys.argv[2]
    if step == "4-partial":  # killed while deleting the sources
        done = [0]
        unlink = Path.unlink

        def dying_unlink(self, missing_ok=False):
            unlink(self, missing_ok=missing_ok)
            done[0] += 1
            if done[0] == 2:
                os._exit(17)

        Path.unlink = dying_unlink
    else:
        name = {"1": "_write_merged", "2": "_write_manifest", "3": "_publish",
                "4": "_delete_sources"}[step]
        original = getattr(c, name)

        def dying(*args, **kwargs):
            original(*args, **kwargs)
            os._exit(17)  # no cleanup, no finally: as if the power went out

        setattr(c, name, dying)
    c.compact_log(root, "acs")
    """
)


@pytest.mark.parametrize("step", ["1", "2", "3", "4-partial", "4"])
def test_a_crash_after_any_step_leaves_every_row_visible_once(tmp_path: Path, step: str) -> None:
    n = write_traffic(tmp_path)
    before = read_predictions(tmp_path, "acs")
    with LogReader.for_endpoint(tmp_path, "acs") as reader:
        window_before = reader.read(start=_midnight(PAST[0]), end=_midnight(TODAY))
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASH, str(tmp_path), step], capture_output=True, text=True
    )
    assert crashed.returncode == 17, crashed.stderr

    day = tmp_path / "predictions/endpoint=acs" / f"date={PAST[0]}"
    names = {p.name for p in day.iterdir()}
    manifests = [n for n in names if n.startswith(".compaction-") and n.endswith(".json")]
    temporary = [n for n in names if n.startswith(".compact-") and n.endswith(".tmp")]
    segments = [n for n in names if n.startswith("part-")]
    expected_state = {  # (manifests, temporary files, part files) in the crashed day
        "1": (0, 1, 6),
        "2": (1, 1, 6),
        "3": (1, 0, 7),
        "4-partial": (1, 0, 5),
        "4": (1, 0, 1),
    }
    assert (len(manifests), len(temporary), len(segments)) == expected_state[step]
    if manifests:
        document = json.loads((day / manifests[0]).read_text())
        assert len(document["sources"]) == 6 and document["target"].startswith("part-")

    after = read_predictions(tmp_path, "acs")  # the crashed state, as readers see it
    ids = after.column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == n
    assert same_rows(before, after)
    with LogReader.for_endpoint(tmp_path, "acs") as reader:
        window = reader.read(start=_midnight(PAST[0]), end=_midnight(TODAY))
    assert window.to_pylist() == window_before.to_pylist()

    report = compact_log(tmp_path, "acs")  # finishes or undoes, then compacts

    assert report.recovered >= 1
    on_disk = parts(tmp_path)
    assert [len(on_disk[d.isoformat()]) for d in PAST] == [1, 1]
    assert not hidden(tmp_path)
    assert same_rows(before, read_predictions(tmp_path, "acs"))


# -- readers during a compaction -------------------------------------------------------------
def _compact_after_listing(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Make the first listing of the log run a whole compaction right after it listed, so
    that the reader opens files that are gone (the race, made certain)."""
    import mlsteward.serving._predlog as predlog

    calls = [0]

    def listing(*args: Any, **kwargs: Any) -> list[Path]:
        files = segment_files(*args, **kwargs)
        calls[0] += 1
        if calls[0] == 1:
            assert compact_log(root, "acs").totals()["days"] == 2
        return files

    monkeypatch.setattr(predlog, "segment_files", listing)


def _compact_before_executing(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Compact once, after the predictions of a feedback join are bound (their files
    named) and before the join runs: the query itself meets the deleted sources."""
    import mlsteward.serving._feedback as feedback

    original = feedback._feedback_relation
    calls = [0]

    def bind(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            assert compact_log(root, "acs").totals()["days"] == 2
        return original(*args, **kwargs)

    monkeypatch.setattr(feedback, "_feedback_relation", bind)


def test_a_reader_that_listed_just_before_the_sources_went_lists_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = write_traffic(tmp_path)
    before = read_predictions(tmp_path, "acs")
    _compact_after_listing(monkeypatch, tmp_path)
    after = read_predictions(tmp_path, "acs")
    assert after.num_rows == n and same_rows(before, after)
    assert [len(parts(tmp_path)[d.isoformat()]) for d in PAST] == [1, 1]


def test_a_monitor_window_reads_the_same_rows_before_during_and_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_traffic(tmp_path, segments=8)
    with LogReader.for_endpoint(tmp_path, "acs") as reader:
        windows = reader.windows("1d")
        rows_before = [reader.read(w).to_pylist() for w in windows]
    assert [w.rows for w in windows] == [40, 40, 40]
    with LogReader.for_endpoint(tmp_path, "acs") as reader:
        _compact_before_executing(monkeypatch, tmp_path)  # compacts under the first read
        during = reader.read(windows[0]).to_pylist()
        assert during == rows_before[0]
        assert reader.windows("1d") == windows
        assert [reader.read(w).to_pylist() for w in windows] == rows_before
    assert [len(parts(tmp_path)[d.isoformat()]) for d in PAST] == [1, 1]


def test_a_reader_racing_a_compaction_never_sees_duplicates_or_gaps(tmp_path: Path) -> None:
    days = tuple(TODAY - timedelta(days=d) for d in range(6, 0, -1))
    n = write_traffic(tmp_path, days=days, segments=25, rows=2)
    expected = sorted(read_predictions(tmp_path, "acs").column("request_id").to_pylist())
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read_forever() -> None:
        while not stop.is_set():
            try:
                ids = read_predictions(tmp_path, "acs").column("request_id").to_pylist()
            except BaseException as exc:  # the test fails on any of them
                errors.append(exc)
                return
            if sorted(ids) != expected:
                errors.append(AssertionError(f"{len(ids)} rows, {len(set(ids))} distinct"))
                return
            seen.append(len(ids))

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        while len(seen) < 2 and not errors:
            threading.Event().wait(0.01)
        report = compact_log(tmp_path, "acs")
        reads_during = len(seen)
        threading.Event().wait(0.2)
    finally:
        stop.set()
        reader.join(30)
    assert not errors, errors[0]
    assert report.totals()["days"] == 6 and len(seen) > reads_during >= 2
    assert set(seen) == {n}
    assert all(len(v) == 1 for v in parts(tmp_path).values())


# -- faces -----------------------------------------------------------------------------------
def test_the_sdk_records_a_compaction_in_the_audit_trail(sqlite_client: Any) -> None:
    st = sqlite_client
    write_traffic(st.endpoints.log_root)
    assert st.endpoints.compact_log("acs", dry_run=True).totals()["days"] == 2
    assert st.audit_log(action="log.compact") == []  # a dry run changes nothing
    report = st.endpoints.compact_log("acs")
    [event] = st.audit_log(action="log.compact")
    assert (event.entity_kind, event.entity_id) == ("endpoint", "acs")
    assert event.payload["days"] == 2 and event.payload["segments_before"] == 12
    assert event.payload == json.loads(json.dumps(report.summary()))
    st.endpoints.compact_log("acs")  # nothing to do: nothing to record
    assert len(st.audit_log(action="log.compact")) == 1
    assert st.verify_audit().ok


def _steward(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    from mlsteward.cli import run

    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_compacts_and_prints_a_summary(tmp_path: Path, capsys: Capture) -> None:
    uri = f"sqlite:///{tmp_path / 'steward.db'}"
    write_traffic(tmp_path)
    files = sorted(tmp_path.rglob("*.parquet"))
    code, out, err = _steward(capsys, "--uri", uri, "log", "compact", "acs", "--dry-run")
    assert code == 0, err
    assert "Would compact 2 day(s)" in out and "12 -> 2" in out
    assert sorted(tmp_path.rglob("*.parquet")) == files

    code, out, err = _steward(capsys, "--uri", uri, "log", "compact", "acs")
    assert code == 0, err
    assert "Compacted 2 day(s) of endpoint 'acs'" in out and "12 -> 2" in out and "60" in out
    assert [len(v) for v in parts(tmp_path).values()] == [1, 1, 6]
    import mlsteward as ms

    with ms.connect(uri) as st:
        assert len(st.audit_log(action="log.compact")) == 1


def test_the_cli_json_and_log_directory(tmp_path: Path, capsys: Capture) -> None:
    log = tmp_path / "elsewhere"
    write_traffic(log)
    code, out, err = _steward(
        capsys, "log", "compact", "acs", "--log", str(log), "--kind", "predictions",
        "--format", "json", "--before", PAST[1].isoformat(),
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    assert document["days"] == 1 and document["kinds"] == ["predictions"]
    assert document["per_day"][0]["day"] == PAST[0].isoformat()
    assert [len(v) for v in parts(log).values()] == [1, 6, 6]
    assert not (tmp_path / ".steward").exists()  # with --log the store is not opened


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--before", "2024-1-5"], 2, "expected YYYY-MM-DD"),
        (["--before", "tomorrow"], 2, "expected YYYY-MM-DD"),
        (["--before", (TODAY + timedelta(days=3)).isoformat()], 2, "after today"),
        (["--kind", "labels"], 2, "expected predictions, feedback or all"),
        (["--format", "yaml"], 2, "expected text or json"),
    ],
)
def test_the_cli_refuses_bad_input(
    tmp_path: Path, capsys: Capture, argv: list[str], code: int, message: str
) -> None:
    write_traffic(tmp_path, days=(PAST[0],), segments=2)
    result, _, err = _steward(capsys, "log", "compact", "acs", "--log", str(tmp_path), *argv)
    assert result == code and message in err
    assert [len(v) for v in parts(tmp_path).values()] == [2]


def test_the_cli_names_an_unknown_endpoint(tmp_path: Path, capsys: Capture) -> None:
    code, _, err = _steward(capsys, "log", "compact", "nope", "--log", str(tmp_path))
    assert code == 3 and "No log for endpoint 'nope'" in err and "--log DIR" in err
