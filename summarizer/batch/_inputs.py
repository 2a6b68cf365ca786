"""Reading a batch's input lazily: a directory of article files, or a JSON Lines file of records.

A record that cannot be read (binary, too large, an invalid JSON line, a line missing its text) is
still yielded, with ``error`` set, so it becomes an error line in the output instead of stopping the
batch. Records are read one at a time; nothing holds the whole corpus in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._input import LONE_SURROGATE, ArticleInput
from ..errors import ErrorCode, InputError, InputTooLargeError
from ._engine import BatchRecord

SUFFIXES = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html"}
HTML_FACTOR = 5  # HTML may be this many times max_input_chars before its text is extracted
BYTES_PER_CHAR = 4  # UTF-8: a file over 4 bytes per allowed character is over the limit for sure


def content_id(content: str | bytes) -> str:
    """The id of a record given without one: a hash of its content."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return "sha256:" + hashlib.sha256(data).hexdigest()[:24]


def article_files(root: Path) -> list[tuple[str, Path]]:
    """(id, path) of every article file under ``root``, sorted. The id is the path relative to ``root``
    without its suffix (the file stem at the top level), or with it where two files would share an id."""
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    stems: dict[str, int] = {}
    for path in files:
        key = path.relative_to(root).with_suffix("").as_posix()
        stems[key] = stems.get(key, 0) + 1
    out = []
    for path in files:
        rel = path.relative_to(root)
        key = rel.with_suffix("").as_posix()
        out.append((key if stems[key] == 1 else rel.as_posix(), path))
    return out


def _file_record(record_id: str, path: Path, max_chars: int) -> BatchRecord:
    kind = SUFFIXES[path.suffix.lower()]
    limit = max_chars * BYTES_PER_CHAR * (HTML_FACTOR if kind == "html" else 1)
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputTooLargeError(size, limit)  # too large even before decoding: not read at all
        data = path.read_bytes()
    except OSError as exc:
        return BatchRecord(
            record_id, error=InputError(f"cannot read {path}: {exc.strerror}", code=ErrorCode.UNREADABLE)
        )
    except InputError as exc:
        return BatchRecord(record_id, error=exc)
    if kind == "html":
        return BatchRecord(record_id, ArticleInput(html=data))
    return BatchRecord(record_id, ArticleInput(text=data))


def _line_error(number: int, message: str, code: ErrorCode = ErrorCode.BAD_RECORD) -> BatchRecord:
    return BatchRecord(f"line-{number}", error=InputError(f"line {number}: {message}", code=code))


def _str_field(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{name!r} must be a string, not {type(value).__name__}", code=ErrorCode.BAD_RECORD)


def record_from_json(obj: Any, *, number: int) -> BatchRecord:
    """One JSON Lines record ``{id?, text|html, title?, url?, published?}``; errors become error records."""
    if not isinstance(obj, dict):
        return _line_error(number, f"expected a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    if isinstance(raw_id, bool) or (raw_id is not None and not isinstance(raw_id, str | int)):
        return _line_error(number, f"'id' must be a string or an integer, not {type(raw_id).__name__}")
    text, html = obj.get("text"), obj.get("html")
    content = text if text is not None else html
    record_id = str(raw_id) if raw_id is not None and str(raw_id).strip() else None
    if record_id is None and isinstance(content, str):
        record_id = content_id(content.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
    if record_id is None:
        return _line_error(number, "no 'text' or 'html' string (and no 'id')")
    broken = [f"'{k}'" for k, v in obj.items() if isinstance(v, str) and LONE_SURROGATE.search(v)]
    if broken:
        message = f"line {number}: {', '.join(broken)} contain(s) a lone surrogate (\\ud800-\\udfff) that is not text"
        return BatchRecord(record_id, error=InputError(message, code=ErrorCode.NOT_UTF8))
    try:
        if (text is None) == (html is None):
            raise InputError("give exactly one of 'text' or 'html'", code=ErrorCode.BAD_RECORD)
        if not isinstance(content, str):
            raise InputError(f"'{'text' if text is not None else 'html'}' must be a string", code=ErrorCode.BAD_RECORD)
        source = ArticleInput(
            text,
            html,
            title=_str_field(obj, "title"),
            url=_str_field(obj, "url"),
            published=_str_field(obj, "published"),
        )
        record = BatchRecord(record_id, source)
    except InputError as exc:
        return BatchRecord(record_id, error=InputError(f"line {number}: {exc.message}", code=exc.code))
    return record


def _jsonl_records(path: Path, max_chars: int) -> Iterator[BatchRecord]:
    limit = max_chars * BYTES_PER_CHAR * HTML_FACTOR + 4096
    with open(path, "rb") as file:
        number = 0
        while True:
            raw = file.readline(limit + 1)
            if not raw:
                return
            number += 1
            if len(raw) > limit and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the oversized line
                    raw = file.readline(1 << 20)
                yield _line_error(number, f"line longer than {limit:,} bytes", code=ErrorCode.INPUT_TOO_LARGE)
                continue
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except UnicodeDecodeError:
                yield _line_error(number, "not valid UTF-8", code=ErrorCode.NOT_UTF8)
                continue
            except ValueError as exc:
                yield _line_error(number, f"invalid JSON ({exc})", code=ErrorCode.BAD_JSON)
                continue
            yield record_from_json(obj, number=number)


def read_records(source: Path, *, max_chars: int) -> Iterator[BatchRecord]:
    """The records of a batch input: a directory of .txt/.md/.html files or a JSON Lines file."""
    if source.is_dir():
        return (_file_record(record_id, path, max_chars) for record_id, path in article_files(source))
    if source.is_file():
        return _jsonl_records(source, max_chars)
    raise InputError(f"no such file or directory: {source}", code=ErrorCode.FILE_NOT_FOUND)


def count_records(source: Path) -> int:
    """How many records ``read_records`` will yield (for the progress bar's total)."""
    if source.is_dir():
        return len(article_files(source))
    with open(source, "rb") as file:
        return sum(1 for line in file if line.strip())
