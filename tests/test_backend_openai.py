"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 that injects faults."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from pydantic import BaseModel
from tenacity import RetryCallState

from summarizer import BackendError, BackendTimeoutError, BackendUnavailableError, OutputValidationError, Settings
from summarizer.backends.openai import OpenAIBackend, retry_after_seconds, wait_for_retry
from summarizer.schemas import PositionsCall
from summarizer.testing.fake_openai import FakeOpenAIServer

POSITIONS = {
    "positions": [
        {
            "holder": "Ana Lind",
            "topic": "ceasefire",
            "stance": "A basis for talks.",
            "evidence": ["a serious basis for talks"],
        }
    ]
}
MESSAGES = [{"role": "user", "content": "Article text. TASK: positions"}]


def run_call(backend: OpenAIBackend) -> object:
    async def run() -> object:
        try:
            return await backend.call("positions", MESSAGES, PositionsCall)
        finally:
            await backend.aclose()

    return asyncio.run(run())


def call(server: FakeOpenAIServer, **settings: object) -> object:
    return run_call(OpenAIBackend(Settings(base_url=server.base_url, **settings)))  # type: ignore[arg-type]


@pytest.mark.parametrize("fault", ["500", "429", "timeout", "disconnect"])
def test_transport_faults_are_retried_and_every_attempt_counted(fault: str) -> None:
    with FakeOpenAIServer({"positions": POSITIONS}, faults=[fault, fault], hang_s=1.5) as server:
        result = call(server, max_retries=3, request_timeout=0.5)
        assert server.requests == 3
    assert result.parsed.model_dump() == POSITIONS  # type: ignore[attr-defined]
    assert result.usage.retries == 2  # type: ignore[attr-defined]
    assert result.usage.model_calls == 1  # type: ignore[attr-defined]
    assert result.usage.prompt_tokens > 0  # type: ignore[attr-defined]


def test_retries_are_bounded_and_the_last_error_is_clear() -> None:
    with FakeOpenAIServer({"positions": POSITIONS}, faults=["500"] * 10) as server:
        with pytest.raises(BackendError) as info:
            call(server, max_retries=2)
        assert server.requests == 3
    assert info.value.status_code == 500
    assert "HTTP 500" in info.value.message


def test_the_first_failure_paces_the_first_retry() -> None:
    """The first attempt runs before tenacity's loop; its failure still decides the first wait."""
    seen: list[tuple[int, str]] = []

    def wait(state: RetryCallState) -> float:
        assert state.outcome is not None
        seen.append((state.attempt_number, type(state.outcome.exception()).__name__))
        return 0.0

    with FakeOpenAIServer({"positions": POSITIONS}, faults=["429", "500"]) as server:
        backend = OpenAIBackend(Settings(base_url=server.base_url, max_retries=3))
        backend.wait = wait
        result = run_call(backend)
        assert server.requests == 3
    assert seen == [(1, "RateLimitError"), (2, "InternalServerError")]
    assert result.usage.retries == 2  # type: ignore[attr-defined]


def test_no_retries_configured_means_one_attempt() -> None:
    with FakeOpenAIServer({"positions": POSITIONS}, faults=["500", "500"]) as server:
        with pytest.raises(BackendError) as info:
            call(server, max_retries=0)
        assert server.requests == 1
    assert info.value.status_code == 500


def test_timeout_after_retries_is_a_timeout_error() -> None:
    with FakeOpenAIServer({"positions": POSITIONS}, faults=["timeout"] * 3, hang_s=1.0) as server:
        with pytest.raises(BackendTimeoutError):
            call(server, max_retries=1, request_timeout=0.3)
        assert server.requests == 2


def test_client_errors_are_not_retried() -> None:
    def unauthorized(call_name: str, body: dict) -> str:
        raise AssertionError("not reached")

    with FakeOpenAIServer(unauthorized) as server:
        backend = OpenAIBackend(Settings(base_url=server.base_url.replace("/v1", "/nope")))
        with pytest.raises(BackendError) as info:
            run_call(backend)
        assert server.requests == 0
    assert info.value.status_code == 404


def test_unreachable_endpoint_is_unavailable() -> None:
    with FakeOpenAIServer() as server:
        url = server.base_url
    with pytest.raises(BackendUnavailableError, match="unreachable"):
        run_call(OpenAIBackend(Settings(base_url=url, max_retries=1)))


@pytest.mark.parametrize("fault", ["invalid", "truncated"])
def test_invalid_or_truncated_json_is_reasked_and_counted(fault: str) -> None:
    with FakeOpenAIServer({"positions": POSITIONS}, faults=[fault]) as server:
        result = call(server, max_reasks=1)
        assert server.requests == 2
    assert result.usage.model_calls == 2  # type: ignore[attr-defined]
    assert result.usage.retries == 1  # type: ignore[attr-defined]
    assert result.usage.completion_tokens == server.completion_tokens  # type: ignore[attr-defined]


def test_reask_sends_the_validation_error_back_to_the_model() -> None:
    seen: list[dict] = []
    answers = iter(['{"positions": [{"holder": "X"}]}', json.dumps(POSITIONS)])

    def script(call_name: str, body: dict) -> str:
        seen.append(body)
        return next(answers)

    with FakeOpenAIServer(script) as server:
        call(server, max_reasks=2)
    assert len(seen) == 2
    followup = json.dumps(seen[1]["messages"])
    assert "topic" in followup and "Field required" in followup


def test_output_that_never_validates_is_an_output_error() -> None:
    with FakeOpenAIServer({"positions": '{"positions": "nope"}'}) as server:
        with pytest.raises(OutputValidationError, match="failed validation after 2 attempt"):
            call(server, max_reasks=1)
        assert server.requests == 2


def test_json_object_format_carries_the_schema_for_llama_cpp_python() -> None:
    bodies: list[dict] = []

    def script(call_name: str, body: dict) -> dict:
        bodies.append(body)
        return POSITIONS

    with FakeOpenAIServer(script) as server:
        call(server, response_format="json_object")
        call(server)
    assert bodies[0]["response_format"]["type"] == "json_object"
    assert bodies[0]["response_format"]["schema"]["title"] == "PositionsCall"
    assert bodies[1]["response_format"]["type"] == "json_schema"
    assert bodies[1]["response_format"]["json_schema"]["name"] == "PositionsCall"


def _error_with_headers(headers: dict[str, str]) -> object:
    return SimpleNamespace(response=SimpleNamespace(headers=headers))


def test_retry_after_is_honoured_and_capped() -> None:
    assert retry_after_seconds(_error_with_headers({"retry-after": "3"})) == 3.0
    assert retry_after_seconds(_error_with_headers({"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(_error_with_headers({})) is None
    state = SimpleNamespace(
        attempt_number=1, outcome=SimpleNamespace(exception=lambda: _error_with_headers({"retry-after": "7"}))
    )
    assert wait_for_retry(state) == 7.0  # type: ignore[arg-type]
    state.outcome = SimpleNamespace(exception=lambda: _error_with_headers({"retry-after": "9999"}))
    assert wait_for_retry(state) == 60.0  # type: ignore[arg-type]
    state.outcome = SimpleNamespace(exception=lambda: _error_with_headers({}))
    assert 0 <= wait_for_retry(state) <= 20  # type: ignore[arg-type]


def test_missing_endpoint_is_a_config_error_naming_the_fix() -> None:
    from summarizer import ConfigError

    with pytest.raises(ConfigError, match="SUMMARIZER_BASE_URL"):
        OpenAIBackend(Settings(backend="openai"))


def test_cached_json_schema_is_pydantics_and_a_fresh_copy_each_time() -> None:
    first = PositionsCall.model_json_schema()
    assert first == BaseModel.model_json_schema.__func__(PositionsCall)  # type: ignore[attr-defined]
    first["properties"].clear()
    assert PositionsCall.model_json_schema()["properties"], "a caller's edit leaked into the cache"
    assert PositionsCall.model_json_schema(mode="serialization") == BaseModel.model_json_schema.__func__(
        PositionsCall, mode="serialization"
    )  # type: ignore[attr-defined]
