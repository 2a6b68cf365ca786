"""The batch engine on its own: concurrency bound, backpressure, duplicates, faults, progress, a failing store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from summarizer import ArticleInput, Settings, Summarizer
from summarizer.backends import CallResult
from summarizer.backends.fake import FakeBackend
from summarizer.batch import BatchRecord, BatchReport, RecordError, run_batch
from summarizer.errors import BackendTimeoutError, InputError
from summarizer.pipeline import calls_for
from summarizer.schemas import SummaryResult

TEXT = "Article {i}. Talks will resume in Geneva next week, the minister said."


class Gauge(FakeBackend):
    """The fake backend, counting how many calls are in flight at once and failing on request."""

    def __init__(self, latency_ms: int = 5) -> None:
        super().__init__(Settings(backend="fake"), latency_ms=latency_ms)
        self.active = 0
        self.peak = 0

    async def call(self, name: str, messages: list[dict[str, Any]], response_model: type[BaseModel]) -> CallResult:
        text = " ".join(str(m.get("content", "")) for m in messages)
        if "timeout-me" in text:
            raise BackendTimeoutError("fake backend timed out", backend=self.name)
        if "crash-me" in text:
            raise RuntimeError("a bug")
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            return await super().call(name, messages, response_model)
        finally:
            self.active -= 1


class MemoryStore:
    def __init__(self, done: Iterable[str] = (), fail_on: str | None = None) -> None:
        self.outcomes: dict[str, list[SummaryResult | RecordError]] = {i: [] for i in done}
        self.fail_on = fail_on

    async def should_run(self, record_id: str) -> bool:
        return record_id not in self.outcomes

    async def record_result(self, record_id: str, result: SummaryResult) -> None:
        if record_id == self.fail_on:
            raise OSError(28, "No space left on device")
        self.outcomes.setdefault(record_id, []).append(result)

    async def record_error(self, record_id: str, error: RecordError) -> None:
        self.outcomes.setdefault(record_id, []).append(error)


def records(n: int) -> list[BatchRecord]:
    return [BatchRecord(f"r{i}", ArticleInput(text=TEXT.format(i=i))) for i in range(n)]


def run(recs: Any, store: MemoryStore, backend: Gauge, concurrency: int, **kw: Any) -> BatchReport:
    summarizer = Summarizer(Settings(backend="fake"), backend)
    return asyncio.run(run_batch(recs, summarizer, store, concurrency=concurrency, **kw))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_is_bounded_and_used(concurrency: int) -> None:
    backend, store = Gauge(), MemoryStore()
    report = run(records(12), store, backend, concurrency)
    assert backend.peak == concurrency
    assert report.done == 12 and report.failed == 0 and report.model_calls == 12 * len(calls_for(TEXT)) == 48
    assert all(len(v) == 1 and isinstance(v[0], SummaryResult) for v in store.outcomes.values())


def test_input_is_read_no_further_ahead_than_the_free_slots() -> None:
    store = MemoryStore()
    lead: list[int] = []

    def stream() -> Iterator[BatchRecord]:
        for i, record in enumerate(records(30)):
            lead.append(i - len(store.outcomes))  # records read but not finished
            yield record

    run(stream(), store, Gauge(), 3)
    assert max(lead) <= 3


def test_duplicates_done_records_and_faults() -> None:
    recs = [
        *records(3),
        BatchRecord("r1", ArticleInput(text="the same id again")),
        BatchRecord("old", ArticleInput(text="already done")),
        BatchRecord("slow", ArticleInput(text="timeout-me")),
        BatchRecord("bug", ArticleInput(text="crash-me")),
        BatchRecord("bad", error=InputError("line 9: invalid JSON", code="bad_json")),
        BatchRecord("empty", ArticleInput(text="   ")),
    ]
    seen: list[tuple[int, int, int]] = []
    store = MemoryStore(done={"old"})
    report = run(recs, store, Gauge(), 2, on_progress=lambda r: seen.append((r.done, r.failed, r.skipped)))
    assert (report.seen, report.done, report.failed, report.skipped) == (9, 3, 4, 2)
    assert report.errors == {"backend_timeout": 1, "internal_error": 1, "bad_json": 1, "empty_input": 1}
    assert len(seen) == 9 and seen[-1] == (3, 4, 2)
    assert all(len(v) == 1 for k, v in store.outcomes.items() if k != "old")
    bug = store.outcomes["bug"][0]
    assert isinstance(bug, RecordError) and bug.message == "unexpected RuntimeError: a bug"


def test_a_failing_store_stops_the_batch() -> None:
    with pytest.raises(OSError, match="No space left"):
        run(records(20), MemoryStore(fail_on="r3"), Gauge(), 4)


def test_cached_results_cost_nothing_in_the_report() -> None:
    summarizer = Summarizer(Settings(backend="fake"), Gauge())
    result = asyncio.run(summarizer.summarize(TEXT.format(i=0)))
    report = BatchReport()
    report.add_result(result)
    cached = result.model_copy(update={"timings": result.timings.model_copy(update={"cached": True})})
    report.add_result(cached)
    assert (report.done, report.cache_hits, report.model_calls) == (2, 1, result.usage.model_calls)
    assert report.prompt_tokens == result.usage.prompt_tokens > 0
    assert report.cost(None, None) is None
    assert report.cost(1.0, 2.0) == pytest.approx((report.prompt_tokens + 2 * report.completion_tokens) / 1000)
