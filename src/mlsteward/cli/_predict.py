"""steward predict NAME@V --input in.parquet --output out.parquet"""

from __future__ import annotations

from pathlib import Path

import typer

from mlsteward.cli._common import STATE, console, print_json, progress_bar

__all__ = ["predict"]


def predict(
    ref: str = typer.Argument(..., help="The model version: NAME@VERSION or NAME@ALIAS."),
    input: Path = typer.Option(..., "--input", "-i", help="Parquet file of rows to score."),
    output: Path = typer.Option(..., "--output", "-o", help="Parquet file to write."),
    project: str | None = typer.Option(None, "--project", "-p", help="The model's project."),
    log_to: str | None = typer.Option(
        None, "--log-to", help="Also write the predictions to this endpoint's prediction log."
    ),
    id_column: str | None = typer.Option(
        None, "--id-column", help="Input column whose values become the request ids."
    ),
    batch_rows: int = typer.Option(50_000, "--batch-rows", help="Rows per model call."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score a Parquet file with a model version, in batches, with a progress bar."""
    client = STATE.client()
    with progress_bar(f"Scoring with {ref}", disable=as_json) as advance:
        result = client.predict_batch(
            ref,
            input,
            output,
            project=project,
            log_to=log_to,
            id_column=id_column,
            batch_rows=batch_rows,
            progress=advance,
        )
    if as_json:
        print_json(result.to_dict())
        return
    info = result.to_dict()
    logged = f"; logged to endpoint {result.logged_to!r}" if result.logged_to else ""
    console.print(
        f"Scored {result.rows:,} rows with {result.model} in {result.seconds:.1f}s "
        f"({info['rows_per_second']:,} rows/s) -> {result.output}{logged}"
    )
