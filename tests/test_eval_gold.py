"""Gold files (SPEC §3): the seeds' gold loads, malformed gold is a clear error, fields follow the schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from summarizer.evals.gold import (
    FIELDS,
    GoldError,
    default_gold_dir,
    load_gold_dir,
    load_gold_file,
    parse_gold,
    resolve_article,
)
from summarizer.schemas import CATEGORIES, Actor, Demand, Meeting, Position, TerritorialFigure

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_GOLD = Path(__file__).resolve().parent / "fixtures" / "eval" / "gold"


def test_scored_fields_are_the_schema_fields() -> None:
    records = {
        "actors": Actor,
        "positions": Position,
        "demands": Demand,
        "territorial_figures": TerritorialFigure,
        "upcoming_meetings": Meeting,
    }
    assert tuple(FIELDS) == CATEGORIES
    for category, model in records.items():
        assert set(FIELDS[category]) == set(model.model_fields) - {"evidence", "value_km2"}, category


def test_seed_gold_loads_with_alternatives_nulls_and_optional_items() -> None:
    golds = load_gold_dir(ROOT / "evals" / "gold")
    assert [g.stem for g in golds] == ["000_4542c6a513510e75", "002_a68a044d0db4d684"]
    seed_000, seed_002 = golds
    assert seed_000.published is None and seed_002.published == dt.date(2025, 11, 28)
    putin = seed_000.items["positions"][0]
    assert putin.fields["holder"] == ("Vladimir Putin", "Putin") and not putin.optional
    assert any(item.optional for item in seed_000.items["positions"])
    assert None in seed_000.items["demands"][2].fields["addressee"]
    meeting = seed_002.items["upcoming_meetings"][0]
    assert len(meeting.fields["participants"][0]) == 2  # two participants, each with alternatives
    assert meeting.fields["date_from"] == (dt.date(2025, 12, 1),)
    assert seed_000.items["territorial_figures"][1].fields["value"] == (350.0,)
    for gold in golds:
        assert resolve_article(gold, None).parent == ROOT / "seeds"


def test_default_gold_dir_is_the_checkout_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert default_gold_dir() == ROOT / "evals" / "gold"


def test_articles_resolve_by_name_in_an_articles_dir(tmp_path: Path) -> None:
    gold_file = tmp_path / "gold" / "kaldor_talks.yaml"
    gold_file.parent.mkdir()
    gold_file.write_text("article: nowhere/kaldor_talks.txt\npublished: null\n", encoding="utf-8")
    gold = load_gold_file(gold_file)
    with pytest.raises(GoldError, match="pass --articles"):
        resolve_article(gold, None)
    articles = FIXTURE_GOLD.parent / "articles"
    assert resolve_article(gold, articles) == articles / "kaldor_talks.txt"
    no_path = parse_gold(tmp_path / "gold" / "kaldor_truce.yaml", {"published": None})
    assert resolve_article(no_path, articles) == articles / "kaldor_truce.txt"


BASE: dict[str, Any] = {"article": "a.txt", "published": None}
POSITION = {"holder": "A", "topic": "B", "stance": "C"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**BASE, "positons": []}, r"unknown top-level key\(s\) \['positons'\]"),
        ({**BASE, "positions": [{**POSITION, "stanse": "x"}]}, r"positions\[0\]: unknown field\(s\) \['stanse'\]"),
        (
            {**BASE, "positions": [{"holder": "A", "topic": "B"}]},
            r"positions\[0\]: missing required field\(s\) \['stance'\]",
        ),
        ({**BASE, "actors": [{"name": "A", "kind": "country"}]}, r"actors\[0\]\.kind: 'country' is not one of"),
        ({**BASE, "territorial_figures": [{"territory": "X", "value": "20%", "unit": "percent"}]}, r"\.value: '20%'"),
        ({**BASE, "positions": [{**POSITION, "holder": []}]}, r"\.holder: an empty list of alternatives"),
        ({**BASE, "positions": [{**POSITION, "optional": "yes"}]}, r"\.optional: expected true or false"),
        ({**BASE, "upcoming_meetings": [{"participants": "A and B"}]}, r"participants: expected a non-empty list"),
        ({**BASE, "upcoming_meetings": [{"participants": [["A", None]]}]}, r"a participant cannot be null"),
        ({**BASE, "upcoming_meetings": [{"participants": ["A"], "date_from": "next week"}]}, r"not an ISO date"),
        ({**BASE, "published": "28 November"}, r"published: '28 November' is not an ISO date"),
        ({**BASE, "demands": {"demander": "A"}}, r"demands must be a list"),
        (["not", "a", "mapping"], r"expected a mapping"),
    ],
)
def test_malformed_gold_is_a_clear_error(data: Any, message: str) -> None:
    with pytest.raises(GoldError, match=message) as info:
        parse_gold(Path("bad.yaml"), data)
    assert info.value.code == "bad_gold" and "bad.yaml" in str(info.value)


def test_unreadable_or_missing_gold(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("positions: [unclosed\n", encoding="utf-8")
    with pytest.raises(GoldError, match="not valid YAML"):
        load_gold_dir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GoldError, match="no gold files"):
        load_gold_dir(tmp_path / "empty")
    with pytest.raises(GoldError, match="gold directory not found"):
        load_gold_dir(tmp_path / "missing")
