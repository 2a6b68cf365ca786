"""The harness end to end on two invented articles (tests/fixtures/eval) with a scripted fake backend.

The expected figures below were worked out by hand from the gold files and tests/fixtures/eval/answers.json:

kaldor_talks: positions 2 TP (one by the alias "Varga") + 1 FP (the monitoring mission's "view");
  demand 1 TP (consequence left empty: a wrong field); figures 2 TP (310.8 km² matches the gold's 120 sq mi);
  meeting 1 TP with dates resolved by code to Tuesday 2031-03-18.  -> TP 6, FP 1, FN 0.
kaldor_truce: positions 2 TP (the second matches an optional item) and one ungrounded item rejected by the
  pipeline; demands 1 TP + 1 FP (a reworded duplicate); figure 54 km² vs gold 45 km² -> 1 FP + 1 FN;
  meeting not predicted -> 1 FN.  -> TP 3, FP 2, FN 2.
Headline micro: TP 9, FP 3, FN 2 -> P 9/12, R 9/11, F1 18/23. Actors: TP 5, FP 0, FN 2.
Grounding: 17 of 18 predicted items grounded. Field accuracy: 42 of 43 compared fields correct.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from summarizer import Settings
from summarizer.backends.fake import FakeBackend
from summarizer.errors import InputError
from summarizer.evals.harness import ArticleRun, EvalOptions, run_eval
from summarizer.evals.report_html import Span, highlight, render_report
from summarizer.evals.runfile import PRF, EvalRun, load_run

from .conftest import FIXTURES

EVAL = FIXTURES / "eval"
ANSWERS: dict[str, dict[str, Any]] = json.loads((EVAL / "answers.json").read_text(encoding="utf-8"))


def is_talks(messages: list[dict[str, Any]]) -> bool:
    """Which article a call is about (the article is in the first user message; re-asks append more)."""
    return "Lena Varga" in messages[1]["content"]


def scripted(call: str, messages: list[dict[str, Any]]) -> Any:
    return ANSWERS["kaldor_talks" if is_talks(messages) else "kaldor_truce"][call]


def evaluate(options: EvalOptions, script: Any = scripted) -> tuple[EvalRun, list[ArticleRun]]:
    settings = Settings(backend="fake")
    backend = FakeBackend(settings, script=script) if options.replay_dir is None else None
    return asyncio.run(run_eval(settings, options, backend=backend))


@pytest.fixture(scope="module")
def fixture_run() -> tuple[EvalRun, list[ArticleRun]]:
    return evaluate(EvalOptions(gold_dir=EVAL / "gold"))


def counts(run: EvalRun, stem: str) -> dict[str, tuple[int, int, int]]:
    [article] = [a for a in run.articles if a.stem == stem]
    return {c: (s.scores.tp, s.scores.fp, s.scores.fn) for c, s in article.categories.items()}


def test_fixture_articles_score_to_the_hand_computed_values(fixture_run: tuple[EvalRun, list[ArticleRun]]) -> None:
    run, _ = fixture_run
    assert counts(run, "kaldor_talks") == {
        "actors": (3, 0, 0),
        "positions": (2, 0, 0),  # the monitoring mission's view rests on a quote that does not state it: rejected
        "demands": (1, 0, 0),
        "territorial_figures": (2, 0, 0),
        "upcoming_meetings": (1, 0, 0),
    }
    assert counts(run, "kaldor_truce") == {
        "actors": (2, 0, 2),
        "positions": (2, 0, 0),
        "demands": (1, 1, 0),
        "territorial_figures": (0, 0, 1),  # 54 km2 where the quote says 45: rejected, not a false positive
        "upcoming_meetings": (0, 0, 1),
    }
    totals = run.totals
    assert totals.micro == PRF.of(9, 1, 2)
    assert totals.micro.precision == pytest.approx(9 / 10) and totals.micro.recall == pytest.approx(9 / 11)
    assert totals.micro.f1 == pytest.approx(18 / 21)
    assert totals.rejected_by == {"ungrounded": 1, "content_not_in_quote": 1, "figure_number_not_in_quote": 1}
    assert totals.categories["actors"] == PRF.of(5, 0, 2)
    assert totals.grounding_rate == pytest.approx(15 / 18)  # kept / predicted
    assert totals.field_accuracy == pytest.approx(42 / 43)
    assert totals.fields["demands"]["consequence"].correct == 1 and totals.fields["demands"]["consequence"].total == 2
    assert totals.schema_valid_rate == 1.0 and totals.articles == 2
    assert run.provenance.backend == "fake" and run.provenance.mode == "live"
    assert run.provenance.prompt_version and run.provenance.schema_version == "1"


def test_fixture_details_the_alias_unit_dates_and_the_rejected_item(
    fixture_run: tuple[EvalRun, list[ArticleRun]],
) -> None:
    _, runs = fixture_run
    talks, truce = runs
    assert talks.score.published == "2031-03-14" and truce.score.published is None
    assert talks.result is not None and truce.result is not None
    meeting = talks.result.summary.upcoming_meetings[0]
    assert (meeting.date_from, meeting.date_to) == (dt.date(2031, 3, 18), dt.date(2031, 3, 18))
    match = talks.score.categories["upcoming_meetings"].matches[0]
    assert match.fields["date_from"] and match.fields["date_to"]
    area = [m for m in talks.score.categories["territorial_figures"].matches if m.gold == 1]
    assert area and area[0].fields["value"] and area[0].fields["unit"]
    assert talks.score.categories["positions"].matches[0].fields["holder"]  # "Varga" for "Lena Varga"
    assert [r.category for r in truce.result.rejected] == ["positions", "territorial_figures"]
    assert [r.code for r in truce.result.rejected] == ["ungrounded", "figure_number_not_in_quote"]
    assert truce.score.rejected == 2 and (truce.score.grounded_items, truce.score.items) == (6, 8)
    missed = truce.score.categories["upcoming_meetings"].missed[0]
    assert missed.evidence[0].startswith("A follow-up meeting")


def test_record_then_replay_gives_the_same_scores(
    tmp_path: Path, fixture_run: tuple[EvalRun, list[ArticleRun]]
) -> None:
    recorded, _ = evaluate(EvalOptions(gold_dir=EVAL / "gold", record_dir=tmp_path / "rec"))
    files = sorted(p.name for p in (tmp_path / "rec").iterdir())
    assert files == ["kaldor_talks.json", "kaldor_truce.json"]
    data = json.loads((tmp_path / "rec" / "kaldor_talks.json").read_text(encoding="utf-8"))
    assert data["_meta"]["backend"] == "fake" and data["_meta"]["article"] == "kaldor_talks.txt"
    assert [p["holder"] for p in data["positions"][0]["positions"]] == [
        "Varga",
        "Tomas Reik",
        "Coastal League monitoring mission",
    ]
    replayed, _ = evaluate(EvalOptions(gold_dir=EVAL / "gold", replay_dir=tmp_path / "rec"))
    assert replayed.provenance.mode == "replay" and replayed.provenance.timing_source == "recorded"
    assert replayed.totals.micro == recorded.totals.micro == fixture_run[0].totals.micro
    assert replayed.totals.categories == recorded.totals.categories
    assert replayed.totals.mean_prompt_tokens == recorded.totals.mean_prompt_tokens


def test_replay_without_a_recording_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no recorded answers for kaldor_talks"):
        evaluate(EvalOptions(gold_dir=EVAL / "gold", replay_dir=tmp_path))


def test_an_answer_that_never_validates_counts_against_schema_validity() -> None:
    def script(call: str, messages: list[dict[str, Any]]) -> Any:
        if call == "demands" and is_talks(messages):
            return '{"demands": [{"demander": "Varga"'  # truncated JSON, every attempt
        return scripted(call, messages)

    run, runs = evaluate(EvalOptions(gold_dir=EVAL / "gold"), script)
    talks = run.articles[0]
    assert not talks.schema_valid and talks.error and talks.error.startswith("invalid_model_output")
    assert runs[0].result is None and talks.micro == PRF.of(0, 0, 6)
    assert run.totals.schema_valid_rate == 0.5
    assert run.totals.micro == PRF.of(3, 1, 8)


def test_run_file_round_trip_and_headline_baseline(
    tmp_path: Path, fixture_run: tuple[EvalRun, list[ArticleRun]]
) -> None:
    run, _ = fixture_run
    run.save(tmp_path / "run.json")
    assert load_run(tmp_path / "run.json") == run
    run.headline().save(tmp_path / "baseline.json")
    baseline = load_run(tmp_path / "baseline.json")
    assert baseline.articles == [] and baseline.totals == run.totals
    (tmp_path / "bad.json").write_text('{"format": 1}', encoding="utf-8")
    with pytest.raises(InputError, match="not an eval run file"):
        load_run(tmp_path / "bad.json")


FALSE_POSITIVE_QUOTE = "release 200 prisoners taken during the winter offensive"


def spans_with(html: str, css: str) -> list[str]:
    pattern = r'<span class="([^"]*)" title="[^"]*">(.*?)</span>'
    return [text for classes, text in re.findall(pattern, html, flags=re.S) if css in classes.split()]


def test_html_report_is_self_contained_and_highlights_the_evidence(
    fixture_run: tuple[EvalRun, list[ArticleRun]],
) -> None:
    html = render_report(*fixture_run)
    assert "<script" not in html and "<link" not in html and not re.search(r"(src|href)=\"?https?:", html)
    assert html.count('<section class="article">') == 2
    talks, truce = html.split('<section class="article">')[1:]
    # The false positive's evidence, exactly the words it quotes (offsets from the result's grounding); the
    # monitoring mission's unsupported view was rejected, so nothing of it is shown as a prediction.
    assert spans_with(talks, "pred-fp") == []
    assert "".join(spans_with(truce, "pred-fp")) == FALSE_POSITIVE_QUOTE
    # The missed meeting's gold evidence is marked as missed.
    missed = "".join(spans_with(truce, "gold-missed"))
    assert "A follow-up meeting between Arvenian and Belorian military delegations" in missed
    # A matched figure: predicted and gold evidence cover the same words.
    assert "Beloria controls about 40% of the Kaldor Valley" in spans_with(talks, "pred-matched")
    assert "Beloria controls about 40% of the Kaldor Valley" in spans_with(talks, "gold-matched")


def test_highlight_escapes_the_text_and_splits_overlapping_spans() -> None:
    text = "A <b> said B & C agreed."
    marks = [Span(0, 9, "pred-matched", "P1", True), Span(6, 16, "gold-missed", "gP1", False)]
    assert str(highlight(text, marks)) == (
        '<sup class="tag">P1</sup><span class="pred-matched" title="P1">A &lt;b&gt; </span>'
        '<span class="gold-missed pred-matched" title="P1 gP1">sai</span>'
        '<span class="gold-missed" title="gP1">d B &amp; C</span> agreed.'
    )
