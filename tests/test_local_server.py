"""The llama.cpp server process: start failures, timings from its log, JSON repair, no orphan processes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from summarizer.backends import _server_process as srv
from summarizer.backends.local import LocalBackend, repair_json
from summarizer.config import Settings
from summarizer.errors import BackendUnavailableError, ConfigError, ModelFileError
from summarizer.schemas import PositionsCall


def processes_with_arg(arg: str) -> list[int]:
    """Pids of live llama.cpp server processes whose command line contains ``arg`` (e.g. a model path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if srv.SERVER_MODULE.encode() in cmdline and arg.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


MESSAGES = [{"role": "user", "content": "Say nothing."}]


def test_a_file_that_only_looks_like_gguf_fails_start_up_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + os.urandom(4096))
    backend = LocalBackend(Settings(model_path=broken, local_start_timeout=60))

    async def run() -> None:
        try:
            with pytest.raises(BackendUnavailableError) as info:
                await backend.call("positions", MESSAGES, PositionsCall)
            message = str(info.value)
            assert "exited during start-up" in message
            assert "last lines of" in message and ".log" in message
        finally:
            await backend.aclose()

    asyncio.run(run())
    assert processes_with_arg(str(broken)) == []
    assert list((tmp_path / "cache" / "logs").glob("llama-server-*.log"))


def test_not_a_gguf_is_refused_before_any_process_starts(tmp_path: Path) -> None:
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        asyncio.run(LocalBackend(Settings(model_path=bogus)).call("positions", MESSAGES, PositionsCall))
    assert processes_with_arg(str(bogus)) == []


def test_ready_is_false_when_the_server_cannot_start(tmp_path: Path) -> None:
    backend = LocalBackend(Settings(model_path=tmp_path / "missing.gguf"))
    assert asyncio.run(backend.ready()) is False


def test_model_name_comes_from_the_catalogue_or_the_file(tmp_path: Path) -> None:
    assert LocalBackend(Settings()).model == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert LocalBackend(Settings(local_model="small")).model == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert LocalBackend(Settings(model_path=tmp_path / "mine.Q8_0.gguf")).model == "mine.Q8_0.gguf"


SERVER_LOG = """\
INFO:     127.0.0.1:33908 - "POST /v1/chat/completions HTTP/1.1" 200 OK
Llama.generate: 631 prefix-match hit, remaining 207 prompt tokens to eval
llama_perf_context_print:        load time =   36636.19 ms
llama_perf_context_print: prompt eval time =    6645.26 ms /   207 tokens (32.10 ms per token, 31.15 tokens per second)
llama_perf_context_print:        eval time =   16014.43 ms /   285 runs   (56.19 ms per token, 17.80 tokens per second)
llama_perf_context_print:       total time =   22668.00 ms /   492 tokens
"""


def test_server_timings_are_parsed_from_its_log() -> None:
    t = srv.parse_timings(SERVER_LOG)
    assert (t.requests, t.cached_prompt_tokens, t.prompt_eval_tokens, t.eval_tokens) == (1, 631, 207, 285)
    assert t.prompt_eval_ms == pytest.approx(6645.26)
    assert t.eval_ms == pytest.approx(16014.43)
    assert srv.parse_timings("").requests == 0


def test_raw_newlines_in_strings_are_repaired_not_reasked() -> None:
    raw = '{"positions": [{"holder": "A", "stance": "line one\nline two\n"}]}'
    fixed = repair_json(raw)
    assert '"stance": "line one line two"' in fixed
    assert repair_json('{"ok": "fine"}') == '{"ok": "fine"}'
    assert repair_json('{"broken": ') == '{"broken": '


def test_the_pinned_llama_cpp_is_required_before_its_internals_are_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = srv.pinned_llama_cpp()
    assert pinned is not None and pinned in (Path(__file__).parents[1] / "pyproject.toml").read_text()
    srv.check_llama_cpp()  # the installed one is the pinned one
    real_version = srv.importlib.metadata.version
    monkeypatch.setattr(
        srv.importlib.metadata, "version", lambda name: "0.0.1" if name == "llama-cpp-python" else real_version(name)
    )
    with pytest.raises(ConfigError, match=f"supports llama-cpp-python {pinned} only.*0.0.1 is installed"):
        srv.check_llama_cpp()
    backend = LocalBackend(Settings(backend="local"))
    with pytest.raises(ConfigError, match="supports llama-cpp-python"):
        backend.server_options()  # before any model file is assembled or server started
