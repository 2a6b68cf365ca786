"""HTTP batches: submission, status, JSON Lines results, the SQLite store, and restarts mid-batch
(``summarizer serve`` in a subprocess, stopped gracefully or killed, then started again)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from summarizer import Settings
from summarizer.api._store import BatchDB, SqliteBatchStore, owner_tag
from summarizer.backends.fake import FakeBackend
from summarizer.batch import RecordError
from summarizer.schemas import SummaryResult

from .test_api import PUBLISHED, SCRIPT, SEED, assert_error, live, make_settings


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def articles(n: int) -> list[dict[str, Any]]:
    text = SEED.read_text(encoding="utf-8")
    return [{"id": f"a{i:02d}", "text": f"{text}\n\nUpdate {i}.", "published": PUBLISHED} for i in range(n)]


def result_lines(client: httpx.Client, batch_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/batches/{batch_id}/results")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_batch_article_is_given_back_as_the_summarizer_read_it() -> None:
    settings = make_settings()
    page = (
        "<html><head><title>Talks</title></head><body><article><p>Foreign ministers met in Vell.</p>"
        "</article></body></html>"
    )
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        accepted = client.post("/v1/batches", json={"articles": [{"id": "p", "html": page, "published": PUBLISHED}]})
        batch_id = accepted.json()["id"]
        article = client.get(f"/v1/batches/{batch_id}/articles/p")
        assert article.status_code == 200, article.text
        assert "Foreign ministers met in Vell." in article.json()["text"] and "<p>" not in article.json()["text"]
        assert article.json()["title"] == "Talks" and article.json()["published"] == PUBLISHED
        direct = client.post("/v1/articles", json={"html": page})
        assert direct.status_code == 200 and direct.json()["text"] == article.json()["text"]
        assert_error(client.get(f"/v1/batches/{batch_id}/articles/nope"), 404, "article_not_found")
        assert_error(client.get("/v1/batches/bat_nope/articles/p"), 404, "batch_not_found")


def test_batch_round_trip() -> None:
    settings = make_settings(concurrency=2)
    records = [
        {"id": "seed", "text": SEED.read_text(encoding="utf-8"), "published": PUBLISHED, "title": "Putin"},
        {"text": " \n "},
        {"id": "bin", "text": "\u0001\u0002\u0003\u0004"},
    ]
    with live(settings, FakeBackend(settings, SCRIPT, latency_ms=5)) as client:
        accepted = client.post("/v1/batches", json={"articles": records})
        assert accepted.status_code == 202, accepted.text
        batch_id = accepted.json()["id"]
        assert accepted.headers["location"] == f"/v1/batches/{batch_id}"
        assert accepted.json()["total"] == 3 and accepted.json()["status"] in ("queued", "running")
        status = wait_for(
            lambda: (s := client.get(f"/v1/batches/{batch_id}").json())["status"] == "done" and s, 20, "batch done"
        )
        lines = result_lines(client, batch_id)
        metrics = client.get("/metrics").text
    assert (status["total"], status["done"], status["failed"], status["pending"], status["progress"]) == (3, 1, 2, 0, 1)
    assert status["errors"] == {"empty_input": 1, "binary_input": 1}
    assert status["model_calls"] == 5 and status["grounding_rate"] == pytest.approx(5 / 6)
    assert status["finished_at"] is not None
    assert [(line["id"], line["status"]) for line in lines] == [("seed", "done"), ("2", "failed"), ("bin", "failed")]
    result = SummaryResult.model_validate(lines[0]["result"])
    assert result.source.title == "Putin" and result.grounding.counts.grounded_items == 5
    assert lines[1]["error"]["code"] == "empty_input"
    assert 'summarizer_articles_total{outcome="ok",source="batch"} 1.0' in metrics
    assert 'summarizer_articles_total{outcome="error",source="batch"} 2.0' in metrics


def test_batch_errors() -> None:
    settings = make_settings(api_max_batch_articles=3)
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        too_many = client.post("/v1/batches", json={"articles": [{"text": "x"}] * 4})
        duplicate = client.post("/v1/batches", json={"articles": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]})
        clash = client.post("/v1/batches", json={"articles": [{"text": "x"}, {"id": "1", "text": "y"}]})
        empty = client.post("/v1/batches", json={"articles": []})
        no_text = client.post("/v1/batches", json={"articles": [{"title": "t"}]})
        malformed = client.post("/v1/batches", content=b'{"articles": [', headers={"content-type": "application/json"})
        unknown = client.get("/v1/batches/bat_0123")
        unknown_results = client.get("/v1/batches/bat_0123/results")
    assert "4 articles" in assert_error(too_many, 413, "batch_too_large")["message"]
    assert_error(duplicate, 422, "duplicate_id")
    assert_error(clash, 422, "duplicate_id")
    assert_error(empty, 422, "invalid_request")
    assert_error(no_text, 422, "invalid_request")
    assert_error(malformed, 400, "malformed_json")
    assert_error(unknown, 404, "batch_not_found")
    assert_error(unknown_results, 404, "batch_not_found")


def _result(settings: Settings) -> SummaryResult:
    import asyncio

    from summarizer import Summarizer

    return asyncio.run(Summarizer(settings, FakeBackend(settings, SCRIPT)).summarize("Putin spoke in Bishkek."))


def test_store_keeps_one_outcome_per_article(tmp_path: Path) -> None:
    import asyncio

    db = BatchDB(tmp_path / "b.sqlite3")
    db.create("b1", [("x", {"text": "a"}), ("y", {"text": "b"}), ("z", {"text": "c"})])
    seen: list[Any] = []
    store = SqliteBatchStore(db, "b1", seen.append)
    result = _result(make_settings())

    async def go() -> list[bool]:
        await store.record_result("x", result)
        await store.record_error("x", RecordError("backend_error", "late duplicate"))  # ignored
        await store.record_error("y", RecordError("empty_input", "empty"))
        return [await store.should_run(i) for i in ("x", "y", "z")]

    assert asyncio.run(go()) == [False, False, True]
    assert len(seen) == 2
    status = db.status("b1")
    assert status is not None and (status["done"], status["failed"], status["errors"]) == (1, 1, {"empty_input": 1})
    assert [line for _, line in db.lines("b1", -1, 10)][0].startswith('{"id":"x","status":"done"')
    assert [seq for seq, _, _ in db.pending("b1", -1, 10)] == [2]
    db.close()


def test_claims_skip_live_owners_and_take_dead_ones(tmp_path: Path) -> None:
    db = BatchDB(tmp_path / "b.sqlite3")
    db.create("b1", [("x", {"text": "a"})])
    me = owner_tag()
    assert db.claim(me) == "b1"
    assert db.claim(owner_tag()) is None  # this process is alive and beating
    assert db.heartbeat("b1", me)
    db.release("b1", me)
    assert db.claim("other") == "b1"  # released: anyone may take it
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with sqlite3.connect(tmp_path / "b.sqlite3") as raw:
        raw.execute("UPDATE batches SET owner = ? WHERE id = 'b1'", (f"{socket.gethostname()}:{dead.pid}:x",))
    assert db.claim(me) == "b1"  # its owner's process is gone
    db.release("b1", me, state="done")
    assert db.claim(me) is None
    db.close()


# -- `summarizer serve` in a subprocess -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(tmp_path: Path, name: str, env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``summarizer serve`` on a free port; yields the process and its URL once /healthz answers."""
    port = _free_port()
    log = (tmp_path / f"{name}.log").open("wb")
    command = [sys.executable, "-c", "from summarizer.cli import main; main()", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {(tmp_path / f'{name}.log').read_text()}")
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, 60, "the server to start", interval=0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT), encoding="utf-8")
    return {
        "SUMMARIZER_BACKEND": "fake",
        "SUMMARIZER_FAKE_SCRIPT": str(script),
        "SUMMARIZER_API_BATCH_DB": str(tmp_path / "batches.sqlite3"),
        **extra,
    }


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "killed"])
def test_restart_mid_batch_gives_every_article_one_result(tmp_path: Path, stop: signal.Signals) -> None:
    env = _env(tmp_path, SUMMARIZER_FAKE_LATENCY_MS="60", SUMMARIZER_CONCURRENCY="2")
    records = articles(20)  # 5 calls x 60 ms = 0.3 s each, 2 at a time: about 3 s in all
    with serve(tmp_path, "first", env) as (proc, url):
        with httpx.Client(base_url=url, timeout=10) as client:
            batch_id = client.post("/v1/batches", json={"articles": records}).json()["id"]
            wait_for(lambda: client.get(f"/v1/batches/{batch_id}").json()["done"] >= 3, 30, "three results")
        proc.send_signal(stop)
        proc.wait(timeout=20)
    with sqlite3.connect(tmp_path / "batches.sqlite3") as raw:
        before = raw.execute("SELECT count(*) FROM outcomes WHERE batch_id = ?", (batch_id,)).fetchone()[0]
    assert 3 <= before < 20, "the server must stop mid-batch for this test to mean anything"
    with serve(tmp_path, "second", env) as (_, url), httpx.Client(base_url=url, timeout=10) as client:
        status = wait_for(
            lambda: (s := client.get(f"/v1/batches/{batch_id}").json())["status"] == "done" and s, 30, "batch done"
        )
        lines = result_lines(client, batch_id)
        metrics = client.get("/metrics").text
    assert status["done"] == 20 and status["failed"] == 0 and status["pending"] == 0
    assert sorted(line["id"] for line in lines) == [r["id"] for r in records]  # one line per article, no duplicate
    assert all(line["status"] == "done" for line in lines)
    # the second server summarized only what had no result yet: five model calls per remaining article
    assert f"summarizer_backend_calls_total {5.0 * (20 - before)}\n" in metrics
    first_log = [json.loads(line) for line in (tmp_path / "first.log").read_text().splitlines()]
    assert any(entry["msg"] == "batch started" and entry["batch_id"] == batch_id for entry in first_log)
    if stop == signal.SIGTERM:
        assert any(entry["msg"] == "batch paused" for entry in first_log)


def test_serve_with_two_workers_and_auth(tmp_path: Path) -> None:
    key = "worker-key-5e0f"
    env = _env(tmp_path, SUMMARIZER_API_KEYS=key)
    text = SEED.read_text(encoding="utf-8")
    with serve(tmp_path, "workers", env, "--workers", "2", "--concurrency", "3") as (proc, url):
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, timeout=10, headers=auth) as client:
            denied = httpx.post(url + "/v1/summaries", json={"text": text})
            summaries = [client.post("/v1/summaries", json={"text": text}) for _ in range(4)]
            batch_id = client.post("/v1/batches", json={"articles": articles(3)}).json()["id"]
            wait_for(lambda: client.get(f"/v1/batches/{batch_id}").json()["status"] == "done", 30, "batch done")
            lines = result_lines(client, batch_id)
    assert denied.status_code == 401
    assert [r.status_code for r in summaries] == [200] * 4
    assert len(lines) == 3
    logged = (tmp_path / "workers.log").read_text()
    requests = [json.loads(line) for line in logged.splitlines() if '"request"' in line]
    assert {entry["path"] for entry in requests} >= {"/v1/summaries", "/v1/batches"}
    assert key not in logged and "Witkoff" not in logged
