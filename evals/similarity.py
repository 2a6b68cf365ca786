"""How alike a predicted value is to a gold value, field by field (0.0 to 1.0).

Text is normalised first: accents and case folded, "U.S." read as "US", punctuation and a short list of
function words dropped. Then:

- **names** (holder, demander, territory, location, participants, ...): if every word of the shorter name is
  found in the longer one (each word by rapidfuzz ``ratio`` >= 0.85, so "Zelenskiy" finds "Zelenskyy"), the
  score is that word-coverage, so "Putin" matches "Russian President Vladimir Putin" and "Russia" matches
  "Russian government"; otherwise it is the whole-string ``ratio``. Generic place words ("region",
  "province", ...) are ignored, so "Donetsk region" does not resemble "Luhansk region".
- **descriptive text** (topic, stance, demand, when_text, ...): the mean of rapidfuzz ``token_set_ratio``
  (credits a short paraphrase contained in a longer answer) and ``token_sort_ratio`` (penalises the words
  one side adds). ``WRatio`` is deliberately not used: its partial matching scores about 0.85 for almost
  any two sentences that share a word.

Gold alternatives take the best-scoring alternative. ``None`` in the alternatives means an empty prediction
is right; an empty prediction where the gold has a value, or a value where the gold has only ``None``, is
wrong (0.0).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from rapidfuzz import fuzz

from summarizer.schemas import CATEGORY
from summarizer.units import SQ_MI_TO_KM2

#: Fields compared as names; other text fields are descriptive.
NAME_FIELDS = frozenset(f for c in CATEGORY.values() for f in c.name_fields if c.kinds[f] == "text")
#: Relative tolerance for numbers after unit normalisation (SPEC §3).
NUMBER_TOLERANCE = 0.02
#: A word of one name counts as present in another at this rapidfuzz ratio (spelling variants).
NAME_WORD_MATCH = 0.85

_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "s",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    }
)
_PLACE_WORDS = frozenset({"region", "regions", "province", "oblast", "district", "city"})
_ACRONYM_DOT = re.compile(r"(?<=\b[a-z])\.(?=[a-z]\b)")
_NON_WORD = re.compile(r"[^0-9a-z%]+")
_AREA = {"km2": 1.0, "sq_mi": SQ_MI_TO_KM2}


def normalise(text: str, *, name: bool = False) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()
    folded = _ACRONYM_DOT.sub("", folded.replace("’", "'"))
    dropped = _STOPWORDS | _PLACE_WORDS if name else _STOPWORDS
    return " ".join(w for w in _NON_WORD.sub(" ", folded).split() if w not in dropped)


def name_similarity(predicted: str, gold: str) -> float:
    a, b = normalise(predicted, name=True).split(), normalise(gold, name=True).split()
    if not a or not b:
        return 1.0 if a == b and predicted.strip().casefold() == gold.strip().casefold() else 0.0
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    words = [max(fuzz.ratio(w, v) for v in longer) / 100.0 for w in shorter]
    if min(words) >= NAME_WORD_MATCH:
        return sum(words) / len(words)
    return float(fuzz.ratio(" ".join(a), " ".join(b))) / 100.0


def text_similarity(predicted: str, gold: str, *, name: bool = False) -> float:
    if name:
        return name_similarity(predicted, gold)
    a, b = normalise(predicted), normalise(gold)
    if not a or not b:
        return 1.0 if a == b and predicted.strip().casefold() == gold.strip().casefold() else 0.0
    return (fuzz.token_set_ratio(a, b, processor=None) + fuzz.token_sort_ratio(a, b, processor=None)) / 200.0


def best_text(predicted: str | None, alternatives: Sequence[Any], *, name: bool = False) -> float:
    """Similarity of a predicted string to the best gold alternative (``None`` handled as above)."""
    if predicted is None or not predicted.strip():
        return 1.0 if None in alternatives else 0.0
    scores = [text_similarity(predicted, alt, name=name) for alt in alternatives if alt is not None]
    return max(scores, default=0.0)


def quantity(value: float | None, unit: str | None) -> tuple[str | None, float | None]:
    """A value in comparable form: areas in km², other units as they are."""
    if value is None:
        return unit if unit not in _AREA else "area", None
    if unit in _AREA:
        return "area", value * _AREA[unit]
    return unit, value


def same_number(a: float, b: float, tolerance: float = NUMBER_TOLERANCE) -> bool:
    if a == b:
        return True
    return abs(a - b) <= tolerance * max(abs(a), abs(b))


def same_quantity(value: float | None, unit: str | None, gold_values: Iterable[Any], gold_units: Iterable[Any]) -> bool:
    """True when the predicted value and unit equal some gold value and unit after normalisation (2 %)."""
    dim, magnitude = quantity(value, unit)
    for gold_value in gold_values:
        for gold_unit in gold_units:
            gold_dim, gold_magnitude = quantity(gold_value, gold_unit)
            if magnitude is None or gold_magnitude is None:
                if magnitude is None and gold_magnitude is None:
                    return True
                continue
            if dim == gold_dim and same_number(magnitude, gold_magnitude):
                return True
    return False


def same_unit(unit: str | None, gold_units: Iterable[Any]) -> bool:
    """Units agree when both are areas (km² and sq mi convert) or both are the same non-area unit."""
    kind = "area" if unit in _AREA else unit
    return any(("area" if g in _AREA else g) == kind for g in gold_units)


def participants_similarity(predicted: Sequence[str], gold: Sequence[Sequence[Any]]) -> float:
    """Soft F1 between predicted participants and gold participants (each with alternatives).

    Recall side: each gold participant's best similarity to any predicted one; precision side: each
    predicted participant's best similarity to any gold one. Order does not matter.
    """
    if not predicted or not gold:
        return 1.0 if not predicted and not gold else 0.0
    recall = sum(max(best_text(p, alts, name=True) for p in predicted) for alts in gold) / len(gold)
    precision = sum(max(best_text(p, alts, name=True) for alts in gold) for p in predicted) / len(predicted)
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
