"""The scorer (SPEC §3): matching, precision/recall/F1, aliases, optional items, units, field accuracy."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from summarizer.evals._assign import max_weight_assignment
from summarizer.evals.gold import GoldArticle, parse_gold
from summarizer.evals.runfile import PRF
from summarizer.evals.scoring import DEFAULT_THRESHOLD, micro, score_article, score_category
from summarizer.evals.similarity import name_similarity, normalise, same_quantity, text_similarity

PUTIN_POSITION = {
    "holder": ["Vladimir Putin", "Putin"],
    "topic": ["US peace plan", "peace proposal"],
    "stance": "The US plan can be a basis for future agreements.",
    "evidence": ["this can be used as a basis for future agreements"],
}
TRUMP_POSITION = {
    "holder": ["Donald Trump", "Trump"],
    "topic": "peace negotiations",
    "stance": "Negotiations have shown tremendous progress.",
    "evidence": ["negotiations showed “tremendous progress,”"],
}
WITHDRAW = {
    "demander": ["Vladimir Putin", "Putin", "Russia"],
    "addressee": [None, "Ukraine"],
    "demand": "Ukrainian forces must withdraw from the territories Russia claims.",
    "consequence": "Otherwise Russia will achieve this by force.",
    "evidence": ["If they don’t withdraw, we will achieve this by force"],
}
AREA = {
    "territory": ["Ukraine", "Ukrainian territory"],
    "controller": "Russia",
    "measure": "area_gained",
    "value": 350,
    "unit": "sq_mi",
    "approximate": True,
    "period": "since August",
    "attributed_to": None,
    "evidence": ["approximately 350 square miles"],
}
SHARE = {**AREA, "measure": "share_controlled", "value": 20, "unit": "percent", "period": None}


def gold_of(**categories: list[dict[str, Any]]) -> GoldArticle:
    return parse_gold(Path("test.yaml"), {"article": "test.txt", "published": None, **categories})


def first_alternatives(item: dict[str, Any]) -> dict[str, Any]:
    """A prediction equal to the gold's preferred values."""
    out = {}
    for key, value in item.items():
        if key == "optional":
            continue
        out[key] = value[0] if isinstance(value, list) and key != "evidence" else value
    return out


def test_identical_prediction_scores_f1_one_in_every_category() -> None:
    gold = gold_of(positions=[PUTIN_POSITION, TRUMP_POSITION], demands=[WITHDRAW], territorial_figures=[AREA, SHARE])
    predicted = {
        "positions": [first_alternatives(PUTIN_POSITION), first_alternatives(TRUMP_POSITION)],
        "demands": [first_alternatives(WITHDRAW)],
        "territorial_figures": [first_alternatives(AREA), first_alternatives(SHARE)],
    }
    scores = score_article(gold, predicted)
    for category in ("positions", "demands", "territorial_figures"):
        assert scores[category].scores == PRF.of(len(predicted[category]), 0, 0)
        assert scores[category].scores.f1 == 1.0
        assert all(all(m.fields.values()) for m in scores[category].matches)
    assert micro(scores) == PRF(tp=5, fp=0, fn=0, precision=1.0, recall=1.0, f1=1.0)


def test_empty_prediction_has_recall_zero_and_no_precision() -> None:
    gold = gold_of(positions=[PUTIN_POSITION, TRUMP_POSITION])
    score = score_category("positions", gold.items["positions"], [])
    assert (score.scores.tp, score.scores.fp, score.scores.fn) == (0, 0, 2)
    assert score.scores.recall == 0.0 and score.scores.precision is None and score.scores.f1 == 0.0
    assert [m.index for m in score.missed] == [0, 1]


def test_nothing_to_score_gives_no_f1() -> None:
    assert score_category("positions", (), []).scores.f1 is None


def test_an_alias_matches_like_the_preferred_name() -> None:
    gold = gold_of(positions=[PUTIN_POSITION])
    by_alias = {**first_alternatives(PUTIN_POSITION), "holder": "Putin", "topic": "peace proposal"}
    score = score_category("positions", gold.items["positions"], [by_alias])
    assert score.scores.tp == 1 and score.matches[0].similarity == 1.0
    assert score.matches[0].fields == {"holder": True, "topic": True, "stance": True}


def test_a_wrong_holder_is_not_rescued_by_an_alias_of_someone_else() -> None:
    gold = gold_of(positions=[PUTIN_POSITION])
    other = {**first_alternatives(PUTIN_POSITION), "holder": "Volodymyr Zelenskyy"}
    score = score_category("positions", gold.items["positions"], [other])
    assert score.matches[0].fields["holder"] is False


def test_null_in_alternatives_accepts_an_empty_field() -> None:
    gold = gold_of(demands=[WITHDRAW])
    for addressee, correct in ((None, True), ("Ukraine", True), ("NATO", False)):
        predicted = {**first_alternatives(WITHDRAW), "addressee": addressee}
        match = score_category("demands", gold.items["demands"], [predicted]).matches[0]
        assert match.fields["addressee"] is correct, addressee


def test_an_empty_field_is_wrong_where_the_gold_has_a_value() -> None:
    gold = gold_of(demands=[WITHDRAW])
    predicted = {**first_alternatives(WITHDRAW), "consequence": None}
    match = score_category("demands", gold.items["demands"], [predicted]).matches[0]
    assert match.fields["consequence"] is False and match.fields["demand"] is True


def test_optional_item_matched_earns_a_true_positive_and_missing_it_costs_nothing() -> None:
    optional = {**TRUMP_POSITION, "optional": True}
    gold = gold_of(positions=[PUTIN_POSITION, optional])
    items = gold.items["positions"]
    only_required = score_category("positions", items, [first_alternatives(PUTIN_POSITION)])
    assert only_required.scores == PRF.of(1, 0, 0) and only_required.optional_unmatched == [1]
    both = score_category("positions", items, [first_alternatives(PUTIN_POSITION), first_alternatives(optional)])
    assert both.scores == PRF.of(2, 0, 0) and both.matches[1].optional
    only_optional = score_category("positions", items, [first_alternatives(optional)])
    assert only_optional.scores == PRF.of(1, 0, 1)


def test_a_prediction_goes_to_the_required_item_when_it_fits_an_optional_one_too() -> None:
    required = {**PUTIN_POSITION, "stance": "The plan can be a basis for agreements."}
    optional = {**PUTIN_POSITION, "stance": "The US plan can be a basis for future agreements.", "optional": True}
    gold = gold_of(positions=[optional, required])
    score = score_category("positions", gold.items["positions"], [first_alternatives(PUTIN_POSITION)])
    assert [(m.gold, m.optional) for m in score.matches] == [(1, False)]
    assert score.scores == PRF.of(1, 0, 0)


def test_square_miles_match_the_same_area_in_square_kilometres() -> None:
    gold = gold_of(territorial_figures=[AREA])
    in_km2 = {**first_alternatives(AREA), "value": 906.5, "unit": "km2"}
    score = score_category("territorial_figures", gold.items["territorial_figures"], [in_km2])
    assert score.scores.tp == 1 and score.matches[0].fields["value"] and score.matches[0].fields["unit"]
    assert same_quantity(906.5, "km2", [350.0], ["sq_mi"])
    assert same_quantity(350, "sq_mi", [906.5], ["km2"])


def test_numbers_count_within_two_percent_and_not_beyond() -> None:
    assert same_quantity(20.39, "percent", [20.0], ["percent"])
    assert not same_quantity(20.5, "percent", [20.0], ["percent"])
    assert not same_quantity(20, "km2", [20.0], ["percent"])  # same number, different kind of unit
    gold = gold_of(territorial_figures=[AREA])
    wrong = {**first_alternatives(AREA), "value": 500}
    score = score_category("territorial_figures", gold.items["territorial_figures"], [wrong])
    assert score.scores == PRF.of(0, 1, 1)


def test_a_duplicate_prediction_costs_precision() -> None:
    gold = gold_of(demands=[WITHDRAW])
    once = first_alternatives(WITHDRAW)
    reworded = {**once, "demand": "Ukraine's forces must withdraw from territories claimed by Russia"}
    score = score_category("demands", gold.items["demands"], [once, reworded])
    assert score.scores == PRF.of(1, 1, 0)
    assert score.scores.precision == 0.5 and score.scores.recall == 1.0
    assert [fp.index for fp in score.false_positives] == [1]
    assert score.false_positives[0].closest is not None and score.false_positives[0].closest >= DEFAULT_THRESHOLD


def test_below_the_threshold_is_a_miss_plus_a_false_positive() -> None:
    gold = gold_of(positions=[PUTIN_POSITION])
    unrelated = {
        "holder": "Marco Rubio",
        "topic": "NATO budget",
        "stance": "Members should spend more.",
        "evidence": [],
    }
    score = score_category("positions", gold.items["positions"], [unrelated])
    assert score.scores == PRF.of(0, 1, 1)
    assert score.missed[0].closest is not None and score.missed[0].closest < DEFAULT_THRESHOLD


def test_matching_is_one_to_one_and_picks_the_best_overall_pairing() -> None:
    gold = gold_of(positions=[PUTIN_POSITION, TRUMP_POSITION])
    predicted = [first_alternatives(TRUMP_POSITION), first_alternatives(PUTIN_POSITION)]
    score = score_category("positions", gold.items["positions"], predicted)
    assert sorted((m.predicted, m.gold) for m in score.matches) == [(0, 1), (1, 0)]


def test_meeting_participants_in_any_order_and_by_alias() -> None:
    meeting = {
        "participants": [["Steve Witkoff", "Witkoff", "US delegation"], ["Russia", "Kremlin", "Vladimir Putin"]],
        "location": ["Moscow"],
        "when_text": ["first half of next week", "in the first half of next week"],
        "date_from": "2025-12-01",
        "date_to": "2025-12-03",
        "status": "expected",
    }
    gold = gold_of(upcoming_meetings=[meeting])
    predicted = {
        "participants": ["Kremlin", "US delegation"],
        "location": "Moscow",
        "when_text": "in the first half of next week",
        "date_from": dt.date(2025, 12, 1),
        "date_to": dt.date(2025, 12, 4),
        "status": "scheduled",
    }
    match = score_category("upcoming_meetings", gold.items["upcoming_meetings"], [predicted]).matches[0]
    assert match.similarity == 1.0
    assert match.fields == {
        "participants": True,
        "location": True,
        "when_text": True,
        "date_from": True,
        "date_to": False,
        "status": False,
    }


def test_normalisation_folds_case_accents_acronyms_and_function_words() -> None:
    assert normalise("The U.S. plan for Kyiv’s army") == normalise("US plan, kyiv army")
    assert normalise("Zelenskyy ") == "zelenskyy"
    assert normalise("Curaçao") == "curacao"


def brute_force(weights: list[list[float]]) -> float:
    rows, cols = len(weights), len(weights[0])
    best = 0.0
    for perm in itertools.permutations(range(max(rows, cols)), rows):
        best = max(best, sum(weights[i][j] for i, j in enumerate(perm) if j < cols and weights[i][j] > 0))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_assignment_is_optimal_on_random_matrices(seed: int) -> None:
    rng = random.Random(seed)
    rows, cols = rng.randint(1, 5), rng.randint(1, 5)
    weights = [[rng.choice([0.0, round(rng.uniform(1, 3), 3)]) for _ in range(cols)] for _ in range(rows)]
    pairs = max_weight_assignment(weights)
    assert len({i for i, _ in pairs}) == len(pairs) == len({j for _, j in pairs})
    assert all(weights[i][j] > 0 for i, j in pairs)
    assert sum(weights[i][j] for i, j in pairs) == pytest.approx(brute_force(weights))


def test_assignment_of_an_empty_side_is_empty() -> None:
    assert max_weight_assignment([]) == [] and max_weight_assignment([[], []]) == []


def test_names_match_short_forms_and_spelling_variants_but_not_neighbours() -> None:
    assert name_similarity("Russian President Vladimir Putin", "Putin") == 1.0
    assert name_similarity("U.S. Special Representative Steve Witkoff", "Steve Witkoff") == 1.0
    assert name_similarity("Zelenskiy", "Volodymyr Zelenskyy") >= 0.85
    assert name_similarity("Russian government", "Russia") >= 0.85
    assert name_similarity("Donetsk region", "Luhansk region") < 0.5
    assert name_similarity("European allies", "Trump") < 0.3


def test_sentences_that_merely_share_a_word_are_not_alike() -> None:
    gold = "Negotiations have shown tremendous progress."
    assert text_similarity("Trump said negotiations showed tremendous progress", gold) >= 0.8
    unrelated = "The proposal sparked a backlash, prompting negotiations in Geneva that cut the plan to 19 points."
    assert text_similarity(unrelated, gold) < 0.5


BELORIA_DEMAND = {
    "demander": ["Belorian defence ministry", "Beloria"],
    "addressee": "Arvenia",
    "demand": "Arvenia must release 200 prisoners taken during the winter offensive.",
}


def test_the_same_demander_with_an_unrelated_demand_does_not_match() -> None:
    gold = gold_of(demands=[BELORIA_DEMAND])
    unrelated = {"demander": "Beloria", "addressee": None, "demand": "Beloria controls about 40% of the Kaldor Valley"}
    assert score_category("demands", gold.items["demands"], [unrelated]).scores == PRF.of(0, 1, 1)
    reworded = {
        "demander": "Beloria",
        "addressee": "Arvenia",
        "demand": "release of the 200 prisoners from the offensive",
    }
    assert score_category("demands", gold.items["demands"], [reworded]).scores == PRF.of(1, 0, 0)


def test_a_figure_without_a_number_is_matched_on_its_territory() -> None:
    luhansk = {"territory": ["Luhansk", "Luhansk region"], "measure": ["share_controlled", "other"], "value": None,
               "unit": None, "optional": True}  # fmt: skip
    gold = gold_of(territorial_figures=[luhansk])
    items = gold.items["territorial_figures"]
    donetsk = {"territory": "Donetsk region", "measure": "other", "value": None, "unit": None}
    assert score_category("territorial_figures", items, [donetsk]).scores == PRF.of(0, 1, 0)
    same = {**donetsk, "territory": "Luhansk region"}
    assert score_category("territorial_figures", items, [same]).scores == PRF.of(1, 0, 0)


def test_a_figure_needs_both_the_same_quantity_and_the_same_territory() -> None:
    gold = gold_of(territorial_figures=[SHARE])
    items = gold.items["territorial_figures"]
    elsewhere = {**first_alternatives(SHARE), "territory": "Kyrgyzstan"}
    assert score_category("territorial_figures", items, [elsewhere]).scores == PRF.of(0, 1, 1)
    other_number = {**first_alternatives(SHARE), "value": 25}
    assert score_category("territorial_figures", items, [other_number]).scores == PRF.of(0, 1, 1)
    by_alias = {**first_alternatives(SHARE), "territory": "Ukrainian territory", "value": 20.2}
    assert score_category("territorial_figures", items, [by_alias]).scores == PRF.of(1, 0, 0)
