"""The shared report package: blocks, escaping, JSON, self-contained pages, chart helpers."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import pytest

import mlsteward.reports as reports
from mlsteward.core import InvalidInput
from mlsteward.reports import (
    Badge,
    Chart,
    Grid,
    KeyValues,
    Report,
    Table,
    Text,
    bar_chart,
    category_chart,
    format_value,
    histogram_chart,
    line_chart,
    missing_chart,
)

EXTERNAL_SRC = re.compile(
    r"""<(?:script|link|img|iframe)[^>]+(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I
)


def test_the_package_exports_exactly_its_public_names() -> None:
    public = {
        name
        for name, value in vars(reports).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(reports.__all__)


def _sample() -> Report:
    return (
        Report("Nightly <check>", "a & b", status="warn", meta={"run": 3})
        .add_section(
            "Overview",
            KeyValues({"rows": 1234567, "ratio": 0.12345, "status": Badge("ok")}),
            "Plain text <b>not bold</b>.\n\nSecond paragraph.",
        )
        .add_section(
            "Results",
            Table(
                ["name", "value", "verdict"],
                [["<x>", 1.5, Badge("failed")], ["y", None, Badge("pass")]],
            ),
            Grid(
                [
                    Chart(histogram_chart([0, 1, 2], [3, 4], title="h")),
                    Chart(category_chart([("a", 3)], other=2)),
                ]
            ),
            description="Everything we measured.",
        )
    )


def test_html_escapes_text_and_renders_every_block() -> None:
    page = _sample().to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert "Nightly &lt;check&gt;" in page and "<check>" not in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<p>Second paragraph.</p>" in page
    assert page.count('class="st-badge st-pass"') == 2  # "ok" is an alias of pass
    assert 'class="st-badge st-fail"' in page and 'class="st-badge st-warn"' in page
    assert "1,234,567" in page and "0.1235" in page and "—" in page
    assert page.count('class="st-chart"') == 2 and page.count('type="application/json"') == 2
    assert 'href="#overview"' in page and 'id="results"' in page


def test_a_page_is_self_contained() -> None:
    page = _sample().to_html()
    assert not EXTERNAL_SRC.search(page)
    assert "<link" not in page and "@import" not in page
    assert page.count("window.vegaEmbed") == 1  # the bundle is inlined once per page
    assert len(page) > 500_000
    no_charts = Report("t").add_section("s", Text("x")).to_html()
    assert "vegaEmbed" not in no_charts and len(no_charts) < 20_000


def test_script_json_cannot_close_the_script_element() -> None:
    spec = histogram_chart([0, 1], [1], title="</script><script>alert(1)</script>").to_dict()
    page = Report("t").add_section("s", Chart(spec)).to_html()
    assert "</script><script>alert(1)" not in page
    assert "\\u003c/script>" in page


def test_json_has_the_same_content() -> None:
    document = json.loads(_sample().to_json())
    assert document["format"] == "mlsteward.report" and document["status"] == "warn"
    assert document["meta"] == {"run": 3}
    overview, results = document["sections"]
    assert overview["blocks"][0]["items"]["status"] == {
        "type": "badge",
        "status": "pass",
        "label": None,
    }
    table = results["blocks"][0]
    assert table["rows"][0][0] == "<x>" and table["rows"][0][2]["status"] == "fail"
    chart = results["blocks"][1]["blocks"][0]
    assert chart["type"] == "chart" and chart["spec"]["mark"]["type"] == "bar"


def test_write_is_atomic_and_checks_its_arguments(tmp_path: Path) -> None:
    report = _sample()
    written = report.write(tmp_path / "r.html")
    assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert json.loads(report.write(tmp_path / "r.json", format="json").read_text())["title"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]  # no temp files
    with pytest.raises(InvalidInput, match="does not exist"):
        report.write(tmp_path / "missing" / "r.html")
    with pytest.raises(InvalidInput, match="expected 'html' or 'json'"):
        report.render("pdf")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Badge status 'great' is not known"):
        Badge("great")
    with pytest.raises(InvalidInput, match="row 0 has 1 cells but the table has 2 columns"):
        Table(["a", "b"], [[1]])
    with pytest.raises(InvalidInput, match="expected a block"):
        Report("t").add_section("s", 42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (True, "yes"),
        (12345, "12,345"),
        (2015, "2015"),
        (0.000012, "1.200e-05"),
        (2.0, "2"),
        (3.14159, "3.142"),
        ([1, "a"], "1, a"),
        (float("inf"), "∞"),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_chart_helpers_build_valid_vega_lite() -> None:
    rows = [
        {"window": i, "auc": 0.8 + i / 100, "lo": 0.75, "hi": 0.9, "model.name": "a"}
        for i in range(5)
    ]
    specs = [
        histogram_chart(
            ["2020-01-01", "2020-02-01", "2020-03-01"], [1, 2], temporal=True
        ).to_dict(),
        missing_chart({"a": 0.1, "b": 0.0}).to_dict(),
        category_chart([("x", 5), ("y", 2)]).to_dict(),
        bar_chart(rows, x="window", y="auc", color="model.name", horizontal=True).to_dict(),
        line_chart(rows, x="window", y="auc", lower="lo", upper="hi", threshold=0.7).to_dict(),
    ]
    for spec in specs:
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    assert specs[0]["encoding"]["x"]["type"] == "temporal"
    assert specs[3]["encoding"]["color"]["field"] == "model\\.name"  # escaped for Vega-Lite
    assert [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        for layer in specs[4]["layer"]
    ] == ["area", "line", "rule"]
    with pytest.raises(InvalidInput, match="one more edge than counts"):
        histogram_chart([0, 1], [1, 2])
