"""One article in, one ``SummaryResult`` out; plus liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from .._input import Article
from ..cache import result_cache
from ..config import Settings
from ..errors import BackendError, ConfigError, ErrorCode, SummarizerError
from ..pipeline import Summarizer
from ..review import app_page
from ..schemas import SummaryResult
from ._auth import caller_of
from ._bodies import ArticleIn, ArticleOut, Health, Readiness, error_responses
from ._errors import ApiError
from ._logging import USAGE_KEY
from ._metrics import CONTENT_TYPE

log = logging.getLogger("summarizer.api")
READY_TIMEOUT_S = 5.0


async def _prepare(summarizer: Summarizer, body: ArticleIn) -> Article:
    source = body.source()
    if source.html is not None:  # HTML extraction is CPU work: keep it off the event loop
        return await asyncio.to_thread(summarizer.prepare, source)
    return summarizer.prepare(source)


def summary_router(dependencies: list[Any]) -> APIRouter:
    router = APIRouter(tags=["summaries"], dependencies=dependencies)

    @router.post(
        "/v1/summaries",
        response_model=SummaryResult,
        responses=error_responses(400, 401, 413, 422, 429, 500, 502, 503, 504),
        summary="Summarize one article",
    )
    async def create_summary(body: ArticleIn, request: Request) -> Response:
        """Grounded records of one article, the same ``SummaryResult`` the library returns.

        At most ``concurrency`` articles run at once and ``api_queue_size`` wait; beyond that the answer is
        429 with Retry-After. The whole request, waiting included, is bounded by ``api_timeout`` (504).
        """
        runtime = request.app.state.runtime
        timeout = runtime.settings.api_timeout
        try:
            async with asyncio.timeout(timeout):
                article = await _prepare(runtime.summarizer, body)
                async with runtime.admission.slot(caller_of(request).tenant):
                    result: SummaryResult = await runtime.summarizer.summarize_article(article)
        except TimeoutError:
            runtime.metrics.observe_error(ErrorCode.TIMEOUT, source="api", backend=False)
            raise ApiError(
                504, ErrorCode.TIMEOUT, f"no summary within {timeout:g} s (raise SUMMARIZER_API_TIMEOUT to wait longer)"
            ) from None
        except SummarizerError as exc:
            runtime.metrics.observe_error(exc.code, source="api", backend=isinstance(exc, BackendError))
            raise
        runtime.metrics.observe_result(result, source="api")
        request.scope[USAGE_KEY] = result.usage
        return Response(result.model_dump_json(), media_type="application/json")

    @router.post(
        "/v1/articles",
        response_model=ArticleOut,
        responses=error_responses(400, 401, 413, 422, 500),
        summary="The article as the summarizer reads it",
    )
    async def read_article(body: ArticleIn, request: Request) -> ArticleOut:
        """The text the summarizer reads from a body (HTML's main text extracted, line ends normalised), with its
        title and date: the text a summary's quote offsets point into. No model is called."""
        article = await _prepare(request.app.state.runtime.summarizer, body)
        return ArticleOut(
            text=article.text,
            title=article.title,
            url=article.url,
            published=article.published,
            warnings=article.warnings,
        )

    return router


def view_router() -> APIRouter:
    router = APIRouter(tags=["view"])

    @router.get("/", response_class=HTMLResponse, summary="The review page", include_in_schema=False)
    async def view() -> HTMLResponse:
        """Paste or open an article and see its records where they stand, or open a batch's results; the page
        calls ``/v1/articles``, ``/v1/summaries`` and ``/v1/batches`` with the key it is given."""
        return HTMLResponse(app_page())

    return router


def ops_router(metrics_dependencies: list[Any]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Health, summary="Liveness")
    async def healthz() -> Health:
        """True while the process is alive and serving, whatever the backend's state."""
        return Health()

    @router.get(
        "/readyz",
        response_model=Readiness,
        responses={
            503: {
                "model": Readiness,
                "description": "The backend is not reachable, or the cache or batches file is unusable.",
            }
        },
        summary="Readiness",
    )
    async def readyz(request: Request) -> JSONResponse:
        """Whether the server can take a request now: the model backend answers and the result cache and the
        batches file are usable (503 when one is not)."""
        summarizer: Summarizer = request.app.state.runtime.summarizer
        try:
            # shielded: a probe that gives up does not cancel a backend that is still starting
            ready = await asyncio.wait_for(asyncio.shield(summarizer.backend.ready()), READY_TIMEOUT_S)
        except Exception as exc:  # a probe that fails or hangs means not ready
            log.warning("readiness probe failed: %r", exc)
            ready = False
        cache_ok = await asyncio.to_thread(_cache_usable, summarizer.settings)
        store_ok = await asyncio.to_thread(request.app.state.runtime.batches.db.usable)
        body = Readiness(ready=ready, backend=summarizer.backend.name, result_cache=cache_ok, batch_store=store_ok)
        ready = ready and cache_ok is not False and store_ok
        body.ready = ready
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        dependencies=metrics_dependencies,
        responses={
            200: {"description": "Prometheus text format.", "content": {"text/plain": {"schema": {"type": "string"}}}},
            401: {  # JSON like every error, although this route's own content is text
                "description": "Missing or wrong bearer token.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            },
        },
        summary="Prometheus metrics",
    )
    async def metrics(request: Request) -> Response:
        """Requests, latencies, backend calls, retries, tokens and grounding rate of this process."""
        return Response(request.app.state.runtime.metrics.render(), media_type=CONTENT_TYPE)

    return router


def _cache_usable(settings: Settings) -> bool | None:
    """Whether the result cache opens and answers; None when caching is off for these settings."""
    try:
        cache = result_cache(settings)
    except ConfigError as exc:
        log.warning("result cache unusable: %s", exc.message)
        return False
    return None if cache is None else cache.usable()
