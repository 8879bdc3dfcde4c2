"""Demo step of evaluation: champion and challenger on the 2015 test split and on 2016.

Champion and challenger are compared on the held-out ``test`` part of ACS 2015 (a paired
bootstrap; each model evaluated in full, judged by the project's charter) and evaluated
on the 2016 batch, which is judged by the gates of the test role: would the model still
pass them a year later? Every evaluation is recorded; the reports go to ``reports/`` in
the demo directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from mlsteward.core import InvalidInput
from mlsteward.evaluation import Evaluation

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext

__all__ = ["DEMO_RESAMPLES", "step_evaluate"]

DEMO_RESAMPLES: Final = 500
MODEL: Final = "employment"


def _datasets(ctx: DemoContext) -> tuple[Any, Any]:
    data = ctx.results.get("data") or {}
    test = data.get("test")
    batch = (data.get("batches") or {}).get(2016)
    if test is None or batch is None:
        raise InvalidInput(
            "The evaluation step needs the 2015 test split and the 2016 batch from the data "
            "steps (register, split); run the whole demo: steward demo"
        )
    return test, batch


def step_evaluate(ctx: DemoContext) -> str:
    """Compare champion and challenger on the 2015 test split (both evaluated in full),
    evaluate both on 2016, print the verdicts, write and name the reports."""
    test, batch = _datasets(ctx)
    reports = ctx.directory / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    comparison = ctx.client.evaluations.compare(
        f"{MODEL}@champion",
        f"{MODEL}@challenger",
        test,
        project=ctx.project,
        n_boot=DEMO_RESAMPLES,
        seed=2015,
    )
    evaluations: dict[tuple[str, str], Evaluation] = {
        ("champion", "test-2015"): comparison.champion,
        ("challenger", "test-2015"): comparison.challenger,
    }
    for alias in ("champion", "challenger"):
        # 2016 is judged by the gates of the test role: would the model still pass them?
        evaluations[(alias, "acs-2016")] = ctx.client.evaluate(
            f"{MODEL}@{alias}",
            batch,
            project=ctx.project,
            on="test",
            n_boot=DEMO_RESAMPLES,
            seed=2015,
        )
    for (alias, label), evaluation in evaluations.items():
        path = reports / f"evaluation-{alias}-{label}.html"
        evaluation.write_report(str(path))
        written.append(path)
        main = evaluation.metrics[evaluation.main_metric]
        bounds = "" if main.interval is None else f" [{main.low:.3f}, {main.high:.3f}]"
        ctx.console.print(
            f"    {alias} {evaluation.model.ref} on {label}: {evaluation.main_metric} "
            f"{main.value:.3f}{bounds}, verdict {(evaluation.verdict or 'none').upper()}"
        )
    path = reports / "comparison-champion-vs-challenger-test-2015.html"
    comparison.write_report(str(path))
    written.append(path)
    ctx.results["evaluation"] = {"evaluations": evaluations, "comparison": comparison}
    names = ", ".join(str(p.relative_to(ctx.directory)) for p in written)
    return (
        f"{len(evaluations)} evaluations and 1 comparison recorded ({comparison.summary()}); "
        f"reports: {names}"
    )
