"""steward runs list|show|compare|history|export|end and steward experiments list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mlsteward as ms
from mlsteward.cli import run as cli


@pytest.fixture
def two_runs(st: Any) -> tuple[str, str]:
    ids = []
    for depth, auc in ((3, 0.81), (5, 0.86)):
        with st.start_run("acs", experiment="cli", name=f"depth-{depth}") as run:
            run.log_params({"max_depth": depth, "lr": 0.1})
            for step in range(3):
                run.log_metric("loss", 1.0 / (step + depth), step=step)
            run.log_metric("roc_auc", auc)
        ids.append(run.id)
    return ids[0], ids[1]


def _cli(st: Any, *args: str) -> int:
    return cli(["--uri", st.config.uri, *args])


def test_list_filters_and_orders(st: Any, two_runs: tuple[str, str], capsys: Any) -> None:
    assert _cli(st, "runs", "list", "-p", "acs", "-f", "metrics.roc_auc > 0.85", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [two_runs[1]]
    assert _cli(st, "runs", "list", "-p", "acs", "-o", "metrics.roc_auc ASC") == 0
    out = capsys.readouterr().out
    assert out.index(two_runs[0]) < out.index(two_runs[1])  # full ids, never cut
    assert _cli(st, "runs", "list", "-p", "acs", "-f", "metrics.roc_auc >") == 2
    err = capsys.readouterr().err
    assert "Invalid filter at position 18" in err and "^" in err


def test_show_and_compare(st: Any, two_runs: tuple[str, str], capsys: Any) -> None:
    assert _cli(st, "runs", "show", two_runs[0][:20]) == 0
    out = capsys.readouterr().out
    assert "depth-3" in out and "max_depth = 3" in out and "finished" in out
    assert _cli(st, "runs", "compare", *two_runs, "--json") == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["params"] == {"max_depth": ["3", "5"]}
    assert compared["metrics"]["roc_auc"] == [0.81, 0.86]
    assert compared["same_params"] == {"lr": "0.1"}
    assert _cli(st, "runs", "compare", *two_runs) == 0
    table = capsys.readouterr().out
    assert "params.max_depth" in table and "params.lr" not in table.split("same in")[0]
    assert _cli(st, "runs", "compare", two_runs[0]) == 2


def test_history_and_export(
    st: Any, two_runs: tuple[str, str], tmp_path: Path, capsys: Any
) -> None:
    assert _cli(st, "runs", "history", two_runs[0], "-m", "loss", "--json") == 0
    points = json.loads(capsys.readouterr().out)
    assert [p["step"] for p in points] == [0, 1, 2]
    csv_file, parquet_file = tmp_path / "loss.csv", tmp_path / "all.parquet"
    assert _cli(st, "runs", "export", two_runs[0], "-m", "loss", "-o", str(csv_file)) == 0
    frame = pd.read_csv(csv_file)
    assert list(frame.columns) == ["run_id", "key", "step", "value", "timestamp"]
    assert frame["value"].tolist() == pytest.approx([1 / 3, 1 / 4, 1 / 5])
    assert _cli(st, "runs", "export", two_runs[0], "-o", str(parquet_file)) == 0
    assert sorted(set(pd.read_parquet(parquet_file)["key"])) == ["loss", "roc_auc"]
    assert _cli(st, "runs", "export", two_runs[0], "-m", "nope", "-o", str(csv_file)) == 3
    assert _cli(st, "runs", "export", two_runs[0], "-o", str(tmp_path / "x.json")) == 2


def test_experiments_and_end(st: Any, two_runs: tuple[str, str], capsys: Any) -> None:
    assert _cli(st, "experiments", "list", "-p", "acs", "--json") == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["cli"]
    stuck = st.start_run("acs", experiment="cli")
    stuck.flush()  # in the store (as it is after at most the writer's interval)
    assert _cli(st, "runs", "end", stuck.id) == 0
    assert st.runs.get(stuck.id).status == "killed"
    assert _cli(st, "runs", "end", stuck.id) == 5  # already ended: Conflict
    with pytest.raises(ms.Conflict, match="was already ended"):
        stuck.end()  # the process that started it learns it at its end
