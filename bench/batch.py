"""Batch throughput and memory against a fake OpenAI-compatible server with a fixed latency.

    .venv/bin/python bench/batch.py                      # concurrency 1, 8, 32 (about 10 minutes)
    .venv/bin/python bench/batch.py --concurrency 32 --records 500
    .venv/bin/python bench/batch.py --concurrency 32 --ray   # also --runner ray, 2 actors x 16

The fake server runs in its own process and answers every request after ``--latency-ms`` (200 ms).
Each article takes its model calls one after the other (4 for the corpus here: it states no share or area,
so there is no territorial-figures call), so one slot finishes at most one article per 4 x 200 ms. Ideal
throughput is therefore ``concurrency / (calls per article x latency)`` articles per second (the same as
``concurrency / latency`` model calls per second); the ratio printed is measured / ideal.

``--ray`` adds, for each concurrency, a run of the Ray runner on a Ray instance it starts on this machine: two
actors, each with half the concurrency, so both runners keep the same number of articles in flight. Its peak
RSS is the driver's (the actors are processes of their own).

Each run is a separate process (so peak RSS is its own) that streams a generated JSON Lines corpus through
the real batch path (``read_records`` -> ``run_batch`` -> ``JsonlStore``) with the result cache off.
``steal`` is the share of the machine's CPU time the hypervisor gave to other guests during the run: on a
shared virtual machine a run with high steal is slower for reasons outside this program, so compare ratios
from runs with similar steal. Memory is sampled as the run proceeds (RSS at 25 %, 50 %, 75 % and 100 % of
the records): flat samples mean memory does not grow with the number of records. ``--engine-only`` adds a
run whose backend only sleeps for the latency and returns a fixed answer, to separate the engine's own overhead from the
per-call CPU cost of the OpenAI SDK and instructor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TEXT = (
    "Article {i}. Foreign Minister Ana Silva said talks on the ceasefire will resume in Geneva next week. "
    "The government demands that the border crossings reopen before any agreement."
)


def rss_mb() -> float:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class SleepBackend:
    """Answers every call after a fixed sleep with an empty, valid record set: no SDK, no HTTP."""

    name = "bench"
    model = "sleep"

    def __init__(self, latency_s: float) -> None:
        from summarizer.backends.fake import EMPTY_ANSWERS
        from summarizer.schemas import CALLS

        self.latency_s = latency_s
        self.answers = {name: CALLS[name].model_validate(EMPTY_ANSWERS[name]) for name in CALLS}

    async def call(self, name: str, messages: list[dict[str, Any]], response_model: Any) -> Any:
        from summarizer.backends import CallResult
        from summarizer.schemas import Usage

        await asyncio.sleep(self.latency_s)
        return CallResult(parsed=self.answers[name], usage=Usage(model_calls=1), ms=self.latency_s * 1000)

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


async def child(args: argparse.Namespace) -> dict[str, Any]:
    from summarizer import Settings, Summarizer
    from summarizer.batch import JsonlStore, read_records, run_batch

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    source = work / "in.jsonl"
    with open(source, "w", encoding="utf-8") as file:
        for i in range(args.records):
            file.write(json.dumps({"id": f"r{i:06d}", "text": TEXT.format(i=i)}) + "\n")
    settings = Settings(backend="openai", base_url=args.base_url or "http://127.0.0.1:9/v1", no_cache=True)
    backend = SleepBackend(args.latency_ms / 1000) if args.engine_only else None
    summarizer = Summarizer(settings, backend)  # type: ignore[arg-type]
    runner: Any = None
    if args.runner == "ray":
        from summarizer.batch._ray import RayOptions, RayRunner

        runner = RayRunner(settings, RayOptions(actors=2, per_actor=max(1, args.concurrency // 2)))
        runner.start()
    samples: dict[int, float] = {}
    marks = {args.records * q // 4 for q in (1, 2, 3, 4)}

    def on_progress(report: Any) -> None:
        if report.finished in marks and report.finished not in samples:
            samples[report.finished] = round(rss_mb(), 1)

    cpu0, started = time.process_time(), time.perf_counter()
    with JsonlStore(work / "out.jsonl") as store:
        records = read_records(source, max_chars=settings.max_input_chars)
        report = await run_batch(
            records,
            summarizer,
            store,
            concurrency=runner.concurrency if runner else args.concurrency,
            on_progress=on_progress,
            compute=runner.compute if runner else None,
        )
    wall = time.perf_counter() - started
    await summarizer.aclose()
    if runner is not None:
        runner.stop()
    return {
        "records": args.records,
        "done": report.done,
        "failed": report.failed,
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu0,
        "model_calls": report.model_calls,
        "rss_mb_at": samples,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "output_mb": (work / "out.jsonl").stat().st_size / 2**20,
    }


def serve(latency_ms: float, nagle: bool) -> None:
    """The fake server, in this process until stdin closes."""
    from summarizer.testing.fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer(latency_ms=latency_ms)
    # The fake's handler sends headers and body in two writes; with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (about 40 ms per response on Linux), which is not the batch's cost.
    server._httpd.RequestHandlerClass.disable_nagle_algorithm = not nagle  # type: ignore[attr-defined]
    with server:
        print(f"fake OpenAI-compatible server on {server.base_url}", flush=True)
        sys.stdin.read()


def start_server(latency_ms: float, nagle: bool) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, __file__, "--serve", "--latency-ms", str(latency_ms)] + (["--nagle"] if nagle else [])
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", proc.stdout.readline())
    if not match:
        proc.kill()
        raise SystemExit("the fake server did not start")
    return proc, match.group(1)


def cpu_times() -> list[int]:
    """The machine's CPU time counters (user, nice, system, idle, iowait, irq, softirq, steal) from /proc/stat."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of CPU time the hypervisor gave to other guests while the run lasted (noisy-neighbour time)."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    return delta[7] / max(1, sum(delta))


def run_child(
    concurrency: int, records: int, latency_ms: float, base_url: str | None, engine_only: bool, runner: str
) -> Any:
    cmd = [sys.executable, __file__, "--child", "--concurrency", str(concurrency), "--records", str(records)]
    cmd += ["--latency-ms", str(latency_ms), "--runner", runner] + (["--base-url", base_url] if base_url else [])
    cmd += ["--engine-only"] if engine_only else []
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 8, 32])
    parser.add_argument("--records", type=int, default=2000, help="records per run (concurrency 1: at most 60)")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--engine-only", action="store_true", help="also run with a backend that only sleeps")
    parser.add_argument("--nagle", action="store_true", help="leave Nagle's algorithm on in the fake server")
    parser.add_argument("--ray", action="store_true", help="also run the Ray runner (2 actors) at each concurrency")
    parser.add_argument("--runner", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency_ms, args.nagle)
        return
    if args.child:
        args.concurrency = args.concurrency[0]
        print(json.dumps(asyncio.run(child(args))))
        return
    server, base_url = start_server(args.latency_ms, args.nagle)
    print(f"fake server {base_url}, {args.latency_ms:g} ms per call")
    print(f"ideal = concurrency / (calls per article x {args.latency_ms:g} ms) articles/s\n")
    header = f"{'run':<18}{'conc':>5}{'records':>8}{'wall s':>9}{'art/s':>8}{'ideal':>7}{'ratio':>7}"
    print(header + f"{'calls/s':>9}{'cpu ms/call':>12}{'steal':>7}{'peak RSS MB':>12}  RSS MB at 25/50/75/100 %")
    runs = [(c, False, "local") for c in args.concurrency]
    runs += [(c, False, "ray") for c in args.concurrency if c > 1] if args.ray else []
    runs += [(max(args.concurrency), True, "local")] if args.engine_only else []
    try:
        for concurrency, engine_only, runner in runs:
            records = min(args.records, 60) if concurrency == 1 else args.records
            before = cpu_times()
            url = None if engine_only else base_url
            r = run_child(concurrency, records, args.latency_ms, url, engine_only, runner)
            steal = steal_share(before, cpu_times())
            calls_per_article = r["model_calls"] / max(1, r["done"])
            rate, ideal = r["done"] / r["wall_s"], concurrency / (calls_per_article * args.latency_ms / 1000)
            samples = "/".join(str(v) for _, v in sorted((int(k), v) for k, v in r["rss_mb_at"].items()))
            name = "sleep-only" if engine_only else f"{runner}{' 2 actors' if runner == 'ray' else ''}"
            print(
                f"{name:<18}{concurrency:>5}{records:>8}{r['wall_s']:>9.1f}"
                f"{rate:>8.2f}{ideal:>7.1f}{rate / ideal:>7.2f}{r['model_calls'] / r['wall_s']:>9.1f}"
                f"{1000 * r['cpu_s'] / max(1, r['model_calls']):>12.2f}{steal:>7.0%}"
                f"{r['peak_rss_mb']:>12.1f}  {samples}" + (f"  ({r['failed']} failed)" if r["failed"] else ""),
                flush=True,
            )
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
