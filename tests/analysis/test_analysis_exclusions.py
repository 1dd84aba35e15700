"""Pre-declared exclusion rules and their log."""

from __future__ import annotations

import pandas as pd

from analysis import ExclusionRules, apply_exclusions
from analysis.io import validate_ratings


def _frame() -> pd.DataFrame:
    rows = []
    for p, (scores, rt, gold_score) in {
        "good": ([1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4], 5000, 5),
        "liner": ([3] * 12, 5000, 5),
        "speeder": ([1, 5, 2, 4, 3, 5, 1, 2, 3, 4, 5, 1], 400, 5),
        "goldfail": ([2, 3, 4, 2, 3, 4, 2, 3, 4, 2, 3, 4], 5000, 1),
    }.items():
        for q, s in enumerate(scores):
            rows.append((p, f"q{q}", "m1" if q % 2 else "m2", "cub", s, rt, False, None))
        rows.append((p, "gold", "gold", "cub", gold_score, 5000, True, 5.0))
    return pd.DataFrame(
        rows,
        columns=[
            "participant",
            "question",
            "method",
            "dataset",
            "score",
            "rt_ms",
            "is_gold",
            "gold_expected",
        ],
    )


def test_each_rule_removes_its_participant_and_logs_the_answers():
    kept, log = apply_exclusions(validate_ratings(_frame()))
    assert set(kept["participant"].astype(str)) == {"good"}
    by_rule = log.set_index("rule")
    assert by_rule.loc["failed gold trials", "participants_removed"] == 1
    assert by_rule.loc["failed gold trials", "answers_removed"] == 12
    assert by_rule.loc["straight-lining", "answers_removed"] == 12
    assert by_rule.loc["too fast (participant median)", "answers_removed"] == 12
    assert by_rule.loc["gold trials", "answers_removed"] == 1
    assert log["answers_left"].iloc[-1] == len(kept) == 12
    # The gold-only method label must not survive as an empty method.
    assert "gold" not in kept["method"].cat.categories


def test_rules_can_be_switched_off():
    rules = ExclusionRules(
        max_gold_failures=None,
        straightline_share=None,
        min_median_rt_ms=None,
        exclude_unverified=None,
    )
    kept, log = apply_exclusions(validate_ratings(_frame()), rules)
    assert kept["participant"].nunique() == 4
    assert (log["description"].iloc[:3] == "switched off").all()


def test_missing_columns_skip_rules_with_a_reason():
    frame = _frame().drop(columns=["rt_ms", "is_gold", "gold_expected"])
    frame = frame[frame["question"] != "gold"]
    _, log = apply_exclusions(validate_ratings(frame))
    assert (
        log.set_index("rule")
        .loc["too fast (participant median)", "description"]
        .startswith("skipped")
    )


def test_simulated_careless_raters_are_caught(messy_study):
    kept, log = apply_exclusions(validate_ratings(messy_study))
    assert log["participants_removed"].sum() >= 1
    assert not kept["is_gold"].any()


def test_each_removed_participant_is_named_with_the_rule_that_removed_them():
    result = apply_exclusions(validate_ratings(_frame()))
    assert result.removed == {
        "goldfail": "failed gold trials",
        "liner": "straight-lining",
        "speeder": "too fast (participant median)",
    }
