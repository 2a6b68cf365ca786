"""One local-model computation at a time on this machine, first come first served.

llama.cpp servers that share the CPU cores slow each other down far more than they gain: their threads
spin-wait for each other, and two servers on two cores were measured at 0.4 tokens/s instead of 12. So every
request to a local server takes a per-user, machine-wide turn: a waiter writes a ticket file named by its
arrival time, and goes when its ticket is the oldest one of a live process and the file lock is free.
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

POLL_S = 0.05


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


def _first_in_line(queue: Path, mine: str) -> bool:
    for ticket in sorted(p.name for p in queue.glob("t-*")):
        if ticket == mine:
            return True
        try:
            pid = int(ticket.split("-")[2])
        except (IndexError, ValueError):
            continue
        if _alive(pid):
            return False
        with contextlib.suppress(OSError):
            (queue / ticket).unlink()
    return True  # our ticket vanished (someone cleaned the directory): do not wait forever


@contextlib.asynccontextmanager
async def compute_turn(queue: Path | None = None) -> AsyncIterator[float]:
    """Hold the machine-wide turn for one request; yields the seconds spent waiting for it."""
    queue = queue or default_queue_dir()
    queue.mkdir(parents=True, exist_ok=True, mode=0o700)
    arrived = time.monotonic()
    ticket = queue / f"t-{time.time_ns():020d}-{os.getpid()}-{id(asyncio.current_task()) & 0xFFFFFF:06x}"
    ticket.touch()
    fd = os.open(queue / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    held = False
    try:
        while not held:
            if _first_in_line(queue, ticket.name):
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
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
