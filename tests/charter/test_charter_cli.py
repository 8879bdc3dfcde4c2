"""steward charter ...: happy paths and errors, through mlsteward.cli.run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlsteward.charter import CHARTER_TEMPLATE, Charter, charter_json_schema
from mlsteward.cli import run


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'steward.db'}"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_init_writes_the_template_and_refuses_to_overwrite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "docs" / "charter.yaml"
    code, out, _ = _run(capsys, "charter", "init", "-o", str(target))
    assert code == 0
    assert target.read_text() == CHARTER_TEMPLATE
    assert f"Wrote a charter template to {target}" in out
    target.write_text("mine\n")
    code, _, err = _run(capsys, "charter", "init", "-o", str(target))
    assert code == 4
    assert "already exists; the template would overwrite it. Pass --force" in err
    assert target.read_text() == "mine\n"
    code, _, _ = _run(capsys, "charter", "init", "-o", str(target), "--force")
    assert code == 0 and target.read_text() == CHARTER_TEMPLATE
    code, _, _ = _run(capsys, "charter", "init")  # default file in the working directory
    assert code == 0 and Path("charter.yaml").read_text() == CHARTER_TEMPLATE


def test_validate_a_good_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, doc: dict[str, Any]
) -> None:
    path = _write(tmp_path / "c.yaml", doc)
    code, out, _ = _run(capsys, "charter", "validate", str(path))
    assert code == 0
    assert out.strip() == (
        f"{path} is a valid charter: binary task predicting 'employed', 3 success metrics, "
        "7 gates (6 required)."
    )
    code, out, _ = _run(capsys, "charter", "validate", str(path), "--json")
    assert code == 0 and json.loads(out) == {"file": str(path), "valid": True, "problems": []}


def test_validate_prints_every_problem_with_its_path_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, doc: dict[str, Any]
) -> None:
    doc["success_metrics"][1]["threshold"] = 1.7
    doc["success_metrics"][1]["metric"] = "roc_auc"
    del doc["task"]["positive_class"]
    path = _write(tmp_path / "c.yaml", doc)
    code, out, err = _run(capsys, "charter", "validate", str(path))
    assert code == 2 and out == ""
    assert f"Error: {path} is not a valid charter (2 problems):" in err
    assert "  task.positive_class: a binary task needs positive_class" in err
    assert "  success_metrics[1].threshold: roc_auc must be between 0 and 1, got 1.7" in err
    assert f"steward charter validate {path}" in err
    code, out, _ = _run(capsys, "charter", "validate", str(path), "--json")
    assert code == 2
    assert [p["path"] for p in json.loads(out)["problems"]] == [
        "task.positive_class",
        "success_metrics[1].threshold",
    ]


def test_validate_missing_and_broken_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "charter", "validate", str(tmp_path / "nope.yaml"))
    assert code == 3 and "does not exist. Write one with: steward charter init" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: [unclosed\n")
    code, _, err = _run(capsys, "charter", "validate", str(broken))
    assert code == 2 and "could not read the YAML" in err and "line 2" in err


def test_apply_show_list_diff(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, uri: str, doc: dict[str, Any]
) -> None:
    assert _run(capsys, "--uri", uri, "projects", "create", "acs")[0] == 0
    path = _write(tmp_path / "c.yaml", doc)
    code, out, _ = _run(
        capsys, "--uri", uri, "charter", "apply", str(path), "--project", "acs", "-m", "first"
    )
    assert code == 0
    digest = Charter.from_dict(doc).content_hash()[:12]
    assert out.strip() == f"Applied charter version 1 to project 'acs' (sha256 {digest})."

    code, out, _ = _run(capsys, "--uri", uri, "charter", "apply", str(path), "-p", "acs")
    assert code == 0
    assert out.strip() == (
        f"Charter unchanged: project 'acs' is already at version 1 with this content "
        f"(sha256 {digest}); no new version."
    )

    doc["success_metrics"][0]["threshold"] = 0.9
    _write(path, doc)
    code, out, _ = _run(capsys, "--uri", uri, "charter", "apply", str(path), "-p", "acs", "--json")
    assert code == 0
    applied = json.loads(out)
    assert applied["created"] is True and applied["version"] == 2
    assert applied["charter"]["success_metrics"][0]["threshold"] == 0.9

    code, out, _ = _run(capsys, "--uri", uri, "charter", "show", "acs", "--version", "1")
    assert code == 0
    assert out.startswith(f"# Charter of project acs, version 1 (sha256 {digest})\n# applied ")
    assert "by tester: first\n" in out
    assert Charter.from_yaml_text(out).success_metrics[0].threshold == 0.85  # pasteable YAML
    code, out, _ = _run(capsys, "--uri", uri, "charter", "show", "acs", "--json")
    assert code == 0 and json.loads(out)["version"] == 2

    code, out, _ = _run(capsys, "--uri", uri, "charter", "list", "acs", "--json")
    assert code == 0
    assert [(r["version"], r["note"]) for r in json.loads(out)] == [(1, "first"), (2, "")]
    code, out, _ = _run(capsys, "--uri", uri, "charter", "list", "acs")
    assert code == 0 and "first" in out and digest in out

    code, out, _ = _run(capsys, "--uri", uri, "charter", "diff", "acs", "1", "2")
    assert code == 0
    assert out.splitlines() == [
        "Charter of 'acs', version 1 -> 2: 1 change",
        "~ success_metrics[0].threshold: 0.85 -> 0.9",
    ]
    code, out, _ = _run(capsys, "--uri", uri, "charter", "diff", "acs", "2", "2")
    assert code == 0 and "identical" in out
    code, out, _ = _run(capsys, "--uri", uri, "charter", "diff", "acs", "1", "2", "--json")
    assert json.loads(out)["changes"][0]["path"] == "success_metrics[0].threshold"

    code, out, _ = _run(capsys, "--uri", uri, "audit", "log", "--action", "charter.apply", "--json")
    assert code == 0 and [e["payload"]["version"] for e in json.loads(out)] == [1, 2]


def test_gates_and_schema(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, uri: str, doc: dict[str, Any]
) -> None:
    _run(capsys, "--uri", uri, "projects", "create", "acs")
    _run(
        capsys, "--uri", uri, "charter", "apply", str(_write(tmp_path / "c.yaml", doc)), "-p", "acs"
    )
    code, out, _ = _run(
        capsys, "--uri", uri, "charter", "gates", "acs", "--stage", "rollout", "--json"
    )
    assert code == 0 and [g["key"] for g in json.loads(out)] == ["latency_p95_ms"]
    code, out, _ = _run(capsys, "--uri", uri, "charter", "gates", "acs")
    assert code == 0 and "Gates of charter acs@1" in out and "drift_share" in out
    code, _, err = _run(capsys, "--uri", uri, "charter", "gates", "acs", "--stage", "deploy")
    assert code == 2 and "Unknown stage 'deploy'" in err

    code, out, _ = _run(capsys, "charter", "schema")
    assert code == 0 and json.loads(out) == charter_json_schema()
    target = tmp_path / "schema.json"
    assert _run(capsys, "charter", "schema", "-o", str(target))[0] == 0
    assert json.loads(target.read_text()) == charter_json_schema()


def test_store_errors_exit_with_their_codes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, uri: str, doc: dict[str, Any]
) -> None:
    path = _write(tmp_path / "c.yaml", doc)
    code, _, err = _run(capsys, "--uri", uri, "charter", "apply", str(path), "-p", "ghost")
    assert code == 3 and "Project 'ghost' does not exist" in err
    _run(capsys, "--uri", uri, "projects", "create", "acs")
    code, _, err = _run(capsys, "--uri", uri, "charter", "show", "acs")
    assert code == 3 and "Project 'acs' has no charter yet" in err
    code, out, _ = _run(capsys, "--uri", uri, "charter", "list", "acs")
    assert code == 0 and "has no charter yet" in out
    code, _, err = _run(capsys, "--uri", uri, "charter", "diff", "acs", "0", "1")
    assert code == 2 and "A charter version is a whole number from 1" in err
    code, _, err = _run(capsys, "--uri", uri, "charter", "apply", str(path))
    assert code == 2 and "--project" in err
