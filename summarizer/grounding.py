"""Locating evidence quotes in the source article (SPEC §1, "Grounding").

Models rarely copy text byte for byte: they straighten curly quotes, swap an em dash for a
hyphen, re-flow line breaks, wrap the quote in quotation marks or end it with a full stop the
article does not have. Both sides are therefore normalised before comparison, and every
normalised character remembers which characters of the original text it came from, so the
offsets we report always slice the *original* article: ``source[start:end]`` is the evidence.

Matching runs from strict to lenient: exact (after normalisation), then exact part by part for
quotes elided with "...", then fuzzy (rapidfuzz) above a threshold. A fuzzy match that changes a number, a
negation or a content word is ``altered``: close in spelling, different in meaning, so not evidence.
Anything else is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from summarizer.schemas import QuoteLocation
from summarizer.schemas.envelope import QuoteStatus

# Typographic variants folded onto their ASCII counterparts.
_CHAR_MAP: dict[str, str] = {
    **dict.fromkeys("“”„‟«»″〝〞＂", '"'),
    **dict.fromkeys("‘’‚‛‹›′ʼ`´＇", "'"),
    **dict.fromkeys("‐‑‒–—―−﹘﹣－", "-"),
    "…": "...",
}
# Invisible characters that web text carries but models never reproduce.
_DROPPED = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
# Stripped from both ends of a quote: wrapping quotation marks and sentence punctuation.
_QUOTE_TRIM = " \"'.,;:!?-"
# An elision inside a quote: "...", optionally bracketed ("[...]", "(...)").
_ELISION = re.compile(r"\s*[\[(]?\.{3,}[\])]?\s*")
# A quotation framed with who said it ("X said: '…'", "According to X, …", "The report states that …"); the
# frame is the model's, the rest may be the article's words.
_ATTRIBUTION = re.compile(
    r"^(?:according to [^,]{1,80}, ?[\"'“‘]|[^\"“”]{1,80}?\b(?:said|says|stated|states|added|told [^:,]{1,40}|warned"
    r"|wrote|argued|noted|insisted|declared)(?: that)?(?:: ?[\"'“‘]?|,? [\"'“‘]))(?P<q>.+)$"
)
# Fuzzy matches of very short quotes are meaningless (any short phrase resembles something).
MIN_FUZZY_LENGTH = 12


@dataclass(frozen=True)
class _Normalised:
    """A normalised text plus, per normalised character, its original [start, end) span."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a non-empty normalised span back to offsets in the original text."""
        return self.starts[start], self.ends[end - 1]


def _normalise_char(ch: str) -> str:
    return _CHAR_MAP.get(ch, ch).casefold()


@lru_cache(maxsize=16)
def _normalise(text: str) -> _Normalised:
    """Normalise ``text`` (cached: an article is searched once per evidence quote)."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            chars.append(" ")
            starts.append(i)
            ends.append(j)
            i = j
            continue
        if ch not in _DROPPED:
            for out in _normalise_char(ch):
                chars.append(out)
                starts.append(i)
                ends.append(i + 1)
        i += 1
    return _Normalised("".join(chars), tuple(starts), tuple(ends))


_FOLDED = {**_CHAR_MAP, **dict.fromkeys(_DROPPED, "")}
_FOLDED_CHARS = re.compile("[" + re.escape("".join(_FOLDED)) + "]")
_FOLDED_ASCII = [(ch, out) for ch, out in _FOLDED.items() if ch.isascii()]
_WHITESPACE = re.compile(r"\s+")  # the characters ``str.isspace`` accepts


def normalise(text: str) -> str:
    """The comparison form of ``text``: folded quotes, dashes, ellipses, whitespace and case. The same text as
    the offset-keeping form ``locate`` builds, without the offsets, and cheap enough for every name and key."""
    text = _WHITESPACE.sub(" ", text)
    if text.isascii():
        for ch, out in _FOLDED_ASCII:
            text = text.replace(ch, out)
        return text.lower()
    return _FOLDED_CHARS.sub(lambda m: _FOLDED[m.group()], text).casefold()


def plain(text: str) -> str:
    """A whole value (a name, a key) in the comparison form, trimmed, without a final full stop."""
    return normalise(text).strip().rstrip(".")


#: A word of the comparison form: letters and digits, a number with its separators, or "n't".
WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*|n't")
#: Words that carry no content of their own (ignored when comparing the content of two texts).
_STOPWORDS = (
    "a an the of to in on at for from by with and or but as is are was were be been being has have had that this "
    "these those it its their his her they them he she we our us you your not no any all than then there which who "
    "whom whose what when where will would shall should can could may might must also into over under about after "
    "before between against during while within without upon said says say"
)
STOPWORDS = frozenset(_STOPWORDS.split())
_NEGATIONS = frozenset({"not", "no", "never", "n't", "nor", "without"})


def words(text: str) -> list[str]:
    """The words of ``text`` in the comparison form (case, quotes and dashes folded)."""
    return WORD.findall(normalise(text))


#: Verbs of saying: a quote that has "stated" where the article has "said" reports the same thing.
_SAYING = frozenset({"said", "says", "say", "stated", "states", "told", "tells", "added", "adds", "noted", "notes"})


def altered(quote: str, found: str, *, negations: bool = True) -> bool:
    """Whether a fuzzy match changed a content word: a number, a negation, or a word with no close spelling in
    the matched text ("claims" for "has captured"). Other forms of the same word ("calls"/"called") and small
    spelling differences ("Zelensky"/"Zelenskyy") are not changes.

    ``negations=False`` for an elided quote, whose matched span includes the words left out."""
    q, f = words(quote), words(found)
    if {w for w in q if w[0].isdigit()} - {w for w in f if w[0].isdigit()}:
        return True
    if negations and sum(w in _NEGATIONS for w in q) != sum(w in _NEGATIONS for w in f):
        return True
    pool = set(f)
    for w in q:
        if len(w) < 4 or w in STOPWORDS or w in _SAYING or w in pool:
            continue
        if not any(same_word(w, other) for other in pool):
            return True
    return False


def same_word(a: str, b: str) -> bool:
    """The same word in another form or spelling: "calls"/"called", "Ukraine"/"Ukrainian", "Zelensky"/"Zelenskyy"
    (a shared stem of all but the last two letters of the shorter, at least four), or a close misspelling."""
    stem = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        stem += 1
    return (stem >= 4 and stem >= min(len(a), len(b)) - 2) or fuzz.ratio(a, b) >= 85


def find_all(needle: str, haystack: str, start: int = 0) -> list[int]:
    """Start positions of the non-overlapping occurrences of ``needle`` in ``haystack``."""
    if not needle:
        return []
    found: list[int] = []
    pos = haystack.find(needle, start)
    while pos != -1:
        found.append(pos)
        pos = haystack.find(needle, pos + len(needle))
    return found


def _fuzzy(needle: str, haystack: str, offset: int, threshold: float) -> tuple[float, int, int] | None:
    """Best fuzzy alignment of ``needle`` in ``haystack[offset:]``, if at or above ``threshold``.

    Returns (score, start, end) with positions in ``haystack``. A needle longer than the
    haystack is compared whole: partial matching would otherwise score the haystack found
    *inside* the needle as a perfect match.
    """
    window = haystack[offset:]
    if not needle or not window:
        return None
    if len(needle) > len(window):
        score = fuzz.ratio(needle, window, score_cutoff=threshold)
        return (score, offset, len(haystack)) if score else None
    found = fuzz.partial_ratio_alignment(needle, window, score_cutoff=threshold)
    if found is None:
        return None
    start, end = _snap_to_words(needle, haystack, offset + found.dest_start, offset + found.dest_end)
    return (found.score, start, end) if start < end else None


def _is_boundary(text: str, i: int) -> bool:
    return i <= 0 or i >= len(text) or not (text[i - 1].isalnum() and text[i].isalnum())


def _snap_to_words(needle: str, haystack: str, start: int, end: int) -> tuple[int, int]:
    """Move a fuzzy span's ends onto word boundaries, so evidence never starts or stops mid-word.

    Character alignment happily ends on "Moscow i" (the first letter of "in"); each end is moved
    back or forward to the nearer whole word, keeping whichever combination reads most like the
    quote.
    """

    def around(i: int) -> set[int]:
        left, right = i, i
        while not _is_boundary(haystack, left):
            left -= 1
        while not _is_boundary(haystack, right):
            right += 1
        return {left, right}

    best: tuple[float, int, int] | None = None
    for s in sorted(around(start)):
        for e in sorted(around(end)):
            while s < e and haystack[s] == " ":
                s += 1
            while e > s and haystack[e - 1] == " ":
                e -= 1
            if s < e:
                score = fuzz.ratio(needle, haystack[s:e])
                if best is None or score > best[0]:
                    best = (score, s, e)
    return (best[1], best[2]) if best else (start, end)


def _best_score(needle: str, haystack: str) -> float:
    """How close a quote came, for reporting a missing one (0 when nothing aligns)."""
    found = _fuzzy(needle, haystack, 0, 0.0)
    return found[0] if found else 0.0


def _locate_parts(parts: list[str], src: _Normalised, threshold: float) -> tuple[float, int, int] | None:
    """Match the parts of an elided quote in order; (score, start, end) in normalised text."""
    pos = 0
    span_start: int | None = None
    worst = 100.0
    for part in parts:
        hit = src.text.find(part, pos)
        if hit != -1:
            start, end = hit, hit + len(part)
        elif len(part) >= MIN_FUZZY_LENGTH:
            found = _fuzzy(part, src.text, pos, threshold)
            if found is None:
                return None
            score, start, end = found
            worst = min(worst, score)
        else:
            return None
        if span_start is None:
            span_start = start
        pos = end
    return (worst, span_start, pos) if span_start is not None else None


def _located(
    quote: str, src: _Normalised, status: QuoteStatus, score: float, span: tuple[int, int], occurrences: int
) -> QuoteLocation:
    start, end = src.original_span(*span)
    return QuoteLocation(
        quote=quote, status=status, start=start, end=end, score=round(score, 2), occurrences=occurrences
    )


def locate(quote: str, source: str, *, fuzzy_threshold: float = 90.0) -> QuoteLocation:
    """Find ``quote`` in ``source``; offsets in the result slice the original ``source``."""
    src = _normalise(source)
    core = normalise(quote).strip(_QUOTE_TRIM)
    if not core or not src.text:
        return QuoteLocation(quote=quote, status="missing", score=0.0, occurrences=0)

    hits = find_all(core, src.text)
    if hits:
        return _located(quote, src, "exact", 100.0, (hits[0], hits[0] + len(core)), len(hits))

    parts = [p.strip(_QUOTE_TRIM) for p in _ELISION.split(core)]
    parts = [p for p in parts if p]
    if len(parts) > 1:
        found = _locate_parts(parts, src, fuzzy_threshold)
        if found is not None:
            score, start, end = found
            if score >= 100.0:
                # Every part found verbatim, in order: an exact (if abridged) quotation.
                return _located(quote, src, "exact", score, (start, end), 1)
            changed = altered(core, src.text[start:end], negations=False)
            status: QuoteStatus = "altered" if changed else "fuzzy"
            return _located(quote, src, status, score, (start, end), 0)
        # Fall back to matching the quote as one piece with the elisions closed up.
        core = " ".join(parts)

    # "Jon Alterman said: 'Neither has …'": the model framed a verbatim quotation with who said it.
    if (framed := _ATTRIBUTION.match(core)) and len(inner := framed.group("q").strip(_QUOTE_TRIM)) >= MIN_FUZZY_LENGTH:
        hits = find_all(inner, src.text)
        if hits:
            return _located(quote, src, "fuzzy", 100.0, (hits[0], hits[0] + len(inner)), 0)

    if len(core) >= MIN_FUZZY_LENGTH:
        found = _fuzzy(core, src.text, 0, fuzzy_threshold)
        if found is not None:
            score, start, end = found
            status = "altered" if altered(core, src.text[start:end]) else "fuzzy"
            return _located(quote, src, status, score, (start, end), 0)
    return QuoteLocation(quote=quote, status="missing", score=round(_best_score(core, src.text), 2), occurrences=0)


class Quotes:
    """The evidence quotes of one article's records, each located once: ``quotes(quote)`` is
    ``locate(quote, source)``, remembered, so a quote that several records share is searched for once and
    quotes can be located as each model answer arrives rather than all at the end."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._found: dict[str, QuoteLocation] = {}

    def __call__(self, quote: str) -> QuoteLocation:
        found = self._found.get(quote)
        if found is None:
            found = self._found[quote] = locate(quote, self.source)
        return found
