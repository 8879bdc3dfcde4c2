"""The state of a model server: its endpoints, their routes and models, and how they change.

At start the server reads the routes of its endpoints from the store and loads their
model versions; it then polls the endpoints' ``routes_version`` (one small query every
``poll_seconds``) and reloads an endpoint whose routes changed (a deploy, a rollout step
made by another process, a manual promote or rollback). Models already loaded are kept.
The new state of an endpoint is built aside and swapped in at once, so a request sees the
old routes or the new ones, never a mix.

If the store cannot be reached the server keeps answering with what it has (``/readyz``
says so under ``store``), and catches up when the store is back. A server started from a
bundle (``steward serve --bundle DIR``) needs no store at all.

Two seams keep tests away from the outside: a :class:`ModelLoader` turns a route into a
:class:`ServedModel` (the store's artifacts by default; an in-memory fake in tests), and
``router_factory`` builds the :class:`Router` of an endpoint from its live weights.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlsteward.core import StewardError
from mlsteward.registry import (
    DomainMode,
    Route,
    list_routes,
    load_bundle,
    load_version,
    resolve_model,
)
from mlsteward.serving._batcher import Batcher
from mlsteward.serving._metrics import ServerMetrics
from mlsteward.serving._models import ServedModel
from mlsteward.serving._predlog import PredictionLog
from mlsteward.serving._router import Router, WeightedRouter
from mlsteward.serving._workermetrics import WorkerMetrics
from mlsteward.store import Store
from mlsteward.store.metadata import SqlServingRepository

__all__ = [
    "BundleLoader",
    "EndpointState",
    "ModelLoader",
    "RouteInfo",
    "ServeOptions",
    "ServingRuntime",
    "StoreLoader",
]

logger = logging.getLogger("mlsteward.serving")


@dataclass(frozen=True)
class ServeOptions:
    """How a server runs (``steward serve`` options)."""

    endpoints: tuple[str, ...] = ()
    log: bool = True
    log_dir: Path | None = None
    flush_seconds: float = 1.0
    flush_records: int = 10_000
    max_body_bytes: int = 10 * 1024 * 1024
    max_rows: int = 10_000
    batch_rows: int = 512
    poll_seconds: float = 2.0
    controller: bool = True
    check_seconds: float = 2.0
    seed: int | None = None
    domain: DomainMode = "strict"
    bundle: Path | None = None
    trust: bool = False
    fsync: bool = True
    metrics_interval: float = 1.0


@dataclass(frozen=True)
class RouteInfo:
    """A route as the server needs it: the version, its weight (percent) and mode."""

    project: str
    endpoint: str
    name: str
    version: int
    weight: float
    mode: str

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def of(cls, route: Route) -> RouteInfo:
        return cls(
            route.project, route.endpoint, route.name, route.version, route.weight, route.mode
        )


@dataclass
class EndpointState:
    """One endpoint as served now: immutable once built (a change builds a new one)."""

    name: str
    project: str | None
    routes_version: int
    routes: tuple[RouteInfo, ...]
    models: dict[str, ServedModel]
    batchers: dict[str, Batcher]
    router: Router | None
    shadows: tuple[tuple[str, float], ...] = ()
    override: str | None = None

    @property
    def ready(self) -> bool:
        return self.router is not None

    def describe(self) -> dict[str, Any]:
        return {
            "endpoint": self.name,
            "project": self.project,
            "routes_version": self.routes_version,
            "routes": [{"model": r.key, "weight": r.weight, "mode": r.mode} for r in self.routes],
            "override": self.override,
        }


class ModelLoader(abc.ABC):
    """Turns a route into a loaded model. Contract: ``load`` may do I/O (it runs outside
    the event loop); it raises a :class:`StewardError` naming the model when it cannot."""

    @abc.abstractmethod
    def load(self, route: RouteInfo) -> ServedModel: ...


class StoreLoader(ModelLoader):
    """Models from the store: the version record, then its artifact (hash verified)."""

    def __init__(self, store: Store, *, domain: DomainMode = "strict") -> None:
        self.store = store
        self.domain: DomainMode = domain

    def load(self, route: RouteInfo) -> ServedModel:
        version = resolve_model(self.store, route.project, route.key)
        return ServedModel.from_version(
            version, load_version(self.store, version), domain=self.domain
        )


class BundleLoader(ModelLoader):
    """The model of a bundle directory (``steward package``), for a server without store."""

    def __init__(self, directory: Path, *, trust: bool = False, domain: DomainMode = "strict"):
        predictor = load_bundle(directory, trust=trust, domain=domain)
        name, _, number = predictor.ref.partition("@")
        self.route_name = name
        self.route_version = int(number) if number.isdigit() else 1
        self.served = ServedModel(
            predictor.model,
            predictor.signature,
            name=self.route_name,
            version=self.route_version,
            domain=domain,
        )

    def load(self, route: RouteInfo) -> ServedModel:
        return self.served


RouterFactory = Callable[[str, Mapping[str, float]], Router]


class ServingRuntime:
    """Endpoints, models, log and metrics of one server process (see the module docstring)."""

    def __init__(
        self,
        options: ServeOptions,
        *,
        store: Store | None = None,
        loader: ModelLoader | None = None,
        router_factory: RouterFactory | None = None,
        log_root: Path | None = None,
        metrics_dir: Path | None = None,
    ) -> None:
        self.options = options
        self.store = store
        if loader is None:
            if options.bundle is not None:
                loader = BundleLoader(options.bundle, trust=options.trust, domain=options.domain)
            elif store is not None:
                loader = StoreLoader(store, domain=options.domain)
            else:
                raise StewardError("A model server needs a store or a bundle to load models from.")
        self.loader = loader
        self.router_factory: RouterFactory = router_factory or (
            lambda _endpoint, weights: WeightedRouter(weights, seed=options.seed)
        )
        self.endpoints: dict[str, EndpointState] = {}
        self.metrics = ServerMetrics()
        # several workers: each publishes its numbers there and /metrics sums them all
        self.shared_metrics = (
            None
            if metrics_dir is None
            else WorkerMetrics(metrics_dir, self.metrics, interval=options.metrics_interval)
        )
        self.log_root = log_root
        self.log: PredictionLog | None = None
        if options.log and log_root is not None:
            self.log = PredictionLog(
                log_root,
                flush_records=options.flush_records,
                flush_seconds=options.flush_seconds,
                fsync=options.fsync,
            )
            log = self.log
            self.metrics.gauges["steward_prediction_log_written_rows"] = lambda: log.written
            self.metrics.gauges["steward_prediction_log_dropped_rows"] = lambda: log.dropped
            self.metrics.gauges["steward_prediction_log_queued_rows"] = lambda: log.pending
        self.store_ok = store is not None
        self.store_error: str | None = None
        self._cache: dict[str, ServedModel] = {}
        self._batchers: dict[str, Batcher] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.controller: Any = None

    # -- loading ---------------------------------------------------------------------------
    def _served(self, route: RouteInfo) -> tuple[ServedModel, Batcher]:
        model = self._cache.get(route.key)
        if model is None:
            model = self.loader.load(route)
            self._cache[route.key] = model
        batcher = self._batchers.get(route.key)
        if batcher is None:
            batcher = self._batchers[route.key] = Batcher(model, max_rows=self.options.batch_rows)
        return model, batcher

    def build(
        self,
        name: str,
        project: str | None,
        routes: list[RouteInfo],
        routes_version: int,
        override: str | None = None,
    ) -> EndpointState:
        """The state of endpoint ``name`` serving ``routes`` (models loaded as needed)."""
        models: dict[str, ServedModel] = {}
        batchers: dict[str, Batcher] = {}
        for route in routes:
            models[route.key], batchers[route.key] = self._served(route)
        live = {r.key: r.weight for r in routes if r.mode == "live" and r.weight > 0}
        if override is not None and override in models:
            live = {override: 100.0}
        router = self.router_factory(name, live) if live else None
        shadows = tuple((r.key, r.weight) for r in routes if r.mode == "shadow" and r.weight > 0)
        if override is not None:
            shadows = ()
        return EndpointState(
            name,
            project,
            routes_version,
            tuple(routes),
            models,
            batchers,
            router,
            shadows,
            override,
        )

    def install(self, state: EndpointState) -> None:
        """Serve ``state`` from now on (an atomic swap)."""
        self.endpoints = {**self.endpoints, state.name: state}

    def _store_routes(self, name: str) -> tuple[str | None, list[RouteInfo]]:
        assert self.store is not None
        routes = list_routes(self.store, None, endpoint=name)
        project = routes[0].project if routes else None
        return project, [RouteInfo.of(r) for r in routes]

    def reload(self, name: str, routes_version: int | None = None) -> EndpointState:
        """Read the routes of ``name`` from the store and serve them."""
        with self._lock:
            if routes_version is None:
                routes_version = self._routes_versions().get(name, 0)
            project, routes = self._store_routes(name)
            current = self.endpoints.get(name)
            override = current.override if current is not None else None
            if override is not None and override not in {r.key for r in routes}:
                override = None
            state = self.build(name, project, routes, routes_version, override)
            self.install(state)
            return state

    def set_override(self, name: str, key: str | None) -> None:
        """Send all of ``name``'s traffic to ``key`` in this process (a rollback decided
        while the store cannot be told), or clear the override (None)."""
        with self._lock:
            state = self.endpoints.get(name)
            if state is None:
                return
            self.install(
                self.build(name, state.project, list(state.routes), state.routes_version, key)
            )

    def _routes_versions(self) -> dict[str, int]:
        assert self.store is not None
        with self.store.reader() as session:
            return SqlServingRepository(session).routes_versions()

    def load(self) -> None:
        """Load every endpoint the server serves (at start)."""
        if self.options.bundle is not None:
            assert isinstance(self.loader, BundleLoader)
            name = self.options.endpoints[0] if self.options.endpoints else self.loader.route_name
            route = RouteInfo(
                "bundle", name, self.loader.route_name, self.loader.route_version, 100.0, "live"
            )
            self.install(self.build(name, None, [route], 0))
            return
        versions = self._routes_versions()
        wanted = self.options.endpoints or tuple(sorted(versions))
        missing = [e for e in wanted if e not in versions]
        if missing:
            from mlsteward.core import NotFound

            raise NotFound(
                f"No endpoint {', '.join(map(repr, missing))} in the store "
                f"{self.store.display_uri if self.store else ''}. Endpoints: "
                f"{', '.join(sorted(versions)) or 'none yet'}. Create one with: steward deploy "
                "NAME@VERSION --endpoint NAME --project PROJECT"
            )
        for name in wanted:
            self.reload(name, versions[name])

    def refresh(self) -> list[str]:
        """Poll the store once; reload the endpoints whose routes changed; return them."""
        if self.store is None or self.options.bundle is not None:
            return []
        try:
            versions = self._routes_versions()
            changed = []
            for name, version in versions.items():
                if self.options.endpoints and name not in self.options.endpoints:
                    continue
                current = self.endpoints.get(name)
                if current is None or current.routes_version != version:
                    self.reload(name, version)
                    changed.append(name)
        except Exception as exc:  # the store is down, or a model cannot load: keep serving
            if self.store_ok:
                logger.warning("Cannot refresh routes from the store: %s", exc)
            self.store_ok = False
            self.store_error = (
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
            return []
        self.store_ok = True
        self.store_error = None
        return changed

    # -- background work -------------------------------------------------------------------
    def _every(self, seconds: float, work: Callable[[], object], name: str) -> None:
        def loop() -> None:
            while not self._stop.wait(seconds):
                try:
                    work()
                except Exception:  # pragma: no cover - logged, the server keeps answering
                    logger.exception("%s failed", name)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def start(self) -> ServingRuntime:
        """Load the endpoints and start the log writer, the poller and the controller."""
        self.load()
        if self.log is not None:
            self.log.start()
        if self.store is not None and self.options.bundle is None:
            self._every(self.options.poll_seconds, self.refresh, "steward-routes-poller")
            if self.options.controller:
                from mlsteward.serving._rollout import RolloutController

                self.controller = RolloutController(self)
                self._every(self.options.check_seconds, self.controller.tick, "steward-rollouts")
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
        if self.controller is not None:
            self.controller.close()
        if self.log is not None:
            self.log.close()
        for batcher in self._batchers.values():
            batcher.close()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        endpoints = {name: state.ready for name, state in self.endpoints.items()}
        ready = bool(endpoints) and all(endpoints.values())
        detail: dict[str, Any] = {
            "ready": ready,
            "endpoints": endpoints,
            "store": "n/a"
            if self.store is None
            else ("ok" if self.store_ok else f"unreachable ({self.store_error})"),
            "log": None
            if self.log is None
            else {
                "root": str(self.log.root),
                "queued_rows": self.log.pending,
                "written_rows": self.log.written,
                "dropped_rows": self.log.dropped,
                "last_error": self.log.last_error,
            },
        }
        return ready, detail
