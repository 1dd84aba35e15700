"""The pre-declared rule that removes unverified participants: on by default, first, named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import ExclusionRules, apply_exclusions, load_ratings
from analysis.exclusions import UNVERIFIED_RULE

# Twelve varied answers per participant at a comfortable pace: no other rule removes anyone.
SCORES = [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4]


def _frame(verified: dict[str, object]) -> pd.DataFrame:
    rows = [
        (person, f"q{q}", "m1" if q % 2 else "m2", "cub", score, 5000, False, flag)
        for person, flag in verified.items()
        for q, score in enumerate(SCORES)
    ]
    columns = ["participant", "question", "method", "dataset", "score", "rt_ms", "is_gold"]
    return pd.DataFrame(rows, columns=[*columns, "verified"])


def test_unverified_participants_are_removed_by_default_by_a_named_first_rule():
    # given two real participants and two scripted entries nobody vouched for
    ratings = load_ratings(
        _frame({"real-1": True, "real-2": True, "fake-1": False, "fake-2": False})
    )

    # when the default rules are applied
    result = apply_exclusions(ratings)

    # then the scripted ones are gone, under the named rule, logged first
    assert set(result.kept["participant"].astype(str)) == {"real-1", "real-2"}
    assert result.removed == {"fake-1": UNVERIFIED_RULE, "fake-2": UNVERIFIED_RULE}
    first = result.log.iloc[0]
    assert first["rule"] == UNVERIFIED_RULE == "unverified participants"
    assert (first["participants_removed"], first["answers_removed"]) == (2, 2 * len(SCORES))
    assert "matched" in first["description"]


def test_the_rule_reads_the_column_as_a_csv_gives_it(tmp_path: Path):
    path = tmp_path / "responses.csv"
    _frame({"real": True, "fake": False}).to_csv(path, index=False)
    kept = apply_exclusions(load_ratings(path)).kept
    assert set(kept["participant"].astype(str)) == {"real"}


@pytest.mark.parametrize("off", [None, False])
def test_the_rule_can_be_switched_off(off):
    ratings = load_ratings(_frame({"real": True, "fake": False}))
    result = apply_exclusions(ratings, ExclusionRules(exclude_unverified=off))
    assert result.kept["participant"].nunique() == 2
    assert result.log.set_index("rule").loc[UNVERIFIED_RULE, "description"] == "switched off"


def test_a_table_without_the_column_skips_the_rule_and_a_missing_value_is_not_false():
    frame = _frame({"a": True, "b": None})
    skipped = apply_exclusions(load_ratings(frame.drop(columns=["verified"])))
    assert skipped.log.iloc[0]["description"] == "skipped: no verified column"
    kept = apply_exclusions(load_ratings(frame)).kept
    assert kept["participant"].nunique() == 2
