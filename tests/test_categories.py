"""The category registry (schemas/categories.py) is the one place categories are described, and every table the
code derives from it, or keeps beside it, covers every category."""

from __future__ import annotations

import typing

from summarizer.backends.fake import EMPTY_ANSWERS
from summarizer.evals import gold, report_html, scoring, similarity, terminal
from summarizer.evals.runfile import HEADLINE
from summarizer.pipeline import CALL_CATEGORIES
from summarizer.schemas import CALLS, CATEGORIES, CATEGORY, CLAIMS, ArticleSummary, MeetingDraft, category_of


def test_the_registry_lists_the_summarys_categories_with_their_records() -> None:
    lists = {k: f for k, f in ArticleSummary.model_fields.items() if k != "summary"}
    assert tuple(lists) == CATEGORIES
    for name, category in CATEGORY.items():
        assert category.name == name
        assert typing.get_args(lists[name].annotation) == (category.record,), name


def test_each_categorys_fields_are_fields_of_its_record() -> None:
    for category in CATEGORY.values():
        fields = set(category.record.model_fields)
        named = {*category.keys, *category.columns, *category.computed}
        named |= {f for f in (category.actor, category.content) if f is not None}
        assert named <= fields, category.name
        assert set(category.kinds) == fields - {"evidence"}, category.name


def test_name_fields_are_read_from_the_name_type() -> None:
    assert CATEGORY["actors"].name_fields == ("name", "affiliation")
    assert CATEGORY["positions"].name_fields == ("holder",)
    assert CATEGORY["demands"].name_fields == ("demander", "addressee")
    assert CATEGORY["territorial_figures"].name_fields == ("territory", "controller", "attributed_to")
    assert CATEGORY["upcoming_meetings"].name_fields == ("participants", "location")
    assert "topic" not in CATEGORY["positions"].name_fields  # the model's own words, not a name
    assert {
        "name", "affiliation", "holder", "demander", "addressee", "territory", "controller", "attributed_to",
        "location",
    } == similarity.NAME_FIELDS  # fmt: skip


def test_every_category_is_answered_by_one_call_and_drafts_belong_to_their_category() -> None:
    assert sorted(c for cats in CALL_CATEGORIES.values() for c in cats) == sorted(CATEGORIES)
    for category in CATEGORY.values():
        assert category.name in CALLS[category.call].model_fields
    assert category_of(MeetingDraft.model_construct()).name == "upcoming_meetings"
    assert set(EMPTY_ANSWERS) == set(CALLS)


def test_every_table_of_the_evals_covers_every_category() -> None:
    assert set(gold.FIELDS) == set(gold.REQUIRED) == set(scoring.KEY_WEIGHTS) == set(CATEGORIES)
    assert set(terminal.TITLES) == set(report_html.LETTER) == set(CATEGORIES)
    assert HEADLINE == CLAIMS == ("positions", "demands", "territorial_figures", "upcoming_meetings")
    for name, fields in gold.FIELDS.items():
        category = CATEGORY[name]
        assert set(fields) == set(category.kinds) - set(category.computed)
        assert set(gold.REQUIRED[name]) <= set(fields)
        assert set(scoring.KEY_WEIGHTS[name]) <= set(fields)
    assert len(set(report_html.LETTER.values())) == len(CATEGORIES)
