from __future__ import annotations

from pathlib import Path

import pytest

from summarizer._prompts import load_prompts, parse_prompt_file
from summarizer.errors import TemplateError
from summarizer.pipeline import describe_fields
from summarizer.schemas import CALLS, PositionsCall

GOOD_TASKS = "\n".join(f"  {name}: 'Task {name}: {{{{ fields }}}}'" for name in CALLS)


def make(system: str = "sys", article: str = "{{ text }}", tasks: str = GOOD_TASKS, extra: str = "") -> str:
    return f"version: t1\nsystem: '{system}'\narticle: '{article}'\ntasks:\n{tasks}\n{extra}"


def test_packaged_prompt_loads_and_renders_article_before_task() -> None:
    prompts = load_prompts()
    assert prompts.version
    messages = prompts.messages(
        "positions", text="ARTICLE BODY", title="T", published="2025-11-27", fields=describe_fields(PositionsCall)
    )
    user = messages[-1]["content"]
    assert user.index("ARTICLE BODY") < user.index("TASK")
    assert "- stance: The holder's view in at most 30 words" in user
    assert "2025-11-27" in user


def test_article_part_is_identical_across_calls_for_prompt_cache_reuse() -> None:
    prompts = load_prompts()
    rendered = [prompts.messages(c, text="Body.", title=None, published=None, fields="x") for c in CALLS]
    prefixes = {m[0]["content"] + m[1]["content"].split("TASK")[0] for m in rendered}
    assert len(prefixes) == 1


def test_missing_prompt_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        load_prompts(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("just a string", "mapping"),
        ("version: [unclosed", "not valid YAML"),
        (make(extra="surprise: 1"), "surprise"),
        (make(article="{{ text }} {{ author }}"), "unknown variable"),
        (make(article="{% if %}"), "line"),
        (make(tasks="  overview: x"), "no task template"),
        (make(tasks=GOOD_TASKS + "\n  gossip: 'x'"), "unknown task"),
    ],
)
def test_malformed_templates_fail_at_load_time(raw: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        parse_prompt_file("test.yaml", raw)


def test_custom_prompt_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(make(), encoding="utf-8")
    prompts = load_prompts(path)
    assert prompts.version == "t1"
    assert prompts.messages("demands", text="B", title=None, published=None, fields="F")[1]["content"] == (
        "B\n\nTask demands: F"
    )
