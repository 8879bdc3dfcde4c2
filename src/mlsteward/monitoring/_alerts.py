"""The alerts of a window, built from its results (severity rules: :mod:`._thresholds`).

Each alert names the feature or metric, the value, the threshold it crossed and what it
was compared with, in words a person on call can act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mlsteward.monitoring._drift import DriftReport
from mlsteward.monitoring._estimation import MetricEstimate
from mlsteward.monitoring._multivariate import DomainClassifierResult, PCADriftResult
from mlsteward.monitoring._operations import OperationsReport
from mlsteward.monitoring._performance import RealizedPerformance
from mlsteward.monitoring._quality import QualityReport
from mlsteward.monitoring._skew import SkewReport
from mlsteward.monitoring._thresholds import Alert, AlertKind, MonitorThresholds

if TYPE_CHECKING:
    from mlsteward.charter import GateReport

__all__ = ["window_alerts"]


def _drift_alerts(drift: DriftReport, reference: str) -> list[Alert]:
    alerts = []
    for item in drift.drifted:
        t = item.test
        bar = t.threshold if t.p_value is not None else max(t.threshold, t.null_distance or 0.0)
        kind: AlertKind = "drift" if item.role == "input" else "output_drift"
        metric: str
        value: float
        threshold: float | None
        if "distribution" in item.reasons:
            metric, value, threshold = (
                str(t.method),
                (t.p_value if t.p_value is not None else t.statistic),
                bar,
            )
        elif "missing_rate" in item.reasons:
            metric, value, threshold = "missing_rate", item.missing_current, None
        else:
            metric, value, threshold = "unseen_share", item.unseen_share, None
        alerts.append(
            Alert(
                "warning",
                kind,
                item.feature,
                metric,
                value,
                threshold,
                f"{reference} (missing {item.missing_reference:.1%}, {item.reference_rows:,} rows)",
                ("Input" if item.role == "input" else "Output")
                + f" drift in {item.describe()} (score {item.score:.2f})",
            )
        )
    return alerts


def _quality_alerts(quality: QualityReport, thresholds: MonitorThresholds) -> list[Alert]:
    alerts = []
    for f in quality.features:
        checks = (
            (
                "out_of_domain_share",
                f.out_of_domain,
                thresholds.out_of_domain_share,
                "out of domain",
            ),
            (
                "unseen_category_share",
                f.unseen,
                thresholds.drift.unseen_share,
                "categories unseen in training",
            ),
            ("type_error_share", f.type_errors, thresholds.type_error_share, "not numbers"),
        )
        for metric, count, bar, words in checks:
            share = f.share(count)
            if share > bar:
                shown = f" (e.g. {', '.join(f.examples[:3])})" if f.examples else ""
                alerts.append(
                    Alert(
                        "warning",
                        "quality",
                        f.feature,
                        metric,
                        share,
                        bar,
                        f"domain {f.domain}" if f.domain else "the model's signature",
                        f"{f.feature}: {count:,} of {f.rows:,} values ({share:.1%}) {words}{shown}",
                    )
                )
        if not f.missing_allowed and f.share(f.missing) > thresholds.type_error_share:
            alerts.append(
                Alert(
                    "warning",
                    "quality",
                    f.feature,
                    "missing_share",
                    f.share(f.missing),
                    thresholds.type_error_share,
                    f"domain {f.domain}: missing values not allowed",
                    f"{f.feature}: {f.missing:,} of {f.rows:,} values missing, which its domain "
                    "does not allow",
                )
            )
    return alerts


def _performance_alerts(
    estimated: Mapping[str, MetricEstimate],
    realized: RealizedPerformance,
    reference_metrics: Mapping[str, float],
    thresholds: MonitorThresholds,
) -> list[Alert]:
    alerts = []
    for metric, base in reference_metrics.items():
        if base != base:  # NaN
            continue
        drop = thresholds.performance_drop
        value = realized.metrics.get(metric)
        source = "realized"
        if value is None or value != value:
            estimate = estimated.get(metric)
            if estimate is None:
                continue
            value, source = estimate.high, "estimated (upper end of the interval)"
        if value < base - drop:
            alerts.append(
                Alert(
                    "warning",
                    "performance",
                    metric,
                    metric,
                    value,
                    base - drop,
                    f"held-out reference {metric} {base:.4f}",
                    f"{metric} {source} {value:.4f} is more than {drop:g} below the reference's "
                    f"{base:.4f}",
                )
            )
    return alerts


def _gate_alerts(gates: GateReport) -> list[Alert]:
    alerts = []
    for verdict in gates.gates:
        if verdict.status not in ("fail", "inconclusive"):
            continue
        gate = verdict.gate
        severity = (
            "critical"
            if verdict.status == "fail" and gate.required
            else "warning"
            if verdict.status == "fail"
            else "info"
        )
        alerts.append(
            Alert(
                severity,  # type: ignore[arg-type]
                "gate",
                gate.attribute or gate.metric,  # a fairness gate: the attribute concerned
                gate.key,
                verdict.value,
                gate.threshold,
                f"charter gate {gate.describe()} ({gate.source})",
                f"Gate {gate.key} {verdict.status}: {verdict.reason}",
            )
        )
    return alerts


def window_alerts(
    *,
    drift: DriftReport | None,
    domain: DomainClassifierResult | None,
    pca: PCADriftResult | None,
    quality: QualityReport | None,
    estimated: Mapping[str, MetricEstimate],
    realized: RealizedPerformance,
    reference_metrics: Mapping[str, float],
    skew: SkewReport | None,
    gates: GateReport | None,
    thresholds: MonitorThresholds,
    reference: str,
    operations: OperationsReport | None = None,
    rejections: Sequence[tuple[str, int]] = (),
) -> list[Alert]:
    """Every alert of one window, most severe first (``rejections``: the most frequent
    reasons requests were rejected, with counts)."""
    alerts: list[Alert] = []
    if operations is not None and operations.rejected_rate > thresholds.rejected_share:
        why = "; ".join(f"{reason} ({n:,})" for reason, n in rejections[:3])
        alerts.append(
            Alert(
                "warning",
                "quality",
                "requests",
                "rejected_share",
                operations.rejected_rate,
                thresholds.rejected_share,
                "requests the server's signature check refused",
                f"{operations.rejected:,} of {operations.volume:,} requests "
                f"({operations.rejected_rate:.1%}) were rejected for bad input"
                + (f": {why}" if why else ""),
            )
        )
    if drift is not None:
        alerts += _drift_alerts(drift, reference)
    if domain is not None and domain.drifted:
        alerts.append(
            Alert(
                "warning",
                "multivariate",
                "domain_classifier",
                "domain_auc",
                domain.auc,
                domain.threshold,
                f"0.5 when indistinguishable from {reference}",
                f"A classifier tells this window from the reference with ROC AUC "
                f"{domain.auc:.3f} > {domain.threshold:.3f}",
            )
        )
    if pca is not None and pca.drifted:
        alerts.append(
            Alert(
                "warning",
                "multivariate",
                "pca_reconstruction",
                "pca_change",
                pca.change,
                max(pca.threshold, pca.floor),
                f"held-out reference error {pca.reference_error:.4f}",
                f"PCA reconstruction error {pca.error:.4f} differs from the reference's "
                f"{pca.reference_error:.4f} by {pca.change:+.1%}",
            )
        )
    if quality is not None:
        alerts += _quality_alerts(quality, thresholds)
    alerts += _performance_alerts(estimated, realized, reference_metrics, thresholds)
    if skew is not None:
        for item in skew.skewed:
            shown = "; ".join(f"id {e}: offline {o}, served {s}" for e, o, s in item.examples[:2])
            alerts.append(
                Alert(
                    "warning",
                    "skew",
                    item.feature,
                    "mismatch_share",
                    item.share,
                    item.threshold,
                    f"offline features of the same {skew.entity}",
                    f"Training-serving skew in {item.feature}: {item.mismatched:,} of "
                    f"{item.matched:,} matched rows differ ({shown})",
                )
            )
    if gates is not None:
        alerts += _gate_alerts(gates)
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(alerts, key=lambda a: order[a.severity])
