"""The batch command killed with SIGKILL at random points and resumed, against an endpoint that fails a fifth of its
requests and a corpus with poison records: every record exactly once, no torn line."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from summarizer.batch import state_path
from summarizer.testing.fake_openai import FakeOpenAIServer

from .test_batch_helpers import SCRIPT, check_exactly_once, read_output, write_corpus

RECORDS = 250
KILLS = 5
RUN_TIMEOUT_S = 300


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _committed_end(out: Path) -> int:
    with closing(sqlite3.connect(state_path(out))) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'end'").fetchone()
    return int(row[0]) if row else 0


def _complete_lines(path: Path) -> list[bytes]:
    data = path.read_bytes() if path.exists() else b""
    return data.split(b"\n")[:-1]  # whatever follows the last newline is a torn tail


def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = write_corpus(source, RECORDS)
    rng = random.Random(6)
    exe = Path(sys.executable).with_name("summarizer")
    kills, torn_tails, uncommitted = 0, 0, 0
    faults = ("500", "429", "disconnect", "truncated", "invalid")  # each retried or re-asked by the client
    with FakeOpenAIServer(SCRIPT, latency_ms=5, fault_rate=0.2, fault_kinds=faults, seed=6) as server:
        args = [str(exe), "batch", str(source), "--out", str(out), "--base-url", server.base_url]
        args += ["--concurrency", "8", "--no-cache", "--max-input-chars", "2000", "--max-retries", "8"]
        args += ["--max-reasks", "5"]
        for _ in range(KILLS):
            proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                # let this run start writing, then kill it at a random moment
                start, deadline = _size(out), time.monotonic() + 60
                while _size(out) == start and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.8))
                if proc.poll() is not None:
                    break  # it finished first
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                kills += 1
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            data = out.read_bytes()
            torn_tails += bool(data) and not data.endswith(b"\n")
            uncommitted += len(data) > _committed_end(out)
            # even straight after a kill, no record has two complete lines
            ids = Counter(json.loads(line)["id"] for line in _complete_lines(out))
            assert max(ids.values()) == 1
        assert kills >= 3, "the batch finished before it could be killed enough times"
        final = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert final.returncode == 1, final.stderr  # the bad records failed; everything else is done
    statuses = check_exactly_once(read_output(out), expected)
    assert statuses["done"] == RECORDS
    assert statuses["failed"] == len(expected) - RECORDS
    assert "done" in final.stderr and "re-run with --retry-failed" in final.stderr
    print(f"{kills} kills; {torn_tails} left a torn last line, {uncommitted} a line the state had not committed")
