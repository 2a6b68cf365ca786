"""``summarizer batch --runner ray`` on a real local Ray instance (2 CPUs): every record exactly once, through a
worker killed mid-run and a driver killed with SIGKILL and resumed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from summarizer import Settings, Summarizer
from summarizer.batch import JsonlStore, read_records, run_batch
from summarizer.testing.fake_openai import FakeOpenAIServer

from .test_batch_helpers import SCRIPT, check_exactly_once, read_output, sigkill_when, write_corpus

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'summarizer[ray]'")

from summarizer.batch._ray import RayOptions, RayRunner  # noqa: E402

EXE = Path(sys.executable).with_name("summarizer")
RUN_TIMEOUT_S = 300


def ray_processes() -> set[int]:
    """Pids of live Ray worker and agent processes of this user (their command lines start with "ray::")."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if cmdline.startswith(b"ray::") and state != "Z":
            found.add(int(entry.name))
    return found


@pytest.fixture
def no_stray_ray_processes() -> object:
    """Ray processes a test leaves behind are ended (Ray's agents outlive a driver killed with SIGKILL)."""
    before = ray_processes()
    yield
    deadline = time.monotonic() + 10
    while (left := ray_processes() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        os.kill(pid, signal.SIGKILL)


def test_a_thousand_records_through_ray_each_exactly_once(tmp_path: Path, no_stray_ray_processes: object) -> None:
    source, out, script = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "script.json"
    expected = write_corpus(source, 1000)
    script.write_text(json.dumps(SCRIPT), encoding="utf-8")
    env = {**os.environ, "SUMMARIZER_BACKEND": "fake", "SUMMARIZER_FAKE_SCRIPT": str(script), "COLUMNS": "200"}
    args = [str(EXE), "batch", str(source), "--out", str(out), "--runner", "ray", "--actors", "2"]
    args += ["--no-cache", "--max-input-chars", "2000"]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 1, done.stderr  # the corpus's bad records failed, in the driver
    statuses = check_exactly_once(read_output(out), expected)
    assert statuses["done"] == 1000 and statuses["failed"] == len(expected) - 1000
    assert "Ray: 2 actors" in done.stderr and "1000 done" in done.stderr


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(tmp_path: Path, no_stray_ray_processes: object) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = write_corpus(source, 200, bad=False)

    async def run(server: FakeOpenAIServer) -> list[int]:
        settings = Settings(backend="openai", base_url=server.base_url, no_cache=True, max_input_chars=2000)
        summarizer = Summarizer(settings)
        killed: list[int] = []
        async with RayRunner(settings, RayOptions(actors=2, per_actor=4, num_cpus=2)) as runner:
            first = runner.pids()

            def progress(report: object) -> None:
                if not killed and getattr(report, "done", 0) >= 40:  # a fifth in: kill a worker under its articles
                    killed.append(first[0])
                    os.kill(first[0], signal.SIGKILL)

            with JsonlStore(out) as store:
                report = await run_batch(
                    read_records(source, max_chars=2000),
                    summarizer,
                    store,
                    concurrency=runner.concurrency,
                    on_progress=progress,
                    compute=runner.compute,
                )
            assert report.failed == 0, report.errors
            after = runner.pids()
        assert killed and killed[0] not in after  # Ray restarted the worker
        return killed

    with FakeOpenAIServer(SCRIPT, latency_ms=20) as server:
        asyncio.run(run(server))
    statuses = check_exactly_once(read_output(out), expected)
    assert statuses["done"] == 200


def test_the_driver_killed_with_sigkill_resumes_with_every_record_once(
    tmp_path: Path, no_stray_ray_processes: object
) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = write_corpus(source, 300)
    with FakeOpenAIServer(SCRIPT, latency_ms=20) as server:
        args = [str(EXE), "batch", str(source), "--out", str(out), "--runner", "ray", "--actors", "2"]
        args += ["--base-url", server.base_url, "--no-cache", "--max-input-chars", "2000"]
        sigkill_when(args, lambda: out.exists() and out.stat().st_size >= 20_000, cwd=tmp_path)
        partial = [json.loads(line) for line in out.read_bytes().split(b"\n")[:-1]]
        assert 0 < len(partial) < len(expected)
        final = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert final.returncode == 1, final.stderr  # the bad records failed; everything else is done
    statuses = check_exactly_once(read_output(out), expected)
    assert statuses["done"] == 300
    assert "skipped" in final.stderr
