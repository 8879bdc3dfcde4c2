"""Windows by time and by count over a Parquet prediction log, read with DuckDB."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from monitoring_logs import START, spread, write_labels, write_log

from mlsteward.core import InvalidInput, NotFound
from mlsteward.monitoring import LogReader, parse_window


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, list[str], np.ndarray]:
    rng = np.random.default_rng(0)
    n = 5000
    times = spread(START, 10, n)
    ids = write_log(
        tmp_path,
        "acs",
        times=times,
        inputs={"x": rng.normal(size=n), "k": rng.choice(["a", "b"], n)},
        scores=rng.random(n),
        shadow=(rng.random(n) < 0.1).tolist(),
    )
    labelled = ids[::2]
    write_labels(tmp_path, "acs", labelled, [0] * len(labelled))
    write_labels(tmp_path, "acs", labelled[:100], [1] * 100)  # a correction: the latest wins
    seconds = np.array([(t - START).total_seconds() for t in times])
    return tmp_path, ids, seconds


def test_parse_window() -> None:
    assert parse_window("30d").seconds == 30 * 86400
    assert parse_window("12h").seconds == 12 * 3600 and str(parse_window("12h")) == "12h"
    assert parse_window(5000).rows == 5000 and parse_window("5000").kind == "count"
    with pytest.raises(InvalidInput, match="expected a duration such as 1h, 1d"):
        parse_window("monthly")


def test_time_windows_count_and_read_exactly_their_rows(log) -> None:
    root, ids, seconds = log
    reader = LogReader.for_endpoint(root, "acs")
    shadow = reader.read(None, include_shadow=True).column("request_id").to_pylist()
    assert len(shadow) == 5000
    live = set(reader.read(None).column("request_id").to_pylist())
    windows = reader.windows("1d", include_shadow=True)
    expected = np.bincount((seconds // 86400).astype(int))
    assert [w.rows for w in windows] == expected.tolist()
    assert windows[0].start == START and windows[3].end - windows[3].start == timedelta(days=1)
    window = windows[3]
    table = reader.read(window, include_shadow=True)
    inside = [ids[i] for i in np.flatnonzero((seconds >= 3 * 86400) & (seconds < 4 * 86400))]
    assert table.column("request_id").to_pylist() == inside  # ordered by time
    times = table.column("time").to_pylist()
    assert min(times) >= window.start and max(times) < window.end
    # live traffic only by default: shadow copies are left out
    default = reader.read(window)
    assert set(default.column("request_id").to_pylist()) == set(inside) & live
    # labels: every second request has one; the latest label of a request wins
    labels = dict(
        zip(table.column("request_id").to_pylist(), table.column("label").to_pylist(), strict=True)
    )
    assert all((labels[r] is not None) == (ids.index(r) % 2 == 0) for r in inside)
    first = reader.read(windows[0], include_shadow=True)
    corrected = {r for r in ids[::2][:100]}
    got = dict(
        zip(first.column("request_id").to_pylist(), first.column("label").to_pylist(), strict=True)
    )
    assert all(v == 1 for r, v in got.items() if r in corrected)
    assert table.column("model_version").to_pylist()[0] == "m@1"
    assert set(table.column_names) >= {
        "x",
        "k",
        "prediction",
        "probability",
        "latency_ms",
        "status",
    }


def test_count_windows_split_the_log_in_order(log) -> None:
    root, ids, _ = log
    reader = LogReader.for_endpoint(root, "acs")
    windows = reader.windows(700, include_shadow=True)
    assert [w.rows for w in windows] == [700] * 7 + [100]
    assert [w.complete for w in windows] == [True] * 7 + [False]
    seen: list[str] = []
    for window in windows:
        seen += reader.read(window, include_shadow=True).column("request_id").to_pylist()
    assert seen == ids  # each row once, in arrival order
    bounded = reader.windows(
        1000, START + timedelta(days=2), START + timedelta(days=4), include_shadow=True
    )
    assert sum(w.rows for w in bounded) == sum(
        1
        for t in reader.read(None, include_shadow=True).column("time").to_pylist()
        if START + timedelta(days=2) <= t < START + timedelta(days=4)
    )


def test_any_directory_of_parquet_files_is_a_log(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    write_log(
        tmp_path,
        "e",
        times=spread(START, 3, 300),
        inputs={"x": rng.normal(size=300)},
        scores=rng.random(300),
    )
    reader = LogReader(tmp_path / "predictions" / "endpoint=e")
    assert [w.rows for w in reader.windows("3d")] == [300]
    assert reader.model_versions() == {"m@1": 300}
    assert reader.read(None).column("label").null_count == 300  # no feedback given


def test_a_missing_log_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="No prediction log for endpoint 'nope'"):
        LogReader.for_endpoint(tmp_path, "nope")
    with pytest.raises(NotFound, match="no Parquet segments there"):
        LogReader(tmp_path / "elsewhere")
