"""Locating evidence quotes in the source article (SPEC §1, "Grounding")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer import grounding
from summarizer.grounding import _CHAR_MAP, _DROPPED, Quotes, _normalise, find_all, locate, normalise
from summarizer.schemas import QuoteLocation

SOURCE = (
    "MOSCOW, Nov 27 (Reuters) – Russian President Vladimir Putin said on Thursday that a U.S.\n"
    "peace plan could form the basis of a future settlement, but warned that “if Ukrainian troops\n"
    "do not withdraw, we will achieve this by force of arms.”\n\n"
    "Kremlin aide Yuri Ushakov said a U.S. delegation was expected in Moscow in the first half of\n"
    "next week — possibly led by envoy Steve Witkoff. ‘We are ready for serious talks,’ he said.\n"
    "Russia controls about 19% of Ukraine’s territory, or roughly 116,000 sq km.\n"
    "Putin said that the plan could form the basis of future agreements.\n"
)


def span(loc: QuoteLocation, source: str = SOURCE) -> str:
    assert loc.start is not None and loc.end is not None
    return source[loc.start : loc.end]


def test_exact_match_reports_original_offsets() -> None:
    loc = locate("Kremlin aide Yuri Ushakov said", SOURCE)
    assert loc.status == "exact" and loc.score == 100 and loc.occurrences == 1
    assert loc.start == SOURCE.index("Kremlin aide")
    assert span(loc) == "Kremlin aide Yuri Ushakov said"


def test_case_differences_still_match_exactly() -> None:
    loc = locate("KREMLIN AIDE yuri ushakov", SOURCE)
    assert loc.status == "exact"
    assert span(loc) == "Kremlin aide Yuri Ushakov"


def test_straight_quotes_in_quote_match_curly_quotes_in_source() -> None:
    loc = locate('"if Ukrainian troops do not withdraw, we will achieve this by force of arms."', SOURCE)
    assert loc.status == "exact"
    assert span(loc) == "if Ukrainian troops\ndo not withdraw, we will achieve this by force of arms"


def test_curly_quotes_in_quote_match_straight_quotes_in_source() -> None:
    source = "The minister said: \"It's the army's job, not ours.\" Talks resume Monday."
    loc = locate("“It’s the army’s job, not ours.”", source)
    assert loc.status == "exact" and loc.occurrences == 1
    assert span(loc, source) == "It's the army's job, not ours"


def test_curly_apostrophe_in_source_matches_straight_one() -> None:
    loc = locate("about 19% of Ukraine's territory", SOURCE)
    assert loc.status == "exact"
    assert span(loc) == "about 19% of Ukraine’s territory"


@pytest.mark.parametrize("dash", ["-", "–", "—", "−"])
def test_any_dash_matches_any_other(dash: str) -> None:
    loc = locate(f"next week {dash} possibly led by envoy Steve Witkoff", SOURCE)
    assert loc.status == "exact"
    assert span(loc) == "next week — possibly led by envoy Steve Witkoff"


def test_whitespace_and_line_breaks_may_differ() -> None:
    loc = locate("expected  in Moscow in the first half of next   week", SOURCE)
    assert loc.status == "exact"
    assert span(loc) == "expected in Moscow in the first half of\nnext week"
    loc = locate("a U.S.\tpeace plan could\n\nform the basis", SOURCE)
    assert span(loc) == "a U.S.\npeace plan could form the basis"


def test_wrapping_quotation_marks_and_trailing_period_are_ignored() -> None:
    loc = locate("“We are ready for serious talks.”", SOURCE)
    assert loc.status == "exact" and loc.score == 100
    assert span(loc) == "We are ready for serious talks"


def test_repeated_quote_counts_occurrences_and_points_at_the_first() -> None:
    loc = locate("could form the basis of", SOURCE)
    assert loc.status == "exact"
    assert loc.occurrences == 2
    assert loc.start == SOURCE.index("could form the basis of")
    assert loc.start != SOURCE.rindex("could form the basis of")
    assert span(loc) == "could form the basis of"


def test_quote_with_a_changed_word_matches_fuzzily() -> None:
    loc = locate("Kremlin aide Yuri Ushakov stated a U.S. delegation was expected in Moscow", SOURCE)
    assert loc.status == "fuzzy"
    assert 90 <= loc.score < 100
    assert loc.occurrences == 0
    found = span(loc)
    assert found.startswith("Kremlin aide Yuri Ushakov")
    assert found.endswith("expected in Moscow")


def test_fuzzy_threshold_is_respected() -> None:
    quote = "Kremlin aide Yuri Ushakov stated a U.S. delegation was expected in Moscow"
    loc = locate(quote, SOURCE, fuzzy_threshold=99.5)
    assert loc.status == "missing"
    assert loc.start is None and loc.end is None
    assert 90 <= loc.score < 99.5  # how close it came is still reported


def test_short_quotes_never_match_fuzzily() -> None:
    loc = locate("Putin sayd", SOURCE)  # 10 characters, one letter off
    assert loc.status == "missing"
    assert loc.start is None


def test_unrelated_text_is_missing() -> None:
    loc = locate("The European Union announced new sanctions on Iranian oil exports.", SOURCE)
    assert loc.status == "missing"
    assert loc.start is None and loc.end is None
    assert loc.score < 90
    assert loc.occurrences == 0


def test_elided_quote_spans_first_to_last_part() -> None:
    loc = locate("Vladimir Putin said ... a U.S. peace plan could form the basis", SOURCE)
    assert loc.status == "exact" and loc.score == 100
    assert span(loc) == "Vladimir Putin said on Thursday that a U.S.\npeace plan could form the basis"


@pytest.mark.parametrize("marker", ["…", "[...]", " (…) ", "...."])
def test_elision_markers(marker: str) -> None:
    loc = locate(f"Kremlin aide{marker}said a U.S. delegation", SOURCE)
    assert loc.status == "exact"
    assert span(loc) == "Kremlin aide Yuri Ushakov said a U.S. delegation"


def test_elided_parts_must_appear_in_order() -> None:
    loc = locate("a U.S. delegation was expected ... Kremlin aide Yuri Ushakov", SOURCE)
    assert loc.status == "missing"


def test_elided_quote_with_a_changed_word_is_fuzzy() -> None:
    loc = locate("Vladimir Putin said ... the plan might form the basis of future agreements", SOURCE)
    assert loc.status == "fuzzy"
    assert 90 <= loc.score < 100
    assert span(loc).startswith("Vladimir Putin said")
    assert span(loc).endswith("future agreements")


def test_ellipsis_present_in_the_source_matches_as_is() -> None:
    source = "He paused. “We will see… we will see,” the envoy said."
    loc = locate("We will see... we will see", source)
    assert loc.status == "exact"
    assert span(loc, source) == "We will see… we will see"


def test_invisible_characters_in_the_source_are_ignored() -> None:
    source = "The cease\u00adfire holds along the\u00a0front line."
    loc = locate("ceasefire holds along the front line", source)
    assert loc.status == "exact"
    assert span(loc, source) == "cease\u00adfire holds along the\u00a0front line"


@pytest.mark.parametrize("quote", ["", "   ", '""', "...", "“.”"])
def test_empty_quotes_are_missing(quote: str) -> None:
    loc = locate(quote, SOURCE)
    assert loc.status == "missing" and loc.score == 0 and loc.start is None


def test_empty_source_gives_missing() -> None:
    assert locate("We are ready for serious talks", "").status == "missing"


def test_quote_longer_than_source_is_not_a_partial_match() -> None:
    source = "Putin said talks"
    loc = locate("Putin said talks would begin next week in Moscow with the US delegation", source)
    assert loc.status == "missing"
    assert loc.score < 90


def test_quote_slightly_longer_than_source_can_still_match_fuzzily() -> None:
    source = "We are ready for serious talks"
    loc = locate("We are ready for the serious talks", source)
    assert loc.status == "fuzzy"
    assert span(loc, source) == source


def test_regex_metacharacters_are_literal() -> None:
    source = "Casualties (est.) rose [sharply] to 1,200+ by *Monday*."
    loc = locate("(est.) rose [sharply] to 1,200+", source)
    assert loc.status == "exact"
    assert span(loc, source) == "(est.) rose [sharply] to 1,200+"
    assert locate("[a-z]+ rose", source).status == "missing"


def test_original_quote_is_kept_verbatim() -> None:
    quote = "  “We are ready for serious talks.” "
    assert locate(quote, SOURCE).quote == quote


def test_normalise_folds_typography() -> None:
    assert normalise("“Peace”\u2014now…  ‘soon’\n") == "\"peace\"-now... 'soon' "


# Text made of the characters normalisation treats specially (typographic marks, invisible characters, every kind
# of whitespace, letters whose case folding changes their length) and ordinary ones; ASCII text alone (its own
# path, with the backtick to fold); any text.
SPECIAL = "".join(_CHAR_MAP) + "".join(_DROPPED) + " \t\n\r\x0b\x0c\x1c\x85\xa0\u2002\u2028\u3000ßİﬁΣς" + "aZ.-'"


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(SPECIAL), max_size=40)
    | st.text(alphabet=st.characters(max_codepoint=127), max_size=40)
    | st.text(max_size=40)
)
def test_the_comparison_form_of_a_value_is_the_text_locate_compares(text: str) -> None:
    assert normalise(text) == _normalise(text).text


def test_find_all_is_non_overlapping() -> None:
    assert find_all("aa", "aaaa") == [0, 2]
    assert find_all("x", "abc") == []
    assert find_all("", "abc") == []


def test_quotes_locates_each_distinct_quote_once_with_the_same_result_as_locate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    searched: list[str] = []

    def counted(quote: str, source: str, **kwargs: float) -> QuoteLocation:
        searched.append(quote)
        return locate(quote, source, **kwargs)

    monkeypatch.setattr(grounding, "locate", counted)
    quotes = Quotes(SOURCE)
    asked = ["we will achieve this by force of arms", "Russia controls about 19 % of Ukraine", "nowhere in it"]
    found = [quotes(q) for q in asked + asked]
    assert searched == asked
    assert found == [locate(q, SOURCE) for q in asked + asked]
    assert [f.status for f in found[:3]] == ["exact", "fuzzy", "missing"]


def test_a_fuzzy_match_that_changes_a_number_is_altered_not_grounded() -> None:
    loc = locate("Russia controls about 20% of Ukraine", SOURCE)  # the article says 19%
    assert loc.status == "altered"
    assert span(loc) == "Russia controls about 19% of Ukraine"


def test_a_quotation_framed_with_its_speaker_is_found() -> None:
    loc = locate("Yuri Ushakov said: 'We are ready for serious talks'", SOURCE)
    assert loc.status == "fuzzy" and span(loc) == "We are ready for serious talks"
    assert locate("Ushakov said: 'We are ready for a ceasefire now'", SOURCE).status == "missing"
