"""``steward data ...`` through ``mlsteward.cli.run``: happy paths and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mlsteward.cli import run

Frame = Callable[..., pd.DataFrame]


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("STEWARD_ARTIFACTS", str(tmp_path / "artifacts"))
    base = ["--uri", f"sqlite:///{tmp_path / 'cli.db'}"]
    assert run([*base, "projects", "create", "proj"]) == 0
    return base


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    capsys.readouterr()
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_register_list_show_split_lineage_report(
    uri: list[str], tmp_path: Path, make_frame: Frame, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "people.csv"
    make_frame().to_csv(csv, index=False)
    args = [
        *uri,
        "data",
        "register",
        str(csv),
        "-p",
        "proj",
        "-n",
        "people",
        "--role",
        "train",
        "--target",
        "employed",
        "--time-column",
        "when",
        "--license",
        "CC0-1.0",
        "--type",
        "sex=categorical",
    ]
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "Registered people@" in out and "200 rows, 6 columns" in out
    assert run([*args[:-2], "--role", "test"]) == 0
    captured = capsys.readouterr()
    assert "Already registered" in captured.out and "role 'test' differs" in captured.err
    listed = _json(capsys, [*uri, "data", "list", "-p", "proj", "--json"])
    assert isinstance(listed, list) and [v["name"] for v in listed] == ["people"]
    version = listed[0]["version"]
    shown = _json(capsys, [*uri, "data", "show", f"people@{version[:8]}", "-p", "proj", "--json"])
    assert (
        isinstance(shown, dict) and shown["license"] == "CC0-1.0" and shown["latest_check"] is None
    )
    assert run([*uri, "data", "show", "people@latest", "-p", "proj"]) == 0
    assert "Not checked yet" in capsys.readouterr().out
    children = _json(
        capsys,
        [
            *uri,
            "data",
            "split",
            "people@latest",
            "-p",
            "proj",
            "--method",
            "stratified",
            "--fraction",
            "train=0.8",
            "--fraction",
            "test=0.2",
            "--seed",
            "1",
            "--json",
        ],
    )
    assert isinstance(children, dict) and children["test"]["row_count"] == 40
    assert run([*uri, "data", "lineage", "people@latest", "-p", "proj"]) == 0
    tree = capsys.readouterr().out
    assert "people-train@" in tree and "people-test@" in tree and "stratified" in tree
    lineage = _json(capsys, [*uri, "data", "lineage", "people-test@latest", "-p", "proj", "--json"])
    assert isinstance(lineage, dict) and lineage["parents"][0]["ref"] == f"people@{version}"
    report = tmp_path / "report.html"
    assert run([*uri, "data", "report", "people@latest", "-p", "proj", "-o", str(report)]) == 0
    assert report.read_text().lstrip().lower().startswith("<!doctype html")
    as_json = tmp_path / "report.json"
    assert (
        run(
            [
                *uri,
                "data",
                "report",
                "people@latest",
                "-p",
                "proj",
                "-o",
                str(as_json),
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert json.loads(as_json.read_text())["dataset"]["name"] == "people"


def test_check_exit_codes(
    uri: list[str], tmp_path: Path, make_frame: Frame, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    make_frame().to_csv(good, index=False)
    make_frame().assign(id=1).to_csv(bad, index=False)
    for path, name in ((good, "good"), (bad, "bad")):
        assert (
            run(
                [
                    *uri,
                    "data",
                    "register",
                    str(path),
                    "-p",
                    "proj",
                    "-n",
                    name,
                    "--type",
                    "id=id",
                    "--target",
                    "employed",
                ]
            )
            == 0
        )
    assert run([*uri, "data", "check", "good@latest", "-p", "proj"]) == 0
    assert "No blocking check failed" in capsys.readouterr().out
    assert run([*uri, "data", "check", "bad@latest", "-p", "proj"]) == 1
    assert "Blocking check(s) failed: duplicate_ids" in capsys.readouterr().out
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "checks:\n  - kind: schema\n  - kind: coverage\n    groups: [sex]\n    min_rows: 5\n"
    )
    capsys.readouterr()
    assert (
        run(
            [
                *uri,
                "data",
                "check",
                "bad@latest",
                "-p",
                "proj",
                "--spec",
                str(spec),
                "--reference",
                "good@latest",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["reference"].startswith("good@")
    assert [r["kind"] for r in report["results"]] == ["schema", "coverage"]
    shown = _json(capsys, [*uri, "data", "show", "bad@latest", "-p", "proj", "--json"])
    assert isinstance(shown, dict) and shown["latest_check"]["id"] == report["id"]


def test_errors_have_messages_and_exit_codes(
    uri: list[str], tmp_path: Path, make_frame: Frame, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run([*uri, "data", "register", str(tmp_path / "nope.csv"), "-p", "proj", "-n", "x"]) == 3
    assert "does not exist; expected a CSV or Parquet file" in capsys.readouterr().err
    (tmp_path / "data.json").write_text("{}")
    assert (
        run([*uri, "data", "register", str(tmp_path / "data.json"), "-p", "proj", "-n", "x"]) == 2
    )
    assert "expected a CSV file" in capsys.readouterr().err
    assert run([*uri, "data", "show", "x@latest", "-p", "proj"]) == 3
    assert "Dataset 'x' does not exist in project 'proj'" in capsys.readouterr().err
    csv = tmp_path / "people.csv"
    make_frame().to_csv(csv, index=False)
    assert (
        run([*uri, "data", "register", str(csv), "-p", "proj", "-n", "people", "--type", "age"])
        == 2
    )
    assert "--type 'age' is not KEY=VALUE" in capsys.readouterr().err
    assert run([*uri, "data", "register", str(csv), "-p", "proj", "-n", "people"]) == 0
    assert run([*uri, "data", "split", "people", "-p", "proj", "--method", "magic"]) == 2
    assert "--method 'magic' is not known" in capsys.readouterr().err
    assert run([*uri, "data", "split", "people", "-p", "proj", "--fraction", "train=x"]) == 2
    assert run([*uri, "data", "check", "people@1234", "-p", "proj"]) == 2
    assert "at least 8 hex digits" in capsys.readouterr().err
    assert (
        run(
            [
                *uri,
                "data",
                "report",
                "people",
                "-p",
                "proj",
                "-o",
                str(tmp_path / "r"),
                "--format",
                "pdf",
            ]
        )
        == 2
    )
    assert run([*uri, "data", "list", "-p", "proj", "--name", "ghost"]) == 0
    assert "No dataset versions" in capsys.readouterr().out
