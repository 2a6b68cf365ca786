"""The CLI's batch store: a JSON Lines output file plus a small SQLite state file beside it.

Each outcome is one line, ``{"id", "status": "done", "result"}`` or ``{"id", "status": "failed",
"error": {"code", "message"}}``, appended with a single ``write`` and flushed to disk, and only then
recorded in the state file (``<out>.state.sqlite3``: per id its status and the byte range of its line,
plus the committed length of the output). Reopening the store reconciles the two before anything runs:

- output longer than committed: the tail (a torn line, or a line whose state commit never happened) is
  cut off, so its record runs again and ends up in the file once;
- output shorter than committed, or no state file at all: the state is rebuilt from the output's lines
  (a torn last line is cut off);
- a compaction interrupted half-way is finished.

``retry_failed`` re-runs records that failed in earlier runs; the new line supersedes the old one, and
superseded lines are removed (compaction: copy the lines that count to a temporary file, commit their new
offsets together with a "compacting" marker, rename, clear the marker) when the store closes or reopens.
So after a run completes the file holds exactly one line per id, in completion order. An exclusive lock
keeps two processes from writing to the same output.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..schemas import SummaryResult
from ._engine import RecordError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, run INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_offset ON records (offset);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state.sqlite3")


def state_key(record_id: str) -> str | bytes:
    """The id as the state file keys it: the id itself, or, for an id UTF-8 cannot encode (a lone surrogate such
    as "x\\udc80" from a broken upstream encoder, valid in JSON), its bytes with the surrogates kept, stored as a
    BLOB, which never equals any text id."""
    try:
        record_id.encode("utf-8")
    except UnicodeEncodeError:
        return record_id.encode("utf-8", "surrogatepass")
    return record_id


def json_line(entry: dict[str, Any]) -> bytes:
    """One output line: UTF-8 JSON, with \\u escapes only where a string cannot be UTF-8 (lone surrogates), so
    the id is kept exactly as given."""
    try:
        return (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(entry) + "\n").encode("ascii")


class JsonlStore:
    """``BatchStore`` over ``out`` (JSON Lines) and its state file. Use as a context manager."""

    def __init__(self, out: Path, *, retry_failed: bool = False) -> None:
        # The real file, whatever the path given: a symlink, a relative path or ".." cannot open a second writer
        # of the same output under another name (the lock and the state file follow the real file).
        self.out = Path(os.path.realpath(out))
        self.retry_failed = retry_failed
        if self.out.is_dir():
            raise InputError(f"--out {self.out} is a directory; give a file path such as results.jsonl")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.out.with_name(self.out.name + ".compact.tmp")
        state = state_path(self.out)
        self._lock_fd = os.open(state, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise InputError(f"another batch is writing to {self.out}; wait for it or choose another --out") from None
        self._db = sqlite3.connect(state, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)
        self._reconcile()
        self.run = int(self._meta("run", "0")) + 1
        self._set_meta("run", str(self.run))
        self._fd = os.open(self.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._end = int(self._meta("end", "0"))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-store")

    # -- the BatchStore protocol ---------------------------------------------------------------------
    async def should_run(self, record_id: str) -> bool:
        return await self._in_thread(self._should_run, record_id)

    async def record_result(self, record_id: str, result: SummaryResult) -> None:
        line = f'{{"id":{json.dumps(record_id)},"status":"done","result":{result.model_dump_json()}}}\n'
        await self._in_thread(self._append, record_id, "done", line.encode("utf-8"))

    async def record_error(self, record_id: str, error: RecordError) -> None:
        entry = {"id": record_id, "status": "failed", "error": error.to_json()}
        await self._in_thread(self._append, record_id, "failed", json_line(entry))

    # -- what is in the output -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Records per status in the output (done, failed)."""
        rows = self._db.execute("SELECT status, COUNT(*) FROM records GROUP BY status").fetchall()
        return {"done": 0, "failed": 0} | {str(status): int(n) for status, n in rows}

    def close(self) -> None:
        if self._fd < 0:
            return
        self._pool.shutdown(wait=True)
        os.close(self._fd)
        self._fd = -1
        self._compact()
        self._db.close()
        os.close(self._lock_fd)

    def __enter__(self) -> JsonlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals (run on the store's single thread, or before it starts) ---------------------------
    async def _in_thread(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)

    def _should_run(self, record_id: str) -> bool:
        row = self._db.execute("SELECT status, run FROM records WHERE id = ?", (state_key(record_id),)).fetchone()
        if row is None:
            return True
        status, run = row
        return status == "failed" and self.retry_failed and run < self.run

    def _append(self, record_id: str, status: str, data: bytes) -> None:
        offset = self._end
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fdatasync(self._fd)
            self._commit(record_id, status, offset, len(data))
        except BaseException:
            os.ftruncate(self._fd, offset)  # never leave a line the state does not know about
            raise
        self._end = offset + len(data)

    def _commit(self, record_id: str, status: str, offset: int, length: int) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            key = state_key(record_id)
            old = self._db.execute("SELECT length FROM records WHERE id = ?", (key,)).fetchone()
            if old is not None:
                superseded = int(self._meta("superseded", "0")) + int(old[0])
                self._set_meta("superseded", str(superseded))
            self._db.execute(
                "INSERT OR REPLACE INTO records (id, status, offset, length, run) VALUES (?, ?, ?, ?, ?)",
                (key, status, offset, length, self.run),
            )
            self._set_meta("end", str(offset + length))

    def _meta(self, key: str, default: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def _set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _reconcile(self) -> None:
        if self._meta("compacting", "") and self._tmp.exists():
            os.replace(self._tmp, self.out)  # the new offsets were committed; finish the rename
        self._set_meta("compacting", None)
        self._tmp.unlink(missing_ok=True)
        size = self.out.stat().st_size if self.out.exists() else 0
        end = int(self._meta("end", "0"))
        if size > end and (end > 0 or self._has_rows()):
            os.truncate(self.out, end)  # an uncommitted tail: it runs again
        elif size != end:
            self._rebuild()
        self._compact()

    def _has_rows(self) -> bool:
        return self._db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is not None

    def _rebuild(self) -> None:
        """State from the output's own lines (state file lost, or output changed behind our back)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM records")
            superseded = 0
            end = 0
            for record_id, status, offset, length in scan_output(self.out):
                key = state_key(record_id)
                old = self._db.execute("SELECT length FROM records WHERE id = ?", (key,)).fetchone()
                superseded += int(old[0]) if old else 0
                self._db.execute(
                    "INSERT OR REPLACE INTO records (id, status, offset, length, run) VALUES (?, ?, ?, ?, 0)",
                    (key, status, offset, length),
                )
                end = offset + length
            self._set_meta("superseded", str(superseded))
            self._set_meta("end", str(end))
        if self.out.exists() and self.out.stat().st_size > end:
            os.truncate(self.out, end)

    def _compact(self) -> None:
        """Rewrite the output without superseded lines, crash-safely (see the module docstring)."""
        if int(self._meta("superseded", "0")) == 0:
            return
        with open(self.out, "rb") as src, open(self._tmp, "wb") as dst:
            for offset, length in self._db.execute("SELECT offset, length FROM records ORDER BY offset"):
                src.seek(offset)
                dst.write(src.read(length))
            dst.flush()
            os.fsync(dst.fileno())
            new_end = dst.tell()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DROP TABLE IF EXISTS temp.moved")
            self._db.execute(
                "CREATE TEMP TABLE moved AS SELECT id, SUM(length) OVER (ORDER BY offset ROWS UNBOUNDED PRECEDING) "
                "- length AS new_offset FROM records"
            )
            self._db.execute("UPDATE records SET offset = (SELECT new_offset FROM moved WHERE moved.id = records.id)")
            self._db.execute("DROP TABLE temp.moved")
            self._set_meta("end", str(new_end))
            self._set_meta("superseded", "0")
            self._set_meta("compacting", "1")
        os.replace(self._tmp, self.out)
        _fsync_dir(self.out.parent)
        self._set_meta("compacting", None)


def scan_output(path: Path) -> Iterator[tuple[str, str, int, int]]:
    """(id, status, offset, length) of each line of an output file; stops before a torn last line."""
    if not path.exists():
        return
    offset = 0
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if not raw.endswith(b"\n"):
                return  # a torn last line (a write cut short): dropped, its record runs again
            entry = _parse_line(raw)
            if entry is None:  # a complete line that is not ours: not ours to repair either
                raise InputError(
                    f"{path} line {number} is not a batch result line; choose another --out or fix the file"
                )
            yield entry[0], entry[1], offset, len(raw)
            offset += len(raw)


def _parse_line(raw: bytes) -> tuple[str, str] | None:
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        return None
    status = entry.get("status")
    if status == "done" and isinstance(entry.get("result"), dict):
        return entry["id"], "done"
    if status == "failed" and isinstance(entry.get("error"), dict):
        return entry["id"], "failed"
    return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
