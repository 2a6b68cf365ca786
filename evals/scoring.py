"""Scoring predicted items against gold items (SPEC §3).

Per category, predicted and gold items are matched one to one by maximum-weight assignment (Hungarian) on a
similarity over the category's key fields (weights and gates below: a territorial figure must state the same
quantity and is then compared on its territory). A pair can be matched only when its similarity is
at least the threshold (``DEFAULT_THRESHOLD``, 0.70: of the thresholds tried, the one whose verdicts agree best
with 255 pairs judged by hand, ``evals/datasets/news/judged_pairs.jsonl``). Among admissible pairs the assignment
first maximises the number of required gold items matched, then the number of matches, then total similarity.

- A match is a true positive (optional gold items included).
- An unmatched prediction is a false positive (so a duplicate of a matched item costs precision).
- An unmatched required gold item is a false negative; an unmatched optional one costs nothing.

Field accuracy is measured on matched pairs, for every field the gold item gives: text by similarity
(>= ``FIELD_TEXT_THRESHOLD``), numbers within 2 % after unit normalisation (km² and sq mi), units by kind,
dates, enums and booleans by equality.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ._assign import max_weight_assignment
from .gold import FIELDS, GoldArticle, GoldItem, Kind
from .runfile import HEADLINE, PRF, CategoryScore, ItemRecord, MatchRecord, Tally
from .similarity import NAME_FIELDS, best_text, participants_similarity, same_quantity, same_unit

DEFAULT_THRESHOLD = 0.70
FIELD_TEXT_THRESHOLD = 0.7

#: Key fields and their weights in the match similarity. What was said weighs more than who said it (one
#: actor often holds several positions).
KEY_WEIGHTS: dict[str, dict[str, float]] = {
    "actors": {"name": 1.0},
    "positions": {"holder": 0.25, "topic": 0.25, "stance": 0.5},
    "demands": {"demander": 0.3, "demand": 0.7},
    "territorial_figures": {"territory": 1.0},
    "upcoming_meetings": {"participants": 0.4, "location": 0.3, "when_text": 0.3},
}
#: Key fields that must agree exactly, or the pair's similarity is 0: a territorial figure is the same figure
#: only if it states the same quantity (``value`` with ``unit``, 350 sq mi = 906.5 km², within 2 %; or no
#: number on either side), and then it is scored on its territory.
KEY_GATES: dict[str, tuple[str, ...]] = {"territorial_figures": ("value",)}


def _as_dict(item: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return item.model_dump() if isinstance(item, BaseModel) else dict(item)


def field_similarity(category: str, field: str, gold: GoldItem, predicted: dict[str, Any]) -> float:
    """0..1 agreement of one predicted field with the gold item's alternatives."""
    alternatives = gold.fields[field]
    value = predicted.get(field)
    kind = FIELDS[category][field]
    if kind is Kind.TEXT:
        return best_text(value, alternatives, name=field in NAME_FIELDS)
    if kind is Kind.PARTICIPANTS:
        return participants_similarity(list(value or []), alternatives[0])
    if kind is Kind.NUMBER:
        units = gold.fields.get("unit", (None,))
        return 1.0 if same_quantity(value, predicted.get("unit"), alternatives, units) else 0.0
    if field == "unit":
        return 1.0 if same_unit(value, alternatives) else 0.0
    return 1.0 if value in alternatives else 0.0


def key_similarity(category: str, gold: GoldItem, predicted: dict[str, Any]) -> float:
    """Weighted mean of the key fields the gold item gives (0 when a gate field disagrees)."""
    for gate in KEY_GATES.get(category, ()):
        if gate in gold.fields and field_similarity(category, gate, gold, predicted) < 1.0:
            return 0.0
    weights = {f: w for f, w in KEY_WEIGHTS[category].items() if f in gold.fields}
    total = sum(weights.values())
    return sum(w * field_similarity(category, f, gold, predicted) for f, w in weights.items()) / total


def field_correct(category: str, field: str, gold: GoldItem, predicted: dict[str, Any]) -> bool:
    similarity = field_similarity(category, field, gold, predicted)
    if FIELDS[category][field] in (Kind.TEXT, Kind.PARTICIPANTS):
        return similarity >= FIELD_TEXT_THRESHOLD
    return similarity == 1.0


def _record(
    index: int, item: dict[str, Any], evidence: Sequence[str], optional: bool, closest: float | None
) -> ItemRecord:
    shown = {k: v for k, v in item.items() if k not in ("evidence", "optional")}
    return ItemRecord(
        index=index,
        item=_jsonable(shown),
        evidence=list(evidence),
        optional=optional,
        closest=None if closest is None else round(closest, 4),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def score_category(
    category: str,
    gold: Sequence[GoldItem],
    predicted: Sequence[BaseModel | dict[str, Any]],
    threshold: float = DEFAULT_THRESHOLD,
) -> CategoryScore:
    preds = [_as_dict(p) for p in predicted]
    sims = [[key_similarity(category, g, p) for g in gold] for p in preds]
    weights = [
        [(2.0 if not g.optional else 1.0) + s if s >= threshold else 0.0 for g, s in zip(gold, row, strict=True)]
        for row in sims
    ]
    pairs = max_weight_assignment(weights)
    matched_pred = {p for p, _ in pairs}
    matched_gold = {g for _, g in pairs}
    score = CategoryScore(
        category=category,
        gold_required=sum(not g.optional for g in gold),
        gold_optional=sum(g.optional for g in gold),
        predicted=len(preds),
    )
    tallies = {f: Tally() for f in FIELDS[category]}
    for p, g in pairs:
        item = gold[g]
        fields = {f: field_correct(category, f, item, preds[p]) for f in FIELDS[category] if f in item.fields}
        for f, ok in fields.items():
            tallies[f] += Tally(correct=int(ok), total=1)
        score.matches.append(
            MatchRecord(gold=g, predicted=p, similarity=round(sims[p][g], 4), optional=item.optional, fields=fields)
        )
    for g, item in enumerate(gold):
        if g in matched_gold:
            continue
        if item.optional:
            score.optional_unmatched.append(g)
        else:
            closest = max((row[g] for row in sims), default=None)
            score.missed.append(_record(g, item.display(), item.evidence, False, closest))
    for p, pred in enumerate(preds):
        if p not in matched_pred:
            score.false_positives.append(
                _record(p, pred, pred.get("evidence") or [], False, max(sims[p], default=None))
            )
    score.scores = PRF.of(len(pairs), len(score.false_positives), len(score.missed))
    score.fields = {f: t for f, t in tallies.items() if t.total}
    return score


def score_article(
    gold: GoldArticle, predicted: dict[str, Sequence[BaseModel | dict[str, Any]]], threshold: float = DEFAULT_THRESHOLD
) -> dict[str, CategoryScore]:
    """Scores of every category (missing categories in ``predicted`` count as empty)."""
    return {c: score_category(c, gold.items[c], predicted.get(c, []), threshold) for c in FIELDS}


def micro(categories: dict[str, CategoryScore], headline: Sequence[str] = HEADLINE) -> PRF:
    total = PRF()
    for c in headline:
        total = total + categories[c].scores
    return total
