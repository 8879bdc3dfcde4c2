"""steward models register|list|show|alias|deprecate|retire|lineage and steward package."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from mlsteward.cli import run as cli
from mlsteward.registry import register_route


@pytest.fixture
def steward(trained: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``steward(*args)`` against the trained store; returns the exit code."""
    monkeypatch.setenv("STEWARD_ARTIFACTS", str(tmp_path / "artifacts"))
    uri = trained.client.config.uri

    def invoke(*args: str) -> int:
        return cli(["--uri", uri, *args])

    return invoke


def test_register_list_show_alias(steward: Any, trained: Any, capsys: Any) -> None:
    assert steward("models", "register", "acs", "--run", trained.run_id[:10]) == 0
    assert "Registered acs@1 in project 'reg'" in capsys.readouterr().out
    assert (
        steward(
            "models",
            "register",
            "acs",
            "--run",
            trained.run_id,
            "--alias",
            "champion",
            "-r",
            "better",
            "--json",
        )
        == 0
    )
    registered = json.loads(capsys.readouterr().out)
    assert (registered["version"], registered["aliases"]) == (2, ["champion"])
    assert steward("models", "list") == 0
    out = capsys.readouterr().out
    assert "acs" in out and "champion -> 2" in out
    assert steward("models", "list", "acs", "--json") == 0
    assert [v["version"] for v in json.loads(capsys.readouterr().out)] == [1, 2]
    assert steward("models", "show", "acs@champion") == 0
    out = capsys.readouterr().out
    assert "acs@2 (champion): active" in out
    assert "prep (ColumnTransformer: num[StandardScaler], cat[OneHotEncoder])" in out
    assert "one of 'f', 'm'" in out and trained.run_id in out
    assert steward("models", "alias", "acs@1", "champion", "--reason", "rollback") == 0
    assert "acs@champion -> version 1 (was 2): rollback" in capsys.readouterr().out
    assert steward("models", "alias", "acs@1", "champion") == 2  # --reason is required
    capsys.readouterr()
    assert steward("models", "alias", "acs", "champion", "--delete", "-r", "gone") == 0
    assert "Deleted alias acs@champion" in capsys.readouterr().out
    assert steward("models", "show", "acs@champion") == 3
    assert "has no alias 'champion'" in capsys.readouterr().err


def test_register_a_file_needs_trust_for_pickle(
    steward: Any, trained: Any, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(trained.model))
    assert steward("models", "register", "pkl", "--file", str(path), "-p", "reg") == 7
    assert "--trust" in capsys.readouterr().err
    assert steward("models", "register", "pkl", "--file", str(path), "--trust") == 0
    capsys.readouterr()
    assert steward("models", "show", "pkl@1", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["artifact"]["pickle_trusted"] is True


def test_deprecate_retire_and_lineage(steward: Any, trained: Any, capsys: Any) -> None:
    assert steward("models", "register", "acs", "--run", trained.run_id) == 0
    assert steward("models", "register", "acs", "--run", trained.run_id) == 0
    register_route(trained.client.store, "reg", "acs-prod", "acs@1")
    capsys.readouterr()
    assert steward("models", "retire", "acs@1", "--reason", "old") == 5
    assert "endpoint 'acs-prod' (live, weight 1) still routes traffic" in capsys.readouterr().err
    assert steward("models", "deprecate", "acs@2", "-r", "soon replaced") == 0
    assert "acs@2 is deprecated: soon replaced" in capsys.readouterr().out
    assert steward("models", "retire", "acs@2", "-r", "replaced") == 0
    assert "acs@2 is retired: replaced" in capsys.readouterr().out
    assert steward("models", "lineage", "acs@1") == 0
    out = capsys.readouterr().out
    assert out.index("charter: none") < out.index("data: train@") < out.index("run ")
    assert out.index("run ") < out.index("model acs@1") < out.index("deployed: endpoint")
    assert steward("models", "lineage", "acs@1", "--json") == 0
    assert json.loads(capsys.readouterr().out)["run"]["ref"] == trained.run_id


def test_package_and_verify(steward: Any, trained: Any, tmp_path: Path, capsys: Any) -> None:
    assert steward("models", "register", "acs", "--run", trained.run_id) == 0
    out_dir = tmp_path / "bundle"
    assert steward("package", "acs@1", "-o", str(out_dir)) == 0
    assert "Packaged acs@1" in capsys.readouterr().out
    assert steward("package", "verify", str(out_dir)) == 0
    assert "is intact: acs@1, 8 files" in capsys.readouterr().out
    assert steward("package", "acs@1", "-o", str(out_dir)) == 4
    assert steward("package", "build", "acs@1", "-o", str(out_dir), "--force", "--json") == 0
    capsys.readouterr()
    (out_dir / "signature.json").write_text("{}")
    assert steward("package", "verify", str(out_dir), "--json") == 8
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [(p["path"], p["kind"]) for p in report["problems"]] == [("signature.json", "changed")]
