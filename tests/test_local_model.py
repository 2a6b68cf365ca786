"""The real embedded model (slow: run with ``-m local_model``; deselect with ``-m 'not local_model'``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from summarizer import summarize
from summarizer.backends._gguf import CATALOGUE, ensure_model
from summarizer.backends.local import LocalBackend
from summarizer.config import Settings
from summarizer.errors import BackendTimeoutError, BackendUnavailableError, ModelFileError
from summarizer.schemas import PositionsCall, SummaryResult

from .test_local_server import processes_with_arg

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding the assembled default model, shared by this module's tests."""
    cache = tmp_path_factory.mktemp("model-cache")
    try:
        ensure_model(Settings(cache_dir=cache))
    except ModelFileError as exc:
        pytest.skip(f"embedded model not installed: {exc}")
    return cache


def test_real_model_summarizes_a_seed_into_grounded_records(
    model_cache: Path, seed_000: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(model_cache))
    result = summarize(seed_000, settings=Settings())

    SummaryResult.model_validate_json(result.model_dump_json())
    assert result.provenance.backend == "local"
    assert result.provenance.model == CATALOGUE["default"].model_id
    assert result.usage.model_calls == 5
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    assert result.usage.cached_prompt_tokens > 0  # the article's tokens were reused across the calls
    grounded = [
        g for g in result.grounding.items if g.category in ("positions", "demands") and g.quotes[0].status != "missing"
    ]
    assert len(result.summary.positions) + len(result.summary.demands) >= 1
    assert grounded, "no position or demand grounded in the article"
    assert processes_with_arg(str(model_cache / "models" / "default.gguf")) == []


def test_server_killed_mid_request_gives_a_clear_error_and_restarts(model_cache: Path, seed_000: str) -> None:
    model = model_cache / "models" / "default.gguf"
    backend = LocalBackend(Settings(model_path=model, max_retries=3))
    messages = [{"role": "user", "content": seed_000 + "\n\nList the positions in the article above."}]

    async def run() -> None:
        try:
            server = await backend.start()
            first_pid = server.proc.pid if server.proc else 0
            call = asyncio.create_task(backend.call("positions", messages, PositionsCall))
            await asyncio.sleep(2.0)  # the request is being computed (its prompt alone takes longer)
            assert not call.done()
            os.kill(first_pid, signal.SIGKILL)
            with pytest.raises(BackendUnavailableError) as info:
                await asyncio.wait_for(call, timeout=30)
            assert "stopped during a request (killed by signal 9)" in str(info.value)
            assert processes_with_arg(str(model)) == []

            again = await backend.start()  # the next request gets a fresh server
            assert again.alive() and again.proc is not None and again.proc.pid != first_pid
        finally:
            await backend.aclose()

    asyncio.run(run())
    assert processes_with_arg(str(model)) == []


PARENT = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from summarizer.backends.local import LocalBackend
    from summarizer.config import Settings

    async def main():
        server = await LocalBackend(Settings(model_path=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))).start()
        print(server.proc.pid, flush=True)
        time.sleep(600)

    asyncio.run(main())
    """
)


def test_server_dies_with_a_killed_parent(model_cache: Path, tmp_path: Path) -> None:
    model = model_cache / "models" / "default.gguf"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(model), str(tmp_path / "cache")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert processes_with_arg(str(model)) == [server_pid]
    finally:
        parent.kill()
        parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 15
    while processes_with_arg(str(model)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with_arg(str(model)) == []


def test_request_timeout_stops_the_busy_server_and_fails_clearly(model_cache: Path, seed_000: str) -> None:
    model = model_cache / "models" / "default.gguf"
    backend = LocalBackend(Settings(model_path=model, request_timeout=1.0, max_retries=3))
    messages = [{"role": "user", "content": seed_000 + "\n\nList the positions in the article above."}]

    async def run() -> None:
        try:
            started = time.monotonic()
            await backend.start()
            with pytest.raises(BackendTimeoutError, match="did not answer within 1 s"):
                await backend.call("positions", messages, PositionsCall)
            assert time.monotonic() - started < 60  # no retry waited for the abandoned answer
            assert processes_with_arg(str(model)) == []
            assert backend.server is not None and not backend.server.alive()
        finally:
            await backend.aclose()

    asyncio.run(run())
