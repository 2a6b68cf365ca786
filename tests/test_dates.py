"""Resolving a meeting's ``when_text`` against the publication date (SPEC §1)."""

from __future__ import annotations

from datetime import date

import pytest

from summarizer.dates import resolve_when

THU = date(2025, 11, 27)  # Thursday; the week runs Mon 11-24 .. Sun 11-30
FRI = date(2025, 11, 28)  # Friday
SAT = date(2025, 11, 29)
SUN = date(2025, 11, 30)
NEW_YEAR_EVE = date(2025, 12, 30)  # Tuesday


def d(text: str) -> date:
    return date.fromisoformat(text)


CASES = [
    # Next week and its halves.
    ("first half of next week", THU, "2025-12-01", "2025-12-03"),  # the SPEC example
    ("in the first half of next week", THU, "2025-12-01", "2025-12-03"),
    ("early next week", FRI, "2025-12-01", "2025-12-03"),
    ("second half of next week", THU, "2025-12-04", "2025-12-07"),
    ("late next week", FRI, "2025-12-04", "2025-12-07"),
    ("end of next week", THU, "2025-12-04", "2025-12-07"),
    ("next week", THU, "2025-12-01", "2025-12-07"),
    ("Next  Week", FRI, "2025-12-01", "2025-12-07"),
    ("next week", SUN, "2025-12-01", "2025-12-07"),
    ("next week", date(2025, 12, 1), "2025-12-08", "2025-12-14"),  # published on a Monday
    # This week and weekends.
    ("this week", THU, "2025-11-27", "2025-11-30"),
    ("later this week", THU, "2025-11-28", "2025-11-30"),
    ("by the weekend", FRI, "2025-11-28", "2025-11-30"),
    ("by the weekend", THU, "2025-11-27", "2025-11-30"),
    ("this weekend", THU, "2025-11-29", "2025-11-30"),
    ("at the weekend", FRI, "2025-11-29", "2025-11-30"),
    ("over the weekend", THU, "2025-11-29", "2025-11-30"),
    ("this weekend", SAT, "2025-11-29", "2025-11-30"),
    ("next weekend", THU, "2025-12-06", "2025-12-07"),
    ("in two weeks", THU, "2025-12-08", "2025-12-14"),
    ("in 2 weeks", FRI, "2025-12-08", "2025-12-14"),
    ("in two weeks' time", THU, "2025-12-08", "2025-12-14"),
    # Single days.
    ("tomorrow", THU, "2025-11-28", "2025-11-28"),
    ("tomorrow", SUN, "2025-12-01", "2025-12-01"),
    ("today", FRI, "2025-11-28", "2025-11-28"),
    ("tomorrow, Friday", THU, "2025-11-28", "2025-11-28"),
    ("on Tuesday", THU, "2025-12-02", "2025-12-02"),
    ("Tuesday", FRI, "2025-12-02", "2025-12-02"),
    ("next Tuesday", THU, "2025-12-02", "2025-12-02"),
    ("on Friday", THU, "2025-11-28", "2025-11-28"),
    ("on Thursday", THU, "2025-12-04", "2025-12-04"),  # strictly after publication
    ("Sunday", SAT, "2025-11-30", "2025-11-30"),
    ("Tuesday or Wednesday", THU, "2025-12-02", "2025-12-03"),
    ("on Wednesday next week", FRI, "2025-12-03", "2025-12-03"),
    # Explicit dates.
    ("December 3", THU, "2025-12-03", "2025-12-03"),
    ("on Dec. 3", THU, "2025-12-03", "2025-12-03"),
    ("Dec 3rd", THU, "2025-12-03", "2025-12-03"),
    ("3 December", FRI, "2025-12-03", "2025-12-03"),
    ("the 3rd of December", FRI, "2025-12-03", "2025-12-03"),
    ("December 3, 2025", THU, "2025-12-03", "2025-12-03"),
    ("3 December 2025", THU, "2025-12-03", "2025-12-03"),
    ("2025-12-03", THU, "2025-12-03", "2025-12-03"),
    ("December 3-4", THU, "2025-12-03", "2025-12-04"),
    ("December 3–4", THU, "2025-12-03", "2025-12-04"),  # en dash
    ("3-4 December", FRI, "2025-12-03", "2025-12-04"),
    ("Tuesday, December 2", THU, "2025-12-02", "2025-12-02"),  # the date wins over the weekday
    ("November 20", THU, "2025-11-20", "2025-11-20"),  # a week back: same year
    ("December 4, 2026", THU, "2026-12-04", "2026-12-04"),  # an explicit year is kept
    # Year roll-over from December into January.
    ("January 5", NEW_YEAR_EVE, "2026-01-05", "2026-01-05"),
    ("5 Jan", NEW_YEAR_EVE, "2026-01-05", "2026-01-05"),
    ("January 5-6", NEW_YEAR_EVE, "2026-01-05", "2026-01-06"),
    ("December 30 - January 2", THU, "2025-12-30", "2026-01-02"),
    ("in January", NEW_YEAR_EVE, "2026-01-01", "2026-01-31"),
    ("mid-January", NEW_YEAR_EVE, "2026-01-11", "2026-01-20"),
    ("next month", NEW_YEAR_EVE, "2026-01-01", "2026-01-31"),
    ("next week", NEW_YEAR_EVE, "2026-01-05", "2026-01-11"),
    # Parts of a named month.
    ("mid-December", THU, "2025-12-11", "2025-12-20"),
    ("in mid December", FRI, "2025-12-11", "2025-12-20"),
    ("early December", THU, "2025-12-01", "2025-12-10"),
    ("late December", THU, "2025-12-21", "2025-12-31"),
    ("end of December", THU, "2025-12-21", "2025-12-31"),
    ("by the end of February", THU, "2026-02-21", "2026-02-28"),  # rolled: Feb 2025 is long past
    ("in December", THU, "2025-12-01", "2025-12-31"),
    ("December", FRI, "2025-12-01", "2025-12-31"),
    ("in September", THU, "2026-09-01", "2026-09-30"),  # Sept 1 is 87 days back: next year's
    ("in October", THU, "2025-10-01", "2025-10-31"),  # Oct 1 is 57 days back: this year's
    # Relative to the month and to the day.
    ("next month", THU, "2025-12-01", "2025-12-31"),
    ("early next month", THU, "2025-12-01", "2025-12-10"),
    ("later this month", THU, "2025-11-28", "2025-11-30"),
    ("later in the month", FRI, "2025-11-29", "2025-11-30"),
    ("end of the month", THU, "2025-11-21", "2025-11-30"),
    ("within days", THU, "2025-11-28", "2025-12-04"),
    ("in the coming days", FRI, "2025-11-29", "2025-12-05"),
    ("in the next few days", THU, "2025-11-28", "2025-12-04"),
]


@pytest.mark.parametrize(("text", "published", "start", "end"), CASES, ids=[f"{c[0]}@{c[1]}" for c in CASES])
def test_resolve_when(text: str, published: date, start: str, end: str) -> None:
    assert resolve_when(text, published) == (d(start), d(end))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "soon",
        "at a later date",
        "blah blah",
        "They may meet",
        "February 30",
        "December 4-3",
        "2025-13-45",
        "99 December",
        "next",
        "week",
        "in the coming weeks",
        "¯\\_(ツ)_/¯",
        "x" * 10_000,
    ],
)
def test_text_not_understood_gives_none(text: str) -> None:
    assert resolve_when(text, THU) == (None, None)


def test_none_inputs_give_none() -> None:
    assert resolve_when(None, THU) == (None, None)
    assert resolve_when("next week", None) == (None, None)
    assert resolve_when(None, None) == (None, None)


def test_leap_day_without_a_year_never_raises() -> None:
    # Neither 2025 nor 2026 has a February 29: not understood, and no exception escapes.
    assert resolve_when("February 29", date(2025, 11, 27)) == (None, None)
    assert resolve_when("February 29", date(2028, 2, 1)) == (d("2028-02-29"), d("2028-02-29"))


def test_ranges_are_ordered() -> None:
    for text, published, *_ in CASES:
        start, end = resolve_when(text, published)
        assert start is not None and end is not None and start <= end, text
