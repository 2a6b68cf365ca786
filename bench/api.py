"""Load on the HTTP API: ``summarizer serve`` on 127.0.0.1 with the fake backend at a fixed latency per model call,
driven from this (separate) process with an aiohttp client.

One summary is 5 model calls made one after another, so with ``--call-ms C`` each request spends exactly
5 x C ms waiting on the backend. The server's overhead for a request is its latency as the client sees it
minus those 5 x C ms: HTTP, JSON, validation, admission, prompt rendering, parsing the model's JSON,
grounding and serialization. The ratio is latency / (5 x C).

Two phases: the measured load (``--requests`` at ``--concurrency``, below the server's limit, so every
request should succeed; the clients start one after another over ``--ramp-s``, by default one summary's
backend time, so that the load is steady rather than 50 requests arriving in the same instant), then a
short deliberate overload (more clients than slots plus queue) that must be answered with 429s, not queued
without bound. RSS of the server is read from /proc at start, middle and end.

The machine's own pauses are measured too, by one process pinned to each core that sleeps 1 ms at a time and
records every wake-up more than 10 ms late: first for ``--idle-s`` seconds with nothing else running, then
during the measured load. A shared VM can stop its vCPUs for tens of milliseconds; every request in flight during such a
stop is that much later, and with ~50 in flight a few stops per run decide the p99.

    python bench/api.py                      # 2,000 requests at concurrency 50, 100 ms per call
    python bench/api.py --call-ms 20         # 100 ms of backend time per summary
    python bench/api.py --ramp-s 0           # every client sends its first request at the same instant
    python bench/api.py --answers recorded   # the 1.5B model's own answers on the seed (13 items, not 5)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_4542c6a513510e75.txt"
RECORDED = ROOT / "evals" / "recorded" / f"{SEED.stem}.json"
CALLS_PER_SUMMARY = 5
#: Scripted answers quoting the seed article, so grounding does the work it does on real output.
#: One item per category; ``--answers recorded`` uses what the embedded model answered instead.
SCRIPT: dict[str, Any] = {
    "overview": {"summary": "Putin called the US plan a basis for talks.", "actors": [
        {"name": "Vladimir Putin", "kind": "person", "evidence": ["Russian President Vladimir Putin said Thursday"]}]},
    "positions": {"positions": [{"holder": "Vladimir Putin", "topic": "US peace plan", "stance": "A basis for talks.",
        "evidence": ["Overall, we agree that this can be used as a basis for future agreements"]}]},
    "demands": {"demands": [{"demander": "Vladimir Putin", "addressee": "Ukraine", "demand": "Withdraw troops",
        "evidence": ["we will achieve this by force"]}]},
    "territorial_figures": {"territorial_figures": [{"territory": "Ukraine", "controller": "Russia",
        "measure": "share_controlled", "value": 20, "unit": "percent", "approximate": True,
        "evidence": ["Russia currently controls approximately 20% of Ukrainian territory"]}]},
    "upcoming_meetings": {"upcoming_meetings": [{"participants": ["Steve Witkoff"], "location": "Moscow",
        "when_text": "in the first half of next week", "status": "expected",
        "evidence": ["expected to arrive in Moscow in the first half of next week"]}]},
}  # fmt: skip


def tree(pid: int) -> list[int]:
    """The server process and its descendants (uvicorn's worker processes with --workers N)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in (task / "children").read_text().split())
    return pids


def tree_files(pid: int, name: str) -> list[str]:
    """``/proc/<pid>/<name>`` of the server and each of its descendants still alive."""
    texts = []
    for each in tree(pid):
        with contextlib.suppress(OSError):
            texts.append(Path(f"/proc/{each}/{name}").read_text())
    return texts


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds used so far by the server's processes."""
    ticks = sum(sum(int(v) for v in stat.rsplit(")", 1)[1].split()[11:13]) for stat in tree_files(pid, "stat"))
    return ticks / os.sysconf("SC_CLK_TCK")


#: The server: ``summarizer serve`` exactly as a user runs it, configured through SUMMARIZER_* variables.
def server_command(port: int, workers: int) -> list[str]:
    cli = Path(sys.executable).with_name("summarizer")
    return [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def rss_mb(pid: int) -> float:
    """Resident memory of the server's processes, summed."""
    kib = sum(
        int(line.split()[1]) for status in tree_files(pid, "status") for line in status.splitlines()
        if line.startswith("VmRSS:")
    )  # fmt: skip
    return kib / 1024


#: A process pinned to one core (argv[1]) that sleeps 1 ms at a time and, on SIGTERM (or after 600 s), prints
#: every wake-up later than 10 ms.
STALL_PROBE = r"""
import json, os, signal, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
late = []
def report(*_):
    print(json.dumps(late), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, report)
started = previous = time.monotonic()
while previous - started < 600:
    time.sleep(0.001)
    now = time.monotonic()
    if now - previous > 0.011:
        late.append(round((now - previous) * 1000 - 1, 1))
    previous = now
report()
"""


class StallProbe:
    """``with StallProbe() as probe: ...``; then ``probe.stalls``: the late wake-ups in ms of one probe per core.

    A pause of one core is seen only by a process on that core, so each core has its own probe; the server and
    the client are not pinned and run wherever the kernel puts them.
    """

    def __enter__(self) -> StallProbe:
        self.stalls: list[float] = []
        self.started = time.perf_counter()
        self._procs = [
            subprocess.Popen([sys.executable, "-c", STALL_PROBE, str(cpu)], stdout=subprocess.PIPE)
            for cpu in sorted(os.sched_getaffinity(0))
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
        for proc in self._procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self._procs:
            out, _ = proc.communicate(timeout=10)
            self.stalls.extend(json.loads(out or b"[]"))

    def summary(self) -> dict[str, float]:
        return {
            "seconds": round(self.seconds, 1),
            "over_10ms": len(self.stalls),
            "over_20ms": sum(1 for s in self.stalls if s > 20),
            "max_ms": max(self.stalls, default=0.0),
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(kind: str) -> dict[str, Any]:
    """The fake backend's script: ``scripted`` (SCRIPT) or ``recorded`` (the seed's answers in evals/recorded)."""
    if kind == "scripted":
        return SCRIPT
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    return {call: answer for call, answer in recorded.items() if not call.startswith("_")}


def start_server(
    args: argparse.Namespace, workdir: Path, fake_answers: dict[str, Any]
) -> tuple[subprocess.Popen[bytes], str]:
    script = workdir / "script.json"
    script.write_text(json.dumps(fake_answers), encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZER_")}
    env |= {
        "SUMMARIZER_BACKEND": "fake",
        "SUMMARIZER_FAKE_SCRIPT": str(script),
        "SUMMARIZER_FAKE_LATENCY_MS": str(args.call_ms),
        "SUMMARIZER_CONCURRENCY": str(args.slots),
        "SUMMARIZER_API_QUEUE_SIZE": str(args.queue),
        "SUMMARIZER_CACHE_DIR": str(workdir / "cache"),
    }
    command = server_command(port, args.workers)
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(workdir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start within 60 s")


async def load(
    url: str, body: bytes, total: int, concurrency: int, on_half: Any = None, ramp_s: float = 0.0
) -> dict[str, Any]:
    """``total`` requests from ``concurrency`` clients; latencies of the 200s and statuses of all.

    With ``ramp_s`` the clients start one after another over that many seconds (client i after
    i x ramp_s / concurrency), as clients of a service do; with 0 they all send their first request at the
    same instant, and those first requests wait for each other.

    The client is aiohttp (0.8 ms of CPU per request here, against 2.9-5.4 ms with httpx): it shares the
    machine's cores with the server, so a lighter client disturbs the measured server less.
    """
    latencies: list[float] = []
    backend_ms: list[float] = []
    pipeline_ms: list[float] = []
    statuses: Counter[str] = Counter()
    issued = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as client:

        async def worker(index: int) -> None:
            nonlocal issued
            await asyncio.sleep(index * ramp_s / concurrency)
            while issued < total:
                issued += 1
                if issued == total // 2 and on_half is not None:
                    on_half()
                started = time.perf_counter()
                try:
                    async with client.post(
                        "/v1/summaries", data=body, headers={"content-type": "application/json"}
                    ) as response:
                        payload = await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses[type(exc).__name__] += 1
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                statuses[str(response.status)] += 1
                if response.status == 200:
                    latencies.append(elapsed)
                    timings = json.loads(payload)["timings"]
                    backend_ms.append(sum(c["ms"] for c in timings["calls"]))
                    pipeline_ms.append(timings["total_ms"])

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.perf_counter() - started
    return {
        "latencies": latencies,
        "backend_ms": backend_ms,
        "pipeline_ms": pipeline_ms,
        "statuses": statuses,
        "wall_s": wall,
    }


def pipeline_cpu_ms(text: str, script: dict[str, Any], n: int = 40) -> float:
    """CPU of the library alone per summary (no HTTP), measured in this process with a zero-latency fake."""
    from summarizer import Settings, Summarizer
    from summarizer.backends.fake import FakeBackend

    settings = Settings(backend="fake", fake_latency_ms=0)
    summarizer = Summarizer(settings, FakeBackend(settings, script))

    async def run(count: int) -> None:
        for _ in range(count):
            await summarizer.summarize(text, published="2025-11-27")

    asyncio.run(run(5))
    started = time.process_time()
    asyncio.run(run(n))
    return (time.process_time() - started) * 1000 / n


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--call-ms", type=int, default=100, help="fake backend latency per model call")
    parser.add_argument(
        "--ramp-s", type=float, help="start the clients over this many seconds (default: one summary's backend time)"
    )
    parser.add_argument(
        "--answers",
        choices=["scripted", "recorded"],
        default="scripted",
        help="the fake backend's answers: one item per category, or the embedded model's recorded answers",
    )
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (summarizer serve --workers)")
    parser.add_argument("--slots", type=int, default=64, help="server concurrency (SUMMARIZER_CONCURRENCY)")
    parser.add_argument("--queue", type=int, default=64, help="server waiting queue (SUMMARIZER_API_QUEUE_SIZE)")
    parser.add_argument("--overload-requests", type=int, default=600)
    parser.add_argument("--overload-concurrency", type=int, default=300)
    parser.add_argument(
        "--idle-s", type=float, default=10.0, help="seconds of measuring the machine's own pauses before the load"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.requests > 20_000 or args.concurrency > 1000 or args.overload_requests > 20_000 or args.idle_s > 300:
        raise SystemExit("refusing an unbounded run: at most 20,000 requests, 1,000 clients and 300 s idle")
    body = json.dumps({"text": SEED.read_text(encoding="utf-8"), "published": "2025-11-27"}).encode()
    nominal = CALLS_PER_SUMMARY * args.call_ms
    ramp_s = nominal / 1000 if args.ramp_s is None else args.ramp_s
    fake_answers = answers(args.answers)
    library_cpu_ms = pipeline_cpu_ms(SEED.read_text(encoding="utf-8"), fake_answers)
    with StallProbe() as idle:
        time.sleep(args.idle_s)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        proc, url = start_server(args, Path(tmp), fake_answers)
        try:
            asyncio.run(load(url, body, 100, 20))  # warm-up, not counted
            rss = {"start": rss_mb(proc.pid)}
            cpu_before, client_before = cpu_s(proc.pid), time.process_time()
            with StallProbe() as loaded:
                run = asyncio.run(
                    load(
                        url,
                        body,
                        args.requests,
                        args.concurrency,
                        on_half=lambda: rss.__setitem__("middle", rss_mb(proc.pid)),
                        ramp_s=ramp_s,
                    )
                )
            cpu_per_request_ms = (cpu_s(proc.pid) - cpu_before) * 1000 / args.requests
            client_cpu_ms = (time.process_time() - client_before) * 1000 / args.requests
            rss["end"] = rss_mb(proc.pid)
            overload = asyncio.run(load(url, body, args.overload_requests, args.overload_concurrency))
            rss["after_overload"] = rss_mb(proc.pid)
            ready = httpx.get(url + "/readyz").status_code
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    lat, backend, pipeline = run["latencies"], run["backend_ms"], run["pipeline_ms"]
    overhead = [v - nominal for v in lat]
    outside = [v - p for v, p in zip(lat, pipeline, strict=True)]
    inside = [p - nominal for p in pipeline]

    def p50_p99(values: list[float]) -> dict[str, float]:
        return {"p50": round(pct(values, 50), 1), "p99": round(pct(values, 99), 1)}

    figures = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "ramp_s": ramp_s,
        "backend_ms_per_summary": nominal,
        "answers": args.answers,
        "throughput_rps": round(len(lat) / run["wall_s"], 1),
        "latency_ms": {**p50_p99(lat), "max": round(max(lat), 1)},
        "overhead_ms": p50_p99(overhead),
        "overhead_ratio": {"p50": round(pct(lat, 50) / nominal, 3), "p99": round(pct(lat, 99) / nominal, 3)},
        "pipeline_overhead_ms": p50_p99(inside),
        "http_layer_overhead_ms": p50_p99(outside),
        "in_backend_call_ms": p50_p99(backend),
        "server_cpu_ms_per_request": round(cpu_per_request_ms, 1),
        "library_cpu_ms_per_summary": round(library_cpu_ms, 1),
        "load_client_cpu_ms_per_request": round(client_cpu_ms, 1),
        "statuses": dict(run["statuses"]),
        "rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "machine_stalls": {"idle": idle.summary(), "under_load": loaded.summary()},
        "overload": {
            "requests": args.overload_requests,
            "concurrency": args.overload_concurrency,
            "server_slots_plus_queue": args.slots + args.queue,
            "statuses": dict(overload["statuses"]),
            "readyz_after": ready,
        },
    }
    f = figures
    print(f"API load: {args.requests} requests at concurrency {args.concurrency}, clients started over {ramp_s:g} s; "
          f"fake backend {args.call_ms} ms x {CALLS_PER_SUMMARY} calls = {nominal} ms of backend wait, "
          f"{args.answers} answers")  # fmt: skip
    print(f"  throughput        {f['throughput_rps']} req/s over {run['wall_s']:.1f} s")
    print(f"  latency           {f['latency_ms']} ms")
    print(f"  overhead          {f['overhead_ms']} ms over the {nominal} ms backend wait (ratio {f['overhead_ratio']})")
    print(f"    in the pipeline {f['pipeline_overhead_ms']} ms (timings.total_ms - backend wait)")
    print(f"    HTTP layer      {f['http_layer_overhead_ms']} ms (latency - timings.total_ms)")
    print(f"  server CPU        {f['server_cpu_ms_per_request']} ms per request; the library alone (no HTTP) "
          f"{f['library_cpu_ms_per_summary']} ms per summary; the load client {f['load_client_cpu_ms_per_request']} ms "
          f"per request (same {os.cpu_count()} cores)")  # fmt: skip
    print(f"  statuses          {f['statuses']}")
    print(f"  server RSS MB     {f['rss_mb']}")
    print(f"  machine stalls    {f['machine_stalls']['idle']} idle before the run; {f['machine_stalls']['under_load']} "
          "during it (wake-ups of a process per core sleeping 1 ms, late by more than 10 ms)")  # fmt: skip
    print(f"overload: {args.overload_requests} requests at concurrency {args.overload_concurrency} against "
          f"{args.slots} slots + {args.queue} queue: {f['overload']['statuses']}, /readyz after: {ready}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
