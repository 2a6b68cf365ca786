"""Splitting long articles on paragraph boundaries so each part fits one model context."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _pack(pieces: Iterable[str], limit: int, joiner: str) -> list[str]:
    """Consecutive pieces joined with ``joiner`` into parts of at most ``limit`` characters (a piece is never cut;
    the caller makes every piece fit)."""
    parts: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(joiner) + len(piece) > limit:
            parts.append(current)
            current = ""
        current = f"{current}{joiner}{piece}" if current else piece
    if current:
        parts.append(current)
    return parts


def _sentences(paragraph: str, limit: int) -> Iterable[str]:
    """The paragraph's sentences, any sentence over the limit hard-cut as a last resort."""
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > limit:
            yield sentence[:limit]
            sentence = sentence[limit:]
        yield sentence


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs, with any paragraph over the limit cut at sentence ends."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n", text):
        if not para.strip():
            continue
        out.extend([para] if len(para) <= limit else _pack(_sentences(para, limit), limit, " "))
    return out


def split_article(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters, each made of whole paragraphs where possible."""
    if len(text) <= limit:
        return [text]
    return _pack(_pieces(text, limit), limit, "\n\n")
