"""What code does after the model answers: merge, derive, ground, and reject what cannot be trusted."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, cast

from .dates import resolve_when
from .grounding import Quotes, normalise, plain
from .schemas import (
    CATEGORY,
    ArticleSummary,
    Grounding,
    GroundingCounts,
    ItemGrounding,
    Meeting,
    MeetingDraft,
    QuoteLocation,
    Record,
    RejectCode,
    RejectedItem,
    TerritorialFigure,
    TerritorialFigureDraft,
    category_of,
)
from .support import check_record, numbers_in
from .units import to_km2

# Instruction-like passages in an article: text aimed at the model, not reporting. Patterns are ours and fixed;
# model text is never turned into a regex.
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.\n]{0,60}?\b(instructions?|prompts?|rules|guidelines|directions)\b"
    r"|\byou are now\b|\bsystem prompt\b|\bnew instructions?\b",
    re.IGNORECASE,
)
#: Words one of which every match of ``_INJECTION`` contains (case-folded): most articles contain none of them,
#: and a substring test is far cheaper than the pattern's scan.
_INJECTION_WORDS = ("ignore", "disregard", "forget", "override", "you are now", "system prompt", "new instruction")


def _norm(value: Any) -> Any:
    """A dedupe key part: strings in grounding's comparison form without a final full stop (``plain``)."""
    if isinstance(value, str):
        return plain(value)
    if isinstance(value, list):
        return tuple(sorted(_norm(v) for v in value))
    return value


def dedupe(category: str, items: Iterable[Record]) -> list[Record]:
    keys = CATEGORY[category].keys
    seen: set[tuple[Any, ...]] = set()
    out: list[Record] = []
    for item in items:
        key = tuple(_norm(getattr(item, k)) for k in keys)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def derive(category: str, item: Record, published: dt.date | None) -> Record:
    """Fields that code computes, never the model: resolved dates and km² areas."""
    if isinstance(item, MeetingDraft) and not isinstance(item, Meeting):
        start, end = resolve_when(item.when_text, published)
        return Meeting(**item.model_dump(), date_from=start, date_to=end)
    if isinstance(item, TerritorialFigureDraft) and not isinstance(item, TerritorialFigure):
        return TerritorialFigure(**item.model_dump(), value_km2=to_km2(item.value, item.unit))
    return item


def injection_spans(text: str) -> list[tuple[int, int]]:
    """Sentences of the article that carry instructions aimed at a model."""
    folded = text.casefold()
    if not any(word in folded for word in _INJECTION_WORDS):
        return []
    spans: list[tuple[int, int]] = []
    for match in _INJECTION.finditer(text):
        start = max(text.rfind(".", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
        ends = [i for i in (text.find(".", match.end()), text.find("\n", match.end())) if i != -1]
        spans.append((start, min(ends) + 1 if ends else len(text)))
    return spans


def _overlaps(loc: QuoteLocation, spans: list[tuple[int, int]]) -> bool:
    return loc.start is not None and loc.end is not None and any(loc.start < e and s < loc.end for s, e in spans)


def ground(
    summary: ArticleSummary,
    source: str,
    *,
    categories: Iterable[str],
    examples: frozenset[str],
    quotes: Quotes | None = None,
) -> tuple[ArticleSummary, Grounding, list[RejectedItem]]:
    """Locate every evidence quote; move items none of whose quotes is found, that quote injected instructions,
    or that repeat the prompt's ``examples`` (see ``copied_from_examples``) to ``rejected`` with the reason.

    ``quotes`` locates quotes in ``source``, with those already located as the answers came in."""
    find = quotes if quotes is not None else Quotes(source)
    injected = injection_spans(source)
    example_numbers = _example_numbers(examples)
    shared = _shared_spans(summary, find)
    grounding = Grounding()
    counts = GroundingCounts()
    rejected: list[RejectedItem] = []
    kept: dict[str, list[Record]] = {}
    for category in categories:
        kept[category] = []
        for item in getattr(summary, category):
            located = [find(q) for q in item.evidence]
            counts.items += 1
            for loc in located:
                counts.exact_quotes += loc.status == "exact"
                counts.fuzzy_quotes += loc.status == "fuzzy"
                counts.altered_quotes += loc.status == "altered"
                counts.missing_quotes += loc.status == "missing"
            found = [loc for loc in located if loc.status in ("exact", "fuzzy")]
            reason = None
            unsupported = False
            code: RejectCode = "ungrounded"
            if not found and any(loc.status == "altered" for loc in located):
                code = "altered_quote"
                reason = "altered quote: its evidence is close to a passage of the article but changes its meaning"
            elif not found:
                reason = "ungrounded: none of its evidence quotes was found in the article"
            elif all(_overlaps(loc, injected) for loc in found):
                code = "injected"
                reason = "untrusted: its evidence is an instruction aimed at the model (possible prompt injection)"
            elif examples and (copied := copied_from_examples(item, source, examples)):
                code = "copied_from_prompt"
                reason = (
                    f"copied from the prompt: {copied[0]} {copied[1]!r} comes from the instructions' invented example "
                    "and is not in the article"
                )
            elif CATEGORY[category].claim and (
                failure := check_record(
                    item, source, found, example_numbers, shared=any(_span(loc) in shared for loc in found)
                )
            ):
                code, reason = cast(RejectCode, failure.code), f"unsupported: {failure.reason}"
                unsupported = True
            if reason:
                counts.unsupported_items += unsupported
                counts.ungrounded_items += not unsupported
                rejected.append(
                    RejectedItem(
                        category=category, item=item.model_dump(mode="json"), code=code, reason=reason, quotes=located
                    )
                )
                continue
            counts.grounded_items += 1
            grounding.items.append(ItemGrounding(category=category, index=len(kept[category]), quotes=located))
            kept[category].append(item)
    grounding.counts = counts
    return summary.model_copy(update=kept), grounding, rejected


def _span(loc: QuoteLocation) -> tuple[int | None, int | None]:
    return loc.start, loc.end


def _shared_spans(summary: ArticleSummary, find: Quotes) -> set[tuple[int | None, int | None]]:
    """Article passages that back more than one record stating content in the model's words (a stance, a
    demand)."""
    seen: dict[tuple[int | None, int | None], int] = {}
    for category in _WORDED:
        for item in getattr(summary, category):
            for span in {_span(loc) for loc in map(find, item.evidence) if loc.status in ("exact", "fuzzy")}:
                seen[span] = seen.get(span, 0) + 1
    return {span for span, n in seen.items() if n > 1}


@lru_cache(maxsize=16)
def _example_numbers(examples: frozenset[str]) -> tuple[float, ...]:
    """The numbers of the prompt's invented examples (read once per prompt set)."""
    return tuple({n for e in examples for n in numbers_in(e)})


#: Categories whose records state content in the model's words (checked for quotes backing several records).
_WORDED = tuple(c.name for c in CATEGORY.values() if c.content is not None)


def _names(item: Record) -> Iterator[tuple[str, str]]:
    for field in category_of(item).name_fields:
        value = getattr(item, field)
        for name in value if isinstance(value, list) else [value]:
            if isinstance(name, str):
                yield field, name


def copied_from_examples(item: Record, source: str, examples: frozenset[str]) -> tuple[str, str] | None:
    """The first name in the item that comes from the prompt's invented example and not from the article
    (``source``), or None.

    A weak model sometimes answers with the example's people and places ("Ana Lind", "Norland"). Names are the
    article's own words, so one that equals a string of the example (``PromptSet.examples``) and does not occur
    in the article was copied from the prompt, even when the item's evidence is found. Paraphrased fields (a
    stance, a demand) are not checked: the example's wording can be a fair paraphrase of the article.
    """
    for name, value in _names(item):
        if (folded := plain(value)) in examples and not occurs_as_words(folded, normalise(source)):
            return name, value
    return None


def occurs_as_words(phrase: str, text: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` with no letter or digit joined to either end: "Oster" is not in
    "Foster" or "Osterburg", but is in "Oster's"."""
    start = text.find(phrase)
    while start != -1:
        end = start + len(phrase)
        if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return True
        start = text.find(phrase, start + 1)
    return False


def drop_past_meetings(summary: ArticleSummary, published: dt.date | None) -> tuple[ArticleSummary, list[RejectedItem]]:
    """Meetings whose resolved dates end before publication are not upcoming."""
    if published is None:
        return summary, []
    keep: list[Meeting] = []
    rejected: list[RejectedItem] = []
    for meeting in summary.upcoming_meetings:
        if meeting.date_to is not None and meeting.date_to < published:
            rejected.append(
                RejectedItem(
                    category="upcoming_meetings",
                    item=meeting.model_dump(mode="json"),
                    code="not_upcoming",
                    reason=f"not upcoming: ends {meeting.date_to}, before publication",
                )
            )
        else:
            keep.append(meeting)
    return summary.model_copy(update={"upcoming_meetings": keep}), rejected
