"""Fault injection: a flaky OpenAI-compatible endpoint and bad records never lose or duplicate a record."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.schemas import SummaryResult
from summarizer.testing.fake_openai import FakeOpenAIServer

from .test_batch_helpers import SCRIPT, check_exactly_once, read_output, write_corpus

RECORDS = 1000
FAULTS = ("500", "429", "timeout", "truncated", "invalid")
BAD_INPUT_CODES = {
    "empty_input",
    "binary_input",
    "input_too_large",
    "bad_record",
    "bad_json",
    "not_utf8",
    "bad_published",
}
runner = CliRunner()


def run_batch_cli(source: Path, out: Path, report: Path, base_url: str, *extra: str) -> int:
    args = [
        "batch", str(source), "--out", str(out), "--report-json", str(report), "--base-url", base_url,
        "--concurrency", "16", "--request-timeout", "1", "--max-retries", "2", "--max-reasks", "0",
        "--max-input-chars", "2000", *extra,
    ]  # fmt: skip
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code


def test_flaky_endpoint_and_bad_records_give_every_record_exactly_once(tmp_path: Path) -> None:
    source, out, report_file = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "report-1.json"
    expected = write_corpus(source, RECORDS)
    with FakeOpenAIServer(SCRIPT, fault_rate=0.05, fault_kinds=FAULTS, seed=6, retry_after_s=1, hang_s=1.5) as server:
        code = run_batch_cli(source, out, report_file, server.base_url)
        faults_sent = dict(server.faults_sent)
        (tmp_path / "faults.json").write_text(json.dumps({"requests": server.requests, "faults": faults_sent}))
    assert set(faults_sent) == set(FAULTS), faults_sent  # every kind of fault was really served

    lines = read_output(out)
    statuses = check_exactly_once(lines, expected)
    report = json.loads(report_file.read_text())
    assert code == 1  # some records failed
    assert (report["done"], report["failed"], report["skipped"]) == (statuses["done"], statuses["failed"], 0)
    assert report["seen"] == len(lines) == len(expected)
    assert (report["output_done"], report["output_failed"]) == (statuses["done"], statuses["failed"])

    errors = {line["id"]: line["error"] for line in lines if line["status"] == "failed"}
    assert {errors[i]["code"] for i in errors if not i.startswith("r")} == BAD_INPUT_CODES
    model_failures = {i: e["code"] for i, e in errors.items() if i.startswith("r")}
    # with no re-asks, a truncated or invalid answer fails its record; no fault stops the batch
    assert "invalid_model_output" in model_failures.values()
    assert set(model_failures.values()) <= {"invalid_model_output", "backend_error", "backend_timeout"}
    assert sum(report["errors"].values()) == report["failed"]
    results = [SummaryResult.model_validate(line["result"]) for line in lines if line["status"] == "done"]
    assert sum(r.usage.retries for r in results) == report["retries"] > 0  # transport faults were retried
    assert sum(r.usage.prompt_tokens for r in results) == report["prompt_tokens"]
    grounded = sum(r.grounding.counts.grounded_items for r in results)
    assert report["grounding_rate"] == grounded / (grounded + sum(r.grounding.counts.ungrounded_items for r in results))
    assert 0 < report["grounding_rate"] < 1  # the position quoted from no article was rejected
    assert all(r.rejected and r.summary.positions for r in results)

    # the same command again: nothing to do, the file is untouched
    before = out.read_bytes()
    with FakeOpenAIServer(SCRIPT) as server:
        assert run_batch_cli(source, out, tmp_path / "report-2.json", server.base_url) == 1
        assert server.requests == 0
    assert out.read_bytes() == before
    assert json.loads((tmp_path / "report-2.json").read_text())["skipped"] == len(expected)

    # --retry-failed on a healthy endpoint: the model failures succeed, bad input fails again, one line per id
    with FakeOpenAIServer(SCRIPT) as server:
        assert run_batch_cli(source, out, tmp_path / "report-3.json", server.base_url, "--retry-failed") == 1
    retried = json.loads((tmp_path / "report-3.json").read_text())
    assert retried["done"] == len(model_failures)
    assert retried["failed"] == len(BAD_INPUT_CODES) + 2  # two lines each fail as bad_record and as not_utf8
    lines = read_output(out)
    statuses = check_exactly_once(lines, expected)
    assert statuses["done"] == RECORDS and statuses["failed"] == retried["failed"]


def test_transport_faults_past_their_retries_become_failed_lines(tmp_path: Path) -> None:
    source, out, report_file = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "report.json"
    expected = write_corpus(source, 3, bad=False)
    # one record at a time, so request n belongs to a known record: 3 attempts each (1 try + 2 retries)
    faults = ["500"] * 3 + ["timeout"] * 3 + ["429", "429"]
    with FakeOpenAIServer(SCRIPT, faults=faults, retry_after_s=1, hang_s=1.5) as server:
        code = run_batch_cli(source, out, report_file, server.base_url, "--concurrency", "1")
    lines = {line["id"]: line for line in read_output(out)}
    check_exactly_once(list(lines.values()), expected)
    assert code == 1
    assert lines["r0000"]["error"]["code"] == "backend_error" and "HTTP 500" in lines["r0000"]["error"]["message"]
    assert lines["r0001"]["error"]["code"] == "backend_timeout"
    assert lines["r0002"]["status"] == "done" and lines["r0002"]["result"]["usage"]["retries"] == 2
    report = json.loads(report_file.read_text())
    assert report["errors"] == {"backend_error": 1, "backend_timeout": 1} and report["retries"] == 2
