"""The charts of the monitoring report (Altair, data inline): the alert timeline, drift
scores per feature, estimated against realized performance, label coverage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from mlsteward.reports import plain_value

__all__ = ["alert_timeline", "coverage_chart", "drift_chart", "performance_chart"]

_SEVERITY_COLOURS = {"critical": "#cf222e", "warning": "#bf8700", "info": "#0969da"}


def _x() -> alt.X:
    return alt.X(field="start", type="temporal", title="window start")


def _data(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"values": [{k: plain_value(v) for k, v in row.items()} for row in rows]}


def _title(text: str) -> alt.TitleParams:
    return alt.TitleParams(text, anchor="start", fontSize=13)


def alert_timeline(
    points: Sequence[Mapping[str, Any]], span: tuple[str, str] | None = None
) -> alt.Chart:
    """One mark per alert: window start against the feature or metric, by severity; the
    time axis covers ``span`` (the run's first and last window) when given."""
    subjects = len({p["subject"] for p in points})
    chart: alt.Chart = (
        alt.Chart(
            _data(points), width=640, height=max(80, 16 * subjects), title=_title("Alert timeline")
        )
        .mark_point(filled=True, size=70)
        .encode(
            x=_x() if span is None else _x().scale(domain=list(span)),
            y=alt.Y(field="subject", type="nominal", title=None),
            color=alt.Color(
                field="severity",
                type="nominal",
                scale=alt.Scale(
                    domain=list(_SEVERITY_COLOURS), range=list(_SEVERITY_COLOURS.values())
                ),
            ),
            shape=alt.Shape(field="kind", type="nominal"),
            tooltip=[
                alt.Tooltip(field=k, type="nominal")
                for k in ("start", "subject", "severity", "kind", "message")
            ],
        )
    )
    return chart


def drift_chart(rows: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """Drift score per feature and window on a symmetric-log scale (a huge score does not
    flatten the others), with the alarm level 1.0 as a dashed rule."""
    base = alt.Chart(_data(rows), width=640, height=260)
    lines = base.mark_line(point=True).encode(
        x=_x(),
        y=alt.Y(
            field="score", type="quantitative", title="drift score", scale=alt.Scale(type="symlog")
        ),
        color=alt.Color(field="feature", type="nominal"),
        tooltip=[
            alt.Tooltip(field=k, type="nominal") for k in ("start", "feature", "score", "test")
        ],
    )
    rule = (
        alt.Chart({"values": [{"level": 1.0}]})
        .mark_rule(strokeDash=[4, 4], color="#cf222e")
        .encode(y=alt.Y(field="level", type="quantitative"))
    )
    return alt.LayerChart(
        layer=[lines, rule], title=_title("Drift score per feature (1.0 = alarm level)")
    )


def performance_chart(
    rows: Sequence[Mapping[str, Any]], metric: str, threshold: float | None
) -> alt.LayerChart:
    """Estimated value with its interval (band) and realized value per window, and the
    charter's threshold as a dashed rule; the scale fits the values, not zero."""
    base = alt.Chart(_data(rows), width=420, height=180)
    y = alt.Y(field="value", type="quantitative", title=metric, scale=alt.Scale(zero=False))
    estimated = base.transform_filter(alt.datum.series == "estimated")
    layers: list[Any] = [
        estimated.mark_area(opacity=0.25, color="#4c78a8").encode(
            x=_x(),
            y=alt.Y(field="low", type="quantitative", title=metric, scale=alt.Scale(zero=False)),
            y2=alt.Y2(field="high"),
        ),
        base.mark_line(point=True).encode(
            x=_x(),
            y=y,
            color=alt.Color(
                field="series",
                type="nominal",
                scale=alt.Scale(domain=["estimated", "realized"], range=["#4c78a8", "#f58518"]),
            ),
            tooltip=[
                alt.Tooltip(field=k, type="nominal")
                for k in ("start", "series", "value", "low", "high")
            ],
        ),
    ]
    if threshold is not None:
        layers.append(
            alt.Chart({"values": [{"value": float(threshold)}]})
            .mark_rule(strokeDash=[4, 4], color="#cf222e")
            .encode(y=alt.Y(field="value", type="quantitative"))
        )
    return alt.LayerChart(layer=layers, title=_title(metric))


def coverage_chart(rows: Sequence[Mapping[str, Any]]) -> alt.Chart:
    """The share of each window's predictions that have a label."""
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=420, height=120, title=_title("Label coverage"))
        .mark_bar(color="#f58518")
        .encode(
            x=_x(),
            y=alt.Y(
                field="coverage",
                type="quantitative",
                title="labelled share",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            tooltip=[
                alt.Tooltip(field=k, type="nominal") for k in ("start", "labelled", "coverage")
            ],
        )
    )
    return chart


def fairness_chart(
    rows: Sequence[Mapping[str, Any]], title: str, threshold: float | None
) -> alt.LayerChart:
    """A disparity per window with its interval (band) and the charter's limit (dashed)."""
    base = alt.Chart(_data(rows), width=420, height=160)
    layers: list[Any] = [
        base.mark_area(opacity=0.25, color="#8250df").encode(
            x=_x(),
            y=alt.Y(field="low", type="quantitative", title="disparity"),
            y2=alt.Y2(field="high"),
        ),
        base.mark_line(point=True, color="#8250df").encode(
            x=_x(),
            y=alt.Y(field="value", type="quantitative"),
            tooltip=[
                alt.Tooltip(field=k, type="nominal") for k in ("start", "value", "low", "high")
            ],
        ),
    ]
    if threshold is not None:
        layers.append(
            alt.Chart({"values": [{"value": float(threshold)}]})
            .mark_rule(strokeDash=[4, 4], color="#cf222e")
            .encode(y=alt.Y(field="value", type="quantitative"))
        )
    return alt.LayerChart(layer=layers, title=_title(title))
