"""Support checks (summarizer/support.py): each reason code on invented sentences, including the failure patterns
of AUDIT.md, and the records a careful reader would keep."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from summarizer import Settings, summarize
from summarizer.backends.fake import EMPTY_ANSWERS, FakeBackend
from summarizer.grounding import altered, locate
from summarizer.pipeline import calls_for
from summarizer.schemas import Demand, MeetingDraft, Position, QuoteLocation, TerritorialFigureDraft
from summarizer.support import (
    actor_support,
    check_record,
    demand_support,
    figure_support,
    meeting_support,
    mentions,
    numbers_in,
    position_support,
    sentence_bounds,
)
from tests.test_pipeline import fake

ARTICLE = (
    "Kestria seizes ground in northern Norland, talks stall\n\n"
    "Kestrian forces have captured about 350 square miles of Norland since March, the observer group Vellwatch "
    "said on Tuesday. Kestria now controls roughly 20% of Norland's territory.\n\n"
    "Prime Minister Arvo Tamm demanded that Kestria withdraw its troops from the Dorn valley. He said there "
    "could be no talks while Kestrian tanks stood on Norland soil.\n\n"
    "Foreign Minister Ilse Varga met her Kestrian counterpart in Sarn last week, but the talks failed. "
    "Varga will travel to Brill on Thursday to meet mediators from the Ostland Union. A summit planned for "
    "Harl was cancelled.\n\n"
    "More than 1,200 people have been killed in the fighting, hospital officials said. The Kremlin-backed "
    "Kestrian press called the offensive a success."
)


def loc(quote: str, text: str = ARTICLE) -> QuoteLocation:
    found = locate(quote, text)
    assert found.status in ("exact", "fuzzy"), quote
    return found


def figure(value: float | None, unit: str | None, measure: str, quote: str) -> TerritorialFigureDraft:
    return TerritorialFigureDraft(
        evidence=[quote], territory="Norland", controller="Kestria", measure=measure, value=value, unit=unit,  # type: ignore[arg-type]
        approximate=True, period=None, attributed_to=None,
    )  # fmt: skip


def meeting(quote: str, participants: list[str] | None = None) -> MeetingDraft:
    return MeetingDraft(
        evidence=[quote], participants=participants or ["Ilse Varga"], location=None, when_text=None, purpose=None,
        status="scheduled",
    )  # fmt: skip


def check(item: Any, *quotes: str, examples: tuple[float, ...] = ()) -> str | None:
    failure = check_record(item, ARTICLE, [loc(q) for q in quotes], examples)
    return None if failure is None else failure.code


# --- numbers and figures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("about 20% of the country", 20), ("20 percent", 20), ("20 per cent", 20), ("a 1,200-km front", 1200),
        ("a 750-mile border", 750), ("the 1.3 million-square-mile sea", 1_300_000), ("one-third of the city", 33.3),
        ("two-thirds of the territory", 66.7), ("almost half of it", 50), ("four regions", 4),
    ],
)  # fmt: skip
def test_numbers_are_read_in_their_written_forms(text: str, value: float) -> None:
    assert any(abs(n - value) / value < 0.02 for n in numbers_in(text)), numbers_in(text)


def test_a_figure_whose_number_and_unit_are_in_its_quote_is_kept() -> None:
    quote = "Kestrian forces have captured about 350 square miles of Norland since March"
    assert check(figure(350, "sq_mi", "area_gained", quote), quote) is None
    share = "Kestria now controls roughly 20% of Norland's territory"
    assert check(figure(20, "percent", "share_controlled", share), share) is None


def test_a_figure_whose_number_is_not_in_its_quote_is_rejected() -> None:
    quote = "Kestria now controls roughly 20% of Norland's territory"
    assert check(figure(35, "percent", "share_controlled", quote), quote) == "figure_number_not_in_quote"


def test_the_prompt_examples_number_is_a_copy() -> None:
    quote = "Kestria now controls roughly 20% of Norland's territory"
    assert check(figure(40, "sq_mi", "area_gained", quote), quote, examples=(12.0, 40.0)) == "figure_copied_from_prompt"


def test_a_figure_in_the_wrong_unit_is_rejected() -> None:
    quote = "Kestrian forces have captured about 350 square miles of Norland since March"
    assert check(figure(350, "km2", "area_gained", quote), quote) == "figure_unit_not_in_quote"


def test_a_figure_whose_measure_contradicts_its_verb_is_rejected() -> None:
    quote = "Kestrian forces have captured about 350 square miles of Norland since March"
    assert check(figure(350, "sq_mi", "area_claimed", quote), quote) == "figure_measure_mismatch"
    assert check(figure(350, "sq_mi", "area_lost", quote), quote) == "figure_measure_mismatch"
    assert check(figure(350, "sq_mi", "other", quote), quote) is None  # "other" makes no claim about the verb


def test_a_number_about_casualties_is_not_a_territorial_figure() -> None:
    quote = "More than 1,200 people have been killed in the fighting"
    # The number is in the quote; the unit a model gives a casualty count is not.
    assert check(figure(1200, "km2", "area_lost", quote), quote) == "figure_unit_not_in_quote"


def test_a_figure_without_a_number_is_rejected() -> None:
    failure = figure_support(figure(None, None, "share_controlled", "most of the island"), ["most of the island"], ())
    assert failure is not None and failure.code == "figure_without_number"


# --- meetings ---------------------------------------------------------------------------------------------------


def test_a_meeting_still_to_come_is_kept() -> None:
    quote = "Varga will travel to Brill on Thursday to meet mediators from the Ostland Union"
    assert check(meeting(quote), quote) is None


def test_a_meeting_already_held_is_not_upcoming() -> None:
    quote = "Foreign Minister Ilse Varga met her Kestrian counterpart in Sarn last week, but the talks failed"
    assert check(meeting(quote), quote) == "meeting_not_upcoming"


def test_a_cancelled_meeting_is_rejected() -> None:
    quote = "A summit planned for Harl was cancelled"
    assert check(meeting(quote, ["Ostland Union"]), quote) == "meeting_called_off"
    boycott = meeting_support(["The opposition will not attend the talks due to begin on Friday"])
    assert boycott is not None and boycott.code == "meeting_called_off"


def test_a_past_weekday_is_not_a_future_meeting() -> None:
    failure = meeting_support(["The two presidents met on Thursday in Sarn"])
    assert failure is not None and failure.code == "meeting_not_upcoming"


# --- demands and views ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Tamm demanded that Kestria withdraw its troops.", "Kestria insists on guarantees.",
        "Kestrian troops must leave the valley, Tamm said.", "Tamm called on Kestria to halt the shelling.",
        "The envoy urged both sides to return to talks.", "Norland wants Kestria to pay reparations.",
        "Tamm set an ultimatum of 48 hours.", "If they do not withdraw, we will act by force, Tamm said.",
    ],
)  # fmt: skip
def test_a_demand_sentence_carries_a_demand(sentence: str) -> None:
    assert demand_support(sentence) is None


@pytest.mark.parametrize(
    "sentence",
    [
        "Tamm said the proposal was a serious basis for talks.",  # a view filed as a demand
        "Kestria controls about 20% of Norland.",  # a status report filed as a demand
        "Norland will not concede sovereignty over the valley, Tamm said.",  # a refusal
    ],
)
def test_a_view_or_a_status_report_is_not_a_demand(sentence: str) -> None:
    failure = demand_support(sentence)
    assert failure is not None and failure.code == "demand_not_in_quote"


def test_a_bare_event_is_not_a_view() -> None:
    failure = position_support("Kestrian tanks shelled the bridge at Dorn on Monday.")
    assert failure is not None and failure.code == "position_not_a_view"
    assert position_support("Tamm said the offensive had failed.") is None
    assert position_support("The offensive was “a disaster”, Tamm told reporters.") is None


# --- actors -----------------------------------------------------------------------------------------------------


def test_the_actor_must_be_named_or_referred_to() -> None:
    quote = "Prime Minister Arvo Tamm demanded that Kestria withdraw its troops from the Dorn valley"
    demand = Demand(demander="Arvo Tamm", addressee="Kestria", demand="Withdraw troops from Dorn valley",
                    consequence=None, evidence=[quote])  # fmt: skip
    assert check(demand, quote) is None
    inverted = demand.model_copy(update={"demander": "Ilse Varga"})
    assert check(inverted, quote) == "actor_not_in_quote"


def test_he_resolves_to_the_name_before_it() -> None:
    quote = "He said there could be no talks while Kestrian tanks stood on Norland soil"
    view = Position(holder="Arvo Tamm", topic="talks", stance="No talks while Kestrian tanks are in Norland.",
                    evidence=[quote])  # fmt: skip
    assert check(view, quote) is None
    assert check(view.model_copy(update={"holder": "Ilse Varga"}), quote) == "actor_not_in_quote"


def test_in_a_statement_the_unattributed_sentences_are_the_authors() -> None:
    text = (
        "Statement by Prime Minister Arvo Tamm on the Crisis in Dorn\n\n"
        "I am deeply troubled by the fighting in the Dorn valley. Kestria must withdraw its forces at once. "
        "Observers said the fighting was the worst in a decade."
    )

    def view(holder: str, quote: str) -> str | None:
        record = Position(holder=holder, topic="fighting in Dorn", stance="Deeply troubled by it.", evidence=[quote])
        failure = check_record(record, text, [locate(quote, text)])
        return failure.code if failure else None

    assert view("Arvo Tamm", "I am deeply troubled by the fighting in the Dorn valley") is None
    demand = Demand(demander="Arvo Tamm", addressee="Kestria", demand="Withdraw its forces at once",
                    consequence=None, evidence=["Kestria must withdraw its forces at once"])  # fmt: skip
    assert check_record(demand, text, [locate(demand.evidence[0], text)]) is None
    # The headline's other names are not its author; a sentence reporting someone else's words is not his.
    assert view("Dorn", "I am deeply troubled by the fighting in the Dorn valley") is None  # named in the quote
    assert view("Ilse Varga", "I am deeply troubled by the fighting in the Dorn valley") == "actor_not_in_quote"
    assert view("Arvo Tamm", "Observers said the fighting was the worst in a decade") == "actor_not_in_quote"
    # In a news report (no statement headline) "I" is not resolved to anyone.
    report = text.replace("Statement by Prime Minister Arvo Tamm on", "Tamm speaks out on")
    quote = "I am deeply troubled by the fighting in the Dorn valley"
    record = Position(holder="Arvo Tamm", topic="fighting", stance="Deeply troubled.", evidence=[quote])
    failure = check_record(record, report, [locate(quote, report)])
    assert failure is not None and failure.code == "actor_not_in_quote"


def test_capitals_and_adjectives_name_their_state() -> None:
    assert mentions("Russia", "The Kremlin said on Monday")
    assert mentions("Russia", "Russian officials said")
    assert mentions("Ukraine", "Kyiv rejected the plan")
    assert mentions("United States", "U.S. officials said")
    assert not mentions("Ukraine", "Moscow rejected the plan")
    assert actor_support(["Vladimir Putin"], "Moscow rejected the plan.", lambda: "") is not None


# --- one quote, several records; headlines -----------------------------------------------------------------------


def test_a_quote_shared_by_records_must_state_each_records_content() -> None:
    quote = "Prime Minister Arvo Tamm demanded that Kestria withdraw its troops from the Dorn valley"
    right = Demand(demander="Arvo Tamm", addressee="Kestria", demand="Withdraw troops from the Dorn valley",
                   consequence=None, evidence=[quote])  # fmt: skip
    stretched = Demand(demander="Arvo Tamm", addressee="Kestria", demand="Pay reparations for the war",
                       consequence=None, evidence=[quote])  # fmt: skip
    assert check_record(right, ARTICLE, [loc(quote)], shared=True) is None
    failure = check_record(stretched, ARTICLE, [loc(quote)], shared=True)
    assert failure is not None and failure.code == "quote_reused"


def test_a_headline_is_checked_like_any_quote() -> None:
    headline = "Kestria seizes ground in northern Norland, talks stall"
    # The body states a 350 figure: a figure resting on the headline instead is rejected for that.
    assert check(figure(350, "sq_mi", "area_gained", headline), headline) == "headline_evidence"
    # Nothing in the body restates this view; the headline itself holds no view.
    view = Position(holder="Arvo Tamm", topic="talks", stance="Talks stall.", evidence=[headline])
    assert check(view, headline) == "position_not_a_view"


def test_headline_evidence_when_the_body_states_the_same() -> None:
    text = "Tamm demands Kestrian withdrawal\n\nPrime Minister Arvo Tamm demanded a Kestrian withdrawal from Dorn."
    demand = Demand(demander="Arvo Tamm", addressee="Kestria", demand="Kestrian withdrawal from Dorn",
                    consequence=None, evidence=["Tamm demands Kestrian withdrawal"])  # fmt: skip
    failure = check_record(demand, text, [locate("Tamm demands Kestrian withdrawal", text)])
    assert failure is not None and failure.code == "headline_evidence"


# --- altered quotes ---------------------------------------------------------------------------------------------


def test_a_fuzzy_quote_that_changes_a_verb_number_or_negation_is_altered() -> None:
    assert altered("Kestria claims about 350 square miles", "Kestria has captured about 350 square miles")
    assert altered("Kestria holds about 30% of Norland", "Kestria holds about 20% of Norland")
    assert altered("Norland will concede the valley", "Norland will not concede the valley")
    assert not altered("Ukraine officials have insisted", "Ukrainian officials have insisted")
    assert not altered("Tamm calls the plan a basis", "Tamm called the plan a basis")
    claimed = locate("Kestrian forces have claimed about 350 square miles of Norland since March", ARTICLE)
    assert claimed.status == "altered" and claimed.start is not None


def test_sentence_bounds_skip_abbreviations() -> None:
    text = "The U.S. envoy said talks would resume. Gen. Ode disagreed."
    start = text.index("envoy")
    s, e = sentence_bounds(text, start, start + 5)
    assert text[s:e] == "The U.S. envoy said talks would resume."


# --- through the pipeline ---------------------------------------------------------------------------------------


def test_unsupported_records_are_moved_to_rejected_with_their_code() -> None:
    script = {
        "demands": {"demands": [
            {"demander": "Arvo Tamm", "addressee": "Kestria", "demand": "Withdraw troops from the Dorn valley",
             "consequence": None,
             "evidence": ["Prime Minister Arvo Tamm demanded that Kestria withdraw its troops from the Dorn valley"]},
            {"demander": "Arvo Tamm", "addressee": None, "demand": "Talks on a basis",
             "consequence": None, "evidence": ["Kestria now controls roughly 20% of Norland's territory"]},
        ]},
        "territorial_figures": {"territorial_figures": [
            {"territory": "Norland", "controller": "Kestria", "measure": "area_claimed", "value": 350,
             "unit": "sq_mi", "approximate": True, "period": None, "attributed_to": None,
             "evidence": ["Kestrian forces have claimed about 350 square miles of Norland since March"]},
        ]},
        "upcoming_meetings": {"upcoming_meetings": [
            {"participants": ["Ilse Varga"], "location": "Sarn", "when_text": "last week", "purpose": None,
             "status": "scheduled",
             "evidence": ["Foreign Minister Ilse Varga met her Kestrian counterpart in Sarn last week"]},
        ]},
    }  # fmt: skip
    result = summarize(ARTICLE, backend=fake(script), published="2026-03-05")
    assert [d.demand for d in result.summary.demands] == ["Withdraw troops from the Dorn valley"]
    codes = sorted(r.code for r in result.rejected)
    assert codes == ["altered_quote", "demand_not_in_quote", "meeting_not_upcoming"]
    assert result.grounding.counts.unsupported_items == 2
    assert result.grounding.counts.altered_quotes == 1
    assert all(r.reason for r in result.rejected)


# --- re-asking rejected records ---------------------------------------------------------------------------------

RETRY = "\nretry: |\n  Rejected:\n  {{ rejected }}\n  Answer again for these records only.\n"
BAD_DEMAND = {
    "demander": "Arvo Tamm", "addressee": "Kestria", "demand": "Withdraw its troops from the Dorn valley",
    "consequence": None, "evidence": ["Kestria now controls roughly 20% of Norland's territory"],
}  # fmt: skip
GOOD_DEMAND = {
    **BAD_DEMAND,
    "evidence": ["Prime Minister Arvo Tamm demanded that Kestria withdraw its troops from the Dorn valley"],
}


def retrying(tmp_path: Path, script: dict[str, Any]) -> tuple[Settings, FakeBackend, list[tuple[str, str]]]:
    """Settings with a prompt file that re-asks, and a fake backend that logs (call, last message) and answers
    each call name's answers in turn."""
    prompt = tmp_path / "retry.yaml"
    shipped = resources.files("summarizer.prompts").joinpath("extract.yaml").read_text(encoding="utf-8")
    prompt.write_text(re.sub(r"(?m)^retry:.*(\n  .*)*", "", shipped) + RETRY, encoding="utf-8")
    settings = Settings(backend="fake", prompt_file=prompt)
    turns = {name: list(answers) for name, answers in script.items()}
    log: list[tuple[str, str]] = []

    def answer(call: str, messages: list[dict[str, Any]]) -> Any:
        log.append((call, messages[-1]["content"]))
        queue = turns.get(call)
        if not queue:
            return EMPTY_ANSWERS[call]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return settings, FakeBackend(settings, answer), log


def test_a_rejected_record_is_re_asked_once_with_its_reason_and_kept_when_mended(tmp_path: Path) -> None:
    settings, backend, log = retrying(tmp_path, {"demands": [{"demands": [BAD_DEMAND]}, {"demands": [GOOD_DEMAND]}]})
    result = summarize(ARTICLE, backend=backend, settings=settings, published="2026-03-05")
    demand_calls = [text for call, text in log if call == "demands"]
    assert len(demand_calls) == 2
    assert "Rejected:" not in demand_calls[0]
    assert "Withdraw its troops from the Dorn valley" in demand_calls[1]
    assert "states no demand" in demand_calls[1]
    assert [d.evidence for d in result.summary.demands] == [GOOD_DEMAND["evidence"]]
    assert result.rejected == []  # the mended record (same key fields) replaces its rejected form
    assert [c.name for c in result.timings.calls][-1] == "demands/retry"
    assert result.usage.model_calls == len(log)


def test_a_re_asked_record_that_fails_again_stays_rejected_and_is_not_asked_a_third_time(tmp_path: Path) -> None:
    settings, backend, log = retrying(tmp_path, {"demands": [{"demands": [BAD_DEMAND]}]})
    result = summarize(ARTICLE, backend=backend, settings=settings, published="2026-03-05")
    assert [call for call, _ in log].count("demands") == 2
    assert result.summary.demands == []
    assert [r.code for r in result.rejected] == ["demand_not_in_quote"]  # the same record, listed once


def test_past_meetings_and_kept_records_are_not_re_asked(tmp_path: Path) -> None:
    past = {
        "participants": ["Ilse Varga"], "location": "Sarn", "when_text": "last week", "purpose": None,
        "status": "scheduled",
        "evidence": ["Foreign Minister Ilse Varga met her Kestrian counterpart in Sarn last week"],
    }  # fmt: skip
    script = {"demands": [{"demands": [GOOD_DEMAND]}], "upcoming_meetings": [{"upcoming_meetings": [past]}]}
    settings, backend, log = retrying(tmp_path, script)
    result = summarize(ARTICLE, backend=backend, settings=settings, published="2026-03-05")
    assert sorted(call for call, _ in log) == sorted(calls_for(ARTICLE))  # each call once
    assert [r.code for r in result.rejected] == ["meeting_not_upcoming"]


def test_without_a_retry_template_nothing_is_re_asked(tmp_path: Path) -> None:
    settings, backend, log = retrying(tmp_path, {"demands": [{"demands": [BAD_DEMAND]}, {"demands": [GOOD_DEMAND]}]})
    plain_prompt = tmp_path / "plain.yaml"
    shipped = resources.files("summarizer.prompts").joinpath("extract.yaml").read_text(encoding="utf-8")
    plain_prompt.write_text(re.sub(r"(?m)^retry:.*(\n  .*)*", "", shipped), encoding="utf-8")
    settings = settings.model_copy(update={"prompt_file": plain_prompt})
    result = summarize(ARTICLE, backend=backend, settings=settings, published="2026-03-05")
    assert [call for call, _ in log].count("demands") == 1
    assert result.summary.demands == []
