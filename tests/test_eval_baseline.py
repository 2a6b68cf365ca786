"""The CI gate: the seeds' recorded model answers, replayed through the whole pipeline and the scorer, must not
fall below the committed baseline. A regression in grounding, dedupe, date resolution or scoring fails here."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from summarizer.cli import app

from .conftest import ROOT

RECORDED = ROOT / "evals" / "recorded"
BASELINE = ROOT / "evals" / "baseline.json"


def test_recorded_seed_answers_hold_the_committed_baseline(tmp_path: Path) -> None:
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    recorded_from = baseline["provenance"]["recorded_from"]
    assert recorded_from["backend"] == "local" and "1.5b" in recorded_from["model"]  # a real model run
    assert sorted(p.stem for p in RECORDED.glob("*.json")) == sorted(p.stem for p in (ROOT / "seeds").glob("*.txt"))
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--gold",
            str(ROOT / "evals" / "gold"),
            "--replay",
            str(RECORDED),
            "--out",
            str(tmp_path),
            "--baseline",
            str(BASELINE),
            "--max-drop",
            "0.05",
            "--no-details",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.stderr
    assert "baseline ok" in result.stderr
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert run["totals"]["micro"]["f1"] == baseline["totals"]["micro"]["f1"]  # replay is deterministic
