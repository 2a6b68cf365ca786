"""``summarizer batch --runner provider-batch`` against the fake server's batch API (``/v1/files``,
``/v1/batches``): per-request errors, an expired batch, a failed batch and invalid answers end with every article
exactly once; a command killed after submitting, run again, pays for no batch twice."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from summarizer import Settings
from summarizer.batch._provider import ProviderBatchRunner, ProviderState, state_path
from summarizer.testing.fake_openai import FakeOpenAIServer

from .test_batch_helpers import SCRIPT, check_exactly_once, read_output, sigkill_when, write_corpus

EXE = Path(sys.executable).with_name("summarizer")
RUN_TIMEOUT_S = 300


def batch_args(source: Path, out: Path, server: FakeOpenAIServer) -> list[str]:
    args = [str(EXE), "batch", str(source), "--out", str(out), "--runner", "provider-batch"]
    args += ["--base-url", server.base_url, "--no-cache", "--max-input-chars", "2000", "--max-reasks", "3"]
    return args + ["--price-per-1k-prompt-tokens", "2", "--report-json", str(out.with_suffix(".report.json"))]


ENV = {**os.environ, "SUMMARIZER_BATCH_POLL_S": "0.02", "COLUMNS": "200"}


def submitted_ids(server: FakeOpenAIServer) -> list[list[str]]:
    """The custom ids of each batch the server was given, in order of creation."""
    return [
        [json.loads(line)["custom_id"] for line in server.files[b["input_file_id"]].decode().splitlines()]
        for b in sorted(server.batches.values(), key=lambda b: int(b["id"].split("_")[1]))
    ]


def test_500_articles_through_faults_expiry_and_invalid_answers_each_exactly_once(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = write_corpus(source, 500)
    faults = ("500", "429", "invalid", "truncated")
    with FakeOpenAIServer(
        SCRIPT, fault_rate=0.05, fault_kinds=faults, seed=11, batch_faults=[None, "expire", "fail"]
    ) as server:
        done = subprocess.run(
            batch_args(source, out, server), env=ENV, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
        batches = submitted_ids(server)
    assert done.returncode == 1, done.stderr  # the corpus's bad records failed; every article is done
    statuses = check_exactly_once(read_output(out), expected)
    assert statuses["done"] == 500 and statuses["failed"] == len(expected) - 500
    assert "expired" in done.stderr and "failed" in done.stderr
    assert len(batches) >= 4  # the first round, then the failed requests, re-asks and the expired and failed ones
    report = json.loads(out.with_suffix(".report.json").read_text())
    pb = report["provider_batch"]
    assert pb["batches"] == len(batches) and pb["sent_again"] > 0
    assert report["cost_estimate"] == round(report["prompt_tokens"] * 2 * 0.5 / 1000, 6)  # at the batch price


def test_killed_after_submitting_then_rerun_pays_for_no_batch_twice(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = write_corpus(source, 60)
    with FakeOpenAIServer(SCRIPT, batch_polls=10**6) as server:  # the first batch stays in progress
        args = batch_args(source, out, server)
        submitted_at: list[float] = []

        def polling() -> bool:  # a batch was submitted a moment ago: the command is waiting for it
            if server.batches and not submitted_at:
                submitted_at.append(time.monotonic())
            return bool(submitted_at) and time.monotonic() - submitted_at[0] > 0.3

        sigkill_when(args, polling, env=ENV)
        assert len(server.batches) == 1
        first = next(iter(server.batches))
        server._batch_polls_left[first] = 0  # the provider finishes it while no one waits
        server.batch_polls = 0
        rerun = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        batches = submitted_ids(server)
    assert rerun.returncode == 1, rerun.stderr
    statuses = check_exactly_once(read_output(out), expected)
    assert statuses["done"] == 60
    assert len(batches) == 1, batches  # every answer came from the batch the killed run had submitted


def test_an_upload_whose_batch_id_was_never_recorded_is_found_not_submitted_again(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(SCRIPT) as server:
        # the run uploaded a file and created its batch, then died before it recorded the batch id
        upload = server.add_file(b'{"custom_id": "k1"}\n', "requests.jsonl", "batch")
        server.create_batch({"input_file_id": upload["id"]})
        state = ProviderState(state_path(out))
        state.uploaded(upload["id"], ["k1"])
        state.close()

        async def adopt() -> None:
            runner = ProviderBatchRunner(Settings(backend="openai", base_url=server.base_url), out)
            try:
                await runner._adopt_uploads()
            finally:
                await runner.aclose()

        asyncio.run(adopt())
        assert len(server.batches) == 1
    state = ProviderState(state_path(out))
    assert state.unsubmitted_uploads() == [] and state.open_batches() == ["batch_1"]
    state.close()
