"""steward serve: the model server (data plane)."""

from __future__ import annotations

from pathlib import Path

import typer

from mlsteward.cli._common import STATE, err_console

__all__ = ["serve"]


def serve(
    endpoint: list[str] = typer.Option(
        [], "--endpoint", "-e", help="Endpoint to serve (repeat; default: every endpoint)."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind (loopback unless told otherwise)."
    ),
    port: int = typer.Option(8080, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    no_log: bool = typer.Option(False, "--no-log", help="Do not write the prediction log."),
    log_dir: Path | None = typer.Option(
        None,
        "--log-dir",
        help="Directory of predictions/ and feedback/ (default: the store's home).",
    ),
    flush_seconds: float = typer.Option(
        1.0, "--flush-seconds", help="Prediction log flush interval: the durability bound."
    ),
    bundle: Path | None = typer.Option(
        None, "--bundle", help="Serve a bundle directory (steward package) without a store."
    ),
    trust: bool = typer.Option(False, "--trust", help="Load a pickle-based bundle (trusted)."),
    domain: str = typer.Option(
        "strict", "--domain", help="Out-of-domain inputs: strict (422), warn or off."
    ),
    max_body_mb: float = typer.Option(10.0, "--max-body-mb", help="Largest request body (MB)."),
    poll_seconds: float = typer.Option(2.0, "--poll-seconds", help="How often routes are re-read."),
    check_seconds: float = typer.Option(
        2.0, "--check-seconds", help="How often rollouts are judged."
    ),
    no_controller: bool = typer.Option(
        False, "--no-controller", help="Do not move rollouts in this server."
    ),
    threads: int = typer.Option(1, "--threads", help="Native threads per worker for models."),
    metrics_interval: float = typer.Option(
        1.0,
        "--metrics-interval",
        help="With --workers N: how often each worker shares its metrics (seconds); "
        "/metrics sums all workers, the others' numbers at most this old.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="Server log level."),
) -> None:
    """Serve model endpoints over HTTP: predictions, feedback, metrics, health."""
    from mlsteward.core import InvalidInput
    from mlsteward.registry import DOMAIN_MODES
    from mlsteward.serving import ServeOptions
    from mlsteward.serving import serve as run_server

    if domain not in DOMAIN_MODES:
        raise InvalidInput(f"--domain {domain!r}: expected one of {', '.join(DOMAIN_MODES)}.")
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(
            f"[yellow]Binding {host}: the server is reachable from other machines.[/yellow]"
        )
    options = ServeOptions(
        endpoints=tuple(endpoint),
        log=not no_log,
        log_dir=log_dir,
        flush_seconds=flush_seconds,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        poll_seconds=poll_seconds,
        controller=not no_controller,
        check_seconds=check_seconds,
        domain=domain,  # type: ignore[arg-type]  # checked above
        bundle=bundle,
        trust=trust,
        metrics_interval=metrics_interval,
    )
    run_server(
        options,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        uri=STATE.uri,
        log_level=log_level,
    )
