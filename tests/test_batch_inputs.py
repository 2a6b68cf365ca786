"""Batch input: directories and JSON Lines files, with every unreadable record turned into an error record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarizer import ArticleInput, InputError
from summarizer.batch import BatchRecord, content_id, count_records, read_records
from summarizer.errors import ErrorCode

TEXT = "Talks will resume in Geneva next week, the minister said."


def by_id(source: Path, max_chars: int = 1000) -> dict[str, BatchRecord]:
    records = list(read_records(source, max_chars=max_chars))
    assert len(records) == count_records(source)
    return {r.id: r for r in records}


def test_directory_ids_kinds_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "one.txt").write_text(TEXT)
    (tmp_path / "two.md").write_text(TEXT)
    (tmp_path / "page.html").write_text(f"<html><body><p>{TEXT}</p></body></html>")
    (tmp_path / "sub" / "three.txt").write_text(TEXT)
    (tmp_path / "same.txt").write_text(TEXT)
    (tmp_path / "same.md").write_text(TEXT)
    (tmp_path / "big.txt").write_text("x" * 4001)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / ".git" / "HEAD.txt").write_text("ref")
    records = by_id(tmp_path)
    assert sorted(records) == ["big", "one", "page", "same.md", "same.txt", "sub/three", "two"]
    assert records["one"].source == ArticleInput(text=TEXT.encode())
    assert records["page"].source is not None and records["page"].source.html is not None
    error = records["big"].error
    assert error is not None and error.code == "input_too_large"  # refused without reading it


def test_jsonl_records_and_their_errors(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "a", "text": TEXT, "title": "T", "url": "https://x.test/a", "published": "2025-11-27"}),
        json.dumps({"id": 7, "html": f"<p>{TEXT}</p>"}),
        json.dumps({"text": TEXT}),
        "",
        "{broken",
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "both", "text": TEXT, "html": TEXT}),
        json.dumps({"id": "neither"}),
        json.dumps({"id": "badtitle", "text": TEXT, "title": 5}),
        json.dumps({"id": True, "text": TEXT}),
        json.dumps({"id": "huge", "text": "x" * 30_000}),
        json.dumps({"id": "after", "text": TEXT}),
    ]
    source.write_text("\n".join(lines) + "\n")
    records = by_id(source, max_chars=1000)
    assert list(records) == [
        "a", "7", content_id(TEXT), "line-5", "line-6", "both", "neither", "badtitle", "line-10", "line-11", "after",
    ]  # fmt: skip
    a = records["a"]
    assert a.error is None and a.source == ArticleInput(TEXT, None, "T", "https://x.test/a", "2025-11-27")
    codes = {i: r.error.code for i, r in records.items() if r.error}
    assert codes == {
        "line-5": "bad_json",
        "line-6": "bad_record",
        "both": "bad_record",
        "neither": "bad_record",
        "badtitle": "bad_record",
        "line-10": "bad_record",
        "line-11": "input_too_large",
    }
    assert "line 5: invalid JSON" in str(records["line-5"].error)


def test_missing_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as info:
        read_records(tmp_path / "nope.jsonl", max_chars=10)
    assert info.value.code == ErrorCode.FILE_NOT_FOUND == "file_not_found"
