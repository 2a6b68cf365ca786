"""The result cache: hits, misses, --no-cache, nothing invalid stored, several processes writing at once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarizer import ArticleInput, OutputValidationError, Settings, Summarizer
from summarizer.cache import ResultCache, cache_path, close_caches, result_cache
from summarizer.cli import app
from summarizer.pipeline import calls_for
from summarizer.schemas import SummaryResult
from summarizer.testing.fake_openai import FakeOpenAIServer

from .test_batch_helpers import ARTICLE, SCRIPT, write_corpus

TEXT = ARTICLE.format(i=1)
CALLS_PER_ARTICLE = len(calls_for(TEXT))  # no share or area in the text: no territorial-figures call
assert CALLS_PER_ARTICLE == 4


@pytest.fixture(autouse=True)
def _close_caches() -> object:
    yield
    close_caches()


def summarize(
    server: FakeOpenAIServer, text: str = TEXT, title: str | None = None, **settings: object
) -> SummaryResult:
    engine = Summarizer(Settings(backend="openai", base_url=server.base_url, **settings))  # type: ignore[arg-type]

    async def go() -> SummaryResult:
        try:
            return await engine.summarize(text, title=title, published="2025-11-27")
        finally:
            await engine.aclose()

    return asyncio.run(go())


def test_hit_and_miss() -> None:
    with FakeOpenAIServer(SCRIPT) as server:
        first = summarize(server, title="First")
        assert server.requests == CALLS_PER_ARTICLE and not first.timings.cached
        second = summarize(server, title="Second")
        assert server.requests == CALLS_PER_ARTICLE  # served from the cache
        assert second.timings.cached
        assert second.id == first.id and second.summary == first.summary and second.usage == first.usage
        assert second.source.title == "Second"  # title and URL are not part of the id
        summarize(server, text=ARTICLE.format(i=2))
        summarize(server, temperature=0.5)  # other text, other options: other ids
        assert server.requests == 3 * CALLS_PER_ARTICLE


def test_no_cache_neither_reads_nor_writes(tmp_path: Path) -> None:
    settings = Settings()
    with FakeOpenAIServer(SCRIPT) as server:
        summarize(server, no_cache=True)
        assert not cache_path(settings).exists()
        summarize(server)
        summarize(server, no_cache=True)
        assert server.requests == 3 * CALLS_PER_ARTICLE
        summarize(server)
        assert server.requests == 3 * CALLS_PER_ARTICLE


@pytest.mark.parametrize("fault", ["truncated", "invalid"])
def test_an_invalid_model_output_is_never_cached(fault: str) -> None:
    with FakeOpenAIServer(SCRIPT, faults=[None, fault]) as server:
        with pytest.raises(OutputValidationError):
            summarize(server, max_reasks=0)
        cache = result_cache(Settings())
        assert cache is not None and len(cache) == 0
        summarize(server, max_reasks=0)
        assert server.requests == 2 + CALLS_PER_ARTICLE  # computed, not served from the cache
        assert len(cache) == 1


def test_the_scripted_fake_backend_is_not_cached() -> None:
    assert result_cache(Settings(backend="fake")) is None
    assert result_cache(Settings(backend="openai", base_url="http://127.0.0.1:9/v1", no_cache=True)) is None


def test_a_row_that_no_longer_validates_is_a_miss(tmp_path: Path) -> None:
    with FakeOpenAIServer(SCRIPT) as server:
        result = summarize(server)
    cache = ResultCache(tmp_path / "c.sqlite3")
    cache.put(result)
    assert cache.get(result.id) is not None
    cache._db.execute("UPDATE results SET result = ?", (json.dumps({"id": result.id, "old": "envelope"}),))
    assert cache.get(result.id) is None and len(cache) == 0
    cache.close()


def test_a_result_of_another_summarizer_version_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    with FakeOpenAIServer(SCRIPT) as server:
        result = summarize(server)
    cache = ResultCache(tmp_path / "c.sqlite3")
    older = result.provenance.model_copy(update={"summarizer_version": "0.0.1"})
    cache.put(result.model_copy(update={"provenance": older}))
    assert cache.get(result.id) is None
    cache.put(result)
    hit = cache.get(result.id)
    assert hit is not None and hit.provenance == result.provenance and len(cache) == 1
    cache.close()


WRITER = """
import sys
from summarizer.cache import ResultCache
from summarizer.schemas import SummaryResult
result = SummaryResult.model_validate_json(open(sys.argv[2]).read())
cache = ResultCache(sys.argv[1])
for i in range(int(sys.argv[4])):
    cache.put(result.model_copy(update={"id": f"{sys.argv[3]}-{i}"}))
    cache.put(result.model_copy(update={"id": f"shared-{i}"}))
    assert cache.get(f"shared-{i}") is not None
"""


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    with FakeOpenAIServer(SCRIPT) as server:
        result = summarize(server)
    (tmp_path / "result.json").write_text(result.model_dump_json())
    path, writers, each = tmp_path / "shared.sqlite3", 4, 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(tmp_path / "result.json"), f"w{n}", str(each)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    cache = ResultCache(path)
    assert len(cache) == writers * each + each
    hit = cache.get(f"w3-{each - 1}")
    assert hit is not None and hit.summary == result.summary
    cache.close()


def test_a_second_batch_is_served_from_the_cache(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    expected = write_corpus(source, 40, bad=False)
    runner = CliRunner()
    with FakeOpenAIServer(SCRIPT) as server:
        for out in ("first.jsonl", "second.jsonl"):
            args = ["batch", str(source), "--out", str(tmp_path / out), "--base-url", server.base_url]
            code = runner.invoke(app, [*args, "--report-json", str(tmp_path / f"{out}.report")]).exit_code
            assert code == 0
        assert server.requests == len(expected) * CALLS_PER_ARTICLE
    second = json.loads((tmp_path / "second.jsonl.report").read_text())
    assert (second["done"], second["cache_hits"], second["tokens"], second["model_calls"]) == (40, 40, 0, 0)
    lines = [json.loads(line) for line in (tmp_path / "second.jsonl").read_text().splitlines()]
    assert all(line["result"]["timings"]["cached"] for line in lines)


def test_a_cache_that_fails_later_never_fails_the_article(caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAIServer(SCRIPT) as server:
        summarize(server)
        cache = result_cache(Settings())
        assert cache is not None
        cache._db.close()  # the database goes away under a running process
        result = summarize(server)
        assert not result.timings.cached and server.requests == 2 * CALLS_PER_ARTICLE
    assert "unreadable" in caplog.text and "not written" in caplog.text


def test_an_unusable_cache_directory_is_a_settings_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    source = tmp_path / "in.jsonl"
    write_corpus(source, 1, bad=False)
    args = ["batch", str(source), "--out", str(tmp_path / "out.jsonl"), "--base-url", "http://127.0.0.1:9/v1"]
    result = CliRunner().invoke(app, [*args, "--cache-dir", str(blocker / "cache")])
    assert result.exit_code == 2
    assert "cannot open the result cache" in result.stderr and "--no-cache" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()  # nothing was started


def test_an_article_served_from_the_cache_never_creates_the_backend() -> None:
    with FakeOpenAIServer(SCRIPT) as server:
        first = summarize(server)
        engine = Summarizer(Settings(backend="openai", base_url=server.base_url))
        assert engine.identity == ("openai", "default")
        second = asyncio.run(engine.summarize(TEXT, published="2025-11-27"))
        assert second.timings.cached and second.id == first.id
        assert engine._backend is None and server.requests == CALLS_PER_ARTICLE


CACHED_BATCH = """
import sys
from typer.testing import CliRunner
from summarizer.cli import app
result = CliRunner().invoke(app, ["batch", sys.argv[1], "--out", sys.argv[2]])
assert result.exit_code == 0, result.output
print(sorted(m for m in ("openai", "instructor", "llama_cpp", "summarizer.backends.local") if m in sys.modules))
"""


def test_a_cached_batch_on_the_local_backend_loads_neither_the_sdk_nor_the_runtime(tmp_path: Path) -> None:
    """What keeps a fully cached batch under a second: no OpenAI SDK, instructor, llama.cpp or model server."""
    source = tmp_path / "in.jsonl"
    write_corpus(source, 3, bad=False)
    with FakeOpenAIServer(SCRIPT) as server:
        computed = summarize(server)
    local = Summarizer(Settings())  # the default: the embedded model, never started here
    assert local.identity == ("local", "qwen2.5-coder-1.5b-instruct-q4_k_m") and local._backend is None
    cache = result_cache(Settings())
    assert cache is not None
    for line in source.read_text().splitlines():
        record = json.loads(line)
        article = local.prepare(ArticleInput(record["text"], published=record["published"]))
        cache.put(computed.model_copy(update={"id": local.result_id(article)}))
    close_caches()
    out = tmp_path / "out.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", CACHED_BATCH, str(source), str(out)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 3 and all(line["result"]["timings"]["cached"] for line in lines)
