"""Loading and validating long-format ratings."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import load_ratings, validate_ratings


def _table(**overrides) -> pd.DataFrame:
    base = {
        "participant": ["a", "a", "b", "b"],
        "question": ["q1", "q2", "q1", "q2"],
        "method": ["m1", "m2", "m1", "m2"],
        "dataset": ["cub", "cub", "cub", "cub"],
        "score": [1, 5, 3, 4],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_valid_table_gets_categoricals_and_small_ints():
    out = validate_ratings(_table())
    assert isinstance(out["method"].dtype, pd.CategoricalDtype)
    assert list(out["method"].cat.categories) == ["m1", "m2"]
    assert out["score"].dtype == "int8"


def test_missing_column_names_the_columns():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['dataset'\]"):
        validate_ratings(_table().drop(columns="dataset"))


@pytest.mark.parametrize("bad", [0, 6, 2.5])
def test_scores_outside_scale_are_rejected(bad):
    with pytest.raises(ValueError, match="not integers from 1 to 5"):
        validate_ratings(_table(score=[1, bad, 3, 4]))


def test_missing_score_is_rejected():
    with pytest.raises(ValueError, match="missing or non-numeric"):
        validate_ratings(_table(score=[1, None, 3, 4]))


def test_duplicate_answers_are_rejected():
    table = _table(question=["q1", "q1", "q1", "q2"])
    with pytest.raises(ValueError, match="repeat a \\(participant, question\\) pair"):
        validate_ratings(table)


def test_expected_method_without_answers_is_rejected():
    with pytest.raises(ValueError, match=r"Method\(s\) \['m3'\] have no answers"):
        validate_ratings(_table(), methods=["m1", "m2", "m3"])


def test_categorical_method_with_unused_level_is_rejected():
    table = _table()
    table["method"] = pd.Categorical(table["method"], categories=["m1", "m2", "m3"])
    with pytest.raises(ValueError, match="have no answers"):
        validate_ratings(table)


def test_unknown_method_label_is_rejected():
    with pytest.raises(ValueError, match="not in the expected list"):
        validate_ratings(_table(), methods=["m1"])


def test_csv_round_trip_keeps_identifiers_as_text(tmp_path):
    table = _table(participant=["007", "007", "7", "7"])
    path = tmp_path / "ratings.csv"
    table.to_csv(path, index=False)
    out = load_ratings(path)
    assert set(out["participant"].astype(str)) == {"007", "7"}


def test_missing_file_has_a_fix_it_message(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_ratings(tmp_path / "nope.csv")
