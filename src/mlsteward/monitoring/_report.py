"""Monitoring reports: one self-contained HTML page (Vega-Lite charts inlined) or JSON.

:func:`monitor_report` renders a stored run: the alert timeline, the drift score of every
feature per window, estimated performance with its interval next to realized
performance, multivariate drift, data quality and operations. :func:`drift_report`
renders an ad-hoc comparison of two datasets. Both read only the run's document (or the
drift report), so a run stored long ago renders the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlsteward.core import InvalidInput
from mlsteward.monitoring._charts import (
    alert_timeline,
    coverage_chart,
    drift_chart,
    fairness_chart,
    performance_chart,
)
from mlsteward.monitoring._drift import DriftReport
from mlsteward.monitoring._records import MonitorRun, clean, estimates
from mlsteward.reports import (
    Badge,
    Chart,
    Grid,
    KeyValues,
    Report,
    Table,
    Text,
    bar_chart,
    line_chart,
    write_text,
)

__all__ = ["drift_report", "monitor_report"]

_SEVERITY_BADGE = {"critical": "fail", "warning": "warn", "info": "info"}
_VERDICT_BADGE = {"pass": "pass", "fail": "fail", "inconclusive": "warn"}
_MAX_ALERT_ROWS = 300


def _fmt(value: Any, digits: int = 4) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    return value


def _output(report: Report, path: str | None, format: str, document: Mapping[str, Any]) -> str:
    if format == "json":
        text = json.dumps(clean(dict(document)), indent=2, allow_nan=False)
    elif format == "html":
        text = report.to_html()
    else:
        raise InvalidInput(f"Unknown report format {format!r}; expected html or json.")
    if path is not None:
        write_text(path, text)
    return text


# -- monitor runs --------------------------------------------------------------------------
def _overview(run: MonitorRun) -> list[Any]:
    ref = run.reference
    counts = run.counts()
    items = {
        "endpoint": run.endpoint,
        "model": run.model,
        "drift reference": ref.get("dataset"),
        "performance reference": ref.get("performance_dataset") or "none (no estimates)",
        "charter": run.document.get("charter") or "none (default thresholds)",
        "window": run.window,
        "windows": len(run.windows),
        "predictions": run.rows,
        "labelled": f"{run.labelled:,} ({run.labelled / run.rows:.1%})" if run.rows else "0",
        "verdict": Badge(_VERDICT_BADGE.get(run.verdict or "", "info"), run.verdict or "no gates"),
        "alerts": f"{counts['critical']} critical, {counts['warning']} warning, {counts['info']} info",
        "run": run.id,
    }
    return [KeyValues(items)]


def _alerts(run: MonitorRun) -> list[Any]:
    if not run.alerts:
        return [Text("No alert in any window.")]
    points = [
        {
            "start": a.window_start.isoformat() if a.window_start else None,
            "subject": a.subject,
            "severity": a.severity,
            "kind": a.kind,
            "value": a.value,
            "message": a.message,
        }
        for a in run.alerts
    ]
    span = None
    if run.windows:
        span = (run.windows[0]["window"]["start"], run.windows[-1]["window"]["end"])
    timeline = alert_timeline(points, span)
    rows = [
        [
            Badge(_SEVERITY_BADGE[a.severity], a.severity),
            a.window_start.strftime("%Y-%m-%d %H:%M") if a.window_start else a.window,
            a.kind,
            a.subject,
            _fmt(a.value),
            _fmt(a.threshold),
            a.reference,
            a.message,
        ]
        for a in run.alerts[:_MAX_ALERT_ROWS]
    ]
    more = len(run.alerts) - len(rows)
    blocks: list[Any] = [
        Chart(timeline),
        Table(
            [
                "severity",
                "window",
                "kind",
                "feature / metric",
                "value",
                "threshold",
                "reference",
                "message",
            ],
            rows,
            id="alert-table",
        ),
    ]
    if more > 0:
        blocks.append(Text(f"{more} more alerts are in the JSON report.", muted=True))
    return blocks


def _drift(run: MonitorRun) -> list[Any]:
    rows = []
    tally: dict[str, dict[str, Any]] = {}
    for item in run.windows:
        drift = item.get("drift")
        if not drift:
            continue
        for f in drift["features"]:
            rows.append(
                {
                    "start": item["window"]["start"],
                    "feature": f["feature"],
                    "score": f["score"],
                    "test": f["test"],
                }
            )
            entry = tally.setdefault(
                f["feature"],
                {"role": f["role"], "test": f["test"], "windows": 0, "drifted": 0, "max": 0.0},
            )
            entry["windows"] += 1
            entry["drifted"] += int(bool(f["drifted"]))
            entry["max"] = max(entry["max"], f["score"] or 0.0)
    if not rows:
        return [Text("No drift was computed (no window had rows).")]
    chart = drift_chart(rows)
    table = Table(
        ["feature", "role", "test", "windows drifted", "max score"],
        [
            [name, t["role"], t["test"], f"{t['drifted']} of {t['windows']}", _fmt(t["max"], 3)]
            for name, t in sorted(tally.items(), key=lambda kv: -kv[1]["max"])
        ],
    )
    return [Chart(chart), table]


def _performance(run: MonitorRun) -> list[Any]:
    metrics = estimates(run.document)
    realized_any = any(item["performance"]["realized"]["metrics"] for item in run.windows)
    if not metrics and not realized_any:
        return [
            Text(
                "No performance measured: no estimate (no labelled held-out reference) and no labels yet."
            )
        ]
    gates = {}
    for item in run.windows:
        for verdict in (item.get("gates") or {}).get("gates", []):
            gates[verdict["gate"]["metric"]] = verdict["gate"]["threshold"]
    names = metrics or sorted(
        {k for item in run.windows for k in item["performance"]["realized"]["metrics"]}
    )
    charts = []
    for metric in names:
        rows = []
        for point in run.series(metric):
            if point["estimated"] is not None:
                rows.append(
                    {
                        "start": point["start"],
                        "series": "estimated",
                        "value": point["estimated"],
                        "low": point["low"],
                        "high": point["high"],
                    }
                )
            if point["realized"] is not None:
                rows.append(
                    {
                        "start": point["start"],
                        "series": "realized",
                        "value": point["realized"],
                        "low": point["realized"],
                        "high": point["realized"],
                    }
                )
        if rows:
            charts.append(Chart(performance_chart(rows, metric, gates.get(metric))))
    coverage = [
        {
            "start": item["window"]["start"],
            "labelled": item["performance"]["realized"]["labelled"],
            "coverage": item["performance"]["realized"]["coverage"],
        }
        for item in run.windows
    ]
    return [
        Text(
            "Estimated values (band: the interval where the realized value should fall) come "
            "from the model's calibrated scores, before labels arrive; realized values from "
            "the labels received so far (their coverage in the last chart)."
        ),
        Grid([*charts, Chart(coverage_chart(coverage))]),
    ]


def _fairness(run: MonitorRun) -> list[Any]:
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    limits: dict[tuple[str, str], float] = {}
    for item in run.windows:
        for d in (item.get("fairness") or {}).get("disparities", []):
            series.setdefault((d["metric"], d["attribute"]), []).append(
                {
                    "start": item["window"]["start"],
                    "value": d["value"],
                    "low": d["low"],
                    "high": d["high"],
                }
            )
        for verdict in (item.get("gates") or {}).get("gates", []):
            gate = verdict["gate"]
            if gate.get("attribute"):
                limits[(gate["metric"], gate["attribute"])] = gate["threshold"]
    charts = [
        Chart(fairness_chart(rows, f"{metric} by {attribute}", limits.get((metric, attribute))))
        for (metric, attribute), rows in sorted(series.items())
    ]
    return [Grid(charts)] if charts else []


def _multivariate(run: MonitorRun) -> list[Any]:
    rows = []
    for item in run.windows:
        mv = item.get("multivariate") or {}
        domain, pca = mv.get("domain_classifier"), mv.get("pca")
        if domain:
            rows.append(
                {
                    "start": item["window"]["start"],
                    "check": "domain classifier AUC",
                    "value": domain["auc"],
                }
            )
        if pca:
            rows.append(
                {
                    "start": item["window"]["start"],
                    "check": "PCA error change",
                    "value": pca["change"],
                }
            )
    if not rows:
        return [Text("Multivariate drift was not computed.")]
    return [
        Chart(
            line_chart(
                rows,
                x="start",
                y="value",
                color="check",
                x_type="temporal",
                title="Multivariate drift",
                x_title="window start",
                y_title="value",
            )
        )
    ]


def _quality(run: MonitorRun) -> list[Any]:
    worst: dict[str, dict[str, Any]] = {}
    for item in run.windows:
        for f in (item.get("quality") or {}).get("features", []):
            entry = worst.setdefault(
                f["feature"],
                {
                    "missing": 0.0,
                    "ood": 0.0,
                    "unseen": 0.0,
                    "type": 0.0,
                    "domain": f["domain"],
                    "examples": set(),
                },
            )
            entry["missing"] = max(entry["missing"], f["missing_rate"])
            entry["ood"] = max(entry["ood"], f["out_of_domain_share"])
            entry["unseen"] = max(entry["unseen"], f["unseen_share"])
            entry["type"] = max(entry["type"], f["type_error_share"])
            entry["examples"].update(f["examples"])
    if not worst:
        return [Text("No data-quality results.")]
    rows = [
        [
            name,
            _fmt(e["missing"], 4),
            _fmt(e["ood"], 4),
            _fmt(e["unseen"], 4),
            _fmt(e["type"], 4),
            e["domain"],
            ", ".join(sorted(e["examples"])[:5]),
        ]
        for name, e in worst.items()
    ]
    return [
        Table(
            [
                "feature",
                "max missing",
                "max out of domain",
                "max unseen",
                "max type errors",
                "domain",
                "examples",
            ],
            rows,
        )
    ]


def _operations(run: MonitorRun) -> list[Any]:
    rows = [
        {
            "start": item["window"]["start"],
            "volume": item["operations"]["volume"],
            "latency_p95_ms": item["operations"]["latency_p95_ms"],
            "error_rate": item["operations"]["error_rate"],
        }
        for item in run.windows
    ]
    if not rows:
        return [Text("No traffic.")]
    charts = [
        Chart(
            bar_chart(
                rows,
                x="start",
                y="volume",
                title="Predictions per window",
                x_title="window start",
                x_type="temporal",
                width=420,
                height=160,
            )
        ),
        Chart(
            line_chart(
                [r for r in rows if r["latency_p95_ms"] is not None],
                x="start",
                y="latency_p95_ms",
                x_type="temporal",
                title="Latency p95 (ms)",
                x_title="window start",
                width=420,
                height=160,
            )
        ),
        Chart(
            line_chart(
                rows,
                x="start",
                y="error_rate",
                x_type="temporal",
                title="Error rate",
                x_title="window start",
                width=420,
                height=160,
            )
        ),
    ]
    return [Grid(charts)]


def monitor_report(run: MonitorRun, path: str | None = None, *, format: str = "html") -> str:
    """The report of a monitor run as HTML (self-contained) or JSON (the run's document)."""
    verdict = _VERDICT_BADGE.get(run.verdict or "")
    report = Report(
        f"Monitoring: {run.endpoint}",
        f"{run.model} - {len(run.windows)} windows of {run.window}"
        + (f" from {run.start:%Y-%m-%d}" if run.start else ""),
        status=verdict,
        meta={"run": run.id, "format": "mlsteward.monitor-report"},
    )
    report.add_section("Overview", *_overview(run))
    report.add_section(
        "Alerts",
        *_alerts(run),
        description="Every alert of every window, most severe first within a window.",
    )
    report.add_section("Drift per feature", *_drift(run))
    report.add_section("Performance: estimated and realized", *_performance(run))
    fairness = _fairness(run)
    if fairness:
        report.add_section(
            "Fairness",
            *fairness,
            description="The charter's fairness limits on each window (selection-rate gaps "
            "on every row; error-rate gaps on labelled rows), with 95 % intervals.",
        )
    report.add_section("Multivariate drift", *_multivariate(run))
    report.add_section("Data quality", *_quality(run))
    report.add_section("Operations", *_operations(run))
    skews = [item["skew"] for item in run.windows if item.get("skew")]
    if skews:
        rows = [
            [
                item["window"]["start"][:16],
                ", ".join(item["skew"]["skewed_features"]) or "none",
                item["skew"]["matched"],
            ]
            for item in run.windows
            if item.get("skew")
        ]
        report.add_section(
            "Training-serving skew", Table(["window", "skewed features", "matched rows"], rows)
        )
    return _output(report, path, format, run.to_dict())


# -- ad-hoc drift ----------------------------------------------------------------------------
def drift_report(drift: DriftReport, path: str | None = None, *, format: str = "html") -> str:
    """The report of an ad-hoc comparison: every feature with its test, statistic,
    p-value or distance, threshold and drifted flag (JSON: :meth:`DriftReport.to_dict`)."""
    share = drift.drift_share
    report = Report(
        f"Drift: {drift.current} against {drift.reference}",
        f"{drift.current_rows:,} rows against {drift.reference_rows:,}; "
        f"{len(drift.drifted)} of {len(drift.features)} columns drifted",
        status="fail" if drift.dataset_drift else ("warn" if drift.drifted else "pass"),
    )
    report.add_section(
        "Overview",
        KeyValues(
            {
                "reference": f"{drift.reference} ({drift.reference_rows:,} rows)",
                "current": f"{drift.current} ({drift.current_rows:,} rows)",
                "drifting share": f"{share:.1%} (gate: at most {drift.config.max_drift_share:.0%})",
                "drifted columns": ", ".join(f.feature for f in drift.drifted) or "none",
                "method": drift.config.method,
            }
        ),
    )
    rows = []
    for f in sorted(drift.features, key=lambda f: -f.score):
        t = f.test
        rows.append(
            [
                f.feature,
                f.kind,
                t.method,
                _fmt(t.statistic),
                _fmt(t.p_value) if t.p_value is not None else "—",
                _fmt(t.threshold),
                _fmt(t.null_distance) if t.null_distance is not None else "—",
                _fmt(f.score, 3),
                f"{f.missing_reference:.1%} → {f.missing_current:.1%}",
                f"{f.unseen_share:.1%}",
                Badge("fail" if f.drifted else "pass", "drifted" if f.drifted else "stable"),
                ", ".join(f.reasons),
            ]
        )
    chart = bar_chart(
        [{"feature": f.feature, "score": f.score} for f in drift.features],
        x="feature",
        y="score",
        title="Drift score (1.0 = alarm level)",
        height=200,
    )
    report.add_section(
        "Columns",
        Chart(chart),
        Table(
            [
                "column",
                "kind",
                "test",
                "statistic",
                "p-value",
                "threshold",
                "noise floor",
                "score",
                "missing",
                "unseen",
                "drift",
                "why",
            ],
            rows,
            id="column-table",
        ),
        description="Tests chosen by type and size (auto): ks / chi2 for small samples, "
        "wasserstein / jensen_shannon with thresholds for large ones.",
    )
    return _output(report, path, format, drift.to_dict())
