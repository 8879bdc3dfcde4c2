"""The report of a champion vs challenger comparison: paired differences with intervals,
McNemar's test, slice wins and losses, and both verdicts."""

from __future__ import annotations

from mlsteward.evaluation._charts import interval_bars
from mlsteward.evaluation._compare import Comparison
from mlsteward.evaluation._report import gate_table, interval_text, plain_number, verdict_badge
from mlsteward.reports import Chart, KeyValues, Report, Table, Text

__all__ = ["comparison_report"]


def comparison_report(comparison: Comparison) -> Report:
    """The report of a champion vs challenger comparison."""
    a, b = comparison.champion, comparison.challenger
    name_a, name_b = a.model.ref or a.model.name, b.model.ref or b.model.name
    report = Report(
        title=f"Champion {name_a} vs challenger {name_b}",
        subtitle=f"on {a.data.ref or a.data.name} ({a.rows:,} rows), paired bootstrap of "
        f"{a.settings.n_boot:,} resamples",
        status="pass" if comparison.better == "challenger" else "info",
    )
    report.add_section(
        "Summary",
        KeyValues(
            {
                "champion verdict": verdict_badge(a.verdict),
                "challenger verdict": verdict_badge(b.verdict),
                f"better on {comparison.main_metric}": comparison.better,
                "slices": f"{comparison.wins} wins, {comparison.losses} losses, {comparison.ties} ties",
            }
        ),
        Text(comparison.summary()),
    )
    report.add_section(
        "Metrics",
        Table(
            ["metric", "champion", "challenger", "difference", "interval", "better"],
            [
                [
                    m.metric,
                    plain_number(m.champion),
                    plain_number(m.challenger),
                    plain_number(m.difference.value),
                    interval_text(m.difference),
                    m.better,
                ]
                for m in comparison.metrics
            ],
            caption="Difference = challenger - champion, paired bootstrap interval.",
            id="comparison-metrics",
        ),
    )
    if comparison.mcnemar is not None:
        t = comparison.mcnemar
        report.add_section(
            "McNemar test (accuracy)",
            KeyValues(
                {
                    "both right": t.both_right,
                    "only the champion right": t.champion_only,
                    "only the challenger right": t.challenger_only,
                    "both wrong": t.both_wrong,
                    "statistic": t.statistic,
                    "p-value": t.p_value,
                    "method": t.method,
                }
            ),
        )
    if comparison.slices:
        rows = [
            {
                "slice": s.name,
                "value": plain_number(s.difference.value),
                "low": plain_number(s.difference.low),
                "high": plain_number(s.difference.high),
                "rows": s.rows,
            }
            for s in comparison.slices
        ]
        report.add_section(
            "Slices",
            Chart(
                interval_bars(
                    rows,
                    "slice",
                    f"{comparison.slices[0].metric} difference per slice (challenger - champion)",
                    0.0,
                    "difference",
                )
            ),
            Table(
                ["slice", "rows", "champion", "challenger", "difference", "interval", "challenger"],
                [
                    [
                        s.name,
                        s.rows,
                        plain_number(s.champion),
                        plain_number(s.challenger),
                        plain_number(s.difference.value),
                        interval_text(s.difference),
                        s.outcome,
                    ]
                    for s in comparison.slices
                ],
                id="comparison-slices",
            ),
        )
    for role, evaluation in (("Champion", a), ("Challenger", b)):
        if evaluation.gates is not None:
            report.add_section(f"{role} verdict", gate_table(evaluation.gates))
    return report
