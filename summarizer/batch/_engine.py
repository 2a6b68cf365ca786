"""The batch engine shared by ``summarizer batch`` and the HTTP API's ``POST /v1/batches``.

``run_batch`` streams records (a list, any iterable or an async iterable), summarizes at most
``concurrency`` of them at once with one shared ``Summarizer``, and hands each outcome to a
``BatchStore``. The store is what makes a batch exactly-once and resumable: the engine asks it whether a
record still needs work (``should_run``) and tells it each outcome (``record_result`` or
``record_error``) exactly once per record it starts. A record the engine started but never reported
(the process was killed, the task cancelled) is simply not in the store, so the next run starts it again.

Per-record faults never stop a batch: bad input (empty, binary, too large, an unparseable line given as
``BatchRecord.error``) and backend failures whose transport retries are spent become error outcomes. Only
a failing store (disk full, database gone) stops it, because then nothing could be recorded.

Input is consumed lazily: the engine holds no more than ``concurrency`` records and no results, so memory
does not grow with the size of the batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .._input import Article, ArticleInput
from ..errors import ErrorCode, SummarizerError
from ..pipeline import Summarizer
from ..schemas import SummaryResult


@dataclass
class BatchRecord:
    """One article of a batch: ``text`` or ``html``, or ``error`` when it could not even be read."""

    id: str
    source: ArticleInput | None = None
    error: SummarizerError | None = None


@dataclass(frozen=True)
class RecordError:
    """Why a record failed: a stable ``code`` (as in ``summarizer.errors``) and a readable message."""

    code: str
    message: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> RecordError:
        if isinstance(exc, SummarizerError):
            return cls(exc.code, exc.message)
        return cls(ErrorCode.INTERNAL_ERROR, f"unexpected {type(exc).__name__}: {exc}")

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@runtime_checkable
class BatchStore(Protocol):
    """Where a batch's outcomes go. The JSONL store (``JsonlStore``) serves the CLI; the API has its own.

    Implementations must make each ``record_*`` call durable before returning (the engine counts the
    record as finished once it returns) and keep one final outcome per id.
    """

    async def should_run(self, record_id: str) -> bool:
        """False when the record already has a final outcome (done; or failed, unless retrying failures)."""
        ...

    async def record_result(self, record_id: str, result: SummaryResult) -> None:
        """Store a successful result for the record."""
        ...

    async def record_error(self, record_id: str, error: RecordError) -> None:
        """Store a failure for the record."""
        ...


@dataclass
class BatchReport:
    """Running and closing counts of one run of a batch (what this run did, not the store's history)."""

    seen: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    cache_hits: int = 0
    model_calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    grounded_items: int = 0
    ungrounded_items: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    wall_s: float = 0.0

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def grounding_rate(self) -> float | None:
        total = self.grounded_items + self.ungrounded_items
        return self.grounded_items / total if total else None

    def elapsed(self) -> float:
        return self.wall_s or (time.perf_counter() - self.started)

    def cost(self, per_1k_prompt: float | None, per_1k_completion: float | None) -> float | None:
        """Estimated spend of this run from a price table; None when no price is configured."""
        if per_1k_prompt is None and per_1k_completion is None:
            return None
        prompt = self.prompt_tokens * (per_1k_prompt or 0.0)
        return (prompt + self.completion_tokens * (per_1k_completion or 0.0)) / 1000

    def add_result(self, result: SummaryResult) -> None:
        self.done += 1
        counts = result.grounding.counts
        self.grounded_items += counts.grounded_items
        self.ungrounded_items += counts.ungrounded_items
        if result.timings.cached:
            self.cache_hits += 1
            return  # a cached result cost nothing in this run
        self.model_calls += result.usage.model_calls
        self.retries += result.usage.retries
        self.prompt_tokens += result.usage.prompt_tokens
        self.completion_tokens += result.usage.completion_tokens

    def add_error(self, error: RecordError) -> None:
        self.failed += 1
        self.errors[error.code] = self.errors.get(error.code, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "cache_hits": self.cache_hits,
            "model_calls": self.model_calls,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "grounding_rate": self.grounding_rate,
            "errors": dict(self.errors),
            "wall_s": round(self.elapsed(), 3),
        }


Progress = Callable[[BatchReport], None]
Records = Iterable[BatchRecord] | AsyncIterable[BatchRecord]
#: Computes one checked article's result: the summarizer itself, or a runner that sends it elsewhere (Ray).
Compute = Callable[[Article], Awaitable[SummaryResult]]


async def _aiter(records: Records) -> AsyncIterable[BatchRecord]:
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    else:
        for record in records:
            yield record


async def _summarize(summarizer: Summarizer, record: BatchRecord, compute: Compute | None) -> SummaryResult:
    if record.error is not None:
        raise record.error
    assert record.source is not None
    return await summarizer.summarize_article(summarizer.prepare(record.source), compute=compute)


async def run_batch(
    records: Records,
    summarizer: Summarizer,
    store: BatchStore,
    *,
    concurrency: int | None = None,
    on_progress: Progress | None = None,
    compute: Compute | None = None,
) -> BatchReport:
    """Summarize every record the store still needs, at most ``concurrency`` at once; return the counts.

    ``compute`` summarizes one checked article in place of ``summarizer.summarize_article`` (a runner that
    sends the work elsewhere); ``summarizer`` still checks the input, so bad records never leave this process.

    ``concurrency`` defaults to ``summarizer.settings.concurrency``. ``on_progress`` is called with the
    running report after every record (finished or skipped). A record whose id is already in flight in
    this run (a duplicate in the input) is skipped. Cancelling the returned coroutine leaves unfinished
    records unrecorded, to be redone on the next run. Exceptions from the store propagate.
    """
    limit = concurrency or summarizer.settings.concurrency
    if limit < 1:
        raise ValueError("concurrency must be at least 1")
    report = BatchReport()
    slots = asyncio.Semaphore(limit)
    in_flight: set[str] = set()

    def progress() -> None:
        if on_progress is not None:
            on_progress(report)

    async def one(record: BatchRecord) -> None:
        try:
            try:
                result = await _summarize(summarizer, record, compute)
            except Exception as exc:  # every per-record fault becomes an error line
                error = RecordError.from_exception(exc)
                await store.record_error(record.id, error)
                report.add_error(error)
            else:
                await store.record_result(record.id, result)
                report.add_result(result)
            progress()
        finally:
            in_flight.discard(record.id)
            slots.release()

    try:
        async with asyncio.TaskGroup() as group:
            async for record in _aiter(records):
                report.seen += 1
                await slots.acquire()  # backpressure: read no further ahead than the free slots
                if record.id in in_flight or not await store.should_run(record.id):
                    slots.release()
                    report.skipped += 1
                    progress()
                    continue
                in_flight.add(record.id)
                group.create_task(one(record))
    except BaseExceptionGroup as group_error:
        # surface the store's own exception rather than a group of one
        first = group_error.exceptions[0]
        raise first from group_error
    finally:
        report.wall_s = time.perf_counter() - report.started
    return report
