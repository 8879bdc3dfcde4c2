"""The model server's HTTP interface (FastAPI on uvicorn).

=========================================  ==============================================
``POST /v1/endpoints/{E}/predict``         rows in, predictions (and probabilities) out
``POST /v1/endpoints/{E}/feedback``        ground truth for earlier request ids
``GET  /v1/endpoints`` and ``/{E}``        what is served: routes, models, signatures
``GET  /metrics``                          Prometheus text format (summed over workers)
``GET  /healthz``, ``/readyz``             liveness; readiness (models loaded, store, log)
``GET  /openapi.json``                     the OpenAPI document
=========================================  ==============================================

A predict body is ``{"records": [{column: value, ...}, ...]}`` (one row or many; an
optional ``"ids"`` list names the rows), or MLflow's ``dataframe_records`` /
``dataframe_split``, or a bare list of rows, or one row. Answers: 200 with ``ids`` (one
per row: the ids feedback refers to), ``predictions``, ``probabilities`` and ``classes``
for a classifier, and the ``model`` and ``model_version`` that answered; 400 for a body
that is not JSON; 413 for a body over the size limit; 422 for rows that do not match the
model's signature (the message lists every problem); 500 when the model itself fails.
Nothing a client sends can stop the server: every error is answered.

The predict path avoids per-request pandas and pydantic: orjson parses the body, a
compiled validator checks the rows (``_validation``), concurrent requests share one model
call (``_batcher``), and the log row is queued for a background writer (``_predlog``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import itertools
import os
import random
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    MutableMapping,
    Sequence,
)
from contextlib import asynccontextmanager
from typing import Any, Final

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from mlsteward._version import __version__
from mlsteward.core import InvalidInput, StewardError
from mlsteward.registry import SignatureMismatch
from mlsteward.serving._feedback import LabelSpec, parse_feedback, write_feedback
from mlsteward.serving._models import Outputs, ServedModel
from mlsteward.serving._predlog import LogItem
from mlsteward.serving._protocol import (
    FEEDBACK_BODY,
    ID_PATTERN,
    JSON,
    PREDICT_BODY,
    PREDICT_RESPONSES,
    SHAPE,
    parse_rows,
)
from mlsteward.serving._runtime import EndpointState, ServingRuntime

__all__ = ["ModelServerApp", "create_app"]


class _BodyTooLarge(Exception):
    pass


def _json(status: int, content: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type=JSON, headers=headers)


def _error(status: int, kind: str, message: str, **extra: Any) -> Response:
    return _json(status, {"error": kind, "message": message, **extra})


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            size = -1
        if size > limit:
            raise _BodyTooLarge(size)
        if size >= 0:
            return await request.body()
    chunks = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _BodyTooLarge(total)
        chunks.append(chunk)
    return b"".join(chunks)


_PROCESS_PREFIX: Final = os.urandom(6).hex()
_COUNTER = itertools.count()


def _new_request_id() -> str:
    """Unique without coordination: a random prefix per process, then a counter."""
    return f"{_PROCESS_PREFIX}{next(_COUNTER):012x}"


_Answer = tuple[int, bytes, dict[str, str]]


def _fail(status: int, kind: str, message: str) -> _Answer:
    return status, orjson.dumps({"error": kind, "message": message}), {}


class _Handlers:
    """The request handlers, bound to one runtime."""

    def __init__(self, runtime: ServingRuntime) -> None:
        self.runtime = runtime
        self.options = runtime.options
        self._random = random.Random(runtime.options.seed).random
        self._tasks: set[asyncio.Future[None]] = set()

    def _record(self, item: LogItem) -> None:
        log = self.runtime.log
        if log is not None:
            log.record(item)
            return
        controller = self.runtime.controller
        if controller is not None and controller.memory is not None:
            controller.memory.record(item)

    def _endpoint(self, name: str) -> EndpointState | Response:
        state = self.runtime.endpoints.get(name)
        if state is None:
            served = ", ".join(sorted(self.runtime.endpoints)) or "none"
            return _error(
                404,
                "NotFound",
                f"This server does not serve an endpoint {name!r}; it serves: {served}.",
            )
        return state

    async def predict(self, request: Request) -> Response:
        """The predict route as FastAPI sees it (the fast path below answers first)."""
        status, content, headers = await self.answer(
            request.path_params["endpoint"],
            lambda: _body(request, self.options.max_body_bytes),
            request.headers.get,
        )
        return Response(content, status_code=status, media_type=JSON, headers=headers)

    async def answer(
        self,
        name: str,
        read_body: Callable[[], Awaitable[bytes]],
        header: Callable[[str], str | None],
    ) -> _Answer:
        """Status, JSON body and headers of the answer to a predict request."""
        started = time.perf_counter()
        arrived = time.time()
        state = self.runtime.endpoints.get(name)
        if state is None:
            served = ", ".join(sorted(self.runtime.endpoints)) or "none"
            return _fail(
                404,
                "NotFound",
                f"This server does not serve an endpoint {name!r}; it serves: {served}.",
            )
        try:
            body = await read_body()
        except _BodyTooLarge as exc:
            return _fail(
                413,
                "PayloadTooLarge",
                f"The body has {exc.args[0]} bytes; this server takes at most "
                f"{self.options.max_body_bytes} bytes per request. Send fewer rows per "
                "request, or score files with: steward predict.",
            )
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _fail(400, "MalformedJSON", f"The body is not valid JSON: {exc}. {SHAPE}")
        try:
            rows, ids = parse_rows(payload, self.options.max_rows)
        except InvalidInput as exc:
            return _fail(422, "InvalidInput", exc.message)
        if state.router is None:
            return _fail(
                503,
                "Unavailable",
                f"Endpoint {name!r} has no live model right now. Deploy one with: steward "
                f"deploy NAME@VERSION --endpoint {name}",
            )
        key = state.router.choose(header("x-route-key"))
        model = state.models[key]
        given = header("x-request-id")
        request_id = given if given is not None and ID_PATTERN.match(given) else _new_request_id()
        n = len(rows)
        if ids is None:
            ids = [request_id] if n == 1 else [f"{request_id}.{i}" for i in range(n)]
        headers = {"x-request-id": request_id, "x-model": key}
        try:
            columns = model.validator.check(rows)
        except InvalidInput as exc:
            self._settle(
                state, key, model, ids, arrived, started, "rejected", error=exc.message, raw=rows
            )
            extra = exc.to_dict() if isinstance(exc, SignatureMismatch) else {}
            extra.pop("error", None)
            extra.pop("message", None)
            content = {"error": exc.kind, "message": exc.message, "request_id": request_id}
            return 422, orjson.dumps({**content, **extra}), headers
        try:
            outputs = await state.batchers[key].submit(columns, n)
        except Exception as exc:
            message = f"Model {key} failed: {type(exc).__name__}: {exc}"
            self._settle(
                state,
                key,
                model,
                ids,
                arrived,
                started,
                "error",
                error=message[:2000],
                columns=columns,
            )
            content = {"error": "ModelError", "message": message, "request_id": request_id}
            return 500, orjson.dumps(content), headers
        answer: dict[str, Any] = {
            "request_id": request_id,
            "endpoint": name,
            "model": model.name,
            "model_version": model.version,
            "ids": ids,
            "predictions": outputs.predictions,
        }
        if outputs.probabilities is not None:
            answer["probabilities"] = outputs.probabilities
            answer["classes"] = model.classes
        encoded = orjson.dumps(answer)
        self._settle(
            state, key, model, ids, arrived, started, "ok", outputs=outputs, columns=columns
        )
        if state.shadows:
            self._shadow(state, rows, ids, arrived)
        return 200, encoded, headers

    def _shadow(
        self, state: EndpointState, rows: list[Any], ids: Sequence[str], arrived: float
    ) -> None:
        for key, weight in state.shadows:
            if weight < 100 and self._random() * 100 >= weight:
                continue
            model = state.models.get(key)
            batcher = state.batchers.get(key)
            if model is None or batcher is None:
                continue
            task = asyncio.ensure_future(self._run_shadow(state, model, rows, ids, arrived))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_shadow(
        self,
        state: EndpointState,
        model: ServedModel,
        rows: list[Any],
        ids: Sequence[str],
        arrived: float,
    ) -> None:
        started = time.perf_counter()
        settle = functools.partial(
            self._settle, state, model.key, model, ids, arrived, started, shadow=True
        )
        try:
            columns = model.validator.check(rows)
        except InvalidInput as exc:
            settle("rejected", error=exc.message, raw=rows)
            return
        try:
            outputs = await state.batchers[model.key].submit(columns, len(ids))
        except Exception as exc:
            error = f"Model {model.key} failed: {type(exc).__name__}: {exc}"[:2000]
            settle("error", error=error, columns=columns)
            return
        settle("ok", outputs=outputs, columns=columns)

    def _settle(
        self,
        state: EndpointState,
        key: str,
        model: ServedModel,
        ids: Sequence[str],
        arrived: float,
        started: float,
        status: str,
        *,
        error: str | None = None,
        outputs: Outputs | None = None,
        columns: dict[str, list[Any]] | None = None,
        raw: Sequence[Any] | None = None,
        shadow: bool = False,
    ) -> None:
        """Count one handled request in the metrics and record it in the prediction log."""
        latency = (time.perf_counter() - started) * 1000
        self.runtime.metrics.observe(state.name, key, status, len(ids), latency, shadow=shadow)
        self._record(
            LogItem(
                state.name,
                model,
                ids,
                arrived,
                latency,
                status,
                error,
                outputs,
                columns,
                shadow=shadow,
                raw=raw,
                project=state.project,
            )
        )

    async def feedback(self, request: Request) -> Response:
        name = request.path_params["endpoint"]
        found = self._endpoint(name)
        if isinstance(found, Response):
            return found
        root = self.runtime.log_root
        if root is None:
            return _error(503, "Unavailable", "This server has no log directory for feedback.")
        try:
            body = await _body(request, self.options.max_body_bytes)
        except _BodyTooLarge as exc:
            return _error(
                413,
                "PayloadTooLarge",
                f"The body has {exc.args[0]} bytes; the limit is {self.options.max_body_bytes}. "
                "Send the labels in several calls.",
            )
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _error(400, "MalformedJSON", f"The body is not valid JSON: {exc}.")
        try:
            ids, labels = parse_feedback(payload)
            spec = _label_spec(found)
            loop = asyncio.get_running_loop()
            receipt = await loop.run_in_executor(
                None,
                lambda: write_feedback(
                    root, name, ids, labels, spec, source="api", fsync=self.options.fsync
                ),
            )
        except InvalidInput as exc:
            return _error(422, exc.kind, exc.message)
        return _json(200, {"endpoint": name, "count": receipt.count})

    async def endpoints(self, request: Request) -> Response:
        return _json(200, {"endpoints": [s.describe() for s in self.runtime.endpoints.values()]})

    async def endpoint(self, request: Request) -> Response:
        found = self._endpoint(request.path_params["endpoint"])
        if isinstance(found, Response):
            return found
        detail = found.describe()
        detail["models"] = {
            key: {
                "signature": model.signature.to_dict(),
                "classes": model.classes,
                "class": type(model.model).__name__,
            }
            for key, model in found.models.items()
        }
        controller = self.runtime.controller
        decision = None if controller is None else controller.decisions.get(found.name)
        detail["rollout"] = None if decision is None else decision.to_dict()
        return _json(200, detail)

    async def metrics(self, request: Request) -> Response:
        """This process's numbers; with several workers, the sum over all of them (the
        header ``X-Steward-Worker`` names the process that answered)."""
        shared = self.runtime.shared_metrics
        text = self.runtime.metrics.render() if shared is None else await shared.render()
        return Response(
            text,
            media_type="text/plain; version=0.0.4; charset=utf-8",
            headers={"x-steward-worker": self.runtime.metrics.worker},
        )

    async def healthz(self, request: Request) -> Response:
        return _json(200, {"status": "ok", "version": __version__})

    async def readyz(self, request: Request) -> Response:
        ready, detail = self.runtime.readiness()
        return _json(200 if ready else 503, detail)


def _label_spec(state: EndpointState) -> LabelSpec:
    live = [r for r in state.routes if r.mode == "live" and r.weight > 0] or list(state.routes)
    if not live:
        raise InvalidInput(f"Endpoint {state.name!r} has no model to check labels against.")
    model = state.models[max(live, key=lambda r: r.weight).key]
    classes = None if model.classes is None else tuple(model.classes)
    return LabelSpec(classes, f"model {model.key}")


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_PREFIX: Final = "/v1/endpoints/"
_SUFFIX: Final = "/predict"


class ModelServerApp:
    """The ASGI app: ``POST /v1/endpoints/{E}/predict`` is answered here directly, everything
    else (and the OpenAPI document, which describes the predict route too) by FastAPI.

    The predict path is the server's hot path; FastAPI's middleware, routing and
    dependency machinery would cost more per request than parsing, validating and
    logging together, so it is skipped there. Both paths give the same answers
    (``_Handlers.answer``).
    """

    def __init__(self, api: FastAPI, handlers: _Handlers) -> None:
        self.api = api
        self.handlers = handlers
        self.runtime = handlers.runtime
        self.limit = handlers.options.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
                name = path[len(_PREFIX) : -len(_SUFFIX)]
                if name and "/" not in name:
                    await self._predict(scope, receive, send, name)
                    return
        await self.api(scope, receive, send)

    async def _predict(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            headers[key.decode("latin-1")] = value.decode("latin-1")
        limit = self.limit

        async def read_body() -> bytes:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise _BodyTooLarge(int(declared))
            chunks = []
            total = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
                chunk = message.get("body", b"")
                total += len(chunk)
                if total > limit:
                    raise _BodyTooLarge(total)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)

        try:
            status, content, extra = await self.handlers.answer(name, read_body, headers.get)
        except Exception as exc:  # never let a request take the server down
            status, content, extra = _fail(500, type(exc).__name__, f"{type(exc).__name__}: {exc}")
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
        ]
        raw_headers += [(k.encode(), v.encode("latin-1")) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})


def create_app(runtime: ServingRuntime, *, manage: bool = True) -> ModelServerApp:
    """The server app for ``runtime`` (started and stopped with the app when ``manage``)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage:
            await asyncio.get_running_loop().run_in_executor(None, runtime.start)
        shared = runtime.shared_metrics
        publisher = None if shared is None else asyncio.ensure_future(shared.run())
        # what is loaded now lives as long as the server: keep it out of the cyclic garbage
        # collector's way, so that its full collections stay short (no latency spikes)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if publisher is not None:
                publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await publisher
            if manage:
                await asyncio.get_running_loop().run_in_executor(None, runtime.stop)
            if shared is not None:
                await shared.close()  # after the log's last flush: its final numbers

    app = FastAPI(
        title="Steward model server",
        version=__version__,
        description="Model endpoints of a Steward store: predictions, feedback, operations.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    handlers = _Handlers(runtime)
    app.state.runtime = runtime
    app.add_api_route(
        "/v1/endpoints/{endpoint}/predict",
        handlers.predict,
        methods=["POST"],
        summary="Predict rows",
        openapi_extra={"requestBody": PREDICT_BODY},
        responses=PREDICT_RESPONSES,
        tags=["predictions"],
    )
    app.add_api_route(
        "/v1/endpoints/{endpoint}/feedback",
        handlers.feedback,
        methods=["POST"],
        summary="Attach ground truth to request ids",
        openapi_extra={"requestBody": FEEDBACK_BODY},
        tags=["predictions"],
    )
    app.add_api_route("/v1/endpoints", handlers.endpoints, methods=["GET"], tags=["endpoints"])
    app.add_api_route(
        "/v1/endpoints/{endpoint}", handlers.endpoint, methods=["GET"], tags=["endpoints"]
    )
    app.add_api_route("/metrics", handlers.metrics, methods=["GET"], tags=["operations"])
    app.add_api_route("/healthz", handlers.healthz, methods=["GET"], tags=["operations"])
    app.add_api_route("/readyz", handlers.readyz, methods=["GET"], tags=["operations"])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        status = exc.http_status if isinstance(exc, StewardError) else 500
        return _error(status, type(exc).__name__, f"{type(exc).__name__}: {exc}")

    return ModelServerApp(app, handlers)
