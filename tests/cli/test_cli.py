"""The ``steward`` command: every command's happy path, and bad input with its message.

Commands run in-process through :func:`mlsteward.cli.run`, which returns the exit code.
Each test runs in its own working directory, so the default store is ``./.steward``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mlsteward as ms
from mlsteward.cli import run
from mlsteward.store import head_revision

Capture = pytest.CaptureFixture[str]


def steward(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    """Run ``steward ARGV``; return (exit code, stdout, stderr)."""
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def steward_json(capsys: Capture, *argv: str) -> Any:
    code, out, err = steward(capsys, *argv)
    assert code == 0, err
    return json.loads(out)  # nothing but JSON on stdout


def default_db(tmp_path: Path) -> Path:
    return tmp_path / ".steward" / "steward.db"


# -- root ----------------------------------------------------------------------------------
def test_version(capsys: Capture) -> None:
    assert steward(capsys, "--version") == (0, f"steward {ms.__version__}\n", "")


def test_help_lists_every_command_group(capsys: Capture, tmp_path: Path) -> None:
    code, out, _ = steward(capsys, "--help")
    assert code == 0
    for group in ("init", "demo", "projects", "audit", "db", "config"):
        assert f" {group} " in out, group
    assert "--uri" in out and "--debug" in out and "--version" in out
    assert not default_db(tmp_path).exists()  # help opens no store


def test_no_arguments_shows_the_help(capsys: Capture) -> None:
    code, out, _ = steward(capsys)
    assert code == 2
    assert "Usage: steward" in out and "projects" in out


@pytest.mark.parametrize("group", ["projects", "audit", "db", "config"])
def test_each_group_has_help(capsys: Capture, group: str) -> None:
    code, out, _ = steward(capsys, group, "--help")
    assert code == 0
    assert f"Usage: steward {group}" in out


# -- init and first use -----------------------------------------------------------------
def test_init_creates_the_store(capsys: Capture, tmp_path: Path) -> None:
    code, out, _ = steward(capsys, "init")
    assert code == 0
    assert default_db(tmp_path).is_file()
    assert (tmp_path / ".steward" / "artifacts").is_dir()
    assert f"Store ready: sqlite:///{default_db(tmp_path)} (schema {head_revision()})" in out
    assert steward(capsys, "init")[0] == 0  # idempotent


def test_any_command_creates_the_store_on_first_use(capsys: Capture, tmp_path: Path) -> None:
    code, out, _ = steward(capsys, "projects", "list")
    assert code == 0
    assert "No projects yet. Create one with: steward projects create NAME" in out
    assert default_db(tmp_path).is_file()


def test_uri_option_selects_the_store(capsys: Capture, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'elsewhere' / 'meta.db'}"
    assert steward(capsys, "--uri", uri, "projects", "create", "acs")[0] == 0
    assert (tmp_path / "elsewhere" / "meta.db").is_file()
    assert not default_db(tmp_path).exists()
    assert [
        p["name"] for p in steward_json(capsys, "--uri", uri, "projects", "list", "--json")
    ] == ["acs"]


def test_steward_toml_selects_the_store_and_the_environment_wins(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "steward.toml").write_text(
        '[steward]\nuri = "sqlite:///from-file.db"\nactor = "file-actor"\n'
    )
    monkeypatch.delenv("STEWARD_ACTOR")
    created = steward_json(capsys, "projects", "create", "acs", "--json")
    assert created["created_by"] == "file-actor"
    assert (tmp_path / "from-file.db").is_file() and not default_db(tmp_path).exists()
    monkeypatch.setenv("STEWARD_URI", f"sqlite:///{tmp_path / 'from-env.db'}")
    assert steward_json(capsys, "projects", "list", "--json") == []
    assert (tmp_path / "from-env.db").is_file()


def test_steward_uri_environment_selects_the_store(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("STEWARD_URI", f"sqlite:///{db}")
    assert steward(capsys, "projects", "create", "acs")[0] == 0
    assert db.is_file() and not default_db(tmp_path).exists()


# -- projects ------------------------------------------------------------------------------
def test_projects_create_list_show(capsys: Capture, tmp_path: Path) -> None:
    code, out, err = steward(capsys, "projects", "create", "acs", "-d", "ACS employment")
    assert (code, err) == (0, "")
    assert out.startswith("Created project acs (")
    created = steward_json(capsys, "projects", "create", "adult", "--json")
    assert created["name"] == "adult" and created["created_by"] == "tester"

    code, out, _ = steward(capsys, "projects", "list")
    assert code == 0
    lines = [line for line in out.splitlines() if "acs" in line or "adult" in line]
    assert len(lines) == 2 and "ACS employment" in lines[0] and "tester" in lines[0]

    code, out, _ = steward(capsys, "projects", "show", "acs")
    assert code == 0
    assert "name: acs" in out and "description: ACS employment" in out

    # the JSON is what the SDK returns for the same store
    with ms.connect(f"sqlite:///{default_db(tmp_path)}") as client:
        sdk = [p.to_dict() for p in client.list_projects()]
        assert steward_json(capsys, "projects", "list", "--json") == sdk
        assert steward_json(capsys, "projects", "show", "adult", "--json") == created
        assert created == client.get_project("adult").to_dict()


def test_user_text_is_printed_as_is_never_as_markup(capsys: Capture) -> None:
    text = "uses [/b] and [red]colour[/red]"
    assert steward(capsys, "projects", "create", "acs", "-d", text)[0] == 0
    for argv in (("projects", "list"), ("projects", "show", "acs")):
        code, out, err = steward(capsys, *argv)
        assert (code, err) == (0, "")
        assert text in out


def test_duplicate_project_name(capsys: Capture) -> None:
    assert steward(capsys, "projects", "create", "acs")[0] == 0
    code, out, err = steward(capsys, "projects", "create", "acs")
    assert code == 4
    assert "Error: Project 'acs' already exists." in err
    assert "steward projects show acs" in err
    assert out == ""


def test_missing_project(capsys: Capture) -> None:
    code, _, err = steward(capsys, "projects", "show", "ghost")
    assert code == 3
    assert "Project 'ghost' does not exist. No project exists yet." in err
    steward(capsys, "projects", "create", "acs")
    code, _, err = steward(capsys, "projects", "show", "ghost")
    assert code == 3
    assert "Known projects: acs." in err and "steward projects create ghost" in err


@pytest.mark.parametrize("name", ["Upper", "has space", "_under", "x" * 64, "a/b"])
def test_bad_project_name(capsys: Capture, name: str) -> None:
    code, _, err = steward(capsys, "projects", "create", name)
    assert code == 2
    assert f"Invalid project name {name!r}" in err
    assert "lowercase letters, digits" in err


# -- audit ---------------------------------------------------------------------------------
@pytest.fixture
def audited(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three events: alice creates acs and adult, bob creates credit."""
    for actor, name in [("alice", "acs"), ("alice", "adult"), ("bob", "credit")]:
        monkeypatch.setenv("STEWARD_ACTOR", actor)
        assert steward(capsys, "projects", "create", name)[0] == 0
    monkeypatch.setenv("STEWARD_ACTOR", "tester")


def _log(capsys: Capture, *filters: str) -> list[tuple[int, str, str]]:
    events = steward_json(capsys, "audit", "log", "--json", *filters)
    return [(e["seq"], e["actor"], e["entity_id"]) for e in events]


@pytest.mark.usefixtures("audited")
def test_audit_log(capsys: Capture) -> None:
    code, out, _ = steward(capsys, "audit", "log")
    assert code == 0
    rows = [line for line in out.splitlines() if "project.create" in line]
    assert len(rows) == 3
    assert "alice" in rows[0] and "project:acs" in rows[0]
    assert "bob" in rows[2] and "project:credit" in rows[2]
    everything = steward_json(capsys, "audit", "log", "--json")
    assert [e["seq"] for e in everything] == [1, 2, 3]
    assert everything[0]["payload"]["name"] == "acs"
    assert set(everything[0]) >= {"time", "action", "payload_digest", "prev_hash", "hash"}


@pytest.mark.usefixtures("audited")
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--entity", "project:adult"], [(2, "alice", "adult")]),
        (
            ["--entity", "project"],
            [(1, "alice", "acs"), (2, "alice", "adult"), (3, "bob", "credit")],
        ),
        (["--entity", "dataset"], []),
        (["--actor", "bob"], [(3, "bob", "credit")]),
        (
            ["--action", "project.create", "--actor", "alice"],
            [(1, "alice", "acs"), (2, "alice", "adult")],
        ),
        (["--limit", "2"], [(2, "alice", "adult"), (3, "bob", "credit")]),  # newest, oldest first
        (["-n", "1", "--actor", "alice"], [(2, "alice", "adult")]),
        (
            ["--since", "2000-01-01", "--until", "2999-12-31T23:59:59+00:00"],
            [(1, "alice", "acs"), (2, "alice", "adult"), (3, "bob", "credit")],
        ),
        (["--since", "2999-01-01"], []),
        (["--until", "2000-01-01"], []),
    ],
)
def test_audit_log_filters(
    capsys: Capture, filters: list[str], expected: list[tuple[int, str, str]]
) -> None:
    assert _log(capsys, *filters) == expected


@pytest.mark.usefixtures("audited")
def test_audit_log_with_nothing_matching(capsys: Capture) -> None:
    assert steward(capsys, "audit", "log", "--actor", "nobody") == (
        0,
        "No audit events match.\n",
        "",
    )


@pytest.mark.usefixtures("audited")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "yesterday"], "--since 'yesterday' is not a date or time. Expected ISO 8601"),
        (["--until", "31/12/2026"], "--until '31/12/2026' is not a date or time"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "The time range is empty"),
        (["--limit", "0"], "limit must be at least 1, got 0"),
    ],
)
def test_audit_log_bad_input(capsys: Capture, argv: list[str], message: str) -> None:
    code, out, err = steward(capsys, "audit", "log", *argv)
    assert code == 2
    assert message in err
    assert out == "" and "Traceback" not in err


@pytest.mark.usefixtures("audited")
def test_audit_verify_intact_and_tampered(capsys: Capture, tmp_path: Path) -> None:
    assert steward(capsys, "audit", "verify") == (
        0,
        "Audit chain intact: 3 events verified.\n",
        "",
    )
    assert steward_json(capsys, "audit", "verify", "--json") == {
        "ok": True,
        "count": 3,
        "first_bad_seq": None,
        "reason": None,
    }
    with sqlite3.connect(default_db(tmp_path)) as conn:
        conn.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    conn.close()
    code, out, err = steward(capsys, "audit", "verify")
    assert code == 8
    assert "Audit chain broken at event #2 after 1 good events" in err
    assert "project 'adult' by mallory" in err
    code, out, _ = steward(capsys, "audit", "verify", "--json")
    assert code == 8
    assert json.loads(out)["first_bad_seq"] == 2


def test_cli_on_every_backend(capsys: Capture, store_uri: str) -> None:
    assert steward(capsys, "--uri", store_uri, "projects", "create", "acs")[0] == 0
    listed = steward_json(capsys, "--uri", store_uri, "projects", "list", "--json")
    assert [p["name"] for p in listed] == ["acs"]
    assert steward(capsys, "--uri", store_uri, "audit", "verify")[1] == (
        "Audit chain intact: 1 events verified.\n"
    )
    status = steward_json(capsys, "--uri", store_uri, "db", "status", "--json")
    assert (status["current"], status["up_to_date"]) == (head_revision(), True)


# -- db and config ---------------------------------------------------------------------------
def test_db_status_and_upgrade(capsys: Capture, tmp_path: Path) -> None:
    steward(capsys, "init")
    uri = f"sqlite:///{default_db(tmp_path)}"
    code, out, _ = steward(capsys, "db", "status")
    assert code == 0
    assert (
        out == f"{uri}: revision {head_revision()} (this Steward: {head_revision()}) - up to date\n"
    )
    assert steward_json(capsys, "db", "status", "--json") == {
        "uri": uri,
        "current": head_revision(),
        "head": head_revision(),
        "up_to_date": True,
        "known": True,
    }
    assert steward(capsys, "db", "upgrade") == (
        0,
        f"Already at revision {head_revision()}; nothing to do.\n",
        "",
    )


def test_db_upgrade_creates_a_missing_database(capsys: Capture, tmp_path: Path) -> None:
    code, out, _ = steward(capsys, "db", "upgrade")
    assert code == 0
    assert f"from None to {head_revision()}" in out
    assert default_db(tmp_path).is_file()


def test_config_show(capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = steward(capsys, "config", "show")
    assert code == 0
    for var in ("STEWARD_URI", "STEWARD_ACTOR", "STEWARD_HOME", "STEWARD_DEBUG"):
        assert var in out  # (longer names are cut to fit the 80 columns of a test terminal)
    shown = steward_json(capsys, "config", "show", "--json")
    assert shown["uri"] == {"value": f"sqlite:///{default_db(tmp_path)}", "source": "default"}
    assert shown["actor"] == {"value": "tester", "source": "env STEWARD_ACTOR"}
    assert shown["artifacts"]["value"] == str(tmp_path / ".steward" / "artifacts")
    assert not default_db(tmp_path).exists()  # showing settings creates no store

    monkeypatch.setenv("STEWARD_URI", "sqlite:///from-env.db")
    shown = steward_json(capsys, "config", "show", "--json")
    assert shown["uri"] == {"value": "sqlite:///from-env.db", "source": "env STEWARD_URI"}
    shown = steward_json(capsys, "--uri", "sqlite:///from-arg.db", "config", "show", "--json")
    assert shown["uri"] == {"value": "sqlite:///from-arg.db", "source": "argument"}


# -- demo ------------------------------------------------------------------------------------
def test_demo_into_a_directory(capsys: Capture, tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    code, out, _ = steward(capsys, "demo", "--dir", str(directory))
    assert code == 0, out
    assert "project 'acs-employment' created" in out
    assert "ACS employment 277,677 rows" in out and "Adult 48,842 rows" in out
    assert str(directory) in out
    reported = re.search(r"audit chain intact: (\d+) events", out)
    assert reported is not None, out
    # every lifecycle stage left its evidence: reports on disk, records in the store
    reports = directory / "reports"
    for name in (
        "data-acs-2015.html",
        "evaluation-champion-test-2015.html",
        "comparison-champion-vs-challenger-test-2015.html",
        "monitoring-acs-employment.html",
    ):
        assert (reports / name).is_file(), name
    assert "the fault is caught naming AGEP" in out
    with ms.connect(
        f"sqlite:///{directory / 'steward.db'}", artifacts=str(directory / "artifacts")
    ) as client:
        assert "acs-employment" in [p.name for p in client.list_projects()]
        champion = client.models.get("employment@champion", project="acs-employment")
        assert champion.version == 1
        assert client.evaluations.list("acs-employment")
        assert client.endpoints.list()
        verification = client.verify_audit()
        assert verification.ok and verification.count == int(reported.group(1)) >= 1
        actions = {e.action for e in client.audit_log()}
        assert {"project.create", "charter.apply", "run.create"} <= actions
    assert not default_db(tmp_path).exists()  # the demo uses only its own store
    # a second run starts again from a fresh store: the directory it made is emptied
    from mlsteward.demo._runner import MARKER, _prepare

    _prepare(directory)
    assert [p.name for p in directory.iterdir()] == [MARKER]


def test_demo_refuses_a_directory_it_did_not_make(capsys: Capture, tmp_path: Path) -> None:
    directory = tmp_path / "precious"
    directory.mkdir()
    (directory / "thesis.tex").write_text("do not delete")
    code, _, err = steward(capsys, "demo", "--dir", str(directory))
    assert code == 2
    assert "is not a Steward demo directory" in err and "Pass another --dir" in err
    assert (directory / "thesis.tex").read_text() == "do not delete"


# -- bad input in general ----------------------------------------------------------------------
BAD_INPUT = [
    # (argv, environment, exit code, words of the message)
    (
        ["--uri", "http://steward.example", "projects", "list"],
        {},
        2,
        ["unsupported scheme 'http'", "Supported schemes: sqlite, postgresql"],
    ),
    (["--uri", "mysql://u@h/db", "projects", "list"], {}, 2, ["unsupported scheme 'mysql'"]),
    (["--uri", "not-a-uri", "init"], {}, 2, ["is not a valid URI: 'not-a-uri'", "sqlite:///"]),
    (
        ["projects", "list"],
        {"STEWARD_URI": "redis://localhost"},
        2,
        ["Config 'STEWARD_URI'", "'redis'"],
    ),
    (
        ["config", "show"],
        {"STEWARD_DEBUG": "perhaps"},
        2,
        ["Config 'STEWARD_DEBUG' has a bad value 'perhaps'", "true/false"],
    ),
    (["projects", "list", "--bogus"], {}, 2, ["No such option: --bogus"]),
    (["--bogus", "projects", "list"], {}, 2, ["No such option: --bogus"]),
    (["projects", "remove", "acs"], {}, 2, ["No such command 'remove'"]),
    (["frobnicate"], {}, 2, ["No such command 'frobnicate'"]),
    (["projects", "show"], {}, 2, ["Missing argument"]),
    (["audit", "log", "--limit", "many"], {}, 2, ["Invalid value for '--limit'"]),
    (["projects", "show", "ghost"], {}, 3, ["Project 'ghost' does not exist"]),
    (
        ["--uri", "postgresql://postgres@127.0.0.1:1/steward", "projects", "list"],
        {},
        10,
        ["Cannot connect to the metadata store", "127.0.0.1:1"],
    ),
    (
        ["--uri", "postgresql://postgres@127.0.0.1:1/steward", "db", "status"],
        {},
        10,
        ["Cannot connect to the metadata store"],
    ),
]


@pytest.mark.parametrize(
    ("argv", "env", "code", "words"), BAD_INPUT, ids=[" ".join(b[0]) for b in BAD_INPUT]
)
def test_bad_input_gets_a_message_and_an_exit_code_but_no_traceback(
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    code: int,
    words: list[str],
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    got, out, err = steward(capsys, *argv)
    assert got == code, err
    for word in words:
        assert word in err, (word, err)
    assert "Traceback" not in out + err
    assert "Error" in err


def test_debug_shows_the_traceback(capsys: Capture) -> None:
    code, _, err = steward(capsys, "--debug", "projects", "show", "ghost")
    assert code == 3
    assert "Traceback (most recent call last)" in err
    assert "mlsteward.core._errors.NotFound" in err or "NotFound" in err
    assert err.rstrip().endswith("steward projects create ghost")  # the message comes last


def test_steward_debug_setting_shows_the_traceback(
    capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_DEBUG", "1")
    code, _, err = steward(capsys, "projects", "show", "ghost")
    assert code == 3
    assert "Traceback (most recent call last)" in err


def test_s3_artifacts_without_s3fs(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = importlib.import_module("fsspec.registry")
    monkeypatch.setitem(sys.modules, "s3fs", None)
    monkeypatch.delitem(registry._registry, "s3", raising=False)
    monkeypatch.setenv("STEWARD_ARTIFACTS", "s3://bucket/steward")
    code, _, err = steward(capsys, "projects", "list")
    assert code == 11
    assert "pip install 'mlsteward[s3]'" in err
    assert "Traceback" not in err


def test_the_installed_command_exits_with_the_code(tmp_path: Path) -> None:
    """The console script (``main`` → ``sys.exit``), as a user runs it, in a subprocess."""
    command = Path(sys.executable).parent / "steward"
    assert command.exists(), "the steward console script is not installed in this environment"
    env = {**os.environ, "STEWARD_ACTOR": "tester"}

    def steward_process(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(command), *argv], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    assert steward_process("projects", "create", "acs").returncode == 0
    missing = steward_process("projects", "show", "ghost")
    assert missing.returncode == 3
    assert "Traceback" not in missing.stderr and "Project 'ghost'" in missing.stderr
    with sqlite3.connect(default_db(tmp_path)) as conn:
        conn.execute("UPDATE audit_events SET payload = '{}' WHERE seq = 1")
    conn.close()
    broken = steward_process("audit", "verify")
    assert broken.returncode == 8
    assert "Audit chain broken at event #1" in broken.stderr
