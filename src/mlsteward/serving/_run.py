"""Running a model server: ``steward serve`` and ``serve()``.

One worker runs the app in this process. Several workers (``--workers N``) are separate
processes started by uvicorn, each building its own runtime from a spec passed in the
environment (``STEWARD_SERVE_SPEC``); they share the port, the store and the log
directory (each writes its own segments), and one of them runs the rollout controller.
They also share a fresh temporary directory, made by :func:`serve` and removed when it
returns, where each publishes its metrics so that ``/metrics`` answers for all of them
(``_workermetrics``); a server of one worker makes no such directory.

Each worker limits the native thread pools of numpy and scikit-learn to ``threads``
(default 1): a server answers many small requests at once, where one thread per worker
is fastest and workers do not fight over cores. uvloop and httptools are used when
installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

from mlsteward.core import InvalidInput, load_config
from mlsteward.serving._runtime import ServeOptions, ServingRuntime
from mlsteward.serving._segments import log_root
from mlsteward.serving._server import ModelServerApp, create_app
from mlsteward.store import Store, open_store

__all__ = ["app_from_env", "build_runtime", "serve"]

SPEC_ENV: Final = "STEWARD_SERVE_SPEC"
LOOPBACK: Final = "127.0.0.1"


def _limit_threads(threads: int | None) -> None:
    if threads is None:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


def build_runtime(
    options: ServeOptions,
    *,
    uri: str | None = None,
    artifacts: str | None = None,
    log_dir: Path | None = None,
    metrics_dir: Path | None = None,
) -> ServingRuntime:
    """A runtime for ``options``: the store's models, or a bundle's when one is given;
    ``metrics_dir`` is the directory the workers of one server share their metrics in."""
    store: Store | None = None
    root = log_dir or options.log_dir
    if options.bundle is None:
        config = load_config({"uri": uri, "artifacts": artifacts})
        store = open_store(config, create=False)
        root = root or log_root(store, config)
    else:
        root = root or Path(".steward").resolve()
    return ServingRuntime(options, store=store, log_root=Path(root), metrics_dir=metrics_dir)


def app_from_env() -> ModelServerApp:
    """The app of one worker of a multi-worker server (uvicorn's factory)."""
    spec = json.loads(os.environ[SPEC_ENV])
    values = dict(spec["options"])
    values["endpoints"] = tuple(values.get("endpoints") or ())
    for key in ("log_dir", "bundle"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    options = ServeOptions(**values)
    _limit_threads(spec.get("threads"))
    runtime = build_runtime(
        options,
        uri=spec.get("uri"),
        artifacts=spec.get("artifacts"),
        log_dir=None if spec.get("log_root") is None else Path(spec["log_root"]),
        metrics_dir=None if spec.get("metrics_dir") is None else Path(spec["metrics_dir"]),
    )
    return create_app(runtime)


def _uvicorn_options() -> dict[str, Any]:
    options: dict[str, Any] = {"access_log": False, "server_header": False}
    if importlib.util.find_spec("uvloop") is not None:
        options["loop"] = "uvloop"
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = "httptools"
    return options


def serve(
    options: ServeOptions,
    *,
    host: str = LOOPBACK,
    port: int = 8080,
    workers: int = 1,
    threads: int | None = 1,
    uri: str | None = None,
    artifacts: str | None = None,
    log_level: str = "info",
) -> None:
    """Serve until interrupted (a graceful stop flushes the prediction log)."""
    import uvicorn

    if workers < 1:
        raise InvalidInput(f"--workers is a whole number >= 1, got {workers}.")
    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port is a TCP port from 0 to 65535, got {port}.")
    if not options.metrics_interval > 0:
        raise InvalidInput(
            f"--metrics-interval is a number of seconds > 0, got {options.metrics_interval}."
        )
    if workers == 1:
        _limit_threads(threads)
        runtime = build_runtime(options, uri=uri, artifacts=artifacts)
        uvicorn.run(
            create_app(runtime), host=host, port=port, log_level=log_level, **_uvicorn_options()
        )
        return
    probe = build_runtime(options, uri=uri, artifacts=artifacts)
    if probe.store is not None:
        probe.load()  # fail here, once, with the message, rather than in every worker
        probe.store.close()
    values = dataclasses.asdict(options)
    for key in ("log_dir", "bundle"):
        if values.get(key) is not None:
            values[key] = str(values[key])
    values["endpoints"] = list(values["endpoints"])
    config = load_config({"uri": uri, "artifacts": artifacts}) if options.bundle is None else None
    # fresh for every run: a directory left by a server that crashed is never read
    metrics_dir = Path(tempfile.mkdtemp(prefix="steward-metrics-"))
    os.environ[SPEC_ENV] = json.dumps(
        {
            "options": values,
            "uri": None if config is None else config.uri,
            "artifacts": None if config is None else config.artifacts,
            "log_root": str(probe.log_root),
            "metrics_dir": str(metrics_dir),
            "threads": threads,
        }
    )
    try:
        uvicorn.run(
            "mlsteward.serving._run:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            **_uvicorn_options(),
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
