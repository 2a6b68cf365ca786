"""Shared pieces of the batch tests (no tests here): a corpus, a fake-server script, output checks."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from summarizer.schemas import SummaryResult

ARTICLE = (
    "Article {i}. Foreign Minister Ana Silva said talks on the ceasefire will resume in Geneva next week. "
    "The government demands that the border crossings reopen before any agreement."
)
# A grounded position and demand, plus one position whose quote is in no article (it is rejected).
SCRIPT: dict[str, Any] = {
    "overview": {
        "summary": "Talks on a ceasefire are to resume in Geneva.",
        "actors": [
            {
                "name": "Ana Silva",
                "kind": "person",
                "affiliation": None,
                "role": "Foreign Minister",
                "evidence": ["Foreign Minister Ana Silva said"],
            }
        ],
    },
    "positions": {
        "positions": [
            {
                "holder": "Ana Silva",
                "topic": "ceasefire talks",
                "stance": "Talks will resume in Geneva.",
                "evidence": ["talks on the ceasefire will resume in Geneva next week"],
            },
            {
                "holder": "Ana Silva",
                "topic": "sanctions",
                "stance": "Sanctions must stay.",
                "evidence": ["sanctions will stay in place until the last soldier leaves"],
            },
        ]
    },
    "demands": {
        "demands": [
            {
                "demander": "the government",
                "addressee": None,
                "demand": "reopen the border crossings",
                "consequence": None,
                "evidence": ["demands that the border crossings reopen before any agreement"],
            }
        ]
    },
}


def write_corpus(path: Path, n: int, *, bad: bool = True) -> set[str]:
    """A JSON Lines corpus of ``n`` good records (ids r0000...) plus, with ``bad``, one of each bad kind.
    Returns the ids the output must hold."""
    ids = set()
    with open(path, "w", encoding="utf-8") as file:
        for i in range(n):
            record_id = f"r{i:04d}"
            ids.add(record_id)
            file.write(json.dumps({"id": record_id, "text": ARTICLE.format(i=i), "published": "2025-11-27"}) + "\n")
        if bad:
            file.write(json.dumps({"id": "bad-empty", "text": "  \n "}) + "\n")
            file.write(json.dumps({"id": "bad-binary", "text": "\x01\x02\x03\x04" * 50}) + "\n")
            file.write(json.dumps({"id": "bad-large", "text": "word " * 1000}) + "\n")
            file.write(json.dumps({"id": "bad-both", "text": "a", "html": "<p>a</p>"}) + "\n")
            file.write("{not json at all\n")
            file.write("[1, 2, 3]\n")
            # Valid JSON no encoder should produce: a lone surrogate in the id and in the text; a date with a tail.
            file.write(json.dumps({"id": "bad-id-\udc80", "text": "Officials said talks resume."}) + "\n")
            file.write(json.dumps({"id": "bad-text", "text": "Talks \udc81 resume."}) + "\n")
            file.write(json.dumps({"id": "bad-date", "text": "Talks resume.", "published": "2025-11-27garbage"}) + "\n")
            ids |= {"bad-empty", "bad-binary", "bad-large", "bad-both", f"line-{n + 5}", f"line-{n + 6}"}
            ids |= {"bad-id-\udc80", "bad-text", "bad-date"}
    return ids


def read_output(path: Path) -> list[dict[str, Any]]:
    """Every line of a batch output, checking that none is torn."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "the output ends in a torn line"
    return [json.loads(line) for line in data.splitlines()]


def check_exactly_once(lines: list[dict[str, Any]], expected: set[str]) -> Counter[str]:
    """Assert one line per expected id and no other; return the counts per status."""
    per_id = Counter(line["id"] for line in lines)
    duplicated = {i: n for i, n in per_id.items() if n > 1}
    assert not duplicated, f"ids written more than once: {sorted(duplicated)[:10]}"
    assert set(per_id) == expected, (sorted(expected - set(per_id))[:10], sorted(set(per_id) - expected)[:10])
    for line in lines:
        if line["status"] == "done":
            SummaryResult.model_validate(line["result"])
        else:
            assert line["status"] == "failed" and set(line["error"]) == {"code", "message"}
    return Counter(line["status"] for line in lines)


def sigkill_when(args: list[str], ready: Callable[[], bool], *, timeout_s: float = 120, **popen: Any) -> None:
    """Run ``args``, wait until ``ready()`` (the command must still be running then), and kill it with SIGKILL."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    try:
        deadline = time.monotonic() + timeout_s
        while not ready() and time.monotonic() < deadline:
            assert proc.poll() is None, "the command ended before it could be killed"
            time.sleep(0.02)
        assert ready(), "the command never got to where it was to be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
