"""HTTP batches in one SQLite file: the articles, each article's one outcome, and who is running what.

``BatchDB`` is shared by every worker process of a server (WAL journal, busy timeout, one short
transaction per write). ``SqliteBatchStore`` is the batch engine's store for one batch: an outcome is
committed (synchronous=FULL) before the engine counts it, and a second outcome for the same article is
ignored, so every article ends with exactly one result line however often the server restarts.

A worker claims a batch by writing its owner tag; it keeps a heartbeat while it runs it. A batch whose
owner stopped (released it on shutdown, died on this host, or missed heartbeats for ``LEASE_S``) is
claimed again and resumes with the articles that have no outcome yet.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .._sqlite import SharedFile, connect
from ..batch import RecordError
from ..schemas import SummaryResult

BUSY_TIMEOUT_MS = 30_000
LEASE_S = 30.0
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    total INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    owner TEXT,
    heartbeat REAL,
    finished REAL,
    error TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    model_calls INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    grounded INTEGER NOT NULL DEFAULT 0,
    ungrounded INTEGER NOT NULL DEFAULT 0,
    tenant TEXT
);
CREATE TABLE IF NOT EXISTS articles (
    batch_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (batch_id, seq),
    UNIQUE (batch_id, id)
);
CREATE TABLE IF NOT EXISTS outcomes (
    batch_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error_code TEXT,
    line TEXT NOT NULL,
    PRIMARY KEY (batch_id, id)
);
CREATE INDEX IF NOT EXISTS outcomes_by_seq ON outcomes (batch_id, seq);
"""


def owner_tag() -> str:
    """Identifies this process: host, pid and a random part (a reused pid is not the same owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_gone(owner: str, heartbeat: float | None, now: float) -> bool:
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return heartbeat is None or now - heartbeat > LEASE_S


class BatchDB(SharedFile):
    """A thread-safe handle on the batches file; every method has an ``a``-prefixed async twin."""

    probe_table = "batches"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(self.path, _SCHEMA, synchronous="FULL")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(batches)")}
        if "tenant" not in columns:  # a file written before batches had owners: its batches belong to no key
            self._db.execute("ALTER TABLE batches ADD COLUMN tenant TEXT")

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return out

    def create(self, batch_id: str, articles: list[tuple[str, dict[str, Any]]], tenant: str | None = None) -> None:
        """Store a new batch; ``tenant`` (an API key's fingerprint) owns it."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO batches (id, created, total, tenant) VALUES (?, ?, ?, ?)",
                (batch_id, time.time(), len(articles), tenant),
            )
            db.executemany(
                "INSERT INTO articles (batch_id, seq, id, payload) VALUES (?, ?, ?, ?)",
                [(batch_id, seq, aid, json.dumps(payload)) for seq, (aid, payload) in enumerate(articles)],
            )

        self._tx(write)

    def status(self, batch_id: str) -> dict[str, Any] | None:
        def read(db: sqlite3.Connection) -> dict[str, Any] | None:
            cur = db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,))
            row = cur.fetchone()
            if row is None:
                return None
            data = dict(zip([c[0] for c in cur.description], row, strict=True))
            errors = db.execute(
                "SELECT error_code, count(*) FROM outcomes WHERE batch_id = ? AND ok = 0 GROUP BY error_code",
                (batch_id,),
            ).fetchall()
            data["errors"] = {code: n for code, n in errors}
            return data

        return self._tx(read)

    def claim(self, owner: str) -> str | None:
        """Take the oldest unfinished batch nobody is running; its id, or None."""

        def take(db: sqlite3.Connection) -> str | None:
            now = time.time()
            rows = db.execute(
                "SELECT id, owner, heartbeat FROM batches WHERE state IN ('queued', 'running') ORDER BY created"
            ).fetchall()
            for batch_id, current, heartbeat in rows:
                if current is None or _owner_gone(current, heartbeat, now):
                    db.execute(
                        "UPDATE batches SET owner = ?, heartbeat = ?, state = 'running' WHERE id = ?",
                        (owner, now, batch_id),
                    )
                    return str(batch_id)
            return None

        return self._tx(take)

    def heartbeat(self, batch_id: str, owner: str) -> bool:
        def beat(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                "UPDATE batches SET heartbeat = ? WHERE id = ? AND owner = ?", (time.time(), batch_id, owner)
            )
            return cur.rowcount == 1

        return self._tx(beat)

    def release(self, batch_id: str, owner: str, *, state: str | None = None, error: str | None = None) -> None:
        """Give the batch up: back to the queue (``state=None``), or finished as ``done``/``failed``."""

        def write(db: sqlite3.Connection) -> None:
            if state is None:
                db.execute(
                    "UPDATE batches SET owner = NULL, heartbeat = NULL, state = 'queued' WHERE id = ? AND owner = ?",
                    (batch_id, owner),
                )
            else:
                db.execute(
                    "UPDATE batches SET owner = NULL, state = ?, error = ?, finished = ? WHERE id = ? AND owner = ?",
                    (state, error, time.time(), batch_id, owner),
                )

        self._tx(write)

    def pending(self, batch_id: str, after_seq: int, limit: int) -> list[tuple[int, str, dict[str, Any]]]:
        """Articles without an outcome, in input order, a page at a time."""

        def read(db: sqlite3.Connection) -> list[tuple[int, str, dict[str, Any]]]:
            rows = db.execute(
                "SELECT a.seq, a.id, a.payload FROM articles a WHERE a.batch_id = ? AND a.seq > ? AND NOT EXISTS "
                "(SELECT 1 FROM outcomes o WHERE o.batch_id = a.batch_id AND o.id = a.id) ORDER BY a.seq LIMIT ?",
                (batch_id, after_seq, limit),
            ).fetchall()
            return [(int(seq), str(aid), json.loads(payload)) for seq, aid, payload in rows]

        return self._tx(read)

    def article(self, batch_id: str, article_id: str) -> dict[str, Any] | None:
        """The article as it was submitted (text or html, title, url, published), or None."""

        def read(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute("SELECT payload FROM articles WHERE batch_id = ? AND id = ?", (batch_id, article_id))
            found = row.fetchone()
            return None if found is None else dict(json.loads(found[0]))

        return self._tx(read)

    def has_outcome(self, batch_id: str, article_id: str) -> bool:
        def read(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT 1 FROM outcomes WHERE batch_id = ? AND id = ?", (batch_id, article_id))
            return row.fetchone() is not None

        return self._tx(read)

    def record(self, batch_id: str, article_id: str, result: SummaryResult | None, error: RecordError | None) -> bool:
        """Store the article's outcome unless it has one; True when this call stored it."""
        if result is not None:  # the same lines as the batch command's JSONL output
            line = f'{{"id":{json.dumps(article_id)},"status":"done","result":{result.model_dump_json()}}}'
        else:
            assert error is not None
            line = json.dumps({"id": article_id, "status": "failed", "error": error.to_json()}, ensure_ascii=False)

        def write(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                "INSERT OR IGNORE INTO outcomes (batch_id, id, seq, ok, error_code, line) SELECT ?, ?, seq, ?, ?, ? "
                "FROM articles WHERE batch_id = ? AND id = ?",
                (
                    batch_id,
                    article_id,
                    int(result is not None),
                    error.code if error else None,
                    line,
                    batch_id,
                    article_id,
                ),
            )
            if cur.rowcount != 1:
                return False
            if result is None:
                db.execute("UPDATE batches SET failed = failed + 1 WHERE id = ?", (batch_id,))
                return True
            u, g = result.usage, result.grounding.counts
            db.execute(
                "UPDATE batches SET done = done + 1, model_calls = model_calls + ?, prompt_tokens = prompt_tokens + ?, "
                "completion_tokens = completion_tokens + ?, grounded = grounded + ?, ungrounded = ungrounded + ? "
                "WHERE id = ?",
                (u.model_calls, u.prompt_tokens, u.completion_tokens, g.grounded_items, g.ungrounded_items, batch_id),
            )
            return True

        return self._tx(write)

    def lines(self, batch_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """A page of the outcome lines recorded so far, in input order."""

        def read(db: sqlite3.Connection) -> list[tuple[int, str]]:
            rows = db.execute(
                "SELECT seq, line FROM outcomes WHERE batch_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (batch_id, after_seq, limit),
            ).fetchall()
            return [(int(seq), str(line)) for seq, line in rows]

        return self._tx(read)


class SqliteBatchStore:
    """The batch engine's ``BatchStore`` for one batch of a ``BatchDB``."""

    def __init__(self, db: BatchDB, batch_id: str, on_outcome: Callable[[SummaryResult | RecordError], None]) -> None:
        self.db = db
        self.batch_id = batch_id
        self.on_outcome = on_outcome

    async def should_run(self, record_id: str) -> bool:
        return not await asyncio.to_thread(self.db.has_outcome, self.batch_id, record_id)

    async def record_result(self, record_id: str, result: SummaryResult) -> None:
        if await asyncio.to_thread(self.db.record, self.batch_id, record_id, result, None):
            self.on_outcome(result)

    async def record_error(self, record_id: str, error: RecordError) -> None:
        if await asyncio.to_thread(self.db.record, self.batch_id, record_id, None, error):
            self.on_outcome(error)
