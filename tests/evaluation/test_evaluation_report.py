"""The report: a self-contained page whose charts draw in a real browser; JSON that reads
back; and the package's public names."""

from __future__ import annotations

import importlib
import json
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlsteward.charter import Charter
from mlsteward.evaluation import Comparison, Evaluation, compare, evaluate


@pytest.fixture(scope="module")
def comparison(model: Any, weak_model: Any, frame: pd.DataFrame, charter: Charter) -> Comparison:
    return compare(None, model, weak_model, frame, charter, n_boot=100, robustness_rows=300)


def _open(browser: Any, path: Path) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "request",
        lambda request: (
            errors.append(f"network: {request.url}")
            if not request.url.startswith("file:")
            else None
        ),
    )
    page.goto(path.as_uri())
    page.wait_for_function(
        "document.querySelectorAll('[data-st-spec]').length > 0 && "
        "document.querySelectorAll('[data-st-spec]').length === "
        "document.querySelectorAll('[data-rendered=true], .st-chart-error').length",
        timeout=30_000,
    )
    return page, errors


@pytest.mark.browser
def test_the_evaluation_report_draws_every_chart(
    browser: Any, tmp_path: Path, comparison: Comparison
) -> None:
    path = comparison.champion.write_report(str(tmp_path / "evaluation.html"))
    page, errors = _open(browser, path)
    try:
        charts = page.locator("[data-st-spec]").count()
        # ROC, PR, calibration, confusion matrix, declared slices, fairness, business value
        assert charts >= 7
        assert page.locator("[data-rendered=true]").count() == charts
        assert page.locator(".st-chart-error").count() == 0
        assert page.locator("[data-rendered=true] svg").count() == charts
        assert page.locator("#verdict-table tbody tr").count() == len(
            comparison.champion.gates.gates
        )
        assert page.locator("#robustness-table tbody tr").count() == 6
        assert "PASS" in page.locator("header").inner_text()
        for section in ("Verdict", "Metrics", "Curves", "Slices", "Fairness", "Robustness"):
            assert page.locator(f"h2:text-is('{section}')").count() == 1
        assert errors == []
    finally:
        page.close()


@pytest.mark.browser
def test_the_comparison_report_draws(browser: Any, tmp_path: Path, comparison: Comparison) -> None:
    path = comparison.write_report(str(tmp_path / "comparison.html"))
    page, errors = _open(browser, path)
    try:
        assert page.locator(".st-chart-error").count() == 0
        assert page.locator("#comparison-metrics tbody tr").count() == len(comparison.metrics)
        assert "McNemar" in page.content()
        assert errors == []
    finally:
        page.close()


def test_json_results_read_back(tmp_path: Path, comparison: Comparison) -> None:
    evaluation = comparison.champion
    path = evaluation.write_report(str(tmp_path / "evaluation.json"), format="json")
    document = json.loads(path.read_text())
    assert document["format"] == "mlsteward.evaluation" and document["verdict"] == "pass"
    back = Evaluation.from_dict(document)
    assert back.metrics == evaluation.metrics
    assert back.gates == evaluation.gates and back.fairness == evaluation.fairness
    assert back.robustness == evaluation.robustness and back.business == evaluation.business
    again = Comparison.from_dict(json.loads(comparison.to_json()))
    assert again.metrics == comparison.metrics and again.mcnemar == comparison.mcnemar
    with pytest.raises(ValueError, match="expected 'html' or 'json'"):
        evaluation.write_report(str(tmp_path / "x.pdf"), format="pdf")


def test_regression_reports_residuals(tmp_path: Path) -> None:
    from evaluation_helpers import make_frame
    from sklearn.linear_model import LinearRegression

    frame = make_frame(600, seed=4)
    model = LinearRegression().fit(frame[["age"]], frame["hours"])
    evaluation = evaluate(None, model, frame, target="hours", features=["age"], n_boot=50)
    assert evaluation.task == "regression" and set(evaluation.metrics) == {
        "mae",
        "rmse",
        "mape",
        "r2",
    }
    residuals = evaluation.curves["residuals"]
    assert sum(residuals["counts"]) == len(frame)
    html = evaluation.report().to_html()
    assert "Residuals" in html and "Confusion" not in html


def test_the_package_exports_exactly_its_public_names() -> None:
    package = importlib.import_module("mlsteward.evaluation")
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(package.__all__)
    assert len(package.__all__) == len(set(package.__all__))
