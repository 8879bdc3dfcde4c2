"""Demo step of evaluation: champion and challenger on the 2015 test split and on 2016.

Each model is evaluated on the held-out ``test`` part of ACS 2015 and on the 2016 batch,
judged by the project's charter (the 2016 batch is judged by the gates of the test role:
would the model still pass them a year later?), and the two are compared on the test
split with a paired bootstrap. Every evaluation is recorded; the reports go to
``reports/`` in the demo directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from mlsteward.core import InvalidInput

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext

__all__ = ["DEMO_RESAMPLES", "step_evaluate"]

DEMO_RESAMPLES: Final = 500
MODEL: Final = "employment"


def _datasets(ctx: DemoContext) -> dict[str, Any]:
    data = ctx.results.get("data") or {}
    test = data.get("test")
    batch = (data.get("batches") or {}).get(2016)
    if test is None or batch is None:
        raise InvalidInput(
            "The evaluation step needs the 2015 test split and the 2016 batch from the data "
            "steps (register, split); run the whole demo: steward demo"
        )
    return {"test-2015": (test, None), "acs-2016": (batch, "test")}


def step_evaluate(ctx: DemoContext) -> str:
    """Evaluate champion and challenger on 2015 test and 2016; compare them; write reports."""
    reports = ctx.directory / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    verdicts: list[str] = []
    results: dict[str, Any] = {}
    for label, (dataset, on) in _datasets(ctx).items():
        for alias in ("champion", "challenger"):
            evaluation = ctx.client.evaluate(
                f"{MODEL}@{alias}",
                dataset,
                project=ctx.project,
                on=on,
                n_boot=DEMO_RESAMPLES,
                seed=2015,
            )
            path = reports / f"evaluation-{alias}-{label}.html"
            evaluation.write_report(str(path))
            written.append(path)
            results[(alias, label)] = evaluation
            main = evaluation.metrics[evaluation.main_metric]
            verdicts.append(
                f"{alias} {evaluation.model.ref} on {label}: {evaluation.main_metric} "
                f"{main.value:.3f}, verdict {evaluation.verdict}"
            )
    comparison = ctx.client.evaluations.compare(
        f"{MODEL}@champion",
        f"{MODEL}@challenger",
        _datasets(ctx)["test-2015"][0],
        project=ctx.project,
        n_boot=DEMO_RESAMPLES,
        seed=2015,
    )
    path = reports / "comparison-champion-challenger-test-2015.html"
    comparison.write_report(str(path))
    written.append(path)
    ctx.results["evaluation"] = {"evaluations": results, "comparison": comparison}
    for line in verdicts:
        ctx.console.print(f"    {line}")
    names = ", ".join(str(p.relative_to(ctx.directory)) for p in written)
    return f"{len(results)} evaluations and 1 comparison ({comparison.summary()}); reports: {names}"
