"""Chart builders shared by every report (data, evaluation, monitoring).

Each returns an Altair chart with its data inline (lists of records, never a pandas
conversion), ready for :class:`~mlsteward.reports.Chart`. Field names containing ``.``,
``[`` or ``]`` are escaped for Vega-Lite.

>>> c = histogram_chart([0, 1, 2], [3, 4], title="age")
>>> c.to_dict()["mark"]["type"]
'bar'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import altair as alt
import numpy as np
import numpy.typing as npt

from mlsteward.core import InvalidInput
from mlsteward.reports._blocks import plain_value

__all__ = [
    "bar_chart",
    "category_chart",
    "histogram_chart",
    "line_chart",
    "missing_chart",
]

FieldType = Literal["quantitative", "temporal", "ordinal", "nominal"]
_COLOR = "#4c78a8"
_OTHER_LABEL = "(other values)"


def _field(name: str) -> str:
    return name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def _records(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Inline Vega-Lite data (``{"values": [...]}``) with JSON-compatible values."""
    return {"values": [{str(k): plain_value(v) for k, v in row.items()} for row in rows]}


def _tooltips(rows: Sequence[Mapping[str, Any]]) -> list[alt.Tooltip]:
    return [alt.Tooltip(field=_field(str(k))) for k in rows[0]] if rows else []


def _title(title: str | None) -> dict[str, Any]:
    return {} if title is None else {"title": alt.TitleParams(title, anchor="start", fontSize=13)}


def histogram_chart(
    edges: Sequence[Any] | npt.NDArray[Any],
    counts: Sequence[int] | npt.NDArray[np.int64],
    *,
    title: str | None = None,
    x_title: str = "value",
    temporal: bool = False,
    discrete: bool = False,
    width: int = 300,
    height: int = 150,
) -> alt.Chart:
    """Bars over bins ``[edges[i], edges[i+1])`` (edges as ISO text when ``temporal``).

    ``discrete`` labels each bar by its bin's midpoint instead (for one bin per integer).
    """
    edge_list = list(np.asarray(edges).tolist()) if not temporal else [str(e) for e in edges]
    count_list = [int(c) for c in counts]
    if len(edge_list) != len(count_list) + 1:
        raise InvalidInput(
            f"A histogram needs one more edge than counts; got {len(edge_list)} edges and "
            f"{len(count_list)} counts."
        )
    rows = [
        {"start": edge_list[i], "end": edge_list[i + 1], "count": count_list[i]}
        for i in range(len(count_list))
    ]
    if discrete and not temporal:
        for item in rows:
            middle = (float(item["start"]) + float(item["end"])) / 2
            item["value"] = int(middle) if middle.is_integer() else middle
        discrete_chart: alt.Chart = (
            alt.Chart(_records(rows), width=width, height=height, **_title(title))
            .mark_bar(color=_COLOR)
            .encode(
                x=alt.X(field="value", type="ordinal", title=x_title, axis=alt.Axis(labelAngle=0)),
                y=alt.Y(field="count", type="quantitative", title="rows"),
                tooltip=[
                    alt.Tooltip(field="value", type="ordinal"),
                    alt.Tooltip(field="count", type="quantitative", title="rows", format=","),
                ],
            )
        )
        return discrete_chart
    kind: FieldType = "temporal" if temporal else "quantitative"
    chart: alt.Chart = (
        alt.Chart(_records(rows), width=width, height=height, **_title(title))
        .mark_bar(color=_COLOR, binSpacing=0)
        .encode(
            x=alt.X(field="start", type=kind, title=x_title, bin="binned"),
            x2=alt.X2(field="end"),
            y=alt.Y(field="count", type="quantitative", title="rows"),
            tooltip=[
                alt.Tooltip(field="start", type=kind, title="from"),
                alt.Tooltip(field="end", type=kind, title="to"),
                alt.Tooltip(field="count", type="quantitative", title="rows", format=","),
            ],
        )
    )
    return chart


def missing_chart(
    missing_rates: Mapping[str, float], *, title: str | None = "Missing values", width: int = 420
) -> alt.Chart:
    """Horizontal bars: the share of missing values per column (in the given order)."""
    rows = [{"column": str(name), "missing": float(rate)} for name, rate in missing_rates.items()]
    top = max([0.05, *(float(r) for r in missing_rates.values())])
    chart: alt.Chart = (
        alt.Chart(_records(rows), width=width, height=max(40, 18 * len(rows)), **_title(title))
        .mark_bar(color="#e45756")
        .encode(
            y=alt.Y(field="column", type="nominal", sort=None, title=None),
            x=alt.X(
                field="missing",
                type="quantitative",
                title="share missing",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, top]),
            ),
            tooltip=[
                alt.Tooltip(field="column", type="nominal"),
                alt.Tooltip(field="missing", type="quantitative", format=".2%"),
            ],
        )
    )
    return chart


def category_chart(
    categories: Sequence[tuple[Any, int]],
    *,
    other: int = 0,
    title: str | None = None,
    width: int = 300,
) -> alt.Chart:
    """Horizontal bars of category counts, most frequent first; ``other`` adds one bar
    for everything not listed."""
    rows = [{"category": str(value), "count": int(count)} for value, count in categories]
    if other > 0:
        rows.append({"category": _OTHER_LABEL, "count": int(other)})
    chart: alt.Chart = (
        alt.Chart(_records(rows), width=width, height=max(40, 16 * len(rows)), **_title(title))
        .mark_bar(color=_COLOR)
        .encode(
            y=alt.Y(field="category", type="nominal", sort=None, title=None),
            x=alt.X(field="count", type="quantitative", title="rows"),
            tooltip=[
                alt.Tooltip(field="category", type="nominal"),
                alt.Tooltip(field="count", type="quantitative", format=","),
            ],
        )
    )
    return chart


def bar_chart(
    rows: Sequence[Mapping[str, Any]],
    *,
    x: str,
    y: str,
    color: str | None = None,
    horizontal: bool = False,
    title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    x_type: FieldType = "nominal",
    width: int = 420,
    height: int = 220,
) -> alt.Chart:
    """Bars of ``y`` per ``x`` (``x`` categories kept in row order); ``color`` groups
    bars side by side; ``horizontal`` puts the categories on the vertical axis."""
    cat_title = x_title if x_title else x
    value_title = y_title if y_title else y
    encoding: dict[str, Any] = {"tooltip": _tooltips(rows)}
    if horizontal:
        encoding["y"] = alt.Y(field=_field(x), type=x_type, sort=None, title=cat_title)
        encoding["x"] = alt.X(field=_field(y), type="quantitative", title=value_title)
        if color:
            encoding["yOffset"] = alt.YOffset(field=_field(color), type="nominal")
    else:
        encoding["x"] = alt.X(field=_field(x), type=x_type, sort=None, title=cat_title)
        encoding["y"] = alt.Y(field=_field(y), type="quantitative", title=value_title)
        if color:
            encoding["xOffset"] = alt.XOffset(field=_field(color), type="nominal")
    mark: dict[str, Any] = {}
    if color:
        encoding["color"] = alt.Color(field=_field(color), type="nominal", title=color)
    else:
        mark["color"] = _COLOR
    base = alt.Chart(_records(rows), width=width, height=height, **_title(title))
    chart: alt.Chart = base.mark_bar(**mark).encode(**encoding)
    return chart


def line_chart(
    rows: Sequence[Mapping[str, Any]],
    *,
    x: str,
    y: str,
    color: str | None = None,
    lower: str | None = None,
    upper: str | None = None,
    threshold: float | None = None,
    title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    x_type: FieldType = "quantitative",
    points: bool = True,
    width: int = 600,
    height: int = 220,
) -> alt.LayerChart:
    """Lines of ``y`` over ``x`` (one per ``color`` group), with an optional band from
    ``lower`` to ``upper`` (e.g. a confidence interval) and a dashed ``threshold`` rule."""
    data = _records(rows)
    base = alt.Chart(data, width=width, height=height)
    x_enc = alt.X(field=_field(x), type=x_type, title=x_title if x_title else x)
    color_enc: dict[str, Any] = (
        {"color": alt.Color(field=_field(color), type="nominal", title=color)} if color else {}
    )
    tooltip = _tooltips(rows)
    layers: list[alt.Chart] = []
    if lower and upper:
        layers.append(
            base.mark_area(opacity=0.2).encode(
                x=x_enc,
                y=alt.Y(field=_field(lower), type="quantitative", title=y_title if y_title else y),
                y2=alt.Y2(field=_field(upper)),
                **color_enc,
            )
        )
    layers.append(
        base.mark_line(point=points).encode(
            x=x_enc,
            y=alt.Y(field=_field(y), type="quantitative", title=y_title if y_title else y),
            tooltip=tooltip,
            **color_enc,
        )
    )
    if threshold is not None:
        rule = alt.Chart({"values": [{"threshold": float(threshold)}]})
        layers.append(
            rule.mark_rule(strokeDash=[4, 4], color="#cf222e").encode(
                y=alt.Y(field="threshold", type="quantitative")
            )
        )
    layered: alt.LayerChart = alt.LayerChart(layer=layers, **_title(title))
    return layered
