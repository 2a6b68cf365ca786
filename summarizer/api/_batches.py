"""HTTP batches: ``POST /v1/batches`` stores the articles and returns at once; a background runner
summarizes them with the shared batch engine (``summarizer.batch.run_batch``) and the process's one
``Summarizer``; status and JSON Lines results are read from the SQLite file, so they survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from .._input import ArticleInput
from ..batch import BatchRecord, RecordError, run_batch
from ..errors import BackendError, BackendTimeoutError, BackendUnavailableError, ErrorCode, OutputValidationError
from ..pipeline import Summarizer
from ..schemas import SummaryResult
from ._auth import Caller, caller_of
from ._bodies import ArticleOut, BatchIn, BatchStatus, error_responses
from ._errors import ApiError
from ._metrics import Metrics
from ._store import LEASE_S, BatchDB, SqliteBatchStore, owner_tag

log = logging.getLogger("summarizer.api")
POLL_S = 2.0
PAGE = 100
JSONL = "application/x-ndjson"
BACKEND_CODES = frozenset(
    e.code for e in (BackendError, BackendTimeoutError, BackendUnavailableError, OutputValidationError)
)


class BatchRunner:
    """Claims unfinished batches from the file, one at a time, and runs them to the end."""

    def __init__(self, db: BatchDB, summarizer: Summarizer, metrics: Metrics, concurrency: int) -> None:
        self.db = db
        self.summarizer = summarizer
        self.metrics = metrics
        self.concurrency = concurrency
        self.owner = owner_tag()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="batch-runner")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                batch_id = await asyncio.to_thread(self.db.claim, self.owner)
            except Exception:
                log.exception("could not read the batches file")
                batch_id = None
            if batch_id is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_S)
                self._wake.clear()
                continue
            await self._run(batch_id)

    async def _records(self, batch_id: str) -> AsyncIterator[BatchRecord]:
        last = -1
        while page := await asyncio.to_thread(self.db.pending, batch_id, last, PAGE):
            for seq, article_id, payload in page:
                last = seq
                yield BatchRecord(article_id, ArticleInput(**payload))

    async def _heartbeat(self, batch_id: str) -> None:
        while True:
            await asyncio.sleep(LEASE_S / 3)
            try:
                await asyncio.to_thread(self.db.heartbeat, batch_id, self.owner)
            except Exception:  # the run itself will fail on the same file if it is really gone
                log.exception("could not record the batch heartbeat", extra={"batch_id": batch_id})

    def _observe(self, outcome: SummaryResult | RecordError) -> None:
        if isinstance(outcome, SummaryResult):
            self.metrics.observe_result(outcome, source="batch")
        else:
            self.metrics.observe_error(outcome.code, source="batch", backend=outcome.code in BACKEND_CODES)

    async def _run(self, batch_id: str) -> None:
        log.info("batch started", extra={"batch_id": batch_id})
        store = SqliteBatchStore(self.db, batch_id, self._observe)
        beat = asyncio.create_task(self._heartbeat(batch_id))
        try:
            report = await run_batch(self._records(batch_id), self.summarizer, store, concurrency=self.concurrency)
        except asyncio.CancelledError:  # server stopping: hand the batch back, unfinished articles are redone
            await asyncio.shield(asyncio.to_thread(self.db.release, batch_id, self.owner))
            log.info("batch paused", extra={"batch_id": batch_id})
            raise
        except Exception as exc:  # the store failed: nothing more could be recorded
            log.exception("batch failed", extra={"batch_id": batch_id})
            await asyncio.to_thread(self.db.release, batch_id, self.owner, state="failed", error=str(exc))
        else:
            await asyncio.to_thread(self.db.release, batch_id, self.owner, state="done")
            log.info("batch finished", extra={"batch_id": batch_id, **report.to_json()})
        finally:
            beat.cancel()


def _when(ts: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC) if ts is not None else None


def batch_status(row: dict[str, Any]) -> BatchStatus:
    finished = row["done"] + row["failed"]
    items = row["grounded"] + row["ungrounded"]
    return BatchStatus(
        id=row["id"],
        status=row["state"],
        total=row["total"],
        done=row["done"],
        failed=row["failed"],
        pending=row["total"] - finished,
        progress=round(finished / row["total"], 4) if row["total"] else 1.0,
        created_at=_when(row["created"]) or dt.datetime.now(dt.UTC),
        finished_at=_when(row["finished"]),
        model_calls=row["model_calls"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        grounding_rate=row["grounded"] / items if items else None,
        errors=row["errors"],
        error=row["error"],
        results_url=f"/v1/batches/{row['id']}/results",
    )


def _runner(request: Request) -> BatchRunner:
    found: BatchRunner = request.app.state.runtime.batches
    return found


Runner = Annotated[BatchRunner, Depends(_runner)]


def batch_router(dependencies: list[Any]) -> APIRouter:
    router = APIRouter(prefix="/v1/batches", tags=["batches"], dependencies=dependencies)

    async def status_row(runner: BatchRunner, batch_id: str, caller: Caller) -> dict[str, Any]:
        row = await asyncio.to_thread(runner.db.status, batch_id)
        if row is None or not caller.sees(row.get("tenant")):  # another key's batch is not there for this one
            raise ApiError(404, ErrorCode.BATCH_NOT_FOUND, f"no batch {batch_id[:100]!r}")
        return row

    @router.post(
        "",
        status_code=202,
        response_model=BatchStatus,
        responses=error_responses(400, 401, 413, 422),
        summary="Submit a batch of articles",
    )
    async def create_batch(body: BatchIn, request: Request, runner: Runner) -> JSONResponse:
        """Store the articles and summarize them in the background; poll the status, then fetch the results."""
        limit = request.app.state.runtime.settings.api_max_batch_articles
        if len(body.articles) > limit:
            raise ApiError(
                413, ErrorCode.BATCH_TOO_LARGE, f"{len(body.articles):,} articles, over the limit of {limit:,}"
            )
        articles: list[tuple[str, dict[str, Any]]] = []
        seen: set[str] = set()
        for position, article in enumerate(body.articles, start=1):
            article_id = article.id or str(position)
            if article_id in seen:
                raise ApiError(422, ErrorCode.DUPLICATE_ID, f"article id {article_id!r} appears more than once")
            seen.add(article_id)
            articles.append((article_id, article.model_dump(exclude={"id"})))
        batch_id = f"bat_{uuid.uuid4().hex}"
        caller = caller_of(request)
        await asyncio.to_thread(runner.db.create, batch_id, articles, caller.tenant)
        runner.wake()
        status = batch_status(await status_row(runner, batch_id, caller))
        return JSONResponse(
            status.model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/batches/{batch_id}"}
        )

    @router.get("/{batch_id}", response_model=BatchStatus, responses=error_responses(401, 404), summary="Batch status")
    async def get_batch(batch_id: str, request: Request, runner: Runner) -> BatchStatus:
        """Status and progress of a batch (404 for a batch another key created)."""
        return batch_status(await status_row(runner, batch_id, caller_of(request)))

    @router.get(
        "/{batch_id}/results",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "One JSON line per finished article, in input order: "
                '{"id", "status": "done", "result": SummaryResult} or {"id", "status": "failed", "error": {"code", '
                '"message"}}, as the batch command writes them. X-Batch-Status tells whether more lines are to come.',
                "content": {JSONL: {"schema": {"type": "string"}}},
            },
            **error_responses(401, 404),
        },
        summary="Batch results (JSON Lines)",
    )
    async def get_results(batch_id: str, request: Request, runner: Runner) -> StreamingResponse:
        """The results recorded so far; complete once the batch status is done (404 for another key's batch)."""
        row = await status_row(runner, batch_id, caller_of(request))

        async def lines() -> AsyncIterator[bytes]:
            last = -1
            while page := await asyncio.to_thread(runner.db.lines, batch_id, last, PAGE):
                last = page[-1][0]
                yield "".join(line + "\n" for _, line in page).encode("utf-8")

        return StreamingResponse(lines(), media_type=JSONL, headers={"X-Batch-Status": row["state"]})

    @router.get(
        "/{batch_id}/articles/{article_id}",
        response_model=ArticleOut,
        responses=error_responses(401, 404, 422),
        summary="One article of a batch, as the summarizer reads it",
    )
    async def get_article(batch_id: str, article_id: str, request: Request, runner: Runner) -> ArticleOut:
        """The text the summarizer read from one submitted article (the text its result's quote offsets point
        into), with its title and date; 404 for an unknown article or another key's batch."""
        await status_row(runner, batch_id, caller_of(request))
        payload = await asyncio.to_thread(runner.db.article, batch_id, article_id)
        if payload is None:
            raise ApiError(
                404, ErrorCode.ARTICLE_NOT_FOUND, f"no article {article_id[:100]!r} in batch {batch_id[:100]!r}"
            )
        summarizer = request.app.state.runtime.summarizer
        article = await asyncio.to_thread(summarizer.prepare, ArticleInput(**payload))
        fields = {"title": article.title, "url": article.url, "published": article.published}
        return ArticleOut(text=article.text, warnings=article.warnings, **fields)

    return router
