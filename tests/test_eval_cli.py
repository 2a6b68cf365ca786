"""`summarizer eval` as a user and CI run it: replay, run files, report, --compare, --baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.evals.runfile import PRF, load_run

from .conftest import FIXTURES

EVAL = FIXTURES / "eval"
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    """Recordings of the invented articles, in the format `--record` writes, from the hand-written answers."""
    answers = json.loads((EVAL / "answers.json").read_text(encoding="utf-8"))
    directory = tmp_path / "recorded"
    directory.mkdir()
    for stem, calls in answers.items():
        meta = {"backend": "local", "model": "hand-written", "prompt_version": "test", "total_ms": 1500.0,
                "usage": {"model_calls": 5, "prompt_tokens": 1000, "completion_tokens": 200}}  # fmt: skip
        data = {"_meta": meta, **{call: [answer] for call, answer in calls.items()}}
        (directory / f"{stem}.json").write_text(json.dumps(data), encoding="utf-8")
    return directory


def replay(recordings: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("eval", "--gold", str(EVAL / "gold"), "--replay", str(recordings), "--out", str(out), *extra)


def test_replay_prints_the_table_and_writes_run_and_report(recordings: Path, tmp_path: Path) -> None:
    code, out, err = replay(recordings, tmp_path / "out")
    assert code == 0, err
    assert "micro (headline)" in out and "85.7" in out  # F1 18/21 (two unsupported records rejected)
    assert "replay of local/hand-written" in out
    assert "Misses and false positives" in out and "release the 200 prisoners" in out
    assert "[2/2] kaldor_truce done" in err
    run = load_run(tmp_path / "out" / "run.json")
    assert run.totals.micro == PRF.of(9, 1, 2)
    assert run.totals.mean_latency_ms == 1500.0 and run.totals.mean_prompt_tokens == 1000.0
    assert run.provenance.recorded_from == {"backend": "local", "model": "hand-written", "prompt_version": "test"}
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "kaldor_truce" in html


def test_baseline_passes_within_the_allowed_drop_and_fails_beyond(recordings: Path, tmp_path: Path) -> None:
    code, _, err = replay(recordings, tmp_path / "a", "--save-baseline", str(tmp_path / "baseline.json"))
    assert code == 0, err
    baseline = load_run(tmp_path / "baseline.json")
    assert baseline.articles == [] and baseline.totals.micro.f1 == pytest.approx(18 / 21)
    code, _, err = replay(recordings, tmp_path / "b", "--baseline", str(tmp_path / "baseline.json"))
    assert code == 0 and "baseline ok" in err
    better = baseline.model_copy(deep=True)
    better.totals.micro = PRF.of(10, 0, 0)  # F1 1.0: this run is 0.143 below it
    better.save(tmp_path / "better.json")
    code, _, err = replay(recordings, tmp_path / "c", "--baseline", str(tmp_path / "better.json"))
    assert code == 1 and "regression" in err and "0.8571 vs baseline 1.0000" in err
    code, _, err = replay(recordings, tmp_path / "d", "--baseline", str(tmp_path / "better.json"), "--max-drop", "0.15")
    assert code == 0, err


def test_compare_prints_both_runs_with_deltas(recordings: Path, tmp_path: Path) -> None:
    assert replay(recordings, tmp_path / "a")[0] == 0
    run = load_run(tmp_path / "a" / "run.json")
    other = run.model_copy(deep=True)
    other.totals.micro = PRF.of(9, 0, 2)  # F1 18/20 = 90.0 vs 85.7
    other.totals.categories["demands"] = PRF.of(1, 1, 1)  # F1 50.0 vs 80.0
    other.save(tmp_path / "b.json")
    code, out, err = invoke("eval", "--compare", str(tmp_path / "a" / "run.json"), str(tmp_path / "b.json"))
    assert code == 0, err
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
        for line in out.splitlines()
        if line.count("│") >= 5
    }
    assert rows["micro F1 (headline)"] == ["85.7", "90.0", "+4.3"]
    assert rows["demands F1"] == ["80.0", "50.0", "-30.0"]
    assert rows["positions F1"] == ["100.0", "100.0", "+0.0"]


def test_bad_arguments_exit_2_with_a_message(recordings: Path, tmp_path: Path) -> None:
    code, _, err = invoke("eval", "--gold", str(tmp_path / "nope"), "--backend", "fake")
    assert code == 2 and "gold directory not found" in err
    code, _, err = invoke("eval", "--record", str(tmp_path / "r"), "--replay", str(recordings))
    assert code == 2 and "cannot be used together" in err
    code, _, err = invoke("eval", "--compare", str(tmp_path / "x.json"), str(tmp_path / "y.json"))
    assert code == 2 and "run file unreadable" in err
