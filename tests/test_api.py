"""The HTTP API served by a real uvicorn on 127.0.0.1, with the scripted fake backend (or a fake OpenAI server)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from summarizer import Settings, Summarizer, SummaryResult
from summarizer.api import ServerThread, create_app
from summarizer.api import _server as api_server
from summarizer.api._logging import JsonFormatter
from summarizer.api._server import SERVING_GC_THRESHOLD
from summarizer.backends import Backend
from summarizer.backends.fake import FakeBackend
from summarizer.backends.openai import OpenAIBackend
from summarizer.testing.fake_openai import FakeOpenAIServer

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_4542c6a513510e75.txt"
PUBLISHED = "2025-11-27"
#: Answers grounded in the seed article, plus one invented position that grounding must reject.
SCRIPT: dict[str, Any] = {
    "overview": {
        "summary": "Putin called the US-backed plan a basis for talks while demanding a Ukrainian withdrawal.",
        "actors": [
            {"name": "Vladimir Putin", "kind": "person", "affiliation": "Russia", "role": "President",
             "evidence": ["Russian President Vladimir Putin said Thursday"]},
        ],
    },
    "positions": {
        "positions": [
            {"holder": "Vladimir Putin", "topic": "US peace plan", "stance": "A basis for future agreements.",
             "evidence": ["Overall, we agree that this can be used as a basis for future agreements"]},
            {"holder": "Vladimir Putin", "topic": "the moon", "stance": "Made of cheese.",
             "evidence": ["the moon is made of green cheese, Putin said"]},
        ]
    },
    "demands": {
        "demands": [
            {"demander": "Vladimir Putin", "addressee": "Ukraine", "demand": "Withdraw troops from claimed regions",
             "consequence": "Russia takes them by force",
             "evidence": ["If they don’t withdraw, we will achieve this by force"]},
        ]
    },
    "territorial_figures": {
        "territorial_figures": [
            {"territory": "Ukraine", "controller": "Russia", "measure": "share_controlled", "value": 20,
             "unit": "percent", "approximate": True, "period": None, "attributed_to": None,
             "evidence": ["Russia currently controls approximately 20% of Ukrainian territory"]},
        ]
    },
    "upcoming_meetings": {
        "upcoming_meetings": [
            {"participants": ["Steve Witkoff", "Vladimir Putin"], "location": "Moscow",
             "when_text": "in the first half of next week", "purpose": "Peace plan talks", "status": "expected",
             "evidence": ["expected to arrive in Moscow in the first half of next week"]},
        ]
    },
}  # fmt: skip


def make_settings(**overrides: Any) -> Settings:
    return Settings(**{"backend": "fake", **overrides})


@contextmanager
def live(settings: Settings, backend: Backend | None = None) -> Iterator[httpx.Client]:
    """The app on a free 127.0.0.1 port in a uvicorn thread, and a client for it."""
    with ServerThread(create_app(settings, backend)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(body["error"])


@pytest.fixture
def article() -> str:
    return SEED.read_text(encoding="utf-8")


def test_summary_is_the_library_result(article: str) -> None:
    settings = make_settings()
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        response = client.post("/v1/summaries", json={"text": article, "published": PUBLISHED, "title": "Putin"})
    assert response.status_code == 200, response.text
    served = SummaryResult.model_validate_json(response.content)
    library = asyncio.run(
        Summarizer(settings, FakeBackend(settings, SCRIPT)).summarize(article, published=PUBLISHED, title="Putin")
    )
    assert served.model_dump(exclude={"timings"}) == library.model_dump(exclude={"timings"})
    assert served.usage.model_calls == 5
    assert str(served.summary.upcoming_meetings[0].date_from) == "2025-12-01"
    assert [r.item["topic"] for r in served.rejected] == ["the moon"]  # the ungrounded position was moved out


def test_html_input_is_extracted(article: str) -> None:
    paragraphs = "".join(f"<p>{p}</p>" for p in article.split("\n\n")[1:])
    html = f"<html><head><title>Putin plan</title></head><body><article>{paragraphs}</article></body></html>"
    settings = make_settings()
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        response = client.post("/v1/summaries", json={"html": html, "published": PUBLISHED})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["grounding"]["counts"]["grounded_items"] == 5
    assert result["source"]["title"] == "Putin plan"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"text": "unterminated', 400, "malformed_json"),
        (b"[1, 2]", 422, "invalid_request"),
        (b"{}", 422, "invalid_request"),
        (b'{"title": "only a title"}', 422, "invalid_request"),
        (b'{"text": "a", "html": "<p>b</p>"}', 422, "invalid_request"),
        (b'{"text": 42}', 422, "invalid_request"),
        (b'{"text": "ok", "colour": "blue"}', 422, "invalid_request"),
        (b'{"text": ""}', 422, "invalid_request"),
        (b'{"text": "   \\n\\t "}', 422, "empty_input"),
        (b'{"text": "\\u0000\\u0001\\u0002binary"}', 422, "binary_input"),
        (b'{"html": "<html><body><script>x()</script></body></html>"}', 422, "empty_input"),
        (b'{"text": "Putin spoke.", "published": "last Thursday"}', 422, "bad_published"),
    ],
)
def test_bad_input_is_a_json_4xx(body: bytes, status: int, code: str) -> None:
    settings = make_settings()
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        response = client.post("/v1/summaries", content=body, headers={"content-type": "application/json"})
    assert_error(response, status, code)


def test_body_must_be_a_json_object() -> None:
    settings = make_settings()
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        as_text = client.post("/v1/summaries", content=b'{"text": "x"}', headers={"content-type": "text/plain"})
        as_form = client.post("/v1/summaries", data={"text": "Putin spoke."})
        empty = client.post("/v1/summaries", content=b"", headers={"content-type": "application/json"})
    for response in (as_text, as_form, empty):
        assert "JSON object" in assert_error(response, 422, "invalid_request")["message"]


def test_size_limits_answer_413(article: str) -> None:
    settings = make_settings(api_max_body_bytes=2_000, max_input_chars=500)
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        big = client.post("/v1/summaries", json={"text": article})
        chunked = client.post(
            "/v1/summaries", content=iter([b'{"text": "', b"x" * 1_500, b"y" * 1_500, b'"}']),
            headers={"content-type": "application/json"},
        )  # fmt: skip
        long_text = client.post("/v1/summaries", json={"text": "word " * 200})
        small = client.post("/v1/summaries", json={"text": article[:400]})
    assert "2,000 bytes" in assert_error(big, 413, "request_too_large")["message"]
    assert "transfer-encoding" not in {k.lower() for k in big.request.headers}
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert_error(chunked, 413, "request_too_large")
    assert_error(long_text, 413, "input_too_large")
    assert small.status_code == 200


def test_auth_with_bearer_keys(caplog: pytest.LogCaptureFixture, article: str) -> None:
    keys = ["first-key-7c1d", "second-key-93ab"]
    settings = make_settings(api_keys=",".join(keys))
    caplog.set_level(logging.DEBUG)
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        missing = client.post("/v1/summaries", json={"text": article})
        wrong = client.post("/v1/summaries", json={"text": article}, headers={"Authorization": "Bearer nope"})
        basic = client.post("/v1/summaries", json={"text": article}, headers={"Authorization": "Basic Zm9vOmJhcg=="})
        right = [
            client.post("/v1/summaries", json={"text": article}, headers={"Authorization": f"Bearer {key}"})
            for key in keys
        ]
        batch = client.get("/v1/batches/bat_x", headers={"Authorization": "Bearer nope"})
        metrics_closed = client.get("/metrics")
        metrics_open = client.get("/metrics", headers={"Authorization": f"Bearer {keys[0]}"})
        health, ready = client.get("/healthz"), client.get("/readyz")
        docs = client.get("/openapi.json")
    for response in (missing, wrong, basic, batch, metrics_closed):
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    assert [r.status_code for r in right] == [200, 200]
    assert metrics_open.status_code == 200
    assert health.status_code == 200 and ready.status_code == 200
    spec = docs.json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert spec["paths"]["/v1/summaries"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "request_id" in logged
    assert not any(key in logged for key in keys)


def test_request_log_lines(caplog: pytest.LogCaptureFixture, article: str) -> None:
    settings = make_settings()
    caplog.set_level(logging.INFO, logger="summarizer.api.access")
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        ok = client.post("/v1/summaries", json={"text": article}, headers={"X-Request-ID": "caller-id-1"})
        bad = client.post("/v1/summaries", json={"text": " "})
    assert ok.headers["x-request-id"] == "caller-id-1"
    assert len(bad.headers["x-request-id"]) == 32
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "summarizer.api.access"]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/v1/summaries", 200),
        ("POST", "/v1/summaries", 422),
    ]
    first = lines[0]
    assert first["request_id"] == "caller-id-1" and first["latency_ms"] > 0
    assert first["tokens"] == ok.json()["usage"]["prompt_tokens"] + ok.json()["usage"]["completion_tokens"] > 0
    assert "tokens" not in lines[1]
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "Witkoff" not in everything and "Bishkek" not in everything  # no article text


def test_overload_answers_429_with_retry_after(article: str) -> None:
    settings = make_settings(concurrency=1, api_queue_size=1)
    backend = FakeBackend(settings, SCRIPT, latency_ms=300)  # 1.5 s per summary: all five arrive while one runs
    with live(settings, backend) as client:
        with ThreadPoolExecutor(5) as pool:
            responses = list(pool.map(lambda _: client.post("/v1/summaries", json={"text": article}), range(5)))
        after = client.post("/v1/summaries", json={"text": article})
        metrics = client.get("/metrics").text
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 429, 429, 429]
    for response in responses:
        if response.status_code == 429:
            assert_error(response, 429, "overloaded")
            assert int(response.headers["retry-after"]) >= 1
    assert after.status_code == 200  # the slot and the queue place were given back
    assert "summarizer_overloaded_total 3.0" in metrics


def test_slow_summary_times_out_with_504(article: str) -> None:
    settings = make_settings(api_timeout=0.3)
    backend = FakeBackend(settings, SCRIPT, latency_ms=200)  # 1 s per summary
    with live(settings, backend) as client:
        response = client.post("/v1/summaries", json={"text": article})
        health = client.get("/healthz")
    assert "0.3 s" in assert_error(response, 504, "timeout")["message"]
    assert health.status_code == 200


def test_backend_timeout_is_504(article: str) -> None:
    with FakeOpenAIServer(SCRIPT, faults=["timeout"], hang_s=2.0) as fake:
        settings = Settings(backend="openai", base_url=fake.base_url, request_timeout=0.3, max_retries=0)
        with live(settings) as client:
            response = client.post("/v1/summaries", json={"text": article})
    assert_error(response, 504, "backend_timeout")


def test_unreachable_backend_is_503_and_not_ready(article: str) -> None:
    settings = Settings(backend="openai", base_url=f"http://127.0.0.1:{closed_port()}/v1", max_retries=0)
    with live(settings) as client:
        response = client.post("/v1/summaries", json={"text": article})
        ready = client.get("/readyz")
        health = client.get("/healthz")
    assert "unreachable" in assert_error(response, 503, "backend_unavailable")["message"]
    assert ready.status_code == 503 and ready.json() == {
        "ready": False,
        "backend": "openai",
        "result_cache": True,
        "batch_store": True,
    }
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_backend_failures_are_502(article: str) -> None:
    with FakeOpenAIServer(SCRIPT, faults=["500"]) as fake:
        settings = Settings(backend="openai", base_url=fake.base_url, max_retries=0)
        with live(settings) as client:
            server_error = client.post("/v1/summaries", json={"text": article})
            ready = client.get("/readyz")
    assert "HTTP 500" in assert_error(server_error, 502, "backend_error")["message"]
    assert ready.status_code == 200
    settings = make_settings(max_reasks=0)
    with live(settings, FakeBackend(settings, {**SCRIPT, "demands": "no JSON here"})) as client:
        invalid = client.post("/v1/summaries", json={"text": article})
    assert_error(invalid, 502, "invalid_model_output")


class _BrokenBackend(OpenAIBackend):
    """A backend with a bug: it raises something that is not a summarizer error."""

    name = "broken"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, model="broken", raw_create=self._create)

    async def _create(self, **kwargs: Any) -> Any:
        raise AssertionError("bug in a backend")

    async def call(self, name: str, messages: list[dict[str, Any]], response_model: type[Any]) -> Any:
        raise KeyError("bug in a backend")


def test_server_bug_is_a_json_500_without_traceback(caplog: pytest.LogCaptureFixture, article: str) -> None:
    settings = make_settings()
    caplog.set_level(logging.ERROR, logger="summarizer.api")
    with live(settings, _BrokenBackend(settings)) as client:
        response = client.post("/v1/summaries", json={"text": article})
        health = client.get("/healthz")
    assert_error(response, 500, "internal_error")
    assert "bug in a backend" not in response.text
    assert any(r.exc_info for r in caplog.records)  # the traceback is in the server log
    assert health.status_code == 200


def test_routes_health_metrics_and_docs(article: str) -> None:
    settings = make_settings()
    with live(settings, FakeBackend(settings, SCRIPT)) as client:
        assert client.post("/v1/summaries", json={"text": article}).status_code == 200
        health, ready = client.get("/healthz"), client.get("/readyz")
        docs, schema = client.get("/docs"), client.get("/openapi.json")
        missing, wrong_method = client.get("/v2/nothing"), client.delete("/v1/summaries")
        metrics = client.get("/metrics")
    assert health.json() == {"status": "ok"} and ready.json() == {
        "ready": True,
        "backend": "fake",
        "result_cache": None,
        "batch_store": True,
    }
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = schema.json()["paths"]
    assert {"/v1/summaries", "/v1/batches", "/v1/batches/{batch_id}", "/v1/batches/{batch_id}/results"} <= set(paths)
    assert_error(missing, 404, "not_found")
    assert_error(wrong_method, 405, "method_not_allowed")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for line in (
        'summarizer_http_requests_total{method="POST",route="/v1/summaries",status="200"} 1.0',
        'summarizer_articles_total{outcome="ok",source="api"} 1.0',
        "summarizer_backend_calls_total 5.0",
        "summarizer_backend_retries_total 0.0",
        f"summarizer_grounding_rate {5 / 6}\n",
        'summarizer_grounding_items_total{status="ungrounded"} 1.0',
    ):
        assert line in text, line
    assert 'summarizer_http_request_duration_seconds_count{method="POST",route="/v1/summaries"} 1.0' in text
    assert 'summarizer_tokens_total{kind="prompt"}' in text


def test_an_embedded_app_leaves_the_collector_alone_and_summarizer_serve_tunes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = gc.get_threshold()
    server = ServerThread(create_app(make_settings())).start()
    try:
        assert httpx.get(server.url + "/healthz").status_code == 200
        assert gc.get_threshold() == before  # a library factory changes nothing process-wide
    finally:
        server.stop()
    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr(api_server.uvicorn, "run", lambda app, **kwargs: seen.append(gc.get_threshold()))
    try:
        api_server.serve(make_settings(), port=0)  # what `summarizer serve` runs, up to uvicorn
        assert seen == [(SERVING_GC_THRESHOLD, *before[1:])]
        gc.set_threshold(*before)
        assert isinstance(api_server.served_app_from_env(), FastAPI)  # the worker processes' factory
        assert gc.get_threshold() == (SERVING_GC_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
