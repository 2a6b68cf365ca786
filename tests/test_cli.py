"""The command line, run as a user runs it: exit codes, output formats, settings flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.schemas import SummaryResult
from summarizer.testing.fake_openai import FakeOpenAIServer

from .conftest import SEEDS

SEED = SEEDS / "000_4542c6a513510e75.txt"
POSITIONS = {
    "positions": [
        {
            "holder": "Vladimir Putin",
            "topic": "US peace plan",
            "stance": "A basis for talks.",
            "evidence": ["this can be used as a basis for future agreements"],
        }
    ]
}
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"positions": POSITIONS}), encoding="utf-8")
    return path


def test_summarize_prints_json_when_piped(script: Path) -> None:
    code, out, _ = invoke(
        "summarize", str(SEED), "--backend", "fake", "--fake-script", str(script), "--published", "2025-11-27"
    )
    assert code == 0
    result = SummaryResult.model_validate_json(out)
    assert result.summary.positions[0].holder == "Vladimir Putin"
    assert result.source.published is not None


@pytest.mark.parametrize(("fmt", "marker"), [("markdown", "## Positions"), ("table", "Positions (1)")])
def test_other_formats(script: Path, fmt: str, marker: str) -> None:
    code, out, _ = invoke("summarize", str(SEED), "--backend", "fake", "--fake-script", str(script), "-f", fmt)
    assert code == 0
    assert marker in out and "Vladimir Putin" in out


def test_standard_input_is_read(script: Path) -> None:
    result = runner.invoke(
        app,
        ["summarize", "-", "--backend", "fake", "--fake-script", str(script)],
        input=SEED.read_text(encoding="utf-8"),
    )
    assert result.exit_code == 0, result.stderr
    assert SummaryResult.model_validate_json(result.stdout).summary.positions


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"\x00\x01\x02PNG", "binary"), (b"\xff\xfe bad", "UTF-8")],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(content)
    code, out, err = invoke("summarize", str(path), "--backend", "fake")
    assert code == 2
    assert message in err and out == ""


def test_missing_file_and_bad_settings_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke("summarize", str(tmp_path / "nope.txt"), "--backend", "fake")
    assert code == 2 and "no such file" in err and "(file_not_found)" in err  # not the API's route not_found
    code, _, err = invoke("summarize", str(SEED), "--backend", "fake", "--max-retries", "99")
    assert code == 2 and "max_retries" in err


def test_backend_failure_exits_3() -> None:
    with FakeOpenAIServer() as server:
        url = server.base_url
    code, out, err = invoke("summarize", str(SEED), "--base-url", url, "--max-retries", "0")
    assert code == 3
    assert "unreachable" in err and out == ""


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch, script: Path) -> None:
    monkeypatch.setenv("SUMMARIZER_BACKEND", "openai")
    monkeypatch.setenv("SUMMARIZER_BASE_URL", "http://127.0.0.1:9/v1")
    code, out, _ = invoke("summarize", str(SEED), "--backend", "fake", "--fake-script", str(script))
    assert code == 0 and SummaryResult.model_validate_json(out).provenance.backend == "fake"


def test_schema_command_prints_json_schema() -> None:
    code, out, _ = invoke("schema", "summary")
    schema = json.loads(out)
    assert code == 0
    assert set(schema["properties"]) == {
        "summary",
        "actors",
        "positions",
        "demands",
        "territorial_figures",
        "upcoming_meetings",
    }
    code, out, _ = invoke("schema")
    assert "grounding" in json.loads(out)["properties"]


def test_every_setting_is_a_flag() -> None:
    from summarizer.config import Settings

    code, out, _ = invoke("summarize", "--help")
    assert code == 0
    for name in Settings.model_fields:
        assert "--" + name.replace("_", "-") in out


def test_console_script_against_a_fake_openai_server(tmp_path: Path) -> None:
    """The installed `summarizer` command, from another directory, against an HTTP endpoint on 127.0.0.1."""
    exe = Path(sys.executable).with_name("summarizer")
    with FakeOpenAIServer({"positions": POSITIONS}) as server:
        proc = subprocess.run(
            [str(exe), "summarize", str(SEED), "--base-url", server.base_url],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    result = SummaryResult.model_validate_json(proc.stdout)
    assert result.provenance.backend == "openai" and result.usage.model_calls == 5
    assert result.grounding.counts.grounded_items == 1


RECORDED = Path(__file__).resolve().parents[1] / "evals" / "recorded" / "000_4542c6a513510e75.json"


def test_a_narrow_terminal_gets_one_block_per_record_within_its_width() -> None:
    result = runner.invoke(
        app,
        ["summarize", str(SEED), "--backend", "fake", "--fake-script", str(RECORDED), "--format", "table",
         "--published", "2025-11-27"],
        env={"COLUMNS": "80"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert any(line.startswith("D1  demander:") for line in lines) and "┃" not in result.stdout  # blocks, not tables
    wide = runner.invoke(
        app, ["summarize", str(SEED), "--backend", "fake", "--fake-script", str(RECORDED), "--format", "table"],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert wide.exit_code == 0 and "│" in wide.stdout  # a wide terminal keeps the tables


def test_summarize_writes_an_html_page_and_view_makes_a_site_of_a_batch(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    code, _, err = invoke(
        "summarize", str(SEED), "--backend", "fake", "--fake-script", str(RECORDED), "--format", "html",
        "--out", str(page),
    )  # fmt: skip
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert "Russia currently controls approximately 20% of Ukrainian territory" in html  # the article's text
    assert '"mode": "page"' in html and "<script" in html and "http" not in html.split('id="data"')[0]
    out = tmp_path / "out.jsonl"
    batch = runner.invoke(
        app, ["batch", str(SEEDS), "--out", str(out), "--backend", "fake", "--fake-script", str(RECORDED), "--no-cache"]
    )
    assert batch.exit_code == 0, batch.stderr
    site = tmp_path / "site"
    code, _, err = invoke("view", str(out), "--out", str(site), "--input", str(SEEDS))
    assert code == 0, err
    index = (site / "index.html").read_text(encoding="utf-8")
    pages = sorted((site / "pages").glob("*.html"))
    assert len(pages) == 2 and all(p.name in index for p in pages)
    assert "Russia currently controls" in pages[0].read_text(encoding="utf-8")
    assert "2 pages" in err and "2 with their article text" in err
    code, _, err = invoke("view", str(tmp_path / "missing.jsonl"), "--out", str(site))
    assert code == 2 and "file_not_found" in err


def test_an_unusable_out_is_a_clear_error_before_any_model_call(tmp_path: Path) -> None:
    fake = ["--backend", "fake", "--fake-script", str(RECORDED), "--format", "html"]
    code, _, err = invoke("summarize", str(SEED), *fake, "--out", str(tmp_path / "no" / "such" / "p.html"))
    assert code == 2 and "file_not_found" in err and "Traceback" not in err
    code, _, err = invoke("summarize", str(SEED), *fake, "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    results = tmp_path / "out.jsonl"
    results.write_text("")
    code, _, err = invoke("view", str(results), "--out", str(blocker / "site"))
    assert code == 2 and "cannot write the pages" in err
