"""The ASGI application: KServe v2 / Triton HTTP routes, /metrics, and the demo page."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import zlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import onyx
from onyx.serve.batching import Batcher
from onyx.serve.demo import describe
from onyx.serve.errors import PayloadTooLarge, RequestError
from onyx.serve.metrics import Metrics
from onyx.serve.protocol import HEADER_LENGTH, build_response, error_body, parse_request
from onyx.serve.repository import Model, Repository

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
LARGE_BODY_BYTES = 256 * 1024  # bodies parsed (and replies built) off the event loop
DRAIN_BYTES = 64 * 1024 * 1024  # an oversized body is read (and dropped) this far before the 413
_EXTENSIONS = ["binary_tensor_data", "classification", "model_repository", "model_configuration"]


def create_app(repository: Repository, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               workers: int | None = None) -> Starlette:
    """The server's application for ``repository``; inference runs in a pool of ``workers`` threads."""
    metrics = Metrics()
    batchers: dict[tuple[str, str], Batcher] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1, thread_name_prefix="onyx-infer") as pool:
            for model in repository.models():
                batchers[model.name, model.version] = batcher = Batcher(model, pool, metrics)
                batcher.start()
            try:
                yield
            finally:
                for batcher in batchers.values():
                    await batcher.stop()

    def model_of(request: Request) -> Model:
        params = request.path_params
        return repository.get(params["name"], params.get("version"))

    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        return JSONResponse({"ready": bool(batchers)}, status_code=200 if batchers else 503)

    async def server_metadata(request: Request) -> Response:
        return JSONResponse({"name": "onyx", "version": onyx.__version__, "extensions": _EXTENSIONS})

    async def model_metadata(request: Request) -> Response:
        model = model_of(request)
        return JSONResponse(model.metadata_json(repository.version_names(model.name)))

    async def model_ready(request: Request) -> Response:
        model = model_of(request)
        return JSONResponse({"name": model.name, "version": model.version, "ready": True})

    async def model_config(request: Request) -> Response:
        return JSONResponse(model_of(request).config_json())

    async def repository_index(request: Request) -> Response:
        return JSONResponse([{"name": m.name, "version": m.version, "state": "READY"} for m in repository.models()])

    async def infer(request: Request) -> Response:
        started = time.perf_counter()
        model = model_of(request)
        labels = (model.name, model.version)
        try:
            body = await _read_body(request, max_body_bytes)
            large = len(body) > LARGE_BODY_BYTES
            parsed = await _maybe_in_thread(large, parse_request, model, body, request.headers.get(HEADER_LENGTH))
            outputs = await batchers[labels].infer(parsed)
            content, header_length = await _maybe_in_thread(large, build_response, model, parsed, outputs)
        except RequestError as exc:
            metrics.failures.labels(*labels, str(exc.status)).inc()
            raise
        metrics.requests.labels(*labels).inc()
        metrics.request_seconds.labels(*labels).observe(time.perf_counter() - started)
        if header_length is None:
            return Response(content, media_type="application/json")
        return Response(content, media_type="application/octet-stream",
                        headers={HEADER_LENGTH: str(header_length)})

    async def metrics_page(request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def demo_models(request: Request) -> Response:
        return JSONResponse([describe(model) for model in repository.models()])

    model_routes = []
    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        model_routes += [
            Route(prefix, model_metadata),
            Route(prefix + "/ready", model_ready),
            Route(prefix + "/config", model_config),
            Route(prefix + "/infer", infer, methods=["POST"]),
        ]
    routes = [
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route("/v2", server_metadata),
        Route("/v2/repository/index", repository_index, methods=["POST", "GET"]),
        *model_routes,
        Route("/metrics", metrics_page),
        Route("/", index),
        Route("/demo/models", demo_models),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        RequestError: _request_error, HTTPException: _http_error, Exception: _internal_error})


async def _maybe_in_thread(off_loop: bool, function, *args):
    """``function(*args)``, in a thread when ``off_loop`` (large tensors), so that the loop keeps answering."""
    return await asyncio.to_thread(function, *args) if off_loop else function(*args)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed (gzip, deflate); 413 past ``limit`` bytes either way."""
    chunks, size, stream = [], 0, request.stream()
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            await _discard(stream, DRAIN_BYTES)
            raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise RequestError(f"unsupported Content-Encoding {encoding!r} (gzip and deflate are)", status=415)
    inflater = zlib.decompressobj(zlib.MAX_WBITS | (16 if encoding == "gzip" else 0))
    try:
        body = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise RequestError(f"the {encoding} body cannot be decompressed: {exc}") from None
    if len(body) > limit:
        raise PayloadTooLarge(f"decompressed request body is over the limit of {limit} bytes")
    return body


async def _discard(stream: AsyncIterator[bytes], budget: int) -> None:
    """Read and drop up to ``budget`` more bytes, so that a client still sending an oversized body
    reads the 413 instead of a broken connection (a larger body gets the connection closed)."""
    async for chunk in stream:
        budget -= len(chunk)
        if budget < 0:
            return


async def _request_error(request: Request, exc: RequestError) -> Response:
    return Response(error_body(str(exc)), status_code=exc.status, media_type="application/json")


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return Response(error_body(exc.detail), status_code=exc.status_code, media_type="application/json")


async def _internal_error(request: Request, exc: Exception) -> Response:
    return Response(error_body(f"internal error: {type(exc).__name__}: {exc}"), status_code=500,
                    media_type="application/json")
