"""The summarization pipeline: one focused model call per category, then merge, derive and ground.

The article comes before the task in every call, so a llama.cpp server reuses its tokens across the calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, get_args

from ._chunking import split_article
from ._input import Article, ArticleInput, prepare_article
from ._postprocess import dedupe, derive, drop_past_meetings, ground
from ._prompts import PromptSet, load_prompts
from ._version import __version__
from .backends import Backend, backend_identity, create_backend
from .backends._gguf import Progress
from .cache import result_cache
from .config import Settings
from .grounding import Quotes
from .schemas import (
    CALLS,
    CATEGORIES,
    CATEGORY,
    SCHEMA_VERSION,
    ArticleSummary,
    CallTiming,
    Grounding,
    OverviewCall,
    Provenance,
    Record,
    RejectedItem,
    Source,
    SummaryResult,
    Timings,
    Usage,
)

#: The record categories each call answers (the overview call answers ``actors``, the others their own).
CALL_CATEGORIES: dict[str, tuple[str, ...]] = {
    call: tuple(c for c in CATEGORIES if CATEGORY[c].call == call) for call in CALLS
}


#: Words without one of which an article states no share or area of territory: the territorial-figures call is
#: not made for it (it costs a fifth of an article's model time and could only answer with a wrong figure).
_AREA_OR_SHARE = re.compile(
    r"%|\bper ?cent\b|\bsquare\b|\bsq\.? ?(?:km|mi)|\bkm2\b|km²|\bhectares?\b|\bacres?\b|\bthirds?\b|\bhalf\b"
    r"|\bquarters?\b",
    re.IGNORECASE,
)


def calls_for(text: str) -> dict[str, type[Record]]:
    """The model calls an article needs: every call, except territorial figures where nothing in the text can be
    a share or an area."""
    if _AREA_OR_SHARE.search(text):
        return CALLS
    return {name: model for name, model in CALLS.items() if name != "territorial_figures"}


#: Rejections a re-ask cannot mend: instructions planted in the article, and meetings that are not upcoming.
_FINAL_CODES = frozenset({"injected", "not_upcoming", "meeting_not_upcoming", "meeting_called_off"})
#: The fields the model fills for each category (those of its call's items): a re-ask shows a rejected record
#: with these only, not with what code derived from them (resolved dates, km² areas).
_ANSWERED_FIELDS: dict[str, frozenset[str]] = {
    c: frozenset(get_args(CALLS[CATEGORY[c].call].model_fields[c].annotation)[0].model_fields) for c in CATEGORIES
}


def retry_lists(rejected: list[RejectedItem]) -> dict[str, str]:
    """Per record call, its rejected records that a re-ask may mend, one per line with the reason."""
    lines: dict[str, list[str]] = {}
    for item in rejected:
        if item.code in _FINAL_CODES or not CATEGORY[item.category].claim:
            continue
        shown = {k: v for k, v in item.item.items() if k in _ANSWERED_FIELDS[item.category]}
        reason = item.reason.removeprefix("unsupported: ")
        lines.setdefault(CATEGORY[item.category].call, []).append(
            f"- {json.dumps(shown, ensure_ascii=False)}\n  rejected: {reason}"
        )
    return {call: "\n".join(listed) for call, listed in lines.items()}


def result_id(article: Article, backend: tuple[str, str], prompts: PromptSet, settings: Settings) -> str:
    """Stable id: the same text, model, prompt, schema and options give the same id (and cache key).

    ``backend`` is the ``(name, model)`` pair of the backend that answers.
    """
    payload = {
        "text": article.text,
        "published": article.published.isoformat() if article.published else None,
        "backend": backend[0],
        "model": backend[1],
        "prompt_version": prompts.version,
        "schema_version": SCHEMA_VERSION,
        "options": settings.options_fingerprint(),
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()
    return f"sum_{digest[:32]}"


class Summarizer:
    """A backend plus settings, reusable across many articles (the CLI, batch job and API share one).

    The backend is created on first use: articles answered from the result cache never load it.
    """

    def __init__(
        self, settings: Settings | None = None, backend: Backend | None = None, *, progress: Progress | None = None
    ) -> None:
        """``progress`` hears the embedded model's first assembly when this creates a local backend."""
        self.settings = settings or Settings()
        self._backend = backend
        self._progress = progress
        #: Called with each model call's name as it starts (a spinner shows it); None: nothing.
        self.on_call: Callable[[str], None] | None = None
        self.identity = (backend.name, backend.model) if backend is not None else backend_identity(self.settings)
        self.prompts = load_prompts(self.settings.prompt_file)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = create_backend(self.settings, progress=self._progress)
        return self._backend

    def prepare(self, source: ArticleInput) -> Article:
        """The checked article (``InputError`` naming what is wrong), within the settings' size limit."""
        return prepare_article(source, max_chars=self.settings.max_input_chars)

    def result_id(self, article: Article) -> str:
        return result_id(article, self.identity, self.prompts, self.settings)

    async def summarize(
        self,
        text: str | bytes | None = None,
        *,
        html: str | bytes | None = None,
        title: str | None = None,
        url: str | None = None,
        published: str | dt.date | None = None,
    ) -> SummaryResult:
        return await self.summarize_article(self.prepare(ArticleInput(text, html, title, url, published)))

    async def summarize_article(
        self, article: Article, *, compute: Callable[[Article], Awaitable[SummaryResult]] | None = None
    ) -> SummaryResult:
        """The result for a checked article: from the result cache, or computed and then cached.

        ``compute`` computes it elsewhere (a Ray actor with the same settings) instead of with this backend."""
        if (hit := await self.cached(article)) is not None:
            return hit
        result = await (compute or self.compute)(article)
        await self.remember(result)
        return result

    async def cached(self, article: Article) -> SummaryResult | None:
        """The result cache's answer for a checked article, with this article's title and URL; None on a miss or
        with the cache off (``--no-cache``, the scripted fake backend)."""
        cache = result_cache(self.settings)
        if cache is None:
            return None
        source = Source(title=article.title, url=article.url, published=article.published)
        return await asyncio.to_thread(cache.get, self.result_id(article), source=source)

    async def remember(self, result: SummaryResult) -> None:
        """Put a validated, grounded result into the result cache (nothing with the cache off)."""
        cache = result_cache(self.settings)
        if cache is not None:
            await asyncio.to_thread(cache.put, result)

    async def compute(self, article: Article) -> SummaryResult:
        """Summarize a checked article with this backend: the model calls, then merge, derive and check."""
        source = Source(title=article.title, url=article.url, published=article.published)
        started = time.perf_counter()
        usage = Usage()
        calls: list[CallTiming] = []
        warnings = list(article.warnings)
        chunks = split_article(article.text, self.settings.chunk_chars)
        if len(chunks) > 1:
            warnings.append(
                f"chunked: article of {len(article.text):,} characters split into {len(chunks)} parts "
                f"of at most {self.settings.chunk_chars:,}; records merged"
            )
        summaries: list[str] = []
        found: dict[str, list[Record]] = {c: [] for c in CATEGORIES}
        quotes = Quotes(article.text)
        published = article.published.isoformat() if article.published else None
        for part, chunk in enumerate(chunks, start=1):
            shared = self.prompts.article(text=chunk, title=article.title, published=published)
            for call in calls_for(chunk):
                passages: list[str | None] = [None]
                if call in self.prompts.passage_calls:
                    parts = split_article(chunk, self.prompts.passage_chars)
                    passages = list(parts) if len(parts) > 1 else [None]
                for number, passage in enumerate(passages, start=1):
                    name = call if len(chunks) == 1 else f"{call}[{part}]"
                    data = await self._ask(
                        call,
                        self.prompts.messages(call, shared, passage),
                        name if passage is None else f"{name}/{number}",
                        usage,
                        calls,
                    )
                    if isinstance(data, OverviewCall):
                        summaries.append(data.summary)
                    self._collect(call, data, found, quotes)
        summary, grounding, rejected = await self._check(found, summaries[0], article, quotes)
        if self.prompts.retries and len(chunks) == 1 and (asks := retry_lists(rejected)):
            # Records that failed a support check are asked for once more, with the reasons, and every answer is
            # checked again. Kept records come first and the new answers before the rejected originals, so a
            # corrected record with the same key fields replaces its rejected form. A chunked article is not
            # re-asked (a record's chunk is not known).
            again: dict[str, list[Record]] = {c: [] for c in CATEGORIES}
            for call, listing in asks.items():
                messages = self.prompts.retry_messages(call, shared, listing)  # the article is one chunk
                data = await self._ask(call, messages, f"{call}/retry", usage, calls)
                self._collect(call, data, again, quotes)
            if any(again.values()):
                merged = {c: [*getattr(summary, c), *again[c], *found[c]] for c in CATEGORIES}
                summary, grounding, rejected = await self._check(merged, summary.summary, article, quotes)
        await asyncio.sleep(0)
        result = SummaryResult(
            id=self.result_id(article),
            source=source,
            summary=summary,
            grounding=grounding,
            rejected=rejected,
            provenance=Provenance(
                summarizer_version=__version__,
                backend=self.backend.name,
                model=self.backend.model,
                prompt_version=self.prompts.version,
                schema_version=SCHEMA_VERSION,
            ),
            usage=usage,
            timings=Timings(total_ms=(time.perf_counter() - started) * 1000, calls=calls),
            warnings=warnings,
        )
        return result

    async def _ask(
        self, call: str, messages: list[dict[str, str]], name: str, usage: Usage, calls: list[CallTiming]
    ) -> Any:
        if self.on_call is not None:
            self.on_call(name)
        answer = await self.backend.call(call, messages, CALLS[call])
        usage.add(answer.usage)
        calls.append(CallTiming(name=name, ms=answer.ms))
        return answer.parsed

    @staticmethod
    def _collect(call: str, data: Any, into: dict[str, list[Record]], quotes: Quotes) -> None:
        for category in CALL_CATEGORIES[call]:
            records: list[Record] = getattr(data, category)
            into[category].extend(records)
            for item in records:  # located now, not at the end: in a server other requests run between
                for quote in item.evidence:
                    quotes(quote)

    async def _check(
        self, found: dict[str, list[Record]], text: str, article: Article, quotes: Quotes
    ) -> tuple[ArticleSummary, Grounding, list[RejectedItem]]:
        """Merge, derive and ground the records found; past meetings and unsupported records are rejected."""
        merged: dict[str, Any] = {
            c: [derive(c, item, article.published) for item in dedupe(c, found[c])] for c in CATEGORIES
        }
        summary = ArticleSummary(summary=text, **merged)
        summary, past = drop_past_meetings(summary, article.published)
        await asyncio.sleep(0)  # other summaries in this event loop (a batch, a server) run between these steps
        summary, grounding, rejected = ground(
            summary, article.text, categories=CATEGORIES, examples=self.prompts.examples, quotes=quotes
        )
        return summary, grounding, past + rejected

    async def aclose(self) -> None:
        if self._backend is not None:
            await self._backend.aclose()


async def asummarize(
    text: str | bytes | None = None,
    *,
    html: str | bytes | None = None,
    title: str | None = None,
    url: str | None = None,
    published: str | dt.date | None = None,
    settings: Settings | None = None,
    backend: Backend | None = None,
) -> SummaryResult:
    """Summarize one article (async). Raises InputError, ConfigError or BackendError subclasses."""
    engine = Summarizer(settings, backend)
    try:
        return await engine.summarize(text, html=html, title=title, url=url, published=published)
    finally:
        if backend is None:
            await engine.aclose()


def summarize(
    text: str | bytes | None = None,
    *,
    html: str | bytes | None = None,
    title: str | None = None,
    url: str | None = None,
    published: str | dt.date | None = None,
    settings: Settings | None = None,
    backend: Backend | None = None,
) -> SummaryResult:
    """Summarize one article into grounded records (SPEC §1-§2)."""
    return asyncio.run(
        asummarize(text, html=html, title=title, url=url, published=published, settings=settings, backend=backend)
    )
