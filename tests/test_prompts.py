from __future__ import annotations

from pathlib import Path

import pytest

from summarizer._prompts import describe_fields, load_prompts, parse_prompt_file
from summarizer.errors import TemplateError
from summarizer.schemas import CALLS, DemandsCall

GOOD_TASKS = "\n".join(f"  {name}: 'Task {name}: {{{{ fields }}}}'" for name in CALLS)


def make(system: str = "sys", article: str = "{{ text }}", tasks: str = GOOD_TASKS, extra: str = "") -> str:
    return f"version: t1\nsystem: '{system}'\narticle: '{article}'\ntasks:\n{tasks}\n{extra}"


def test_packaged_prompt_loads_and_renders_article_before_task() -> None:
    prompts = load_prompts()
    assert prompts.version
    messages = prompts.messages("positions", prompts.article(text="ARTICLE BODY", title="T", published="2025-11-27"))
    user = messages[-1]["content"]
    assert user.index("ARTICLE BODY") < user.index("TASK")
    assert "- stance: The holder's view in at most 30 words" in user
    assert "2025-11-27" in user


def test_article_part_is_identical_across_calls_for_prompt_cache_reuse() -> None:
    prompts = load_prompts()
    shared = prompts.article(text="Body.", title=None, published=None)
    rendered = [prompts.messages(c, shared) for c in CALLS]
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
    shared = prompts.article(text="B", title=None, published=None)
    assert prompts.messages("demands", shared)[1]["content"] == f"B\n\nTask demands: {describe_fields(DemandsCall)}"
