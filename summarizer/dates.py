"""Resolving a meeting's ``when_text`` against the article's publication date (SPEC §1).

Articles say "early next week" or "on Tuesday", not "2025-12-02". The model copies the phrase
as written; this module turns it into a date range (``date_from``, ``date_to``) so meetings can be
sorted, filtered and scored. Weeks run Monday to Sunday. Without a publication date, or for a
phrase we do not understand, both ends stay ``None``: an unknown date is better than a wrong one.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

Range = tuple[date | None, date | None]
_NONE: Range = (None, None)

# A date without a year that falls this far before publication refers to next year's date.
ROLLOVER_DAYS = 60

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH = r"(?P<{g}>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_WEEKDAY_RE = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")s?\b")
_NUMBERS = {
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}

_DAY = r"(?P<{g}>\d{{1,2}})(?:st|nd|rd|th)?"
_RANGE_SEP = r"\s*(?:-|to|and|or|through|until)\s*"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
# "December 3", "Dec. 3rd", "December 3-4", "December 3, 2025".
_MONTH_DAY = re.compile(
    r"\b"
    + _MONTH.format(g="month")
    + r"\s+"
    + _DAY.format(g="day")
    + r"(?:"
    + _RANGE_SEP
    + _DAY.format(g="day2")
    + r")?"
    + _YEAR
    + r"\b"
)
# "3 December", "3rd of December", "3-4 December 2025".
_DAY_MONTH = re.compile(
    r"\b"
    + _DAY.format(g="day")
    + r"(?:"
    + _RANGE_SEP
    + _DAY.format(g="day2")
    + r")?"
    + r"\s+(?:of\s+)?"
    + _MONTH.format(g="month")
    + _YEAR
    + r"\b"
)
_ISO = re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b")
# "mid-December", "early Dec", "end of December 2025", "in December", a bare "December".
_PART_OF_MONTH = re.compile(
    r"(?:^|\b(?P<part>mid|middle of|early|beginning of|start of|late|end of|the end of|in|during)"
    r"[\s-]+(?:the\s+)?)" + _MONTH.format(g="month") + _YEAR + r"(?:\b|$)"
)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _day(day: date) -> Range:
    return day, day


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _month_part(part: str | None, first: date) -> tuple[date, date]:
    """Early (1-10), mid (11-20), late (21-end) or the whole of the month starting ``first``."""
    end = _month_end(first.year, first.month)
    if part in ("early", "beginning of", "start of"):
        return first, first.replace(day=10)
    if part in ("mid", "middle of"):
        return first.replace(day=11), first.replace(day=20)
    if part in ("late", "end of", "the end of"):
        return first.replace(day=21), end
    return first, end


def _roll(day: date, published: date) -> date:
    """Give a year-less date the year that puts it near or after publication."""
    if day < published - timedelta(days=ROLLOVER_DAYS):
        return day.replace(year=day.year + 1)
    return day


def _explicit(text: str, published: date) -> Range | None:
    """Calendar dates written out: ISO, "December 3", "3-4 December", "Dec 30 to Jan 2"."""
    found: list[tuple[int, int, date, date, bool]] = []  # start, end, first, last, year given
    for pattern in (_ISO, _MONTH_DAY, _DAY_MONTH):
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end, *_ in found):
                continue
            groups = m.groupdict()
            month = int(groups["month"]) if pattern is _ISO else _MONTHS[groups["month"]]
            has_year = bool(groups.get("year"))
            first = date(int(groups["year"]) if has_year else published.year, month, int(groups["day"]))
            last = first.replace(day=int(groups["day2"])) if groups.get("day2") else first
            if last < first:
                return None  # "December 4-3"
            if not has_year:
                first = _roll(first, published)
                last = last.replace(year=first.year)
            found.append((m.start(), m.end(), first, last, has_year))
    if not found:
        return None
    found.sort(key=lambda hit: hit[0])
    first, (last, last_has_year) = found[0][2], found[-1][3:]
    if last < first and not last_has_year:
        last = last.replace(year=last.year + 1)  # "December 30 - January 2"
    return (first, last) if first <= last else None


def _named_month(text: str, published: date) -> Range | None:
    m = _PART_OF_MONTH.search(text)
    if m is None or (m.group("part") is None and m.group(0).strip() != text):
        return None  # a bare month name counts only as the whole phrase ("may" is also a verb)
    month = _MONTHS[m.group("month")]
    if m.group("year"):
        first = date(int(m.group("year")), month, 1)
    else:
        first = date(published.year, month, 1)
        first = _roll(_month_part(m.group("part"), first)[0], published).replace(day=1)
    return _month_part(m.group("part"), first)


def _day_words(text: str, published: date) -> Range | None:
    """ "today", "tomorrow", "the day after tomorrow": ahead of weekday names ("tomorrow, Friday")."""
    if re.search(r"\bday after tomorrow\b", text):
        return _day(published + timedelta(days=2))
    if re.search(r"\btomorrow\b", text):
        return _day(published + timedelta(days=1))
    if re.search(r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", text):
        return _day(published)
    return None


def _weekdays(text: str, published: date) -> Range | None:
    """ "Tuesday", "next Tuesday", "Tuesday or Wednesday", "Tuesday next week"."""
    names = _WEEKDAY_RE.findall(text)
    if not names:
        return None
    if re.search(r"\bnext week\b", text):
        base = _monday(published) + timedelta(days=7)
        days = [base + timedelta(days=_WEEKDAYS[n]) for n in names]
    else:
        # The next such day strictly after publication; later names follow the first.
        days = []
        after = published
        for name in names:
            ahead = (_WEEKDAYS[name] - after.weekday()) % 7 or (7 if not days else 0)
            after = after + timedelta(days=ahead)
            days.append(after)
    return min(days), max(days)


def _relative(published: date) -> list[tuple[str, Callable[[], Range]]]:
    """Phrases relative to publication, most specific first (their regexes are searched in order)."""
    p = published
    monday = _monday(p)
    sunday = monday + timedelta(days=6)
    nxt = monday + timedelta(days=7)
    month_end = _month_end(p.year, p.month)
    next_month = _next_month(p)
    return [
        (
            r"\b(?:first half|early part|beginning|start) of next week\b|\bearly next week\b",
            lambda: (nxt, nxt + timedelta(days=2)),
        ),
        (
            r"\b(?:second half|latter part|end) of next week\b|\blater? next week\b",
            lambda: (nxt + timedelta(days=3), nxt + timedelta(days=6)),
        ),
        (r"\bnext weekend\b", lambda: (nxt + timedelta(days=5), nxt + timedelta(days=6))),
        (r"\bnext week\b", lambda: (nxt, nxt + timedelta(days=6))),
        (r"\bby (?:the|this) (?:weekend|end of (?:the|this) week)\b", lambda: (p, sunday)),
        (
            r"\b(?:this|at the|over the|on the|during the) weekend\b|^(?:the )?weekend$",
            lambda: (max(p, monday + timedelta(days=5)), sunday),
        ),
        (r"\b(?:end of (?:the|this) week|late this week)\b", lambda: (max(p, monday + timedelta(days=3)), sunday)),
        (r"\blater this week\b", lambda: (min(p + timedelta(days=1), sunday), sunday)),
        (r"\bthis week\b", lambda: (p, sunday)),
        (
            r"\b(?:within|in) (?:the )?(?:coming|next)(?: few)? days\b|\bwithin(?: a few)? days\b"
            r"|\bin the days ahead\b|\bin a few days\b",
            lambda: (p + timedelta(days=1), p + timedelta(days=7)),
        ),
        (r"\blater (?:this|in the) month\b", lambda: (min(p + timedelta(days=1), month_end), month_end)),
        (r"\b(?:the )?end of (?:the|this) month\b|\blate this month\b", lambda: (month_end.replace(day=21), month_end)),
        (r"\bthis month\b", lambda: (p, month_end)),
        (r"\b(?:early|beginning of|start of) next month\b", lambda: _month_part("early", next_month)),
        (r"\b(?:mid|middle of)[\s-]next month\b", lambda: _month_part("mid", next_month)),
        (r"\b(?:late|end of) next month\b", lambda: _month_part("late", next_month)),
        (r"\bnext month\b", lambda: _month_part(None, next_month)),
    ]


def _in_n(text: str, published: date) -> Range | None:
    """ "in two weeks" (the Monday-Sunday week that many weeks on), "in 3 days" (that day)."""
    m = re.search(r"\bin (\d{1,2}|" + "|".join(_NUMBERS) + r") (week|day)s?(?:'s?)?(?: time)?\b", text)
    if m is None:
        return None
    n = int(m.group(1)) if m.group(1).isdigit() else _NUMBERS[m.group(1)]
    if m.group(2) == "day":
        return _day(published + timedelta(days=n))
    monday = _monday(published) + timedelta(weeks=n)
    return monday, monday + timedelta(days=6)


def _clean(text: str) -> str:
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text.casefold())
    text = text.replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip(" .,;:!?\"'()")


def resolve_when(when_text: str | None, published: date | None) -> Range:
    """(date_from, date_to) for ``when_text`` as of ``published``; (None, None) if unresolvable."""
    if not when_text or published is None:
        return _NONE
    text = _clean(when_text)
    try:
        for resolver in (_explicit, _named_month, _day_words, _weekdays, _in_n):
            found = resolver(text, published)
            if found is not None:
                return found
        for pattern, build in _relative(published):
            if re.search(pattern, text):
                return build()
    except (ValueError, OverflowError):
        pass  # an impossible date such as "February 30": not understood
    return _NONE
