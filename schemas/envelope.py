"""The result envelope of SPEC §2: what the library, CLI, API and batch job return."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .records import ArticleSummary

#: exact or fuzzy: found; altered: a close match that changes a number, a negation or a content word (not
#: evidence); missing: not found.
QuoteStatus = Literal["exact", "fuzzy", "altered", "missing"]


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(Envelope):
    title: str | None = None
    url: str | None = None
    published: date | None = None


class QuoteLocation(Envelope):
    quote: str
    status: QuoteStatus
    start: int | None = Field(None, description="Character offset in the source text (inclusive).")
    end: int | None = Field(None, description="Character offset in the source text (exclusive).")
    score: float = Field(description="Match score 0-100 (100 for exact).")
    occurrences: int = Field(0, description="How many times the quote occurs exactly in the source.")


class ItemGrounding(Envelope):
    category: str
    index: int = Field(description="Index of the item in its summary list.")
    quotes: list[QuoteLocation]


class GroundingCounts(Envelope):
    items: int = 0
    grounded_items: int = 0
    ungrounded_items: int = 0
    exact_quotes: int = 0
    fuzzy_quotes: int = 0
    altered_quotes: int = 0
    missing_quotes: int = 0
    unsupported_items: int = Field(0, description="Items whose quotes were found but do not back them.")


class Grounding(Envelope):
    items: list[ItemGrounding] = Field(default_factory=list)
    counts: GroundingCounts = Field(default_factory=GroundingCounts)

    @property
    def rate(self) -> float | None:
        total = self.counts.grounded_items + self.counts.ungrounded_items
        return self.counts.grounded_items / total if total else None


#: Why an item was moved out of the summary (stable codes; ``RejectedItem.reason`` says it in words).
RejectCode = Literal[
    "ungrounded",
    "altered_quote",
    "injected",
    "copied_from_prompt",
    "not_upcoming",
    "headline_evidence",
    "figure_without_number",
    "figure_number_not_in_quote",
    "figure_copied_from_prompt",
    "figure_unit_not_in_quote",
    "figure_measure_mismatch",
    "meeting_called_off",
    "meeting_not_upcoming",
    "demand_not_in_quote",
    "position_not_a_view",
    "actor_not_in_quote",
    "content_not_in_quote",
    "quote_reused",
]


class RejectedItem(Envelope):
    category: str
    item: dict[str, Any]
    code: RejectCode = Field(description="Stable reason code.")
    reason: str
    quotes: list[QuoteLocation] = Field(default_factory=list)


class Provenance(Envelope):
    summarizer_version: str
    backend: str
    model: str
    prompt_version: str
    schema_version: str


class Usage(Envelope):
    model_calls: int = 0
    retries: int = Field(0, description="Transport retries plus validation re-asks.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0

    def add(self, other: Usage) -> None:
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class CallTiming(Envelope):
    name: str
    ms: float


class Timings(Envelope):
    total_ms: float = 0.0
    calls: list[CallTiming] = Field(default_factory=list)
    cached: bool = Field(
        False,
        description="Served from the result cache: total_ms is the lookup; calls and usage are the original run's.",
    )


class SummaryResult(Envelope):
    id: str
    source: Source
    summary: ArticleSummary
    grounding: Grounding
    rejected: list[RejectedItem] = Field(default_factory=list)
    provenance: Provenance
    usage: Usage
    timings: Timings
    warnings: list[str] = Field(default_factory=list)
