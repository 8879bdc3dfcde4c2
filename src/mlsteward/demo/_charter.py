"""Demo step: apply the charter of the ACS employment project (shipped as acs_charter.yaml)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from mlsteward.charter import charter_gates

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext

__all__ = ["ACS_CHARTER", "acs_charter_path", "step_charter"]

ACS_CHARTER = "acs_charter.yaml"


def acs_charter_path() -> Path:
    """Path of the demo's charter file (package data)."""
    return Path(str(resources.files("mlsteward.demo").joinpath(ACS_CHARTER)))


def step_charter(ctx: DemoContext) -> str:
    """Apply the ACS charter to the demo project; later steps are judged by its gates."""
    result = ctx.client.charters.apply(
        ctx.project, acs_charter_path(), note="Demo charter for the ACS employment task."
    )
    record = result.charter_version
    ctx.results["charter"] = record
    charter = record.charter
    gates = charter_gates(record)
    fairness = sorted({a for f in charter.constraints.fairness for a in f.sensitive_attributes})
    headline = ", ".join(m.comparison for m in charter.success_metrics if m.required)
    return (
        f"charter v{record.version} applied ({len(gates)} gates): {headline}; "
        f"latency p95 <= {charter.constraints.latency_p95_ms:g} ms; "
        f"fairness limits on {', '.join(fairness)}"
    )
