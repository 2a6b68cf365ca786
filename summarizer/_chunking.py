"""Splitting long articles on paragraph boundaries so each part fits one model context."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs, with any paragraph over the limit cut at sentence ends (or hard-cut as a last resort)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n", text):
        if not para.strip():
            continue
        if len(para) <= limit:
            out.append(para)
            continue
        buf = ""
        for sentence in _SENTENCE_END.split(para):
            while len(sentence) > limit:
                out.append(sentence[:limit])
                sentence = sentence[limit:]
            if buf and len(buf) + 1 + len(sentence) > limit:
                out.append(buf)
                buf = ""
            buf = f"{buf} {sentence}" if buf else sentence
        if buf:
            out.append(buf)
    return out


def split_article(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters, each made of whole paragraphs where possible."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        if current and len(current) + 2 + len(piece) > limit:
            chunks.append(current)
            current = ""
        current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks
