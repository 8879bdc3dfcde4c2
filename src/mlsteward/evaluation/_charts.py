"""Charts of the evaluation report (Altair / Vega-Lite with inline data): curves on the
unit square, the confusion matrix, bars with interval whiskers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

__all__ = [
    "BLUE",
    "confusion_chart",
    "curve_chart",
    "diagonal",
    "inline",
    "interval_bars",
    "layer",
]

BLUE = "#4c78a8"
GREY = "#9aa4ad"


def inline(rows: Sequence[Mapping[str, Any]]) -> alt.InlineData:
    """Inline Vega-Lite data."""
    return alt.InlineData(values=[dict(row) for row in rows])


def layer(*layers: Any, title: Any = None) -> alt.LayerChart:
    return alt.LayerChart(layer=list(layers), **({} if title is None else {"title": title}))


def diagonal(width: int = 260, height: int = 260) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(inline([{"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 1.0}]), width=width, height=height)
        .mark_line(strokeDash=[4, 4], color=GREY)
        .encode(x=alt.X("a", type="quantitative"), y=alt.Y("b", type="quantitative"))
    )
    return chart


def curve_chart(
    rows: list[dict[str, float]],
    x: str,
    y: str,
    title: str,
    *,
    with_diagonal: bool = False,
    points: bool = False,
) -> alt.LayerChart:
    """A curve on the unit square (ROC, PR, reliability), with the diagonal if asked."""
    line = (
        alt.Chart(inline(rows), width=260, height=260)
        .mark_line(color=BLUE, point=points)
        .encode(
            x=alt.X(x, type="quantitative", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y(y, type="quantitative", scale=alt.Scale(domain=[0, 1])),
            tooltip=[
                alt.Tooltip(x, type="quantitative", format=".3f"),
                alt.Tooltip(y, type="quantitative", format=".3f"),
            ],
        )
    )
    layers = [diagonal(), line] if with_diagonal else [line]
    return layer(*layers, title=alt.TitleParams(title, anchor="start", fontSize=13))


def confusion_chart(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> alt.LayerChart:
    rows = [
        {"actual": str(labels[i]), "predicted": str(labels[j]), "count": int(matrix[i][j])}
        for i in range(len(labels))
        for j in range(len(labels))
    ]
    base = alt.Chart(inline(rows), width=220, height=220).encode(
        x=alt.X("predicted", type="nominal", sort=list(map(str, labels))),
        y=alt.Y("actual", type="nominal", sort=list(map(str, labels))),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count", type="quantitative", scale=alt.Scale(scheme="blues"), legend=None),
        tooltip=["actual:N", "predicted:N", alt.Tooltip("count:Q", format=",")],
    )
    text = base.mark_text(fontSize=12).encode(
        text=alt.Text("count", type="quantitative", format=",")
    )
    return layer(
        cells, text, title=alt.TitleParams("Confusion matrix", anchor="start", fontSize=13)
    )


def interval_bars(
    rows: list[dict[str, Any]], category: str, title: str, reference: float | None, x_title: str
) -> alt.LayerChart:
    height = max(60, 18 * len(rows))
    base = alt.Chart(inline(rows), width=360, height=height)
    y = alt.Y(category, type="nominal", sort=None, title=None)
    bars = base.mark_bar(color=BLUE).encode(
        y=y,
        x=alt.X("value", type="quantitative", title=x_title),
        tooltip=[
            alt.Tooltip(category, type="nominal"),
            alt.Tooltip("value", type="quantitative", format=".4f"),
            alt.Tooltip("rows", type="quantitative", format=","),
        ],
    )
    whiskers = base.mark_rule(color="#1f2328").encode(
        y=y, x=alt.X("low", type="quantitative"), x2=alt.X2("high")
    )
    layers: list[alt.Chart] = [bars, whiskers]
    if reference is not None:
        rule = alt.Chart(inline([{"overall": reference}])).mark_rule(
            strokeDash=[4, 4], color="#cf222e"
        )
        layers.append(rule.encode(x=alt.X("overall", type="quantitative")))
    return layer(*layers, title=alt.TitleParams(title, anchor="start", fontSize=13))
