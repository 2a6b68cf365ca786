"""Support checks: does a located quote back the record it is given for? (SPEC §1, "Support")

Grounding proves that a quote exists in the article; it does not prove that the quote says what the record
says. Each check here reads a record and the article text around its located quotes and returns a
``Failure`` (a stable reason code and a sentence) or ``None``. They run on every record from any backend;
a failing record is moved to ``rejected`` with its code, never silently kept.

The checks read words, not meaning: each looks for the plain signal a careful reader would look for first (the
figure's number in its quote, a future tense in a meeting's quote, a demand verb in a demand's sentence, the
actor's name in the sentence or the sentence before it). They are deliberately narrow, so that what they
reject is wrong, not merely unusual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .grounding import STOPWORDS, WORD, normalise, same_word, words
from .schemas import Demand, MeetingDraft, Position, QuoteLocation, Record, TerritorialFigureDraft, category_of
from .units import SQ_MI_TO_KM2


@dataclass(frozen=True)
class Failure:
    code: str
    reason: str


# --- text helpers -----------------------------------------------------------------------------------------------

_ABBREVIATION_WORDS = (
    "mr mrs ms dr gen lt col maj capt sgt sen rep gov st jr sr prof no vs u.s u.n u.k e.u jan feb mar apr jun jul "
    "aug sep sept oct nov dec"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())


def _is_boundary(text: str, i: int) -> bool:
    """Whether the full stop, question or exclamation mark at ``i`` ends a sentence."""
    if text[i] in "!?":
        return True
    j = i - 1
    while j >= 0 and (text[j].isalpha() or text[j] == "."):
        j -= 1
    token = text[j + 1 : i].lower()
    if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
        return False
    k = i + 1
    while k < len(text) and text[k] in "\"'”’)":
        k += 1
    return k >= len(text) or text[k].isspace()


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The [start, end) span of the sentence(s) that contain ``text[start:end]`` (paragraph breaks end one)."""
    s = start
    while s > 0:
        ch = text[s - 1]
        if ch == "\n" or (ch in ".!?" and _is_boundary(text, s - 1)):
            break
        s -= 1
    e = max(end, start)
    while e < len(text):
        ch = text[e]
        if ch == "\n":
            break
        if ch in ".!?" and _is_boundary(text, e):
            e += 1
            while e < len(text) and text[e] in "\"'”’)":
                e += 1
            break
        e += 1
    while s < e and text[s].isspace():
        s += 1
    return s, e


def preceding_sentences(text: str, start: int, count: int = 2) -> str:
    """Up to ``count`` sentences before the one starting at ``start`` (within the article)."""
    s = start
    for _ in range(count):
        if s <= 0:
            break
        s, _ = sentence_bounds(text, max(s - 2, 0), max(s - 2, 0))
    return text[s:start]


# --- numbers ----------------------------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "hundred": 100, "dozen": 12,
}  # fmt: skip
_FRACTIONS = [
    (re.compile(r"\btwo[- ]thirds?\b"), 200 / 3),
    (re.compile(r"\bthree[- ]quarters?\b"), 75.0),
    (re.compile(r"\b(?:one|a)[- ]third\b|\bthird of\b"), 100 / 3),
    (re.compile(r"\b(?:one|a)[- ]quarter\b|\bquarter of\b"), 25.0),
    (re.compile(r"\bhalf\b"), 50.0),
]
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_NUMERAL = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s*-?\s*(thousand|million|billion)\b)?")


def numbers_in(text: str) -> list[float]:
    """Every number ``text`` states: numerals ("1,200", "1.3 million", "20%"), number words ("four") and
    fractions as percentages ("one-third" → 33.3, "half" → 50)."""
    folded = normalise(text)
    found: list[float] = []
    for match in _NUMERAL.finditer(folded):
        value = float(match.group(1).replace(",", "") + (match.group(2) or ""))
        if match.group(3):
            value *= _SCALES[match.group(3)]
        found.append(value)
    for word in WORD.findall(folded):
        if word in _NUMBER_WORDS:
            found.append(float(_NUMBER_WORDS[word]))
    for pattern, value in _FRACTIONS:
        if pattern.search(folded):
            found.append(value)
    return found


def same_number(a: float, b: float) -> bool:
    return abs(a - b) <= max(abs(a), abs(b)) * 0.02 or abs(a - b) < 0.051


_UNIT_WORDS: dict[str, re.Pattern[str]] = {
    "percent": re.compile(r"%|\bper ?cent\b|\bthirds?\b|\bhalf\b|\bquarters?\b"),
    "sq_mi": re.compile(r"\bsquare[- ]miles?\b|\bsq\.? ?mi\b"),
    "km2": re.compile(r"\bsquare[- ]kilomet(?:er|re)s?\b|\bsq\.? ?km\b|\bkm2\b|\bkm²|\bkm\^2\b"),
}


# --- checks -----------------------------------------------------------------------------------------------------


def figure_support(
    item: TerritorialFigureDraft, quotes: Sequence[str], examples: Iterable[float], source: str = ""
) -> Failure | None:
    """A figure's number and unit are in its quote, and the quote's verb fits its measure.

    ``examples``: the numbers of the prompt's invented examples; one the article (``source``) does not state is a
    copy when it is the figure's number."""
    if item.value is None:
        return Failure("figure_without_number", "a territorial figure with no number")
    text = " ".join(quotes)
    stated = numbers_in(text)
    folded = normalise(text)
    if not any(same_number(item.value, n) for n in stated):
        if converted_area(item.value, item.unit, stated, folded):
            return measure_failure(item.measure, text)
        value = item.value
        if any(not stated_in(n, source) for n in examples if same_number(value, n)):
            return Failure(
                "figure_copied_from_prompt",
                f"its number {item.value:g} is not in its quote but is in the instructions' invented example",
            )
        return Failure("figure_number_not_in_quote", f"its number {item.value:g} is not in its quote")
    unit = _UNIT_WORDS.get(item.unit or "")
    if unit is not None and not unit.search(folded):
        return Failure("figure_unit_not_in_quote", f"its unit {item.unit} is not in its quote")
    return measure_failure(item.measure, text)


def stated_in(number: float, text: str) -> bool:
    """Whether ``text`` states ``number`` (within the 2 % of ``same_number``)."""
    return any(same_number(number, n) for n in numbers_in(text))


def converted_area(value: float, unit: str | None, stated: Sequence[float], folded: str) -> bool:
    """Whether ``value`` in ``unit`` is an area the quote states in the other unit (120 square miles as 310.8 km2)."""
    other = {"km2": ("sq_mi", SQ_MI_TO_KM2), "sq_mi": ("km2", 1 / SQ_MI_TO_KM2)}.get(unit or "")
    if other is None or not _UNIT_WORDS[other[0]].search(folded):
        return False
    return any(same_number(value, n * other[1]) for n in stated)


def measure_failure(measure: str, text: str) -> Failure | None:
    if (clash := measure_clash(measure, text)) is not None:
        return Failure("figure_measure_mismatch", f"its measure {measure} does not fit the quote's verb {clash!r}")
    return None


_MEASURE_VERBS: dict[str, re.Pattern[str]] = {
    "gained": re.compile(
        r"\b(captur\w*|seiz\w*|gain\w*|took|tak(?:e|en|es|ing)|advanc\w*|recaptur\w*|retak\w*|retook|overr[au]n\w*"
        r"|conquer\w*|annex\w*|grabb?\w*)\b"
    ),
    "lost": re.compile(r"\b(lost|los(?:e|es|ing)|ced(?:e|ed|es|ing)|retreat\w*|shr[iau]nk\w*|oust\w*|driven out)\b"),
    "claimed": re.compile(r"\b(claim\w*)\b"),
    "controlled": re.compile(r"\b(control\w*|hold\w*|held|occup\w*|in the hands of|under (?:the )?\w+ rule)\b"),
}
_MEASURE_CLASS = {
    "area_gained": "gained",
    "area_lost": "lost",
    "area_claimed": "claimed",
    "share_controlled": "controlled",
    "area_controlled": "controlled",
}


def measure_clash(measure: str, text: str) -> str | None:
    """A verb of another measure in ``text`` when none of ``measure``'s own verbs is there ("other" never clashes)."""
    own = _MEASURE_CLASS.get(measure)
    if own is None:
        return None
    folded = normalise(text)
    if _MEASURE_VERBS[own].search(folded):
        return None
    for name, pattern in _MEASURE_VERBS.items():
        if name != own and (m := pattern.search(folded)):
            return m.group(1)
    return None


_FUTURE = re.compile(
    r"\b(will|shall|'ll|would|is to|are to|to be held|expected|due to (?:meet|begin|start|be|take|hold|arrive|visit"
    r"|resume|travel|sign|open)|scheduled|set to|slated|plans? to|planned|planning"
    r"|intends?|upcoming|next|tomorrow|later this|coming (?:days|weeks|months)|to (?:meet|visit|travel|hold|host"
    r"|attend|discuss|sign|resume|begin|start|open|convene|go|fly|return)|invit\w*|agreed to (?:meet|hold|discuss)"
    r"|proposed|postponed|rescheduled|moved to)\b"
)
_CALLED_OFF = re.compile(
    r"\b(cancel\w*|called off|call off|scrapp\w*|boycott\w*|(?:will|would) not (?:attend|take part|participate|go)"
    r"|won't (?:attend|take part|participate|go)|refus\w* to (?:attend|take part|participate)|pulled out"
    r"|stay(?:ed|s|ing)? away)\b"
)


def meeting_support(quotes: Sequence[str]) -> Failure | None:
    """A meeting's quote speaks of something still to come, not held, failed or cancelled."""
    text = normalise(" ".join(quotes))
    if m := _CALLED_OFF.search(text):
        return Failure("meeting_called_off", f"its quote says the meeting is off ({m.group(1)!r})")
    if not _FUTURE.search(text):
        return Failure("meeting_not_upcoming", "its quote does not speak of a meeting still to come")
    return None


_DEMAND = re.compile(
    r"\b(demand\w*|insist\w*|must|call(?:s|ed|ing)? (?:on|upon|for)|urg\w*|wants?\b.{0,60}\bto|wanted\b.{0,60}\bto"
    r"|requir\w*|condition\w*|ultimatum|ask(?:s|ed|ing)?\b.{0,60}\bto|press(?:es|ed|ing)?\b.{0,60}\b(?:to|for)"
    r"|should|appeal\w*|seek\w*|sought|request\w*|ha(?:ve|s|d) to|needs? to|order\w*|told\b.{0,60}\bto"
    r"|unless|only if|if (?:\w+ ){1,3}(?:do not|don't|does not|doesn't|did not|didn't|fail\w*|refus\w*)"
    r"|warn\w*|pledg\w* to|called|push\w* for|expects?\b.{0,40}\bto|in exchange for|no\b.{0,60}\buntil"
    r"|not\b.{0,60}\buntil)\b"
)


def demand_support(sentence: str) -> Failure | None:
    """A demand's sentence carries a demand (demands, insists, must, calls on, urges, wants … to, …)."""
    if not _DEMAND.search(normalise(sentence)):
        return Failure("demand_not_in_quote", "its quote states no demand (no demand, insist, must, urge, call on …)")
    return None


_VIEW = re.compile(
    r"\b(said|says|say|saying|told|tells|stated|states|added|according|believ\w*|think\w*|thought|warn\w*|call\w*"
    r"|describ\w*|prais\w*|condemn\w*|critici[sz]\w*|welcom\w*|reject\w*|den(?:y|ies|ied|ying)|accus\w*|express\w*"
    r"|argu\w*|not(?:ed|es)|insist\w*|hop(?:e|es|ed|ing)|concern\w*|view\w*|position|stance|cautio\w*|stress\w*"
    r"|emphasi[sz]\w*|vow\w*|pledg\w*|dismiss\w*|blam\w*|hail\w*|slamm?\w*|deplor\w*|regret\w*|support\w*"
    r"|oppos\w*|agree\w*|acknowledg\w*|admit\w*|claim\w*|suggest\w*|consider\w*|sees?|seen as|announc\w*"
    r"|declar\w*|promis\w*|confirm\w*|assert\w*|recogni[sz]\w*|wrote|writes|urg\w*|demand\w*|refus\w*"
    r"|committed|commitment|determined|ready|willing|intend\w*|want\w*|wish\w*|believe|fear\w*|doubt\w*|feel\w*"
    r"|sa(?:y|id) that|reaffirm\w*|remain\w* (?:firm|committed|opposed)|praised|applaud\w*|appreciat\w*|thank\w*"
    r"|we|i|our|my)\b|[\"“”]"
)


def position_support(sentence: str) -> Failure | None:
    """A view's sentence attributes a view (says, believes, warned, rejected, a quotation …), not only an event."""
    if not _VIEW.search(normalise(sentence)) and not re.search(r"[\"“”]", sentence):
        return Failure("position_not_a_view", "its quote reports an event, not a view anyone holds")
    return None


# Names of states that the article may give as a capital, a seat of government or an adjective.
_ALIASES: dict[str, tuple[str, ...]] = {
    "russia": ("moscow", "kremlin", "russian"),
    "ukraine": ("kyiv", "kiev", "ukrainian"),
    "united states": ("washington", "white house", "american", "u.s", "us", "pentagon", "state department"),
    "china": ("beijing", "chinese"),
    "israel": ("jerusalem", "israeli", "idf"),
    "syria": ("damascus", "syrian"),
    "iran": ("tehran", "iranian"),
    "turkey": ("ankara", "turkish"),
    "united kingdom": ("london", "british", "britain", "u.k", "uk"),
    "britain": ("london", "british", "u.k", "uk"),
    "france": ("paris", "french", "elysee"),
    "germany": ("berlin", "german"),
    "philippines": ("manila", "philippine", "filipino"),
    "north korea": ("pyongyang", "north korean", "dprk"),
    "south korea": ("seoul", "south korean"),
    "georgia": ("tbilisi", "georgian"),
    "islamic state": ("is", "isis", "isil", "daesh"),
    "european union": ("eu", "e.u", "brussels"),
    "united nations": ("un", "u.n"),
}
_TITLE_WORDS = (
    "president prime minister foreign defense defence secretary spokesman spokeswoman spokesperson official "
    "officials leader envoy ambassador chief general commander minister ministry government army military king "
    "chancellor senator governor mayor head director chairman representative special the mr mrs ms dr"
)
_TITLES = frozenset(_TITLE_WORDS.split())
_REFERS_BACK = re.compile(
    r"\b(he|she|they|his|her|their|it|its|him|them|the (?:president|minister|secretary|spokes\w+|official|leader"
    r"|envoy|ambassador|chief|government|ministry|army|military|group|rebels|movement|statement|report|council|"
    r"country|kremlin|administration|prime minister|foreign minister|white house))\b"
)


def name_keys(name: str) -> set[str]:
    """The words by which ``name`` can be recognised in a text: its distinctive words (titles and small words
    left out), acronyms such as "UN", and the capitals and adjectives of well-known states ("Moscow")."""
    folded = normalise(name).strip()
    keys = {w for w in words(folded) if w not in STOPWORDS and w not in _TITLES and (len(w) >= 3 or name.isupper())}
    keys |= {w.lower().strip(".") for w in name.split() if w.isupper() and len(w.strip(".")) >= 2}
    for state, aliases in _ALIASES.items():
        if state == folded or folded in aliases or state in folded:
            keys |= set(aliases) | set(words(state))
    return keys


def mentions(name: str, text: str) -> bool:
    """Whether ``text`` names ``name`` (a distinctive word of it, or a demonym sharing its stem: "Russian" for
    "Russia", "Ukrainian" for "Ukraine")."""
    keys = name_keys(name)
    if not keys:
        return True  # nothing distinctive to look for ("the government"): not judged here
    present = set(words(text))
    folded = normalise(text)
    for key in keys:
        if " " in key or "." in key:
            if re.search(r"\b" + re.escape(key) + r"\b", folded):
                return True
        elif key in present or (len(key) >= 5 and any(_demonym(key, w) for w in present)):
            return True
    return False


def _demonym(key: str, word: str) -> bool:
    """``word`` is ``key`` or a form of it sharing its first five letters ("russian" for "russia")."""
    return word.startswith(key[:5]) and len(word) >= len(key) - 1


#: A headline that presents the text as someone's own words ("Statement by President X on …", "X Statement on
#: …", "Remarks by X"): every unattributed sentence of the body is that author's.
_KINDS = r"(?:statement|remarks|op-ed|speech|address|letter)"
_OWN_WORDS = re.compile(
    rf"\b{_KINDS}\s+(?:by|from)\s+(?P<after>.+?)(?:\s+(?:on|about|regarding|at|to|in|before)\b|$)"
    rf"|^(?P<before>.+?)(?:['’]s)?\s+{_KINDS}\b",
    re.IGNORECASE,
)
#: A sentence that reports someone else's words is not the author's own.
_REPORTED = re.compile(
    r"\b(said|says|told|warned|according to|announced|reported|stated|claimed|added)\b", re.IGNORECASE
)


def statement_author(source: str) -> str | None:
    """The author a headline names for a text written as their own words (a statement, remarks, a letter), or
    None."""
    head = headline_end(source)
    match = _OWN_WORDS.search(source[:head].strip()) if head else None
    return (match.group("after") or match.group("before")) if match else None


def actor_support(
    actors: Sequence[str], sentence: str, before: Callable[[], str], author: Callable[[], str | None] | None = None
) -> Failure | None:
    """A record's actor is named in its quote's sentence, or the sentence refers back ("he", "the minister",
    "the Kremlin") and the actor is named in the sentences just before it (``before()``, read only then), or the
    text is a statement whose headline names the actor as its author (``author()``, read only then) and the
    sentence reports no one else's words."""
    if not actors:
        return None
    if any(mentions(a, sentence) for a in actors):
        return None
    if _REFERS_BACK.search(normalise(sentence)):
        preceding = before()
        if any(mentions(a, preceding) for a in actors):
            return None
    name = author() if author is not None and not _REPORTED.search(sentence) else None
    if name is not None and any(mentions(a, name) for a in actors):
        return None
    return Failure("actor_not_in_quote", f"{actors[0]!r} is neither named in its quote nor the one it refers to")


def content_support(content: str, sentence: str) -> bool:
    """Whether ``sentence`` shares a content word (or its stem) with ``content`` (a stance, a demand)."""
    present = set(words(sentence))
    for w in words(content):
        if len(w) < 4 or w in STOPWORDS:
            continue
        if w in present or any(len(p) >= 5 and p[:5] == w[:5] for p in present):
            return True
    return False


def actors_of(item: Record) -> list[str]:
    """Who holds, makes or attends the record (its category's ``actor`` field)."""
    field = category_of(item).actor
    value = getattr(item, field) if field else None
    return list(value) if isinstance(value, list) else [value] if isinstance(value, str) else []


def content_of(item: Record) -> str | None:
    """What the record says in the model's words (its category's ``content`` field)."""
    field = category_of(item).content
    return getattr(item, field) if field else None


def headline_end(source: str) -> int:
    """Where the headline ends: the first line, when it is short, does not end as a sentence does and has a body
    below it; 0 when the text has no headline."""
    first = source.find("\n")
    if first == -1 or not source[first:].strip():
        return 0
    line = source[:first].strip()
    if not line or len(line) > 200 or line[-1] in '.!?"”’':
        return 0
    return first


def _body_sentences(source: str, start: int) -> list[str]:
    out: list[str] = []
    pos = start
    while pos < len(source):
        s, e = sentence_bounds(source, pos, pos)
        if e > s:
            out.append(source[s:e])
        pos = max(e, pos) + 1
    return out


def _shares_content(content: str, sentence: str, share: float = 0.5) -> bool:
    wanted = {w for w in words(content) if len(w) >= 4 and w not in STOPWORDS}
    if not wanted:
        return False
    present = set(words(sentence))
    found = sum(1 for w in wanted if w in present or any(same_word(w, p) for p in present))
    return found >= share * len(wanted)


def restated_in_body(item: Record, source: str, body_start: int) -> bool:
    """Whether a sentence of the body (after ``body_start``) names the record's actor and states its content (half
    of the content words of a stance or demand; the number of a figure; the place or time of a meeting)."""
    actors = actors_of(item)
    if isinstance(item, TerritorialFigureDraft):
        if item.value is None:
            return False
        value = item.value
        return any(any(same_number(value, n) for n in numbers_in(s)) for s in _body_sentences(source, body_start))
    if isinstance(item, MeetingDraft):
        content = " ".join(x for x in (item.location, item.when_text) if x)
    else:
        content = content_of(item) or ""
    return any(
        (not actors or any(mentions(a, s) for a in actors)) and _shares_content(content, s)
        for s in _body_sentences(source, body_start)
    )


def check_record(
    item: Record,
    source: str,
    located: Sequence[QuoteLocation],
    examples: Iterable[float] = (),
    *,
    shared: bool = False,
) -> Failure | None:
    """Every check that applies to ``item``, given its located quotes; the first failure, or None.

    ``shared``: another record of the article rests on the same quote (a failing content check then says so).
    """
    spans = [(loc.start, loc.end) for loc in located if loc.start is not None and loc.end is not None]
    if not spans:
        return None
    head = headline_end(source)
    if head and all(e <= head for _, e in spans) and restated_in_body(item, source, head):
        return Failure("headline_evidence", "its quote is the headline, and the body states the same more fully")
    quotes = [source[s:e] for s, e in spans]
    if isinstance(item, TerritorialFigureDraft):
        return figure_support(item, quotes, examples, source)
    bounds = [sentence_bounds(source, s, e) for s, e in spans]
    sentences = " ".join(source[s:e] for s, e in bounds)
    if isinstance(item, MeetingDraft):
        # A short quote ("on Thursday") is read with its sentence; a whole clause is read as quoted.
        if failure := meeting_support([sentences] if len(" ".join(quotes)) < 40 else quotes):
            return failure
    elif isinstance(item, Demand):
        if failure := demand_support(sentences):
            return failure
    elif isinstance(item, Position) and (failure := position_support(sentences)):
        return failure

    def before() -> str:  # read only when the sentence refers back to an actor named earlier
        return " ".join(preceding_sentences(source, s) for s, _ in bounds)

    def author() -> str | None:  # read only when the actor is neither named nor referred to
        return statement_author(source) if head and all(s >= head for s, _ in bounds) else None

    if failure := actor_support(actors_of(item), sentences, before, author):
        return failure
    content = content_of(item)
    if content is not None and not content_support(content, " ".join(quotes)):
        if shared:
            return Failure("quote_reused", "its quote backs another record and does not state this one's content")
        return Failure("content_not_in_quote", "its quote shares no content word with what the record says")
    return None
