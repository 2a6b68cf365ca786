"""The JSONL store: exact resume after torn or uncommitted lines, lost state, retries and interrupted compaction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from summarizer import InputError, Settings, Summarizer
from summarizer.batch import JsonlStore, RecordError, state_path
from summarizer.batch import _jsonl as jsonl_module
from summarizer.schemas import SummaryResult


@pytest.fixture(scope="module")
def result() -> SummaryResult:
    return asyncio.run(Summarizer(Settings(backend="fake")).summarize("Talks will resume in Geneva next week."))


def write(out: Path, result: SummaryResult, done: Sequence[str], failed: Sequence[str] = (), **kw: bool) -> None:
    async def go() -> None:
        with JsonlStore(out, **kw) as store:
            for record_id in done:
                assert await store.should_run(record_id)
                await store.record_result(record_id, result)
            for record_id in failed:
                await store.record_error(record_id, RecordError("backend_timeout", "timed out"))

    asyncio.run(go())


def should_run(out: Path, *ids: str, retry_failed: bool = False) -> list[bool]:
    async def go() -> list[bool]:
        with JsonlStore(out, retry_failed=retry_failed) as store:
            return [await store.should_run(i) for i in ids]

    return asyncio.run(go())


def ids_in(out: Path) -> list[str]:
    data = out.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line)["id"] for line in data.splitlines()]


def test_lines_and_resume(tmp_path: Path, result: SummaryResult) -> None:
    out = tmp_path / "out.jsonl"
    write(out, result, ["a", "b"], ["c"])
    assert ids_in(out) == ["a", "b", "c"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["status"] == "done" and SummaryResult.model_validate(lines[0]["result"]) == result
    assert lines[2] == {"id": "c", "status": "failed", "error": {"code": "backend_timeout", "message": "timed out"}}
    assert should_run(out, "a", "b", "c", "d") == [False, False, False, True]
    assert should_run(out, "a", "c", retry_failed=True) == [False, True]


@pytest.mark.parametrize(
    "tail",
    [b'{"id":"x","status":"done","res', b'{"id": "x", "status": "failed", "error": {"code": "e", "message": "m"}}\n'],
    ids=["torn-line", "uncommitted-line"],
)
def test_a_tail_the_state_never_committed_is_cut_off_and_runs_again(
    tmp_path: Path, result: SummaryResult, tail: bytes
) -> None:
    out = tmp_path / "out.jsonl"
    write(out, result, ["a", "b"])
    committed = out.read_bytes()
    with open(out, "ab") as file:
        file.write(tail)  # what a kill between the write and the state commit, or mid-write, leaves
    assert should_run(out, "a", "x") == [False, True]
    assert out.read_bytes() == committed
    write(out, result, ["x"])
    assert ids_in(out) == ["a", "b", "x"]


def test_lost_state_is_rebuilt_from_the_output(tmp_path: Path, result: SummaryResult) -> None:
    out = tmp_path / "out.jsonl"
    write(out, result, ["a", "b"], ["c"])
    state_path(out).unlink()
    with open(out, "ab") as file:
        file.write(b'{"id":"d","sta')  # and a torn last line
    assert should_run(out, "a", "b", "c", "d") == [False, False, False, True]
    assert ids_in(out) == ["a", "b", "c"]
    with JsonlStore(out) as store:
        assert store.counts() == {"done": 2, "failed": 1}


def test_an_output_shortened_behind_our_back_is_rescanned(tmp_path: Path, result: SummaryResult) -> None:
    out = tmp_path / "out.jsonl"
    write(out, result, ["a", "b", "c"])
    out.write_bytes(b"".join(out.read_bytes().splitlines(keepends=True)[:2]))
    assert should_run(out, "a", "b", "c") == [False, False, True]


def test_retry_failed_leaves_one_line_per_id(tmp_path: Path, result: SummaryResult) -> None:
    out = tmp_path / "out.jsonl"
    write(out, result, ["a"], ["b", "c"])
    write(out, result, ["b", "d"], ["c"], retry_failed=True)
    assert sorted(ids_in(out)) == ["a", "b", "c", "d"]
    statuses = {json.loads(line)["id"]: json.loads(line)["status"] for line in out.read_text().splitlines()}
    assert statuses == {"a": "done", "b": "done", "c": "failed", "d": "done"}
    # offsets in the state still point at the right lines: another append and a rebuild agree
    write(out, result, ["e"])
    state_path(out).unlink()
    assert should_run(out, "a", "b", "c", "d", "e", retry_failed=True) == [False, False, True, False, False]


def test_a_failed_record_is_retried_once_per_run(tmp_path: Path, result: SummaryResult) -> None:
    out = tmp_path / "out.jsonl"
    write(out, result, [], ["a"])

    async def go() -> list[bool]:
        with JsonlStore(out, retry_failed=True) as store:
            first = await store.should_run("a")
            await store.record_error("a", RecordError("backend_timeout", "again"))
            return [first, await store.should_run("a")]  # a duplicate later in the same input is not rerun

    assert asyncio.run(go()) == [True, False]
    assert ids_in(out) == ["a"]


def test_an_interrupted_compaction_is_finished_on_reopen(
    tmp_path: Path, result: SummaryResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    write(out, result, ["a"], ["b"])

    def die(*args: object) -> None:
        raise KeyboardInterrupt  # the process stops between the state commit and the rename

    async def go() -> JsonlStore:
        store = JsonlStore(out, retry_failed=True)
        await store.record_result("b", result)
        return store

    store = asyncio.run(go())
    monkeypatch.setattr(jsonl_module.os, "replace", die)
    with pytest.raises(KeyboardInterrupt):
        store.close()
    store._db.close()
    jsonl_module.os.close(store._lock_fd)
    monkeypatch.undo()
    assert ids_in(out) == ["a", "b", "b"]  # the old file, its state already pointing at the new one
    assert should_run(out, "a", "b") == [False, False]
    assert ids_in(out) == ["a", "b"]
    assert not out.with_name(out.name + ".compact.tmp").exists()


def test_one_writer_per_output(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with JsonlStore(out), pytest.raises(InputError, match="another batch is writing"):
        JsonlStore(out)


def test_a_file_that_is_not_a_batch_output_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "notes.jsonl"
    out.write_text('{"hello": "world"}\n')
    with pytest.raises(InputError, match="line 1 is not a batch result line"):
        JsonlStore(out)
    assert out.read_text() == '{"hello": "world"}\n'
    with pytest.raises(InputError, match="is a directory"):
        JsonlStore(tmp_path)
