"""The FastAPI application: one ``Summarizer`` (one backend client) per process, shared by every request
and by the background batch runner; limits, auth, logs and metrics wrapped around the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from .._version import __version__
from ..backends import Backend
from ..config import Settings
from ..pipeline import Summarizer
from ._auth import KeyChecker, require_key
from ._batches import BatchRunner, batch_router
from ._errors import install_error_handlers
from ._limits import Admission, BodyLimitMiddleware
from ._logging import RequestLogMiddleware
from ._metrics import Metrics
from ._routes import ops_router, summary_router, view_router
from ._store import BatchDB

log = logging.getLogger("summarizer.api")
BATCH_FILE = "api-batches.sqlite3"


DESCRIPTION = """Strict, typed, source-grounded summaries of news about diplomacy and conflict.

Send an article to `POST /v1/summaries` and get a `SummaryResult`: positions, demands, territorial
figures and upcoming meetings, each with verbatim evidence located in the text. Send many to
`POST /v1/batches` and collect JSON Lines. Errors are JSON `{"error": {"code", "message"}}`.
"""


@dataclass
class Runtime:
    """What the routes share within one process."""

    settings: Settings
    metrics: Metrics
    admission: Admission
    summarizer: Summarizer = field(init=False)
    batches: BatchRunner = field(init=False)


def batch_db_path(settings: Settings) -> Path:
    return settings.api_batch_db or settings.cache_dir / BATCH_FILE


def create_app(settings: Settings | None = None, backend: Backend | None = None) -> FastAPI:
    """The HTTP API for ``settings``; ``backend`` replaces the one the settings name (tests, embedding).

    The backend client, the batches file and the batch runner are opened when the app starts (its
    lifespan) and closed when it stops; unfinished batches in the file resume on start.
    """
    settings = settings or Settings()
    metrics = Metrics()
    checker = KeyChecker(settings.api_keys, settings.api_admin_keys)
    admission = Admission(
        settings.concurrency,
        settings.api_queue_size,
        on_reject=metrics.overloaded.inc,
        tenant_share=settings.api_key_share if checker.enabled else 1.0,
    )
    runtime = Runtime(settings=settings, metrics=metrics, admission=admission)
    runtime.metrics.in_flight.set_function(lambda: runtime.admission.active)
    runtime.metrics.waiting.set_function(lambda: runtime.admission.waiting)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.summarizer = Summarizer(settings, backend)
        db = BatchDB(batch_db_path(settings))
        runtime.batches = BatchRunner(db, runtime.summarizer, runtime.metrics, settings.concurrency)
        runtime.batches.start()
        log.info(
            "summarizer API ready",
            extra={
                "backend": runtime.summarizer.backend.name,
                "model": runtime.summarizer.backend.model,
                "concurrency": settings.concurrency,
                "queue_size": settings.api_queue_size,
                "auth": checker.enabled,
                "batch_db": str(db.path),
            },
        )
        try:
            yield
        finally:
            await runtime.batches.stop()
            db.close()
            if backend is None:
                await runtime.summarizer.aclose()

    app = FastAPI(
        title="summarizer",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    protected: list[Any] = [Depends(require_key(checker))] if checker.enabled else []
    app.include_router(summary_router(protected))
    app.include_router(batch_router(protected))
    app.include_router(ops_router(protected))
    app.include_router(view_router())
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(RequestLogMiddleware, metrics=runtime.metrics)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and worker processes: settings from ``SUMMARIZER_*`` variables."""
    return create_app(Settings())
