"""The result cache: finished ``SummaryResult``s in SQLite, keyed by ``SummaryResult.id``.

The id hashes everything that decides the output (text, publication date, backend, model, prompt
version, schema version and the options that change generation), so a hit is the answer the model would
give again. The CLI, the batch job and the HTTP API share one file, ``<cache_dir>/results.sqlite3``,
safely from several processes at once (WAL journal, busy timeout, one short transaction per write).

A cache file that is damaged (not a SQLite database, a malformed image) is moved aside to
``results.sqlite3.damaged-<UTC time>`` and a new one is created, with one warning naming both paths. A cache that
cannot be opened at all (an unwritable directory) is a ``ConfigError`` naming the file; a read or write that fails
later is logged and treated as a miss, so the cache never fails an article.

Only results that passed schema validation and grounding are stored: a call that failed, was cut off or
never validated raises before anything is written. A stored row that no longer validates (for example
after an upgrade changed the envelope) is treated as a miss and removed. A result written by another
version of summarizer is a miss too (its grounding and post-processing may differ), and the new result
replaces it. A hit comes back with ``timings.cached`` set and ``timings.total_ms`` the lookup time; its
``usage`` is what the original run spent. Results of the scripted ``fake`` backend are never cached: its
answers depend on a script that is not part of the id.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from pydantic import ValidationError

from ._sqlite import SharedFile, connect
from ._version import __version__
from .config import Settings
from .errors import ConfigError
from .schemas import Source, SummaryResult

log = logging.getLogger(__name__)
CACHE_FILE = "results.sqlite3"
UNCACHED_BACKENDS = frozenset({"fake"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class ResultCache(SharedFile):
    """A thread-safe handle on one cache file; cheap to share across tasks and threads of a process."""

    probe_table = "results"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        #: (damaged file, where it was moved) when the file found was not a usable cache.
        self.moved_aside: tuple[Path, Path] | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._connect()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) or not self.path.is_file():
                    raise
                self.moved_aside = (self.path, self._move_aside())
                log.warning(
                    "result cache %s is damaged (%s); moved it to %s and started a new cache",
                    self.path, exc, self.moved_aside[1],
                )  # fmt: skip
                self._db = self._connect()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the result cache {self.path}: {exc} (make its directory writable, set --cache-dir / "
                "SUMMARIZER_CACHE_DIR to another directory, or pass --no-cache)"
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        db = connect(self.path, _SCHEMA, synchronous="NORMAL")
        try:
            db.execute("SELECT COUNT(*) FROM results").fetchone()  # a damaged file fails here, not on first use
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        """Rename the damaged file (and its journal files) to ``<name>.damaged-<UTC time>``; the new path."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
        os.replace(self.path, target)
        for suffix in ("-wal", "-shm"):
            journal = self.path.with_name(self.path.name + suffix)
            if journal.exists():
                os.replace(journal, target.with_name(target.name + suffix))
        return target

    def get(self, result_id: str, *, source: Source | None = None) -> SummaryResult | None:
        """The cached result for ``result_id`` marked as a hit, or None. ``source`` replaces the stored one
        (title and URL are not part of the id)."""
        started = time.perf_counter()
        try:
            with self._lock:
                row = self._db.execute("SELECT result FROM results WHERE id = ?", (result_id,)).fetchone()
        except sqlite3.Error as exc:  # a cache that cannot answer is a miss, never a failed article
            log.warning("result cache %s unreadable (%s); computing the result", self.path, exc)
            return None
        if row is None:
            return None
        try:
            result = SummaryResult.model_validate_json(row[0])
        except ValidationError:
            self.delete(result_id)
            return None
        if result.id != result_id:
            self.delete(result_id)
            return None
        if result.provenance.summarizer_version != __version__:
            return None
        result.timings.cached = True
        result.timings.total_ms = (time.perf_counter() - started) * 1000
        if source is not None:
            result.source = source
        return result

    def put(self, result: SummaryResult) -> None:
        """Store a validated result (replacing any row with its id)."""
        stored = result.model_copy(update={"timings": result.timings.model_copy(update={"cached": False})})
        payload = stored.model_dump_json()
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO results (id, result, created) VALUES (?, ?, ?)",
                    (result.id, payload, time.time()),
                )
        except sqlite3.Error as exc:  # the result is still returned; only its reuse is lost
            log.warning("result cache %s not written (%s)", self.path, exc)

    def delete(self, result_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM results WHERE id = ?", (result_id,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])


_open: dict[tuple[int, Path], ResultCache] = {}
_open_lock = threading.Lock()


def cache_path(settings: Settings) -> Path:
    return Path(settings.cache_dir).expanduser() / CACHE_FILE


def result_cache(settings: Settings) -> ResultCache | None:
    """The process's shared cache for these settings, or None when caching is off for them."""
    if settings.no_cache or settings.backend_name in UNCACHED_BACKENDS:
        return None
    key = (os.getpid(), cache_path(settings).resolve())  # a forked worker opens its own connection
    with _open_lock:
        cache = _open.get(key)
        if cache is None:
            cache = _open[key] = ResultCache(key[1])
        return cache


def close_caches() -> None:
    """Close every cache handle this process opened (tests; a long-lived server shutting down)."""
    with _open_lock:
        for key, cache in list(_open.items()):
            if key[0] == os.getpid():
                cache.close()
            del _open[key]
