"""The dataset report: overview, check table, per-column profile and charts.

:func:`data_report` takes plain data (a version's metadata mapping, a profile, check result
mappings) so that the CLI, the SDK and the web UI all render the same page.

What it reads from ``version_meta`` (every key optional): ``name``, ``version`` (or
``ref``), ``project``, ``role``, ``source``, ``license`` (or ``licence``), ``consent``,
``target``, ``time_column``, ``parents``, ``created_at``, ``created_by``, ``checked_at``,
``check_reference`` and ``compliance_tags`` (a list of ``{"column", "tag"}`` mappings, of
``"column: tag"`` strings, or a mapping column -> tags). Rows and columns come from the
profile.

What it reads from each check mapping (e.g. ``CheckResult.to_dict()``): ``name`` (or
``check``/``kind``), ``column`` or ``columns``, ``status`` (``pass``/``warn``/``fail``/
``skipped``; a failed check that is not blocking shows as ``warn``), ``blocking`` (or
``severity == "blocking"``), ``message``, and ``details.measured`` and
``details.threshold``, which every check result carries (top-level ``measured`` and
``threshold`` are read too). Each is a scalar, or a mapping (column, class or group ->
value); a mapping is shown for the columns the check names when it names any, largest
values first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import numpy as np

from mlsteward.core import InvalidInput
from mlsteward.data._column_profile import ColumnProfile
from mlsteward.data._profile import DatasetProfile

__all__ = ["DATA_REPORT_FORMAT", "check_rows", "data_report"]

DATA_REPORT_FORMAT: Final = "mlsteward.data-report"
MAX_CHARTS: Final = 60


def _magnitude(value: Any) -> float:
    if isinstance(value, Mapping) and value:
        value = next(iter(value.values()))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return abs(float(value))
    return -1.0


def _brief(value: Any, limit: int = 3) -> Any:
    """A measured value or threshold for a table cell: a mapping as its largest few
    entries (``AGEP 0.84, CIT 0.53 … (12 more)``), other values as they are."""
    from mlsteward.reports import format_value

    if not isinstance(value, Mapping):
        return value
    items = sorted(value.items(), key=lambda kv: _magnitude(kv[1]), reverse=True)

    def one(item: Any) -> str:
        if isinstance(item, Mapping):
            return ", ".join(f"{k} {format_value(v)}" for k, v in item.items())
        return format_value(item)

    text = ", ".join(f"{k} {one(v)}" for k, v in items[:limit])
    return text + (f" … ({len(items) - limit} more)" if len(items) > limit else "")


def _named(value: Any, columns: list[str]) -> Any:
    """A per-column mapping narrowed to the named columns (when it has any of them)."""
    if not isinstance(value, Mapping) or not columns:
        return value
    named = {c: value[c] for c in columns if c in value}
    return named or value


def _measure(check: Mapping[str, Any], columns: list[str]) -> tuple[Any, Any]:
    """The check's ``measured`` value and ``threshold`` (see the module docstring)."""
    details = check.get("details")
    details = details if isinstance(details, Mapping) else {}
    measured = details.get("measured", check.get("measured"))
    threshold = details.get("threshold", check.get("threshold"))
    return _named(measured, columns), _named(threshold, columns)


def check_rows(checks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Checks as rows of the report's check table (see the module docstring)."""
    rows = []
    for i, check in enumerate(checks):
        if not isinstance(check, Mapping):
            raise InvalidInput(
                f"Check {i} is a {type(check).__name__}; expected a mapping such as "
                "CheckResult.to_dict()."
            )
        columns = check.get("columns") or ([check["column"]] if check.get("column") else [])
        blocking = bool(check.get("blocking", check.get("severity") == "blocking"))
        status = str(check.get("status", "info")).lower()
        if status in ("fail", "failed") and not blocking:
            status = "warn"
        measured, threshold = _measure(check, list(columns))
        rows.append(
            {
                "check": check.get("name") or check.get("check") or check.get("kind") or "?",
                "column": ", ".join(map(str, columns)) or None,
                "status": status,
                "blocking": blocking,
                "measured": measured,
                "threshold": threshold,
                "message": check.get("message", ""),
            }
        )
    return rows


def overall_status(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """``fail`` if a blocking check failed, ``warn`` if any other failed, else ``pass``."""
    if not rows:
        return None
    statuses = {r["status"] for r in rows}
    if "fail" in statuses or "error" in statuses:
        return "fail"
    return "warn" if "warn" in statuses else "pass"


def _tags(meta: Mapping[str, Any]) -> list[str]:
    raw = meta.get("compliance_tags", meta.get("tags"))
    if not raw:
        return []
    if isinstance(raw, Mapping):
        return [
            f"{c}: {t}"
            for c, tags in raw.items()
            for t in ([tags] if isinstance(tags, str) else tags)
        ]
    out = []
    for tag in raw:
        if isinstance(tag, Mapping):
            column = tag.get("column")
            out.append(f"{column}: {tag.get('tag')}" if column else str(tag.get("tag")))
        else:
            out.append(str(tag))
    return out


def _ref(meta: Mapping[str, Any]) -> str:
    if meta.get("ref"):
        return str(meta["ref"])
    name, version = meta.get("name"), meta.get("version")
    if name and version:
        return f"{name}@{version}"
    return str(name or "dataset")


def _short_ref(meta: Mapping[str, Any]) -> str:
    ref = _ref(meta)
    name, _, version = ref.partition("@")
    return f"{name}@{version[:12]}" if version else name


def _top_value(column: ColumnProfile) -> str | None:
    top = column.top_categories(1)
    if not top or not column.count:
        return None
    value, count = top[0]
    return f"{value} ({100 * count / column.count:.1f}%)"


def _profile_rows(profile: DatasetProfile) -> list[list[Any]]:
    rows = []
    for column in profile.columns.values():
        quantiles = column.quantiles
        distinct = column.distinct
        shown = distinct if column.distinct_exact or distinct is None else f"≈{distinct:,}"
        rows.append(
            [
                column.name,
                column.logical_type,
                column.count,
                column.missing,
                f"{100 * column.missing_rate:.1f}%",
                shown,
                None if isinstance(column.min, str) else column.min,
                quantiles.get("p25"),
                quantiles.get("p50"),
                quantiles.get("p75"),
                None if isinstance(column.max, str) else column.max,
                column.mean,
                column.std,
                _top_value(column),
            ]
        )
    return rows


def _build(
    meta: Mapping[str, Any], profile: DatasetProfile, rows: list[dict[str, Any]] | None
) -> Any:
    from mlsteward.reports import (
        Badge,
        Chart,
        Grid,
        KeyValues,
        Report,
        Table,
        Text,
        category_chart,
        histogram_chart,
        missing_chart,
    )

    status = overall_status(rows or [])
    tags = _tags(meta)
    parents = meta.get("parents") or []
    created = " by ".join(str(meta[k]) for k in ("created_at", "created_by") if meta.get(k))
    overview: dict[str, Any] = {
        "Dataset": _ref(meta),
        "Project": meta.get("project"),
        "Role": meta.get("role"),
        "Rows": profile.row_count,
        "Columns": len(profile.columns),
        "Source": meta.get("source"),
        "Licence": meta.get("license", meta.get("licence")),
        "Consent": meta.get("consent"),
        "Compliance tags": ", ".join(tags) if tags else "none recorded",
        "Target": meta.get("target"),
        "Time column": meta.get("time_column"),
        "Parents": list(parents) if parents else None,
        "Created": created or None,
        "Checks": Badge(status, f"{status.upper()} ({len(rows or [])} checks)")
        if status
        else "not run",
    }
    if meta.get("checked_at"):
        against = f" against {meta['check_reference']}" if meta.get("check_reference") else ""
        overview["Checked"] = f"{meta['checked_at']}{against}"
    report = Report(
        f"Dataset {_short_ref(meta)}",
        " · ".join(str(meta[k]) for k in ("project", "role") if meta.get(k)) or None,
        status=status,
        meta={"dataset": _ref(meta)},
    )
    report.add_section("Overview", KeyValues(overview))
    if rows is None:
        report.add_section("Checks", Text("No checks were run on this version.", muted=True))
    else:
        table_rows = [
            [r["check"], r["column"], Badge(r["status"]), r["blocking"], _brief(r["measured"]),
             _brief(r["threshold"]), r["message"]]
            for r in rows
        ]  # fmt: skip
        report.add_section(
            "Checks",
            Table(
                ["check", "column", "status", "blocking", "measured", "threshold", "message"],
                table_rows,
                id="check-table",
            ),
        )
    report.add_section(
        "Columns",
        Table(
            [
                "column",
                "type",
                "present",
                "missing",
                "missing %",
                "distinct",
                "min",
                "p25",
                "median",
                "p75",
                "max",
                "mean",
                "std",
                "most frequent",
            ],
            _profile_rows(profile),
            id="profile-table",
        ),
        Text(
            "Quantiles are within 0.78 % (relative) of the exact value for numbers and within "
            "a day for datetimes; ≈ marks distinct counts estimated with HyperLogLog "
            "(0.81 % standard error).",
            muted=True,
        ),
    )
    report.add_section(
        "Missing values",
        Chart(missing_chart({n: c.missing_rate for n, c in profile.columns.items()})),
    )
    numeric = [c for c in profile.columns.values() if c.kind in ("numeric", "datetime") and c.count]
    if numeric:
        charts = []
        for column in numeric[:MAX_CHARTS]:
            raw_edges, counts = column.histogram_counts(20)
            temporal = column.kind == "datetime"
            edges: list[Any] = raw_edges.tolist()
            if temporal:
                edges = [column.value_of(e).isoformat() for e in edges]
            discrete = column.integral and bool(np.all(np.diff(raw_edges) == 1.0))
            chart = histogram_chart(
                edges, counts, title=column.name, x_title=column.name, temporal=temporal,
                discrete=discrete,
            )  # fmt: skip
            charts.append(Chart(chart))
        note = f"First {MAX_CHARTS} of {len(numeric)} columns." if len(numeric) > MAX_CHARTS else ""
        report.add_section(
            "Distributions", Grid(charts), *([Text(note, muted=True)] if note else [])
        )
    categorical = [
        c for c in profile.columns.values()
        if c.logical_type in ("categorical", "boolean") and c.count
    ]  # fmt: skip
    if categorical:
        charts = []
        for column in categorical[:MAX_CHARTS]:
            top = column.top_categories(12)
            other = column.count - sum(n for _, n in top)
            charts.append(Chart(category_chart(top, other=other, title=column.name)))
        report.add_section("Categories", Grid(charts))
    return report


def data_report(
    version_meta: Mapping[str, Any],
    profile: DatasetProfile,
    checks: Sequence[Mapping[str, Any]] | None = None,
    *,
    format: Literal["html", "json"] = "html",
) -> str:
    """The dataset report as a self-contained HTML page or a JSON document.

    HTML: overview (name@version, rows, columns, source, licence, consent, compliance
    tags), the check table, the per-column profile, missing-value bars, histograms and
    category bars. JSON (format ``mlsteward.data-report`` v1): ``dataset`` (the metadata),
    ``status``, ``profile`` (:meth:`DatasetProfile.summary`) and ``checks`` (the rows of
    the check table, each with the original mapping under ``raw``).
    """
    if not isinstance(profile, DatasetProfile):
        raise InvalidInput(
            f"data_report() needs a DatasetProfile, got {type(profile).__name__}; compute one "
            "with profile_dataset() or read it with DatasetProfile.from_dict()."
        )
    rows = None if checks is None else check_rows(checks)
    if format == "json":
        from mlsteward.reports import plain_value

        document = {
            "format": DATA_REPORT_FORMAT,
            "version": 1,
            "dataset": plain_value(dict(version_meta)),
            "status": overall_status(rows or []),
            "profile": profile.summary(),
            "checks": None
            if rows is None or checks is None
            else [
                {**plain_value(row), "raw": plain_value(dict(raw))}
                for row, raw in zip(rows, checks, strict=True)
            ],
        }
        return json.dumps(document, indent=2, allow_nan=False)
    if format != "html":
        raise InvalidInput(f"Report format {format!r} is not known; expected 'html' or 'json'.")
    html: str = _build(version_meta, profile, rows).to_html()
    return html
