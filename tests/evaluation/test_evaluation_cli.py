"""``steward evaluate``: exit codes from the verdict, JSON output, reports, compare, list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from evaluation_helpers import FEATURES, charter_document

import mlsteward as ms
from mlsteward.cli import run

PROJECT = "evals"
Capture = pytest.CaptureFixture[str]


@pytest.fixture
def uri(tmp_path: Path, model: Any, weak_model: Any, frame: pd.DataFrame) -> str:
    """A store with a charter (roc_auc >= 0.6), a test set and two registered models."""
    location = f"sqlite:///{tmp_path / 'cli.db'}"
    with ms.connect(location) as st:  # artifacts where the CLI looks: ./.steward/artifacts
        st.create_project(PROJECT)
        st.charters.apply(PROJECT, charter_document())
        st.datasets.register(PROJECT, "synth-test", frame, role="test", target="y")
        for fitted, columns, alias in (
            (model, FEATURES, "champion"),
            (weak_model, ["region"], "challenger"),
        ):
            st.models.register(
                "synth",
                project=PROJECT,
                model=fitted,
                input_example=frame[columns].head(50),
                alias=alias,
                reason="test",
            )
    return location


def steward(capsys: Capture, tmp_path: Path, uri: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["--uri", uri, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_passing_model_exits_0_and_writes_the_report(
    capsys: Capture, tmp_path: Path, uri: str
) -> None:
    report = tmp_path / "report.html"
    code, out, err = steward(
        capsys,
        tmp_path,
        uri,
        "evaluate",
        "synth@champion",
        "--data",
        "synth-test@latest",
        "--project",
        PROJECT,
        "--n-boot",
        "50",
        "-o",
        str(report),
    )
    assert code == 0, err
    assert "Verdict: PASS" in out and "roc_auc" in out
    assert "Recorded as evaluation" in out
    assert report.exists() and "verdict-table" in report.read_text()


def test_a_failing_required_gate_exits_with_the_gate_failed_code(
    capsys: Capture, tmp_path: Path, uri: str
) -> None:
    code, out, err = steward(
        capsys,
        tmp_path,
        uri,
        "evaluate",
        "synth@challenger",
        "--data",
        "synth-test@latest",
        "--project",
        PROJECT,
        "--n-boot",
        "50",
        "--format",
        "json",
    )
    assert code == ms.GateFailed.exit_code == 6
    document = json.loads(out)  # stdout stays pure JSON
    assert document["verdict"] == "fail" and document["model"]["ref"] == "synth@2"
    assert document["gates"]["verdict"] == "fail"
    assert "failed the required gates" in err and "roc_auc@test" in err


def test_inconclusive_fails_only_when_strict(capsys: Capture, tmp_path: Path, uri: str) -> None:
    with ms.connect(uri) as st:  # a bar right at the measured value: the interval straddles it
        auc = st.evaluate("synth@champion", "synth-test@latest", project=PROJECT, n_boot=50)
        bar = round(auc.metrics["roc_auc"].value, 3)
        st.charters.apply(
            PROJECT, charter_document(success_metrics=[{"metric": "roc_auc", "threshold": bar}])
        )
    args = (
        "evaluate",
        "synth@champion",
        "--data",
        "synth-test",
        "--project",
        PROJECT,
        "--n-boot",
        "100",
    )
    code, out, _ = steward(capsys, tmp_path, uri, *args)
    assert code == 0 and "INCONCLUSIVE" in out
    code, _, err = steward(capsys, tmp_path, uri, *args, "--strict")
    assert code == 6 and "inconclusive" in err


def test_compare_list_and_show(capsys: Capture, tmp_path: Path, uri: str) -> None:
    code, out, err = steward(
        capsys,
        tmp_path,
        uri,
        "evaluate",
        "compare",
        "synth@champion",
        "synth@challenger",
        "--data",
        "synth-test@latest",
        "--project",
        PROJECT,
        "--n-boot",
        "50",
        "--slice",
        "region",
    )
    assert code == 0, err
    assert "champion better" in out and "McNemar" in out
    assert "region=north" in out
    code, out, _ = steward(
        capsys, tmp_path, uri, "evaluate", "list", "--project", PROJECT, "--json"
    )
    listed = json.loads(out)
    assert [item["kind"] for item in listed].count("comparison") == 1
    assert [item["kind"] for item in listed].count("evaluation") == 2
    evaluation_id = next(i["id"] for i in listed if i["kind"] == "evaluation")
    page = tmp_path / "shown.html"
    code, out, _ = steward(
        capsys, tmp_path, uri, "evaluate", "show", evaluation_id, "-o", str(page)
    )
    assert code == 0 and "roc_auc" in out and page.exists()


def test_bad_input_names_what_was_expected(capsys: Capture, tmp_path: Path, uri: str) -> None:
    code, _, err = steward(
        capsys,
        tmp_path,
        uri,
        "evaluate",
        "synth@champion",
        "--data",
        "nope@latest",
        "--project",
        PROJECT,
    )
    assert code == ms.NotFound.exit_code
    assert "Dataset 'nope' does not exist" in err
    code, _, err = steward(
        capsys,
        tmp_path,
        uri,
        "evaluate",
        "synth@champion",
        "--data",
        "synth-test",
        "--project",
        PROJECT,
        "--format",
        "xml",
    )
    assert code == 2 and "--format is 'text' or 'json'" in err
