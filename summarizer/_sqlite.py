"""SQLite files that several processes share (the result cache, the API's batches): one way to open them and
one readiness probe."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import ClassVar, Literal

#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 30_000


def connect(path: Path, schema: str, *, synchronous: Literal["NORMAL", "FULL"]) -> sqlite3.Connection:
    """Open ``path`` for use from any thread (callers hold a lock), in autocommit mode with a WAL journal and the
    busy timeout, and create ``schema``'s tables; the connection is closed again if any of that fails."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.executescript(schema)
    except BaseException:
        db.close()
        raise
    return db


class SharedFile:
    """A thread-safe handle on one shared SQLite file: subclasses set ``_db`` and name a table to probe."""

    probe_table: ClassVar[str]
    _db: sqlite3.Connection

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def usable(self) -> bool:
        """Whether the file answers a query now (the API's readiness probe asks)."""
        try:
            with self._lock:
                self._db.execute(f"SELECT 1 FROM {self.probe_table} LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
