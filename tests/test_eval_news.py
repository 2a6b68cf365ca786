"""The news evaluation set: its gold files, its dev/test split, the gate on its recorded baseline answers, the
judged pairs that check the scorer, and a gate that fails when a recorded answer is corrupted.

The article texts are not in the repository (not ours to redistribute): they live in ``../shared/datasets/news``
beside the checkout. Tests that need them are skipped, with that reason, where they are absent."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.evals.agreement import agreement, load_pairs
from summarizer.evals.gold import GoldError, dataset_dir, dataset_names, load_gold_dir, resolve_article

from .conftest import ROOT

NEWS = ROOT / "evals" / "datasets" / "news"
TEXTS = ROOT.parent / "shared" / "datasets" / "news"
needs_texts = pytest.mark.skipif(
    not TEXTS.is_dir(),
    reason=f"the news articles' texts are not here ({TEXTS}); they are kept outside the repository",
)
JUDGED = NEWS / "judged_pairs.jsonl"
#: Agreement of the scorer with the judged pairs when they were judged (README, "How far to trust the scorer").
#: The replay must not fall below it: a similarity or threshold change that agrees less with people fails here.
AGREEMENT_FLOOR = {"accuracy": 0.858, "kappa": 0.611}


def _split_of_sources() -> dict[str, set[str]]:
    text = (NEWS / "SOURCES.md").read_text(encoding="utf-8")
    splits: dict[str, set[str]] = {}
    for name in ("test", "dev"):
        line = re.search(rf"\*\*{name} \(\d+\):\*\* ([0-9, ]+)", text)
        assert line, f"SOURCES.md names no {name} split"
        splits[name] = {n.strip() for n in line.group(1).split(",")}
    return splits


def test_the_datasets_are_known_by_name() -> None:
    assert {"seeds", "news/dev", "news/test"} <= set(dataset_names())
    assert dataset_dir("news/dev") == NEWS / "dev"
    with pytest.raises(GoldError, match="unknown dataset"):
        dataset_dir("news/train")
    with pytest.raises(GoldError, match="unknown dataset"):
        dataset_dir("../gold")


def test_the_split_is_the_one_sources_gives() -> None:
    splits = _split_of_sources()
    for name, numbers in splits.items():
        golds = load_gold_dir(NEWS / name)
        assert {g.stem[:2] for g in golds} == numbers
    assert len(splits["dev"]) == 24 and len(splits["test"]) == 10


@needs_texts
@pytest.mark.parametrize("split", ["dev", "test"])
def test_every_gold_file_names_its_article_and_quotes_it_verbatim(split: str) -> None:
    for gold in load_gold_dir(NEWS / split):
        path = resolve_article(gold, None)
        assert path.name == gold.stem + ".txt"
        text = path.read_text(encoding="utf-8")
        assert gold.published is not None
        for items in gold.items.values():
            for item in items:
                for quote in item.evidence:
                    assert quote in text, f"{gold.stem}: {item.category}[{item.index}] {quote!r}"


@needs_texts
@pytest.mark.parametrize("split", ["dev", "test"])
def test_recorded_news_answers_hold_their_baseline(tmp_path: Path, split: str) -> None:
    baseline = ROOT / "evals" / "baselines" / f"news-{split}.json"
    result = CliRunner().invoke(
        app,
        ["eval", "--dataset", f"news/{split}", "--replay", str(ROOT / "evals" / "recorded" / "news" / split),
         "--out", str(tmp_path), "--baseline", str(baseline), "--max-drop", "0.0", "--no-details"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    expected = json.loads(baseline.read_text(encoding="utf-8"))
    assert run["totals"]["micro"] == expected["totals"]["micro"]  # replay is deterministic
    assert run["totals"]["rejected_by"] == expected["totals"]["rejected_by"]
    assert "kept" in result.stdout and "rejected" in result.stdout


def test_the_gate_fails_when_a_recorded_answer_is_corrupted(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    shutil.copytree(ROOT / "evals" / "recorded", recorded, ignore=shutil.ignore_patterns("news"))
    path = recorded / "000_4542c6a513510e75.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    # Corrupt every answer's evidence: none is found in the article any more, so every record is rejected.
    for call, answers in data.items():
        if call == "_meta":
            continue
        for answer in answers:
            for items in answer.values():
                if isinstance(items, list):
                    for item in items:
                        item["evidence"] = ["words that are nowhere in the article"]
    path.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["eval", "--gold", str(ROOT / "evals" / "gold"), "--replay", str(recorded), "--out", str(tmp_path / "out"),
         "--baseline", str(ROOT / "evals" / "baseline.json"), "--max-drop", "0.05", "--no-details"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 1, result.stderr
    assert "regression" in result.stderr


def test_the_scorer_agrees_with_the_judged_pairs() -> None:
    pairs = load_pairs(JUDGED)
    assert len(pairs) >= 200
    assert {p.category for p in pairs} == {"positions", "demands", "territorial_figures", "upcoming_meetings"}
    result = agreement(pairs)
    assert result["all"].accuracy is not None and result["all"].accuracy >= AGREEMENT_FLOOR["accuracy"]
    assert result["all"].kappa is not None and result["all"].kappa >= AGREEMENT_FLOOR["kappa"]
