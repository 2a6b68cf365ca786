"""Turning what a caller sends (text, HTML, bytes) into a checked article, or a clear InputError."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .errors import ErrorCode, InputError, InputTooLargeError

#: Control characters other than tab, newline, vertical tab, form feed and carriage return.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")


@dataclass(frozen=True)
class ArticleInput:
    """One article as a caller gives it: exactly one of ``text`` or ``html`` (str, or UTF-8 bytes), and what is
    known about it. The library, the CLI, a batch record and an HTTP body all come down to this."""

    text: str | bytes | None = None
    html: str | bytes | None = None
    title: str | None = None
    url: str | None = None
    #: Publication date (ISO YYYY-MM-DD, a datetime is cut to its date): resolves "next Tuesday".
    published: str | dt.date | None = None


@dataclass
class Article:
    """A checked article: its plain text and the facts known about it."""

    text: str
    title: str | None = None
    url: str | None = None
    published: dt.date | None = None
    warnings: list[str] = field(default_factory=list)


#: A lone UTF-16 surrogate: valid in a JSON string ("\\udc80"), not text; UTF-8 cannot encode it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_bytes(data: bytes, *, what: str = "input") -> str:
    """Strict UTF-8 with a clear error for binary or mis-encoded data."""
    if b"\x00" in data[:65536]:
        raise InputError(
            f"{what} looks binary (contains NUL bytes); send UTF-8 text or HTML", code=ErrorCode.BINARY_INPUT
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} is not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); re-encode it as UTF-8",
            code=ErrorCode.NOT_UTF8,
        ) from exc
    return text


def _check_text(text: str, *, what: str) -> str:
    if LONE_SURROGATE.search(text):
        raise InputError(
            f"{what} contains a lone surrogate (an unpaired \\ud800-\\udfff escape from a broken encoder); "
            "re-encode it as UTF-8",
            code=ErrorCode.NOT_UTF8,
        )
    sample = text[:65536]
    controls = len(_CONTROL_CHARS.findall(sample))
    if "\x00" in sample or (sample and controls / len(sample) > 0.01):
        raise InputError(f"{what} looks binary (control characters); send UTF-8 text", code=ErrorCode.BINARY_INPUT)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{what} is empty or only whitespace; nothing to summarize", code=ErrorCode.EMPTY_INPUT)
    return text


def parse_published(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    text = value.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text).date()
    except ValueError:
        raise InputError(
            f"published date {value!r} is not an ISO date or date-time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM])",
            code=ErrorCode.BAD_PUBLISHED,
        ) from None


def _from_html(html: str) -> tuple[str, str | None, dt.date | None]:
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)
    if not text or not text.strip():
        raise InputError("no article text could be extracted from the HTML", code=ErrorCode.EMPTY_INPUT)
    meta = trafilatura.extract_metadata(html)
    title = getattr(meta, "title", None) if meta else None
    published = None
    if meta and getattr(meta, "date", None):
        try:
            published = dt.date.fromisoformat(str(meta.date)[:10])
        except ValueError:
            published = None
    return text, title, published


def prepare_article(source: ArticleInput, *, max_chars: int = 200_000) -> Article:
    """Validate and normalise one article. Raises InputError naming the problem."""
    text, html, title, url, published = source.text, source.html, source.title, source.url, source.published
    if (text is None) == (html is None):
        raise InputError("give exactly one of text or html", code=ErrorCode.BAD_INPUT)
    for name, value in (("title", title), ("url", url), ("published", published)):
        if isinstance(value, str) and LONE_SURROGATE.search(value):
            raise InputError(
                f"{name} contains a lone surrogate (\\ud800-\\udfff) that is not text", code=ErrorCode.NOT_UTF8
            )
    pub = parse_published(published)
    if html is not None:
        raw = decode_bytes(html, what="html") if isinstance(html, bytes) else html
        raw = _check_text(raw, what="html")
        if len(raw) > max_chars * 5:
            raise InputTooLargeError(len(raw), max_chars * 5)
        body, html_title, html_date = _from_html(raw)
        body = _check_text(body, what="article text")
        title = title or html_title
        pub = pub or html_date
    else:
        assert text is not None
        body = decode_bytes(text, what="text") if isinstance(text, bytes) else text
        body = _check_text(body, what="text")
    if len(body) > max_chars:
        raise InputTooLargeError(len(body), max_chars)
    return Article(text=body, title=title, url=url, published=pub)
