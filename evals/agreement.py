"""How often the scorer's match verdict agrees with a person's: judged (predicted item, gold item) pairs.

Each line of a judged-pairs file (JSON Lines) holds one pair taken from a real run: the category, the predicted
record's fields, the gold item as written in its gold file, and ``same``, a reader's judgement of whether they
are the same item. The reader never saw the scorer's verdict. ``agreement`` replays the scorer on every pair and
reports, per category and overall, how often it agrees (accuracy) and Cohen's kappa (agreement beyond what the
two verdicts' base rates give by chance).

    python -m summarizer.evals.agreement evals/datasets/news/judged_pairs.jsonl
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .gold import GoldItem, parse_item
from .runfile import HEADLINE
from .scoring import DEFAULT_THRESHOLD, key_similarity


@dataclass(frozen=True)
class JudgedPair:
    id: str
    article: str
    category: str
    predicted: dict[str, Any]
    gold: GoldItem
    same: bool

    def verdict(self, threshold: float = DEFAULT_THRESHOLD) -> bool:
        """The scorer's verdict: the pair's key similarity reaches the match threshold."""
        return key_similarity(self.category, self.gold, self.predicted) >= threshold


@dataclass(frozen=True)
class Agreement:
    pairs: int
    judged_same: int
    scorer_same: int
    agree: int
    accuracy: float | None
    kappa: float | None


def load_pairs(path: Path) -> list[JudgedPair]:
    pairs: list[JudgedPair] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        where = f"{path}:{number}"
        gold = parse_item(raw["category"], 0, raw["gold"], where)
        pairs.append(JudgedPair(raw["id"], raw["article"], raw["category"], raw["predicted"], gold, bool(raw["same"])))
    return pairs


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa of two yes/no verdicts on the same cases (None when chance agreement is total)."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return None if expected == 1.0 else (observed - expected) / (1 - expected)


def measure(pairs: Iterable[JudgedPair], threshold: float = DEFAULT_THRESHOLD) -> Agreement:
    chosen = list(pairs)
    judged = [p.same for p in chosen]
    scored = [p.verdict(threshold) for p in chosen]
    agree = sum(x == y for x, y in zip(judged, scored, strict=True))
    return Agreement(
        pairs=len(chosen),
        judged_same=sum(judged),
        scorer_same=sum(scored),
        agree=agree,
        accuracy=agree / len(chosen) if chosen else None,
        kappa=cohen_kappa(judged, scored),
    )


def agreement(pairs: Sequence[JudgedPair], threshold: float = DEFAULT_THRESHOLD) -> dict[str, Agreement]:
    """Agreement per headline category and ``all``."""
    out = {c: measure((p for p in pairs if p.category == c), threshold) for c in HEADLINE}
    out["all"] = measure(pairs, threshold)
    return out


def table(result: dict[str, Agreement]) -> str:
    lines = ["| category | pairs | judged same | scorer same | accuracy | kappa |", "|---|---|---|---|---|---|"]
    for name, a in result.items():
        accuracy = "—" if a.accuracy is None else f"{a.accuracy:.3f}"
        kappa = "—" if a.kappa is None else f"{a.kappa:.3f}"
        lines.append(f"| {name} | {a.pairs} | {a.judged_same} | {a.scorer_same} | {accuracy} | {kappa} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit("usage: python -m summarizer.evals.agreement JUDGED_PAIRS.jsonl [THRESHOLD]")
    threshold = float(args[1]) if len(args) > 1 else DEFAULT_THRESHOLD
    print(table(agreement(load_pairs(Path(args[0])), threshold)))


if __name__ == "__main__":
    main()
