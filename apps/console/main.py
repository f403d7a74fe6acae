"""Build the console app: JSON API under ``/api``, the page at ``/``, ``/healthz``, OpenAPI at ``/docs``.

``/metrics`` serves Prometheus. Read-only but for one action (replaying dead letters,
``api/routes/actions.py``), which needs ``PIPELINE_CONSOLE_ALLOW_ACTIONS=true`` and the token.
A failing source answers ``503`` with ``{"detail": {"state": "unavailable", "source", "detail"}}``
and the page shows that state in the affected section; nothing ever answers with a stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from apps.console.api.routes import actions, cluster, groups, health, messages, metrics, pipeline, tail, topics
from apps.console.context import ConsoleContext
from apps.console.errors import NotFound, SourceUnavailable
from common.settings import ConsoleSettings, DatabaseSettings, KafkaSettings, RuntimeSettings

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SourceUnavailable)
    async def unavailable(_request: Request, exc: SourceUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": exc.as_dict()})

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s: %s: %s", request.url.path, type(exc).__name__, exc)
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}: {exc}"[:300]})


def create_app(
    console: ConsoleSettings,
    kafka: KafkaSettings,
    database: DatabaseSettings,
    runtime: RuntimeSettings | None = None,
    sample_interval_s: float = 3.0,
) -> FastAPI:
    """The console for one cluster and one database; the sampler runs while the app runs."""
    context = ConsoleContext.build(console, kafka, database, runtime, sample_interval_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(context.sampler.run(), name="pipeline-sampler")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            context.close()

    app = FastAPI(
        title="Pipeline console (kafka-ui)",
        summary="Brokers, topics, messages, consumer groups and the database of the e-commerce pipeline.",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.context = context
    _install_error_handlers(app)
    for module in (health, cluster, topics, messages, tail, groups, pipeline, actions, metrics):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app
