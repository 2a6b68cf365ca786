"""What a hostile or careless caller can throw at the batch job, the cache and the API: a record no encoder
should have produced, a second writer through a symlink, a damaged cache file, another tenant's key, one key
taking every slot, and dates with trailing garbage."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from summarizer import Settings
from summarizer.backends.fake import FakeBackend
from summarizer.batch._jsonl import JsonlStore
from summarizer.cache import ResultCache
from summarizer.cli import app
from summarizer.errors import InputError
from summarizer.testing.fake_openai import FakeOpenAIServer

from .test_api import PUBLISHED, SCRIPT, SEED, assert_error, live, make_settings

POISON = (
    '{"id":"a","text":"Officials said talks resume."}\n'
    '{"id":"x\\udc80","text":"More talks."}\n'
    '{"id":"b","text":"A title that no encoder should send.","title":"t\\udc81"}\n'
    '{"id":"c","text":"Officials said talks resume on Monday."}\n'
)


def run_batch(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["batch", *args], env={"SUMMARIZER_BACKEND": "fake", **(env or {})})
    return result.exit_code, result.stderr


def test_a_poison_record_is_its_own_error_line_and_the_batch_finishes_twice(tmp_path: Path) -> None:
    source = tmp_path / "p.jsonl"
    source.write_text(POISON, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    for attempt in range(2):
        code, err = run_batch(str(source), "--out", str(out))
        assert code == 1, err  # finished, some records failed (README: batch exit status)
        assert ("2 done, 2 failed" if attempt == 0 else "4 skipped") in err  # the rerun skips what is done
        assert "holds 2 done and 2 failed records" in " ".join(err.split())
        lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [line["id"] for line in lines] == ["a", "x\udc80", "b", "c"], attempt  # every id once, as given
        by_id = {line["id"]: line for line in lines}
        assert by_id["a"]["status"] == by_id["c"]["status"] == "done"
        assert by_id["x\udc80"]["error"]["code"] == by_id["b"]["error"]["code"] == "not_utf8"
        assert "'title'" in by_id["b"]["error"]["message"]
    assert "Traceback" not in err


def test_a_second_writer_through_a_symlink_or_another_path_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    (tmp_path / "c_link.jsonl").symlink_to(out)
    (tmp_path / "sub").mkdir()
    with JsonlStore(out):
        for other in (tmp_path / "c_link.jsonl", tmp_path / "sub" / ".." / "c.jsonl"):
            with pytest.raises(InputError, match="another batch is writing"):
                JsonlStore(other)
    with JsonlStore(tmp_path / "c_link.jsonl") as store:  # free again: the same file, through the link
        assert store.out == out.resolve()


def _damage(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database " * 400)


def test_a_damaged_cache_is_moved_aside_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "results.sqlite3"
    _damage(path)
    cache = ResultCache(path)
    assert cache.moved_aside is not None and cache.moved_aside[0] == path
    moved = cache.moved_aside[1]
    assert moved.read_bytes().startswith(b"not a database") and len(cache) == 0 and cache.usable()
    [warning] = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert str(path) in warning and str(moved) in warning


def test_the_cli_recovers_from_a_damaged_cache(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    _damage(cache_dir / "results.sqlite3")
    article = tmp_path / "a.txt"
    article.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    with FakeOpenAIServer(SCRIPT) as fake:
        result = CliRunner().invoke(
            app,
            ["summarize", str(article), "--format", "json", "--backend", "openai", "--base-url", fake.base_url],
            env={"SUMMARIZER_CACHE_DIR": str(cache_dir)},
        )
    assert result.exit_code == 0, result.stderr
    assert "is damaged" in result.stderr and "damaged-" in result.stderr
    assert len(list(cache_dir.glob("results.sqlite3.damaged-*"))) == 1


def test_the_api_serves_past_a_damaged_cache_and_reports_an_unusable_one(tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    with FakeOpenAIServer(SCRIPT) as fake:
        damaged = Settings(backend="openai", base_url=fake.base_url, cache_dir=tmp_path / "damaged")
        _damage(tmp_path / "damaged" / "results.sqlite3")
        with live(damaged) as client:
            served = client.post("/v1/summaries", json={"text": text, "published": PUBLISHED})
            ready = client.get("/readyz")
        assert served.status_code == 200, served.text
        assert ready.status_code == 200 and ready.json()["result_cache"] is True
        # A cache path that can never be a file: the server starts, says it is not ready, and never shows paths.
        unusable = Settings(backend="openai", base_url=fake.base_url, cache_dir=tmp_path / "unusable")
        (tmp_path / "unusable" / "results.sqlite3").mkdir(parents=True)
        with live(unusable) as client:
            ready = client.get("/readyz")
            failed = client.post("/v1/summaries", json={"text": text})
    assert ready.status_code == 503 and ready.json()["result_cache"] is False and ready.json()["ready"] is False
    body = assert_error(failed, 500, "bad_config")
    assert str(tmp_path) not in failed.text and "server log" in body["message"]


KEYS = {"alice": "key-alice-0123456789", "bob": "key-bob-0123456789", "admin": "key-admin-0123456789"}


def _auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who]}"}


def test_batches_belong_to_the_key_that_created_them() -> None:
    settings = make_settings(api_keys=f"{KEYS['alice']},{KEYS['bob']}", api_admin_keys=KEYS["admin"])
    body = {"articles": [{"id": "one", "text": SEED.read_text(encoding="utf-8"), "published": PUBLISHED}]}
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        created = client.post("/v1/batches", json=body, headers=_auth("alice"))
        assert created.status_code == 202, created.text
        batch = created.json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/v1/batches/{batch}", headers=_auth("alice")).json()["status"] != "done":
            assert time.monotonic() < deadline, "batch did not finish"
            time.sleep(0.05)
        other = client.get(f"/v1/batches/{batch}", headers=_auth("bob"))
        other_results = client.get(f"/v1/batches/{batch}/results", headers=_auth("bob"))
        admin = client.get(f"/v1/batches/{batch}/results", headers=_auth("admin"))
        own = client.get(f"/v1/batches/{batch}/results", headers=_auth("alice"))
    assert_error(other, 404, "batch_not_found")
    assert_error(other_results, 404, "batch_not_found")
    assert admin.status_code == 200 and own.status_code == 200 and admin.text == own.text
    assert KEYS["alice"] not in own.text


def test_one_key_at_its_share_gets_429_while_another_is_served() -> None:
    # 1 running + 1 waiting place; each key may hold half of them: one.
    settings = make_settings(
        api_keys=f"{KEYS['alice']},{KEYS['bob']}", concurrency=1, api_queue_size=1, api_key_share=0.5
    )
    text = SEED.read_text(encoding="utf-8")
    backend = FakeBackend(settings, SCRIPT, latency_ms=150)
    with live(settings, backend) as client:
        first: list[httpx.Response] = []
        worker = threading.Thread(
            target=lambda: first.append(client.post("/v1/summaries", json={"text": text}, headers=_auth("alice")))
        )
        worker.start()
        deadline = time.monotonic() + 10
        while not backend.calls:  # alice's first request is running
            assert time.monotonic() < deadline
            time.sleep(0.01)
        second = client.post("/v1/summaries", json={"text": text}, headers=_auth("alice"))
        other = client.post("/v1/summaries", json={"text": text}, headers=_auth("bob"))
        worker.join(30)
    assert first and first[0].status_code == 200
    assert_error(second, 429, "overloaded")
    assert "share" in second.json()["error"]["message"] and int(second.headers["Retry-After"]) >= 1
    assert other.status_code == 200, other.text


def test_retry_after_follows_the_measured_drain_rate() -> None:
    from summarizer.api._limits import Admission

    async def scenario() -> int:
        admission = Admission(1, 4)
        for _ in range(4):  # four requests of ~20 ms each: about 50 per second
            async with admission.slot():
                await asyncio.sleep(0.02)
        admission.waiting = 3  # three ahead of a new caller: about 4 x 20 ms
        return admission.retry_after()

    assert asyncio.run(scenario()) == 1


@pytest.mark.parametrize("published", ["2025-11-27garbage", "2025-11-27T25:00", "27/11/2025"])
def test_publication_dates_are_strict(published: str) -> None:
    settings = make_settings()
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        response = client.post("/v1/summaries", json={"text": "Officials said talks resume.", "published": published})
    assert_error(response, 422, "bad_published")


@pytest.mark.parametrize("field", ["text", "title"])
def test_a_lone_surrogate_in_an_api_body_is_an_input_error(field: str) -> None:
    settings = make_settings()
    body = {"text": "Officials said talks resume.", field: "talks \udc80 resume"}
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        response = client.post(
            "/v1/summaries", content=json.dumps(body).encode("ascii"), headers={"Content-Type": "application/json"}
        )
    body = assert_error(response, 422, "invalid_request")  # a caller's mistake, never internal_error
    assert field in body["message"] and "unicode" in body["message"]
