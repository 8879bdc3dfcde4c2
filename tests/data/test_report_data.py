"""The dataset report: content, JSON, self-containment, and drawing in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlsteward.core import InvalidInput
from mlsteward.data import DatasetProfile, data_report, profile_dataset

META: dict[str, Any] = {
    "name": "acs",
    "version": "ab12" * 16,
    "project": "employment",
    "role": "training",
    "source": "ACS PUMS <2015>",
    "license": "public domain",
    "consent": "public statistics",
    "compliance_tags": [{"column": "email", "tag": "personal:email"}],
    "created_at": "2026-11-26T07:00:00",
}
CHECKS: list[dict[str, Any]] = [
    {
        "kind": "missing",
        "name": "missing values",
        "status": "pass",
        "severity": "blocking",
        "message": "Missing-value rates at most 10.00%.",
        "columns": [],
        "details": {
            "rates": {"age": 0.1, "town": 0.0},
            "limits": {"age": 0.2, "town": 0.2},
            "measured": {"age": 0.1, "town": 0.0},
            "threshold": 0.2,
        },
    },
    {
        "kind": "duplicates",
        "name": "duplicate rows",
        "status": "fail",
        "severity": "warning",
        "message": "3 duplicate rows (0.30%).",
        "details": {"duplicates": 3, "share": 0.003, "measured": 0.003, "threshold": 0.0},
    },
    {
        "kind": "leakage",
        "name": "target leakage",
        "status": "fail",
        "severity": "blocking",
        "message": "score predicts the target almost perfectly.",
        "columns": ["score"],
        "details": {
            "scores": {"score": 0.99, "age": 0.6},
            "measured": {"score": 0.99, "age": 0.6},
            "threshold": 0.95,
        },
    },
]


@pytest.fixture(scope="module")
def profile() -> DatasetProfile:
    rng = np.random.default_rng(0)
    n = 1000
    frame = pd.DataFrame(
        {
            "age": np.where(rng.random(n) < 0.1, np.nan, rng.integers(18, 90, n)),
            "score": rng.normal(size=n),
            "town": rng.choice(["boston", "salem", "<lynn>"], n),
            "email": [f"p{i}@example.org" for i in range(n)],
            "when": pd.date_range("2020-01-01", periods=n, freq="h"),
        }
    )
    types = {
        "age": "numeric",
        "score": "numeric",
        "town": "categorical",
        "email": "id",
        "when": "datetime",
    }
    return profile_dataset(frame, column_types=types)


@pytest.fixture(scope="module")
def page(profile: DatasetProfile) -> str:
    return data_report(META, profile, CHECKS)


def _table(page: str, ident: str) -> str:
    match = re.search(rf'<table class="st-table" id="{ident}">(.*?)</table>', page, re.S)
    assert match, f"no table #{ident}"
    return match.group(1)


def test_the_page_has_overview_checks_profile_and_charts(page: str) -> None:
    assert "<title>Dataset acs@ab12ab12ab12</title>" in page
    assert "acs@" + "ab12" * 16 in page
    for text in (
        "ACS PUMS &lt;2015&gt;",
        "public domain",
        "public statistics",
        "email: personal:email",
    ):
        assert text in page
    checks = _table(page, "check-table")
    assert checks.count("<tr>") == 4  # header + 3 checks
    assert (
        "st-badge st-pass" in checks
        and "st-badge st-warn" in checks
        and "st-badge st-fail" in checks
    )
    assert "score 0.99" in checks and "0.95" in checks and "age 0.1, town 0" in checks
    columns = _table(page, "profile-table")
    assert columns.count("<tr>") == 6  # header + 5 columns
    email = re.search(
        r"<td>email</td><td>id</td>(?:<td[^>]*>[^<]*</td>){3}<td>≈([\d,]+)</td>", columns
    )
    assert email and abs(int(email.group(1).replace(",", "")) - 1000) <= 25  # HLL, 3 sigma
    assert "<lynn>" not in page and "\\u003clynn>" in page  # escaped in the chart data
    # one histogram per numeric/datetime column, one bar chart per categorical, missing bars
    assert page.count('class="st-chart"') == 3 + 1 + 1
    assert 'class="st-badge st-fail">FAIL' in page  # a blocking check failed


def test_without_checks_the_page_says_so(profile: DatasetProfile) -> None:
    page = data_report({"name": "x"}, profile, None)
    assert "No checks were run on this version." in page and 'id="check-table"' not in page
    assert "Dataset x" in page


def test_json_output_is_for_machines(profile: DatasetProfile) -> None:
    document = json.loads(data_report(META, profile, CHECKS, format="json"))
    assert document["format"] == "mlsteward.data-report" and document["status"] == "fail"
    assert document["dataset"]["name"] == "acs"
    by_name = {c["name"]: c for c in document["profile"]["columns"]}
    assert by_name["age"]["missing"] == profile["age"].missing
    assert by_name["age"]["quantiles"]["p50"] == profile["age"].quantile(0.5)
    assert by_name["when"]["min"] == "2020-01-01T00:00:00"
    assert by_name["town"]["top_categories"][0]["count"] == profile["town"].top_categories(1)[0][1]
    statuses = [(c["check"], c["status"], c["blocking"]) for c in document["checks"]]
    assert statuses == [
        ("missing values", "pass", True),
        ("duplicate rows", "warn", False),
        ("target leakage", "fail", True),
    ]
    assert document["checks"][2]["measured"] == {"score": 0.99}
    assert document["checks"][2]["raw"]["severity"] == "blocking"


def test_bad_arguments(profile: DatasetProfile) -> None:
    with pytest.raises(InvalidInput, match="needs a DatasetProfile"):
        data_report(META, {"row_count": 1}, None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="expected 'html' or 'json'"):
        data_report(META, profile, None, format="pdf")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Check 0 is a str"):
        data_report(META, profile, ["missing"])  # type: ignore[list-item]


def test_the_page_draws_offline_in_a_browser(browser: Any, page: str, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    context = browser.new_context(offline=True)
    try:
        tab = context.new_page()
        requests: list[str] = []
        errors: list[str] = []
        tab.on("request", lambda r: requests.append(r.url))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(path.as_uri())
        tab.wait_for_function(
            "document.querySelectorAll('.st-chart[data-rendered]').length"
            " + document.querySelectorAll('.st-chart-error').length"
            " === document.querySelectorAll('.st-chart').length",
            timeout=30_000,
        )
        charts = tab.locator(".st-chart")
        assert charts.count() == 5
        for i in range(charts.count()):
            chart = charts.nth(i)
            assert chart.get_attribute("data-rendered") == "true"
            assert chart.locator("svg").count() >= 1
            assert chart.locator("svg .mark-rect path, svg .mark-rect rect, svg path").count() > 0
        assert tab.locator("#check-table tbody tr").count() == 3
        assert tab.locator("#check-table .st-badge.st-fail").count() == 1
        assert errors == []
        assert [u for u in requests if not u.startswith(("file:", "data:", "about:"))] == []
    finally:
        context.close()
