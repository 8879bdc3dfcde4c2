"""The evaluation report: one self-contained HTML page (or JSON) built with the shared
``mlsteward.reports`` blocks: verdict table, metrics with intervals, ROC and PR curves,
calibration, confusion matrix (or residuals), slice bars, fairness bars, robustness
table, business value, and for comparisons the paired differences and slice wins.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlsteward.charter import METRICS, GateReport
from mlsteward.core import InvalidInput
from mlsteward.evaluation._bootstrap import Estimate
from mlsteward.evaluation._charts import (
    confusion_chart,
    curve_chart,
    interval_bars,
)
from mlsteward.evaluation._compare import Comparison
from mlsteward.evaluation._records import Evaluation
from mlsteward.reports import (
    Badge,
    Block,
    Chart,
    Grid,
    KeyValues,
    Report,
    Table,
    Text,
    bar_chart,
    histogram_chart,
    line_chart,
)

__all__ = [
    "evaluation_report",
    "gate_table",
    "interval_text",
    "plain_number",
    "verdict_badge",
    "write_report",
]

_VERDICT_BADGE = {"pass": "pass", "fail": "fail", "inconclusive": "warn"}
_GATE_BADGE = {"pass": "pass", "fail": "fail", "inconclusive": "warn", "not_measured": "skipped"}


def plain_number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def interval_text(estimate: Estimate) -> str:
    if estimate.interval is None:
        return "—"
    return f"{estimate.low:.4g} to {estimate.high:.4g}"


def verdict_badge(verdict: str | None) -> Badge:
    if verdict is None:
        return Badge("info", "NO CHARTER")
    return Badge(_VERDICT_BADGE[verdict], verdict.upper())


def gate_table(gates: GateReport) -> Table:
    rows = []
    for v in gates.gates:
        interval = "—" if v.interval is None else f"{v.interval[0]:.4g} to {v.interval[1]:.4g}"
        rows.append(
            [
                v.gate.key,
                v.gate.describe(),
                plain_number(v.value),
                interval,
                Badge(_GATE_BADGE[v.status], v.status.replace("_", " ").upper()),
                v.gate.required,
                v.reason,
            ]
        )
    return Table(
        ["gate", "rule", "measured", "interval", "status", "required", "why"],
        rows,
        caption="Every gate of the charter judged at evaluation; an interval that straddles "
        "the threshold is inconclusive.",
        id="verdict-table",
    )


def _metric_table(metrics: Mapping[str, Estimate]) -> Table:
    rows = []
    for name, estimate in metrics.items():
        spec = METRICS.get(name)
        direction = (
            ""
            if spec is None
            else ("higher is better" if spec.higher_is_better else "lower is better")
        )
        rows.append([name, plain_number(estimate.value), interval_text(estimate), direction])
    level = next(iter(metrics.values())).confidence if metrics else 0.95
    return Table(
        ["metric", "value", f"{level:.0%} interval", "direction"],
        rows,
        caption="Percentile bootstrap intervals.",
        id="metrics-table",
    )


def _curves_section(evaluation: Evaluation) -> list[Block]:
    curves = evaluation.curves
    charts: list[Block] = []
    if "roc" in curves:
        roc = [
            {"fpr": a, "tpr": b}
            for a, b in zip(curves["roc"]["fpr"], curves["roc"]["tpr"], strict=True)
        ]
        charts.append(Chart(curve_chart(roc, "fpr", "tpr", "ROC curve", with_diagonal=True)))
    if "pr" in curves:
        pr = [
            {"recall": a, "precision": b}
            for a, b in zip(curves["pr"]["recall"], curves["pr"]["precision"], strict=True)
        ]
        charts.append(Chart(curve_chart(pr, "recall", "precision", "Precision-recall curve")))
    if curves.get("calibration"):
        rows = [
            {"predicted": r["predicted"], "observed": r["observed"], "count": r["count"]}
            for r in curves["calibration"]
        ]
        chart = curve_chart(
            rows,
            "predicted",
            "observed",
            "Calibration (reliability curve)",
            with_diagonal=True,
            points=True,
        )
        charts.append(Chart(chart))
    if "confusion" in curves:
        charts.append(
            Chart(confusion_chart(curves["confusion"]["labels"], curves["confusion"]["matrix"]))
        )
    if "residuals" in curves:
        res = curves["residuals"]
        charts.append(
            Chart(
                histogram_chart(
                    res["edges"],
                    res["counts"],
                    title="Residuals (prediction - truth)",
                    x_title="residual",
                )
            )
        )
    blocks: list[Block] = (
        [Grid(charts)] if charts else [Text("No curves for this task.", muted=True)]
    )
    if "confusion" in curves:
        labels = curves["confusion"]["labels"]
        matrix = curves["confusion"]["matrix"]
        blocks.append(
            Table(
                ["actual \\ predicted", *labels],
                [[labels[i], *matrix[i]] for i in range(len(labels))],
                caption=f"Confusion matrix at threshold {evaluation.threshold:g}"
                if evaluation.threshold is not None
                else "Confusion matrix",
                id="confusion-table",
            )
        )
    if "residuals" in curves:
        res = curves["residuals"]
        blocks.append(
            KeyValues(
                {
                    "mean": res["mean"],
                    "std": res["std"],
                    **{f"q{k}": v for k, v in res["quantiles"].items()},
                }
            )
        )
    return blocks


def _slices_section(evaluation: Evaluation) -> list[Block]:
    report = evaluation.slices
    blocks: list[Block] = []
    overall = evaluation.metrics.get(report.metric)
    if report.declared:
        rows = [
            {
                "slice": s.name,
                "value": plain_number(s.estimate.value),
                "low": plain_number(s.estimate.low),
                "high": plain_number(s.estimate.high),
                "rows": s.rows,
            }
            for s in report.declared
        ]
        blocks.append(
            Chart(
                interval_bars(
                    rows,
                    "slice",
                    f"{report.metric} per declared slice",
                    None if overall is None else plain_number(overall.value),
                    report.metric,
                ),
                caption="Bars: slice metric; whiskers: bootstrap interval; dashed: whole data.",
            )
        )
        blocks.append(
            Table(
                [
                    "slice",
                    "rows",
                    "share",
                    report.metric,
                    "interval",
                    "gap to overall",
                    evaluation.main_metric,
                ],
                [
                    [
                        s.name,
                        s.rows,
                        s.share,
                        plain_number(s.estimate.value),
                        interval_text(s.estimate),
                        plain_number(s.gap),
                        plain_number(s.metrics.get(evaluation.main_metric, float("nan"))),
                    ]
                    for s in report.declared
                ],
                id="declared-slices",
            )
        )
    else:
        blocks.append(
            Text(
                "No slices declared (pass slices=[...] or give the charter sensitive attributes).",
                muted=True,
            )
        )
    blocks.append(
        Text(
            f"Discovery searched {len(report.columns)} columns at depth up to {report.max_depth}, "
            f"tested {report.tested:,} slices with at least {report.min_support:,} rows, and "
            f"kept those significantly worse than the rest at a false-discovery rate of "
            f"{report.fdr:g} (Benjamini-Hochberg)."
        )
    )
    if report.discovered:
        blocks.append(
            Table(
                [
                    "slice",
                    "rows",
                    "share",
                    report.metric,
                    "gap to overall",
                    "effect size",
                    "q-value",
                ],
                [
                    [s.name, s.rows, s.share, s.value, s.gap, s.effect_size, s.q_value]
                    for s in report.discovered
                ],
                caption="Worst slices, largest effect first.",
                id="discovered-slices",
            )
        )
    else:
        blocks.append(Text("No slice is significantly worse than the rest.", muted=True))
    return blocks


def _fairness_section(evaluation: Evaluation) -> list[Block]:
    if not evaluation.fairness:
        return [
            Text(
                "No sensitive attributes (pass sensitive_features=[...] or set them in the charter).",
                muted=True,
            )
        ]
    statuses = {}
    if evaluation.gates is not None:
        statuses = {
            (v.gate.metric, v.gate.attribute): v.status
            for v in evaluation.gates.gates
            if v.gate.attribute
        }
    blocks: list[Block] = []
    for report in evaluation.fairness:
        rows = []
        for g in report.groups:
            for rate in ("selection_rate", "true_positive_rate", "false_positive_rate"):
                value = getattr(g, rate)
                if value is not None:
                    rows.append({"group": g.group, "rate": rate.replace("_", " "), "value": value})
        if rows:
            blocks.append(
                Chart(
                    bar_chart(
                        rows,
                        x="group",
                        y="value",
                        color="rate",
                        title=f"Group rates by {report.attribute}",
                        width=380,
                        height=200,
                    ),
                    caption=f"fairlearn MetricFrame by {report.attribute}",
                )
            )
        blocks.append(
            Table(
                ["group", "rows", "selection rate", "TPR", "FPR", "precision", report.main_metric],
                [
                    [
                        g.group,
                        g.rows,
                        g.selection_rate,
                        g.true_positive_rate,
                        g.false_positive_rate,
                        g.precision,
                        g.main_metric,
                    ]
                    for g in report.groups
                ],
                caption=f"Groups of {report.attribute}",
            )
        )
        if report.disparities:
            drows = []
            for d in report.disparities:
                status = statuses.get((d.metric, d.attribute))
                limit = (
                    "—"
                    if d.threshold is None
                    else f"{'>=' if METRICS[d.metric].higher_is_better else '<='} {d.threshold:g}"
                )
                badge: Any = (
                    Badge(_GATE_BADGE[status], status.replace("_", " ").upper())
                    if status
                    else "not judged"
                )
                drows.append(
                    [
                        d.metric,
                        plain_number(d.estimate.value),
                        interval_text(d.estimate),
                        limit,
                        badge,
                        ", ".join(d.excluded) or "—",
                    ]
                )
            blocks.append(
                Table(
                    [
                        "disparity",
                        "value",
                        "interval",
                        "limit",
                        "status",
                        "groups left out (too small)",
                    ],
                    drows,
                    id=f"disparities-{report.attribute}",
                )
            )
    return blocks


def _robustness_section(evaluation: Evaluation) -> list[Block]:
    if evaluation.robustness is None:
        return [Text("Robustness checks were not run.", muted=True)]
    rows = []
    for c in evaluation.robustness.checks:
        rows.append(
            [
                c.name,
                c.description,
                Badge(c.status),
                c.outcome,
                plain_number(c.baseline),
                plain_number(c.perturbed),
                plain_number(c.change),
                c.flipped,
                c.error or "",
            ]
        )
    return [
        Table(
            [
                "check",
                "perturbation",
                "status",
                "model",
                f"{evaluation.main_metric} before",
                "after",
                "change",
                "flipped",
                "error",
            ],
            rows,
            caption=f"On {evaluation.robustness.rows:,} sampled rows. A crash of the model is a failed check.",
            id="robustness-table",
        )
    ]


def _business_section(evaluation: Evaluation) -> list[Block]:
    b = evaluation.business
    if b is None:
        return [Text("The charter has no business_value section.", muted=True)]
    items: dict[str, Any] = {
        f"expected value per 1,000 predictions ({b.currency})": b.per_1k.value,
        "interval": interval_text(b.per_1k),
        "basis": b.basis,
    }
    if b.threshold is not None:
        items["at threshold"] = b.threshold
    if b.best_threshold is not None:
        items["best threshold"] = b.best_threshold
        items[f"value at the best threshold ({b.currency})"] = b.best_per_1k
        items["gain"] = b.gain
    blocks: list[Block] = [KeyValues(items)]
    if b.curve:
        rows = [{"threshold": t, "value per 1,000": v} for t, v in b.curve]
        blocks.append(
            Chart(
                line_chart(
                    rows,
                    x="threshold",
                    y="value per 1,000",
                    title="Expected value by threshold",
                    points=False,
                    width=480,
                ),
                caption="Positive class predicted when the score is at or above the threshold.",
            )
        )
    return blocks


def _run_section(evaluation: Evaluation) -> list[Block]:
    s = evaluation.settings
    items: dict[str, Any] = {
        "resamples": s.n_boot,
        "confidence": s.confidence,
        "seed": s.seed,
        "false-discovery rate": s.fdr,
        "robustness rows": s.robustness_rows,
        "features": ", ".join(evaluation.features),
    }
    if evaluation.notes:
        items["notes"] = "; ".join(evaluation.notes)
    timing_rows = [[k, v] for k, v in evaluation.timings.items()]
    return [
        KeyValues(items),
        Table(["step", "seconds"], timing_rows, caption="Where the time went"),
    ]


def evaluation_report(evaluation: Evaluation) -> Report:
    """The report of one evaluation."""
    model = evaluation.model.ref or evaluation.model.name
    data = evaluation.data.ref or evaluation.data.name
    status = "info" if evaluation.verdict is None else _VERDICT_BADGE[evaluation.verdict]
    report = Report(
        title=f"Evaluation of {model}",
        subtitle=f"on {data} ({evaluation.rows:,} rows), {evaluation.task}"
        + (f", charter {evaluation.charter_ref}" if evaluation.charter_ref else ""),
        status=status,
    )
    summary: dict[str, Any] = {
        "model": f"{model} ({evaluation.model.kind})",
        "data": data,
        "charter": evaluation.charter_ref or ("given in memory" if evaluation.gates else "none"),
        "verdict": verdict_badge(evaluation.verdict),
        "main metric": f"{evaluation.main_metric} = {evaluation.metrics[evaluation.main_metric].value:.4f}"
        if evaluation.main_metric in evaluation.metrics
        else evaluation.main_metric,
        "evaluation id": evaluation.id or "not recorded",
    }
    if evaluation.rows_without_label:
        summary["rows without a label (left out)"] = evaluation.rows_without_label
    verdict_blocks: list[Block] = [KeyValues(summary)]
    if evaluation.gates is not None:
        verdict_blocks.append(gate_table(evaluation.gates))
    else:
        verdict_blocks.append(
            Text("No charter: metrics are reported, no gate is judged.", muted=True)
        )
    report.add_section("Verdict", *verdict_blocks)
    report.add_section("Metrics", _metric_table(evaluation.metrics))
    report.add_section("Curves", *_curves_section(evaluation))
    report.add_section("Slices", *_slices_section(evaluation))
    report.add_section("Fairness", *_fairness_section(evaluation))
    report.add_section("Robustness", *_robustness_section(evaluation))
    report.add_section("Business value", *_business_section(evaluation))
    report.add_section("Run", *_run_section(evaluation))
    return report


def write_report(
    result: Evaluation | Comparison, path: str | os.PathLike[str], *, format: str = "html"
) -> Path:
    """Write the report of an evaluation or comparison as ``html`` or ``json``."""
    if format not in ("html", "json"):
        raise InvalidInput(f"Report format {format!r} is not known; expected 'html' or 'json'.")
    target = Path(path)
    if format == "json":
        from mlsteward.reports import write_text

        return write_text(target, result.to_json())
    if isinstance(result, Evaluation):
        return evaluation_report(result).write(target, format="html")
    from mlsteward.evaluation._comparison_report import comparison_report

    return comparison_report(result).write(target, format="html")
