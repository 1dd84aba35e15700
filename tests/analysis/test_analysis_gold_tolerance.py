"""Gold answers scored by the one documented rule, and what the exclusion rules do with them:
instructed items exclude, map anchors are reported (off the exclusion path unless the rules put
them on it), repeats never exclude, and the speed rules time answers from the scale's unlock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis import ExclusionRules, apply_exclusions
from analysis.io import validate_ratings
from analysis.quality import gold_pass_rates, gold_passed, score_gold

OBJECT, BACKGROUND, INSTRUCTED, REPEAT = "gold_object", "gold_background", "instructed", "repeat"


@pytest.mark.parametrize(
    ("kind", "expected", "score", "passed"),
    [
        # The design's map on the object expects 5: with the default tolerance of 1, 4 passes.
        (OBJECT, 5, 5, True),
        (OBJECT, 5, 4, True),
        (OBJECT, 5, 3, False),
        (OBJECT, 5, 1, False),
        # The map on empty background expects 1: 2 passes, 3 does not.
        (BACKGROUND, 1, 1, True),
        (BACKGROUND, 1, 2, True),
        (BACKGROUND, 1, 3, False),
        (BACKGROUND, 1, 5, False),
        # Instructed items pass only as instructed, whatever the tolerance.
        (INSTRUCTED, 2, 2, True),
        (INSTRUCTED, 2, 1, False),
        (INSTRUCTED, 2, 3, False),
        # A repeat passes within the tolerance of the first answer, either way.
        (REPEAT, 3, 4, True),
        (REPEAT, 3, 2, True),
        (REPEAT, 3, 5, False),
        # A gold trial of a table that names no kind: within the tolerance either way.
        ("", 5, 4, True),
        ("", 5, 3, False),
    ],
)
def test_gold_answers_pass_within_the_default_tolerance_of_one(kind, expected, score, passed):
    assert gold_passed(kind, score, expected) is passed


def test_the_tolerance_is_the_rules_own_and_an_anchor_never_fails_towards_its_end():
    assert gold_passed(OBJECT, 4, 5, tolerance=0) is False
    assert gold_passed(BACKGROUND, 3, 1, tolerance=2) is True
    # An anchor with a lower expectation still passes at the scale's end.
    assert gold_passed(OBJECT, 5, 4, tolerance=0) is True
    assert gold_passed(BACKGROUND, 1, 2, tolerance=0) is True
    assert gold_passed(INSTRUCTED, 3, 2, tolerance=4) is False
    assert gold_passed(OBJECT, 5, None) is None
    assert gold_passed("regular", 5, 5) is None


def test_an_expected_answer_is_scored_again_whatever_a_stale_gold_passed_column_says():
    # An export made under the old one-sided ">= 5" rule said False for a 4.
    frame = pd.DataFrame(
        {
            "score": [4, 4, 2],
            "is_gold": [True, True, False],
            "gold_expected": [5.0, np.nan, np.nan],
            "gold_passed": [False, False, np.nan],
            "question_kind": [OBJECT, OBJECT, "regular"],
        }
    )
    outcome = score_gold(frame)
    assert outcome.tolist()[:2] == [True, False]  # no expectation: the column stands
    assert pd.isna(outcome.iloc[2])


def _ratings(people: dict[str, dict[str, object]]) -> pd.DataFrame:
    """Ten regular answers per participant (varied, unhurried) and their gold answers."""
    rows = []
    for person, script in people.items():
        unlocked = script.get("unlocked", 2500)
        for q in range(10):
            score = 1 + (q + len(person)) % 5
            rows.append((person, f"q{q}", "m1" if q % 2 else "m2", "cub", score, 4000, unlocked,
                         False, np.nan, "regular"))  # fmt: skip
        for g, (kind, expected, score) in enumerate(script.get("gold", [])):  # type: ignore[arg-type]
            rows.append((person, f"g{g}", "gold", "cub", score, 4000, 2500, True, expected, kind))
    columns = ["participant", "question", "method", "dataset", "score", "rt_ms",
               "unlocked_rt_ms", "is_gold", "gold_expected", "question_kind"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    frame["image"] = frame["item"] = frame["question"]
    return validate_ratings(frame)


CAREFUL = [(OBJECT, 5, 4), (BACKGROUND, 1, 2), (INSTRUCTED, 2, 2), (INSTRUCTED, 4, 4)]


def test_a_careful_rater_who_answers_4_and_2_to_the_anchors_is_kept():
    result = apply_exclusions(_ratings({"careful": {"gold": CAREFUL}, "other": {}}))
    assert result.removed == {}
    log = result.log.set_index("rule")
    assert log.loc["failed gold trials", "description"].startswith(
        "more than 0 failed instructed-response item(s)"
    )


def test_anchors_are_off_the_exclusion_path_unless_the_rules_put_them_on_it():
    # given a rater who reads the object map as not salient at all
    reader = [(OBJECT, 5, 1), (BACKGROUND, 1, 1), (INSTRUCTED, 2, 2), (INSTRUCTED, 4, 4)]
    ratings = _ratings({"reader": {"gold": reader}, "careful": {"gold": CAREFUL}})
    # by default the anchor is reported, not used to exclude
    default = apply_exclusions(ratings)
    assert default.removed == {}
    assert default.log.set_index("rule").loc["failed anchors", "description"] == "switched off"
    # a declared rule puts it back on the path
    strict = apply_exclusions(ratings, ExclusionRules(max_anchor_failures=0))
    assert strict.removed == {"reader": "failed anchors"}


def test_failed_instructed_items_exclude_and_repeats_never_do():
    ratings = _ratings(
        {
            "inattentive": {"gold": [(INSTRUCTED, 2, 3), (INSTRUCTED, 4, 4)]},
            "drifting": {"gold": [(INSTRUCTED, 2, 2), (REPEAT, 1, 5), (REPEAT, 5, 1)]},
            "careful": {"gold": CAREFUL},
        }
    )
    result = apply_exclusions(ratings)
    assert result.removed == {"inattentive": "failed gold trials"}
    # one failure of two is tolerated when the rules allow one
    lenient = apply_exclusions(ratings, ExclusionRules(max_gold_failures=1))
    assert lenient.removed == {}


def test_the_speed_rule_times_answers_from_the_scales_unlock():
    # given a rater who clicks 300 ms after each unlock: 2.3 s after the pictures load, past the
    # 2 s the scale waits, so the load-based times never fall under 1.5 s
    people = {"clicker": {"unlocked": 300}, "reader": {"unlocked": 2500}}
    ratings = _ratings(people)
    ratings.loc[ratings["participant"] == "clicker", "rt_ms"] = 2300
    result = apply_exclusions(ratings)
    assert result.removed == {"clicker": "too fast (participant median)"}
    row = result.log.set_index("rule").loc["too fast (participant median)"]
    assert row["description"] == "median response time below 1500 ms (from the scale's unlock)"
    # a table without unlock times falls back to rt_ms, where the rule cannot fire
    fallback = apply_exclusions(ratings.drop(columns=["unlocked_rt_ms"]))
    assert fallback.removed == {}
    assert (
        fallback.log.set_index("rule")
        .loc["too fast (participant median)", "description"]
        .endswith("(from rt_ms)")
    )


def test_single_fast_answers_are_timed_from_the_unlock_too():
    ratings = _ratings({"a": {"unlocked": 2500}, "b": {"unlocked": 2500}})
    ratings.loc[ratings["question"] == "q0", "unlocked_rt_ms"] = 100
    kept, log = apply_exclusions(ratings, ExclusionRules(min_answer_rt_ms=500))
    assert "q0" not in set(kept["question"].astype(str))
    assert log.set_index("rule").loc["too fast (single answer)", "answers_removed"] == 2


def test_pass_rates_by_kind_with_wilson_intervals():
    ratings = _ratings(
        {
            "a": {"gold": [(OBJECT, 5, 4), (BACKGROUND, 1, 3), (INSTRUCTED, 2, 2)]},
            "b": {"gold": [(OBJECT, 5, 2), (BACKGROUND, 1, 1), (INSTRUCTED, 2, 2)]},
            "c": {"gold": [(OBJECT, 5, 5), (BACKGROUND, 1, 2), (INSTRUCTED, 2, 2)]},
            "d": {"gold": [(OBJECT, 5, 5), (BACKGROUND, 1, 2), (INSTRUCTED, 2, 5)]},
        }
    )
    rates = gold_pass_rates(ratings).set_index("kind")
    assert list(rates.index) == [INSTRUCTED, OBJECT, BACKGROUND]
    assert rates["trials"].tolist() == [4, 4, 4]
    assert rates["passed"].tolist() == [3, 3, 3]
    # statsmodels' Wilson interval is the reference
    low, high = proportion_confint(3, 4, alpha=0.05, method="wilson")
    assert rates.loc[OBJECT, "ci_low"] == pytest.approx(low, abs=1e-6)
    assert rates.loc[OBJECT, "ci_high"] == pytest.approx(high, abs=1e-6)
    # a stricter tolerance changes the anchors' rates, never the instructed items'
    strict = gold_pass_rates(ratings, tolerance=0).set_index("kind")
    assert strict.loc[OBJECT, "passed"] == 2 and strict.loc[INSTRUCTED, "passed"] == 3
