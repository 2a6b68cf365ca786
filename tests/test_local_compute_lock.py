"""Machine-wide turns for local-model requests: exclusive, first come first served, robust to dead waiters."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from summarizer.backends._compute_lock import MAX_STREAK, compute_turn


def test_turns_are_exclusive_and_first_come_first_served(tmp_path: Path) -> None:
    order: list[str] = []
    inside: list[str] = []

    async def worker(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with compute_turn(tmp_path, key=name):
            inside.append(name)
            assert len(inside) == 1, inside
            order.append(name)
            await asyncio.sleep(0.15)
            inside.remove(name)

    async def main() -> None:
        await asyncio.gather(worker("a", 0.0), worker("b", 0.03), worker("c", 0.06), worker("d", 0.09))

    asyncio.run(main())
    assert order == ["a", "b", "c", "d"]
    assert not list(tmp_path.glob("t-*"))  # no ticket left behind


def turn_order(lock_dir: Path, articles: list[tuple[str, int, float]], *, hold: float, gap: float = 0.0) -> list[str]:
    """Articles ``(key, model calls, start delay)`` taking turns, each turn held ``hold`` s and followed by ``gap`` s
    of work outside the lock; the keys in the order they got their turns."""
    order: list[str] = []

    async def article(key: str, calls: int, delay: float) -> None:
        await asyncio.sleep(delay)
        for _ in range(calls):
            async with compute_turn(lock_dir, key=key):
                order.append(key)
                await asyncio.sleep(hold)
            if gap:
                await asyncio.sleep(gap)  # validating the answer, rendering the next prompt

    async def main() -> None:
        await asyncio.gather(*(article(*each) for each in articles))

    asyncio.run(main())
    return order


def test_same_article_calls_run_back_to_back_then_others_get_their_turn(tmp_path: Path) -> None:
    order = turn_order(tmp_path, [("a", 3, 0.0), ("b", 3, 0.02), ("c", 2, 0.04)], hold=0.08, gap=0.01)
    assert order == ["a", "a", "a", "b", "b", "b", "c", "c"]


def test_affinity_is_bounded_so_nobody_starves(tmp_path: Path) -> None:
    order = turn_order(tmp_path, [("busy", MAX_STREAK + 5, 0.0), ("cli", 1, 0.01)], hold=0.02)
    assert order.index("cli") == MAX_STREAK


def test_tickets_of_dead_processes_are_skipped(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / f"t-{1:020d}-{int(dead.stdout)}-000000").touch()

    async def main() -> float:
        async with compute_turn(tmp_path) as waited:
            return waited

    assert asyncio.run(asyncio.wait_for(main(), timeout=5)) < 1.0
    assert not list(tmp_path.glob("t-*"))


def test_a_cancelled_waiter_leaves_no_ticket_and_holds_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with compute_turn(tmp_path):
            waiter = asyncio.create_task(compute_turn(tmp_path).__aenter__())
            await asyncio.sleep(0.2)
            assert len(list(tmp_path.glob("t-*"))) == 1
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
            assert not list(tmp_path.glob("t-*"))
        async with compute_turn(tmp_path) as waited:  # free again
            assert waited < 0.5

    asyncio.run(asyncio.wait_for(main(), timeout=10))


WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from summarizer.backends._compute_lock import MAX_STREAK, compute_turn

    async def main():
        spans = []
        for _ in range(3):
            async with compute_turn(Path(sys.argv[1])):
                start = time.time()
                await asyncio.sleep(0.1)
                spans.append((start, time.time()))
        print(json.dumps(spans))

    asyncio.run(main())
    """
)


def test_processes_never_compute_at_the_same_time(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    spans = sorted(span for out in outs for span in json.loads(out))
    assert len(spans) == 9
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end, spans
    assert not list(tmp_path.glob("t-*"))
