"""``summarizer batch --runner provider-batch``: every model call goes through the endpoint's batch API
(``/v1/files`` and ``/v1/batches``, OpenAI's Batch API and the servers that copy it): cheaper, and slower.

The pipeline itself decides which requests an article needs. Each article is run through the ordinary pipeline
with a backend that answers from the batch results downloaded so far; a request it has no answer for is noted and
given an empty stand-in answer, so one pass notes every independent call of the article (its five calls go in
together). The noted requests are uploaded as JSON Lines files (split to stay within the provider's limits per
file), submitted, polled with backoff, and their answers downloaded; then the pass runs again. An answer that fails
validation produces the live path's re-ask request (instructor's, with the validation error), which goes into the
next round; transport errors and expired or failed batches put their requests into the next round too. Rounds
are bounded (``batch_rounds``); an article still without every answer then fails with ``batch_incomplete``.

The requests, the uploads and the batches live in a SQLite file beside the output
(``<out>.provider.sqlite3``). An uploaded file is recorded before its batch is created and the batch id the
moment the provider returns it, and a rerun looks for a batch made from an upload it has no batch id for: a
killed command, run again, picks up its batches instead of paying twice. Outcomes go to the same output store as
the other runners, so resume, ``--retry-failed`` and the result cache behave the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from .._input import Article
from .._sqlite import connect
from ..backends import CallResult
from ..backends.fake import EMPTY_ANSWERS
from ..backends.openai import OpenAIBackend
from ..config import Settings
from ..errors import BackendError, BackendUnavailableError, ErrorCode, SummarizerError
from ..pipeline import Summarizer
from ..schemas import CALLS, SummaryResult, Usage
from ._engine import BatchReport, BatchStore, Progress, RecordError, Records, _aiter

ENDPOINT: Literal["/v1/chat/completions"] = "/v1/chat/completions"
#: The longest wait between two status reads of a batch.
MAX_POLL_S = 60.0
#: Batch states after which nothing changes.
FINAL = frozenset({"completed", "expired", "failed", "cancelled"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY, body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    batch_id TEXT, response TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS uploads (file_id TEXT PRIMARY KEY, keys TEXT NOT NULL, batch_id TEXT, created REAL);
CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, file_id TEXT NOT NULL, status TEXT NOT NULL);
"""


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".provider.sqlite3")


def request_key(body: dict[str, Any]) -> str:
    """The same request (model, messages, schema, options) always has the same key: it is asked for once."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:40]


class Deferred(Exception):
    """A model request with no answer yet: it goes into the next batch."""


class ProviderState:
    """The requests of a provider-batch run and the files and batches that carry them (one SQLite file)."""

    def __init__(self, path: Path) -> None:
        self.db = connect(path, _SCHEMA, synchronous="FULL")

    def close(self) -> None:
        self.db.close()

    def answers(self) -> tuple[dict[str, str], dict[str, str]]:
        """Answered requests (key -> chat completion JSON) and those that failed for good (key -> error)."""
        answered, failed = {}, {}
        for key, status, response, error in self.db.execute("SELECT key, status, response, error FROM requests"):
            if status == "answered":
                answered[key] = response
            elif status == "failed":
                failed[key] = error
        return answered, failed

    def note(self, bodies: dict[str, dict[str, Any]]) -> list[str]:
        """Record requests an article needs; the keys that are neither answered nor already in a batch."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT OR IGNORE INTO requests (key, body, status) VALUES (?, ?, 'needed')",
                [(k, json.dumps(b, ensure_ascii=False)) for k, b in bodies.items()],
            )
        return [k for (k,) in self.db.execute("SELECT key FROM requests WHERE status = 'needed'")]

    def body(self, key: str) -> dict[str, Any]:
        row = self.db.execute("SELECT body FROM requests WHERE key = ?", (key,)).fetchone()
        return dict(json.loads(row[0]))

    def uploaded(self, file_id: str, keys: list[str]) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT INTO uploads (file_id, keys, created) VALUES (?, ?, ?)",
                (file_id, json.dumps(keys), time.time()),
            )

    def submitted(self, file_id: str, batch_id: str, status: str) -> None:
        keys = json.loads(self.db.execute("SELECT keys FROM uploads WHERE file_id = ?", (file_id,)).fetchone()[0])
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE uploads SET batch_id = ? WHERE file_id = ?", (batch_id, file_id))
            self.db.execute(
                "INSERT OR IGNORE INTO batches (id, file_id, status) VALUES (?, ?, ?)", (batch_id, file_id, status)
            )
            self.db.executemany(
                "UPDATE requests SET status = 'submitted', batch_id = ? WHERE key = ? AND status = 'needed'",
                [(batch_id, k) for k in keys],
            )

    def unsubmitted_uploads(self) -> list[str]:
        return [f for (f,) in self.db.execute("SELECT file_id FROM uploads WHERE batch_id IS NULL ORDER BY created")]

    def open_batches(self) -> list[str]:
        return [b for (b,) in self.db.execute("SELECT id FROM batches WHERE status NOT IN ('ingested')")]

    def ingest(
        self, batch_id: str, answers: dict[str, str], retry: dict[str, str], max_attempts: int
    ) -> tuple[int, int]:
        """Store a finished batch's answers; its other requests go back to 'needed' (or 'failed' after
        ``max_attempts``). Returns (answered, sent again)."""
        again = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "UPDATE requests SET status = 'answered', response = ?, error = NULL WHERE key = ?",
                [(response, key) for key, response in answers.items()],
            )
            rows = self.db.execute(
                "SELECT key, attempts FROM requests WHERE batch_id = ? AND status = 'submitted'", (batch_id,)
            ).fetchall()
            for key, attempts in rows:
                error = retry.get(key, "no answer in the batch's output")
                status = "failed" if attempts + 1 >= max_attempts else "needed"
                again += status == "needed"
                self.db.execute(
                    "UPDATE requests SET status = ?, attempts = ?, error = ?, batch_id = NULL WHERE key = ?",
                    (status, attempts + 1, error, key),
                )
            self.db.execute("UPDATE batches SET status = 'ingested' WHERE id = ?", (batch_id,))
        return len(answers), again


class _Answers:
    """The ``raw_create`` of an OpenAIBackend that answers from downloaded batch results."""

    def __init__(self, answered: dict[str, str], failed: dict[str, str]) -> None:
        self.answered = answered
        self.failed = failed
        self.needed: dict[str, dict[str, Any]] = {}

    async def __call__(self, **body: Any) -> ChatCompletion:
        key = request_key(body)
        if key in self.answered:
            return ChatCompletion.model_validate_json(self.answered[key])
        if key in self.failed:
            raise BackendError(f"the batch API gave no answer after every retry: {self.failed[key]}", backend="openai")
        self.needed[key] = body
        raise Deferred(key)


class _StandIn:
    """A backend that answers what the batches answered, and an empty stand-in (noting the request) otherwise."""

    name = "openai"

    def __init__(self, inner: OpenAIBackend) -> None:
        self.inner = inner
        self.model = inner.model
        self.missing = 0

    async def call(self, name: str, messages: list[dict[str, Any]], response_model: type[BaseModel]) -> CallResult:
        try:
            return await self.inner.call(name, messages, response_model)
        except Deferred:
            self.missing += 1
            return CallResult(parsed=CALLS[name].model_validate(EMPTY_ANSWERS[name]), usage=Usage())

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


@dataclass
class ProviderReport:
    """What the batch API was asked: batches created, requests sent and answered (on top of ``BatchReport``)."""

    batches: int = 0
    requests: int = 0
    answered: int = 0
    sent_again: int = 0


Status = Callable[[str], None]


class ProviderBatchRunner:
    """Runs a batch through the endpoint's batch API (``run``); state in ``ProviderState`` beside the output."""

    def __init__(self, settings: Settings, out: Path, *, on_status: Status | None = None) -> None:
        if not settings.base_url:
            raise BackendUnavailableError(
                "--runner provider-batch needs an endpoint with a batch API: set --base-url / SUMMARIZER_BASE_URL",
                backend="openai",
            )
        self.settings = settings
        self.out = out
        self.state = ProviderState(state_path(out))
        key = settings.api_key.get_secret_value() if settings.api_key else "none"
        self.client = AsyncOpenAI(base_url=settings.base_url, api_key=key, max_retries=settings.max_retries)
        self.provider = ProviderReport()
        self.on_status = on_status or (lambda _message: None)
        self.tag = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]

    async def aclose(self) -> None:
        await self.client.close()
        self.state.close()

    # --- one pass of the pipeline over the waiting articles -------------------------------------------------------

    async def _pass(self, article: Article, answers: _Answers) -> SummaryResult | None:
        backend = _StandIn(OpenAIBackend(self.settings, raw_create=answers))
        engine = Summarizer(self.settings.model_copy(update={"no_cache": True}), backend)  # type: ignore[arg-type]
        result = await engine.compute(article)
        return None if backend.missing else result

    # --- files and batches ---------------------------------------------------------------------------------------

    def _files(self, keys: list[str]) -> list[tuple[list[str], bytes]]:
        """The requests as JSON Lines files within the provider's limits (requests and bytes per file)."""
        files: list[tuple[list[str], bytes]] = []
        lines: list[bytes] = []
        chunk: list[str] = []
        size = 0
        for key in keys:
            line = (json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": self.state.body(key)},
                               ensure_ascii=False) + "\n").encode("utf-8")  # fmt: skip
            if chunk and (
                len(chunk) >= self.settings.batch_max_requests or size + len(line) > self.settings.batch_max_bytes
            ):
                files.append((chunk, b"".join(lines)))
                lines, chunk, size = [], [], 0
            lines.append(line)
            chunk.append(key)
            size += len(line)
        if chunk:
            files.append((chunk, b"".join(lines)))
        return files

    async def _create(self, file_id: str) -> None:
        batch = await self.client.batches.create(
            input_file_id=file_id,
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata={"summarizer_output": self.tag},
        )
        self.state.submitted(file_id, batch.id, batch.status)
        self.provider.batches += 1
        self.on_status(
            f"batch {batch.id} submitted ({batch.request_counts.total if batch.request_counts else '?'} requests)"
        )

    async def _adopt_uploads(self) -> None:
        """Uploads recorded without a batch id (the command was killed in between): find the batch made from each
        one, or create it now."""
        pending = self.state.unsubmitted_uploads()
        if not pending:
            return
        made: dict[str, Any] = {}
        async for batch in self.client.batches.list(limit=100):
            if batch.input_file_id in pending:
                made[batch.input_file_id] = batch
        for file_id in pending:
            if file_id in made:
                self.state.submitted(file_id, made[file_id].id, made[file_id].status)
                self.on_status(f"batch {made[file_id].id} picked up again")
            else:
                await self._create(file_id)

    async def _submit(self, keys: list[str]) -> None:
        for chunk, data in self._files(keys):
            upload = await self.client.files.create(file=("requests.jsonl", data), purpose="batch")
            self.state.uploaded(upload.id, chunk)
            await self._create(upload.id)
            self.provider.requests += len(chunk)

    async def _wait(self) -> None:
        """Poll every open batch until it is final (backoff up to ``MAX_POLL_S``), then take in its results."""
        delay = self.settings.batch_poll_s
        while open_batches := self.state.open_batches():
            finished = []
            counts = [0, 0]
            for batch_id in open_batches:
                batch = await self.client.batches.retrieve(batch_id)
                if batch.request_counts:
                    counts[0] += batch.request_counts.completed + batch.request_counts.failed
                    counts[1] += batch.request_counts.total
                if batch.status in FINAL:
                    finished.append(batch)
            for batch in finished:
                await self._ingest(batch)
            if len(finished) < len(open_batches):
                self.on_status(
                    f"waiting for {len(open_batches) - len(finished)} batch(es): "
                    f"{counts[0]:,} of {counts[1]:,} requests answered"
                )
                await asyncio.sleep(delay)
                delay = min(MAX_POLL_S, delay * 1.5)

    async def _ingest(self, batch: Any) -> None:
        answers: dict[str, str] = {}
        retry: dict[str, str] = {}
        if batch.output_file_id:
            for line in (await self.client.files.content(batch.output_file_id)).text.splitlines():
                entry = json.loads(line)
                response = entry.get("response") or {}
                if response.get("status_code") == 200 and response.get("body"):
                    answers[entry["custom_id"]] = json.dumps(response["body"])
                else:
                    retry[entry["custom_id"]] = f"HTTP {response.get('status_code')}"
        if batch.error_file_id:
            for line in (await self.client.files.content(batch.error_file_id)).text.splitlines():
                entry = json.loads(line)
                error = entry.get("error") or {}
                status = (entry.get("response") or {}).get("status_code")
                retry[entry["custom_id"]] = error.get("code") or f"HTTP {status}"
        if batch.status in ("failed", "cancelled"):
            errors = getattr(batch, "errors", None)
            detail = "; ".join(e.message or e.code or "" for e in (errors.data or [])) if errors else ""
            self.on_status(f"batch {batch.id} {batch.status}{': ' + detail if detail else ''}; its requests go again")
        elif batch.status == "expired":
            self.on_status(f"batch {batch.id} expired with {len(answers):,} answers; the rest go again")
        answered, again = self.state.ingest(batch.id, answers, retry, self.settings.max_retries + 1)
        self.provider.answered += answered
        self.provider.sent_again += again

    # --- the run ---------------------------------------------------------------------------------------------------

    async def run(
        self,
        records: Records,
        summarizer: Summarizer,
        store: BatchStore,
        *,
        on_progress: Progress | None = None,
        window: int = 10_000,
    ) -> BatchReport:
        """Summarize every record the store still needs, ``window`` articles at a time; return the counts."""
        report = BatchReport()

        def progress() -> None:
            if on_progress is not None:
                on_progress(report)

        async def fail(record_id: str, exc: BaseException) -> None:
            error = RecordError.from_exception(exc)
            await store.record_error(record_id, error)
            report.add_error(error)
            progress()

        async def done(record_id: str, result: SummaryResult) -> None:
            await store.record_result(record_id, result)
            report.add_result(result)
            progress()

        try:
            await self._adopt_uploads()
            await self._wait()  # batches a killed run left behind are taken in before anything is sent
            waiting: dict[str, Article] = {}
            async for record in _aiter(records):
                report.seen += 1
                if record.id in waiting or not await store.should_run(record.id):
                    report.skipped += 1
                    progress()
                    continue
                try:
                    if record.error is not None:
                        raise record.error
                    assert record.source is not None
                    article = summarizer.prepare(record.source)
                except SummarizerError as exc:
                    await fail(record.id, exc)
                    continue
                if (hit := await summarizer.cached(article)) is not None:
                    await done(record.id, hit)
                    continue
                waiting[record.id] = article
                if len(waiting) >= window:
                    await self._rounds(waiting, summarizer, done, fail)
                    waiting = {}
            if waiting:
                await self._rounds(waiting, summarizer, done, fail)
        finally:
            report.wall_s = time.perf_counter() - report.started
        return report

    async def _rounds(self, waiting: dict[str, Article], summarizer: Summarizer, done: Any, fail: Any) -> None:
        for round_number in range(1, self.settings.batch_rounds + 1):
            answered, failed = self.state.answers()
            still: dict[str, Article] = {}
            needed: dict[str, dict[str, Any]] = {}
            for record_id, article in waiting.items():
                answers = _Answers(answered, failed)
                try:
                    result = await self._pass(article, answers)
                except Exception as exc:  # every per-record fault becomes an error line
                    await fail(record_id, exc)
                    continue
                if result is None:
                    still[record_id] = article
                    needed |= answers.needed
                    continue
                await summarizer.remember(result)
                await done(record_id, result)
            waiting = still
            if not waiting:
                return
            keys = self.state.note(needed)
            self.on_status(f"round {round_number}: {len(waiting):,} articles wait for {len(keys):,} requests")
            await self._submit(keys)
            await self._wait()
        for record_id in waiting:
            await fail(
                record_id,
                SummarizerError(
                    f"still without every answer after {self.settings.batch_rounds} batch rounds "
                    "(raise SUMMARIZER_BATCH_ROUNDS, or re-run to continue)",
                    code=ErrorCode.BATCH_INCOMPLETE,
                ),
            )
