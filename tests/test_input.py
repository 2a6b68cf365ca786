from __future__ import annotations

import datetime as dt

import pytest

from summarizer._chunking import split_article
from summarizer._input import ArticleInput, prepare_article
from summarizer.errors import InputError, InputTooLargeError


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"text": ""}, "empty_input"),
        ({"text": "  \n\t  "}, "empty_input"),
        ({"text": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}, "binary_input"),
        ({"text": b"caf\xe9 au lait"}, "not_utf8"),
        ({"text": "ok\x00\x01\x02\x03"}, "binary_input"),
        ({"html": "<html><body><script>var x=1;</script></body></html>"}, "empty_input"),
        ({"text": "Fine.", "published": "last Tuesday"}, "bad_published"),
        ({}, "bad_input"),
    ],
)
def test_bad_input_names_the_problem(kwargs: dict, code: str) -> None:
    with pytest.raises(InputError) as info:
        prepare_article(ArticleInput(**kwargs))
    assert info.value.code == code


def test_too_large_input() -> None:
    with pytest.raises(InputTooLargeError, match="over the limit of 100"):
        prepare_article(ArticleInput("x" * 101), max_chars=100)


def test_text_is_normalised_and_dates_parsed() -> None:
    article = prepare_article(ArticleInput(b"\xef\xbb\xbfLine one.\r\nLine two.", published="2025-11-28"))
    assert article.text == "Line one.\nLine two."
    assert article.published == dt.date(2025, 11, 28)


def test_html_main_text_title_and_date_are_extracted() -> None:
    body = " ".join(["The foreign ministers met in Vell on Monday to discuss the ceasefire."] * 5)
    html = (
        "<html><head><title>Talks in Vell</title>"
        '<meta property="article:published_time" content="2025-11-20T08:00:00Z"></head>'
        f"<body><nav>Home | World</nav><article><h1>Talks in Vell</h1><p>{body}</p>"
        f"<p>{body}</p></article><footer>Cookie settings</footer></body></html>"
    )
    article = prepare_article(ArticleInput(html=html))
    assert "foreign ministers met in Vell" in article.text
    assert "Cookie settings" not in article.text
    assert article.title == "Talks in Vell"
    assert article.published == dt.date(2025, 11, 20)


def test_chunks_follow_paragraphs_and_cover_the_text() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 40 for i in range(10)]
    text = "\n\n".join(paragraphs)
    chunks = split_article(text, 700)
    assert len(chunks) > 1
    assert all(len(c) <= 700 for c in chunks)
    assert "\n\n".join(chunks).split() == text.split()
    assert all(c.startswith("Paragraph") for c in chunks)


def test_one_long_paragraph_is_cut_at_sentences() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    chunks = split_article(text, 300)
    assert all(len(c) <= 300 for c in chunks)
    assert all(c.rstrip().endswith(".") for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_a_sentence_longer_than_a_part_is_cut_and_the_text_keeps_its_order() -> None:
    text = "Short opening sentence. " + "x" * 650 + " Closing sentence here."
    chunks = split_article(text, 300)
    assert all(len(c) <= 300 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")  # nothing lost, nothing moved
