"""steward evaluate NAME@V --data D | evaluate compare A B --data D | evaluate list | show"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from mlsteward.cli._common import STATE, console, err_console, print_json
from mlsteward.core import InvalidInput
from mlsteward.evaluation import Comparison, Estimate, Evaluation

__all__ = ["app"]


class _DefaultRun(TyperGroup):
    """``steward evaluate REF ...`` means ``steward evaluate run REF ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultRun,
    help="Evaluate a model on data against the charter (steward evaluate NAME@V --data D); "
    "compare champion and challenger; list and show stored evaluations.",
    no_args_is_help=True,
)

_DATA = typer.Option(..., "--data", "-d", help="Dataset reference, e.g. acs-test@latest.")
_PROJECT = typer.Option(
    None, "--project", "-p", help="Project name (default: the model's project)."
)
_CHARTER = typer.Option(
    None,
    "--charter",
    help="Charter file, or a version number of the project's charter (default: its latest).",
)
_SENSITIVE = typer.Option(
    None, "--sensitive", help="Sensitive attribute column (repeat; default: the charter's)."
)
_SLICE = typer.Option(None, "--slice", help="Column to slice by (repeat; default: sensitive).")
_FORMAT = typer.Option("text", "--format", "-f", help="Output: text or json.")
_OUTPUT = typer.Option(
    None, "--output", "-o", help="Write the report here (.html, or .json for the results)."
)
_N_BOOT = typer.Option(1000, "--n-boot", help="Bootstrap resamples for the intervals.")
_SEED = typer.Option(0, "--seed", help="Random seed of the resamples and robustness checks.")
_STRICT = typer.Option(
    False, "--strict", help="Also exit non-zero when the verdict is inconclusive."
)
_NO_RECORD = typer.Option(False, "--no-record", help="Do not store the evaluation.")


def _charter(value: str | None) -> Any:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def _check_format(format: str) -> None:
    if format not in ("text", "json"):
        raise InvalidInput(f"--format is 'text' or 'json', got {format!r}.")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None] | None]:
    if not enabled:
        yield None
        return
    with err_console.status("Evaluating...") as status:
        yield lambda message: status.update(f"Evaluating: {message}...")


def _interval(estimate: Estimate) -> str:
    if estimate.interval is None:
        return ""
    return f"{estimate.low:.4f} to {estimate.high:.4f}"


def _write(result: Evaluation | Comparison, output: Path | None) -> None:
    if output is None:
        return
    format = "json" if output.suffix.lower() == ".json" else "html"
    path = result.write_report(str(output), format=format)
    err_console.print(f"Report written to {escape(str(path))}")


def _print_evaluation(evaluation: Evaluation) -> None:
    e = evaluation
    console.print(
        f"[bold]{escape(e.model.ref or e.model.name)}[/bold] on "
        f"{escape(e.data.ref or e.data.name)}: {e.rows:,} rows, {e.task}"
        + (f", charter {escape(e.charter_ref)}" if e.charter_ref else "")
    )
    table = Table("metric", "value", f"{e.settings.confidence:.0%} interval")
    for name, estimate in e.metrics.items():
        table.add_row(name, f"{estimate.value:.4f}", _interval(estimate))
    console.print(table)
    if e.slices.discovered:
        console.print(
            f"Worst slices ({len(e.slices.discovered)} significantly worse at FDR "
            f"{e.slices.fdr:g}; {e.slices.tested:,} tested):"
        )
        for s in e.slices.discovered[:5]:
            console.print(
                f"  {escape(s.name)}: {s.rows:,} rows, {e.slices.metric} {s.value:.4f} "
                f"({s.gap:+.4f}), q = {s.q_value:.2g}"
            )
    for report in e.fairness:
        for d in report.disparities:
            if d.threshold is not None:
                console.print(
                    f"Fairness {escape(d.metric)}[{escape(d.attribute)}] = "
                    f"{d.estimate.value:.4f} {_interval(d.estimate)}"
                )
    if e.robustness is not None:
        failed = e.robustness.failed
        console.print(
            f"Robustness: {len(e.robustness.checks) - len(failed)} of "
            f"{len(e.robustness.checks)} checks passed"
            + "".join(f"\n  [red]FAIL[/red] {c.name}: {escape(c.error or '')}" for c in failed)
        )
    if e.business is not None:
        b = e.business
        line = f"Expected value per 1,000 predictions: {b.per_1k.value:,.0f} {b.currency}"
        if b.best_threshold is not None and b.best_per_1k is not None:
            line += (
                f" at threshold {b.threshold:g}; best threshold {b.best_threshold:.3f} gives "
                f"{b.best_per_1k:,.0f}"
            )
        console.print(line)
    if e.gates is not None:
        gates = Table("gate", "status", "required", "measured")
        for v in e.gates.gates:
            colour = {"pass": "green", "fail": "red"}.get(v.status, "yellow")
            measured = "" if v.value is None else f"{v.value:.4g}"
            if v.interval is not None:
                measured += f" [{v.interval[0]:.4g}, {v.interval[1]:.4g}]"
            gates.add_row(
                escape(v.gate.describe()),
                f"[{colour}]{v.status}[/{colour}]",
                "yes" if v.gate.required else "no",
                measured,
            )
        console.print(gates)
        colour = {"pass": "green", "fail": "red"}.get(e.gates.verdict, "yellow")
        console.print(f"Verdict: [bold {colour}]{e.gates.verdict.upper()}[/bold {colour}]")
    else:
        console.print("No charter: no gate judged.")
    if e.id:
        console.print(f"Recorded as evaluation {e.id}.")


def _judge(evaluation: Evaluation, strict: bool) -> None:
    gates = evaluation.gates
    if gates is None:
        return
    if gates.verdict == "fail" or (strict and gates.verdict != "pass"):
        gates.require_pass(f"Model {evaluation.model.ref or evaluation.model.name}")


@app.command("run")
def run_(
    model: str = typer.Argument(..., help="NAME@VERSION or NAME@ALIAS of a registered model."),
    data: str = _DATA,
    project: str | None = _PROJECT,
    charter: str | None = _CHARTER,
    sensitive: list[str] | None = _SENSITIVE,
    slice_: list[str] | None = _SLICE,
    target: str | None = typer.Option(None, "--target", help="Label column (default: charter)."),
    threshold: float | None = typer.Option(None, "--threshold", help="Decision threshold."),
    on: str | None = typer.Option(
        None, "--on", help="Dataset role the gates are matched to (default: the data's role)."
    ),
    n_boot: int = _N_BOOT,
    seed: int = _SEED,
    format: str = _FORMAT,
    output: Path | None = _OUTPUT,
    strict: bool = _STRICT,
    no_record: bool = _NO_RECORD,
) -> None:
    """Evaluate a model on a dataset; exit 6 when a required gate of the charter fails."""
    _check_format(format)
    with _progress(format == "text") as progress:
        evaluation = STATE.client().evaluate(
            model,
            data,
            _charter(charter),
            project=project,
            sensitive_features=sensitive or None,
            slices=slice_ or None,
            target=target,
            threshold=threshold,
            on=on,
            n_boot=n_boot,
            seed=seed,
            record=not no_record,
            progress=progress,
        )
    if format == "json":
        print_json(evaluation.to_dict())
    else:
        _print_evaluation(evaluation)
    _write(evaluation, output)
    _judge(evaluation, strict)


@app.command("compare")
def compare_(
    champion: str = typer.Argument(..., help="The champion: NAME@VERSION or NAME@ALIAS."),
    challenger: str = typer.Argument(..., help="The challenger: NAME@VERSION or NAME@ALIAS."),
    data: str = _DATA,
    project: str | None = _PROJECT,
    charter: str | None = _CHARTER,
    sensitive: list[str] | None = _SENSITIVE,
    slice_: list[str] | None = _SLICE,
    n_boot: int = _N_BOOT,
    seed: int = _SEED,
    format: str = _FORMAT,
    output: Path | None = _OUTPUT,
    no_record: bool = _NO_RECORD,
) -> None:
    """Compare champion and challenger on the same rows (paired bootstrap, McNemar)."""
    _check_format(format)
    with _progress(format == "text") as progress:
        comparison = STATE.client().evaluations.compare(
            champion,
            challenger,
            data,
            _charter(charter),
            project=project,
            sensitive_features=sensitive or None,
            slices=slice_ or None,
            n_boot=n_boot,
            seed=seed,
            record=not no_record,
            progress=progress,
        )
    if format == "json":
        print_json(comparison.to_dict())
    else:
        table = Table("metric", "champion", "challenger", "difference", "interval", "better")
        for m in comparison.metrics:
            table.add_row(
                m.metric,
                f"{m.champion:.4f}",
                f"{m.challenger:.4f}",
                f"{m.difference.value:+.4f}",
                _interval(m.difference),
                m.better,
            )
        console.print(table)
        if comparison.mcnemar is not None:
            t = comparison.mcnemar
            console.print(
                f"McNemar ({t.method}): champion only right on {t.champion_only:,} rows, "
                f"challenger only on {t.challenger_only:,}; p = {t.p_value:.3g}"
            )
        for s in comparison.slices:
            console.print(
                f"  {escape(s.name)}: {s.difference.value:+.4f} {_interval(s.difference)} "
                f"-> {s.outcome}"
            )
        for role, e in (("champion", comparison.champion), ("challenger", comparison.challenger)):
            console.print(f"Verdict of the {role}: {e.verdict or 'no charter'}")
        console.print(comparison.summary(), markup=False)
        if comparison.id:
            console.print(f"Recorded as comparison {comparison.id}.")
    _write(comparison, output)


@app.command("list")
def list_(
    project: str = typer.Option(..., "--project", "-p", help="Project name."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Only this model (NAME or NAME@V)."
    ),
    limit: int = typer.Option(50, "--limit", help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List stored evaluations and comparisons of a project, newest first."""
    found = STATE.client().evaluations.list(project, model=model, limit=limit)
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    if not found:
        console.print(
            f"No evaluation in project {escape(repr(project))} yet. Run one with: "
            f"steward evaluate NAME@V --data DATASET --project {escape(project)}"
        )
        return
    table = Table("id", "kind", "model", "data", "main metric", "verdict", "when (UTC)")
    for s in found:
        main = "" if s.main_value is None else f"{s.main_metric} {s.main_value:.4f}"
        table.add_row(
            s.id,
            s.kind,
            escape(s.model + (f" vs {s.baseline}" if s.baseline else "")),
            escape(s.dataset[:40]),
            main,
            s.verdict or "",
            s.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


@app.command("show")
def show(
    evaluation_id: str = typer.Argument(..., help="Evaluation id (or a prefix of 8+ digits)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    output: Path | None = _OUTPUT,
) -> None:
    """Show a stored evaluation; write its report with -o."""
    evaluation = STATE.client().evaluations.get(evaluation_id)
    if as_json:
        print_json(evaluation.to_dict())
    else:
        _print_evaluation(evaluation)
    _write(evaluation, output)
