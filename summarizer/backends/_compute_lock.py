"""One local-model computation at a time on this machine: first come first served, with article affinity.

llama.cpp servers that share the CPU cores slow each other down far more than they gain: their threads
spin-wait for each other, and two servers on the same cores each run many times slower than one. So every
request to a local server takes a per-user, machine-wide turn: a waiter writes a ticket file named by its
arrival time, and goes when its ticket is next in line and the file lock is free.

Affinity: requests carry a key (the article they are about). After a turn, the next request with the same key
goes first if one arrives within a short grace period, up to ``MAX_STREAK`` turns in a row, so the five calls
of one article run back to back and the server reuses the article's tokens from its cache instead of
evaluating them again after every other article's call. Otherwise the oldest ticket goes.

Tickets of processes that died are ignored and removed; the lock itself is released by the kernel on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

POLL_S = 0.02
GRACE_S = 0.3
MAX_STREAK = 12


def default_queue_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"summarizer-{os.getuid()}" / "local-model-queue"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _live_tickets(queue: Path) -> list[tuple[str, str]]:
    """(ticket name, key) of live waiters, oldest first; tickets of dead processes are removed."""
    out = []
    for name in sorted(p.name for p in queue.glob("t-*")):
        parts = name.split("-")
        try:
            pid = int(parts[2])
        except (IndexError, ValueError):
            continue
        if _alive(pid):
            out.append((name, parts[4] if len(parts) > 4 else ""))
        else:
            with contextlib.suppress(OSError):
                (queue / name).unlink()
    return out


def _last_turn(queue: Path) -> tuple[str, float, int]:
    try:
        key, released, streak = (queue / "last").read_text().split()
        return key, float(released), int(streak)
    except (OSError, ValueError):
        return "", 0.0, 0


def _next_in_line(queue: Path) -> str | None:
    tickets = _live_tickets(queue)
    if not tickets:
        return None
    last_key, released, streak = _last_turn(queue)
    if last_key and streak < MAX_STREAK:
        for name, key in tickets:
            if key == last_key:
                return name
        if time.time() - released < GRACE_S:
            return None  # the last article's next call is probably on its way
    return tickets[0][0]


@contextlib.asynccontextmanager
async def compute_turn(queue: Path | None = None, key: str = "") -> AsyncIterator[float]:
    """Hold the machine-wide turn for one request; yields the seconds spent waiting for it."""
    queue = queue or default_queue_dir()
    queue.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = "".join(c for c in key if c.isalnum())[:16] or "none"
    arrived = time.monotonic()
    task_id = id(asyncio.current_task()) & 0xFFFFFF
    ticket = queue / f"t-{time.time_ns():020d}-{os.getpid()}-{task_id:06x}-{key}"
    ticket.touch()
    fd = os.open(queue / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    held = False
    try:
        while True:
            if _next_in_line(queue) == ticket.name or not ticket.exists():
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = True
                    break
                except BlockingIOError:
                    pass
            await asyncio.sleep(POLL_S)
        ticket.unlink(missing_ok=True)
        yield time.monotonic() - arrived
    finally:
        ticket.unlink(missing_ok=True)
        if held:
            last_key, _, streak = _last_turn(queue)
            with contextlib.suppress(OSError):
                (queue / "last").write_text(f"{key} {time.time()} {streak + 1 if last_key == key else 1}")
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
