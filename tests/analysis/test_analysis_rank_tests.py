"""Rank tests and their effect sizes against scipy's documented examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import friedman_test, kruskal_raw, pairwise_mannwhitney, pairwise_wilcoxon
from analysis.bootstrap import participant_weights
from analysis.io import validate_ratings
from analysis.rank_tests import (
    _weighted_kendall_w,
    _weighted_rank_biserial,
    cliffs_delta,
    rank_biserial_paired,
)


def _long(columns: dict[str, list[float]]) -> pd.DataFrame:
    """One row per participant and method, in the layout of the ratings table."""
    n = len(next(iter(columns.values())))
    rows = [
        {"participant": f"p{i}", "question": f"{m}-{i}", "method": m, "dataset": "d", "score": v}
        for m, values in columns.items()
        for i, v in zip(range(n), values, strict=True)
    ]
    frame = pd.DataFrame(rows)
    frame["method"] = pd.Categorical(frame["method"], categories=list(columns))
    return frame


def test_friedman_matches_scipy_documented_example():
    # scipy.stats.friedmanchisquare docstring: pulse before, right after and 5 min after
    # exercise; chi2 = 10.571428..., p = 0.0050634.
    frame = _long(
        {
            "before": [72, 96, 88, 92, 74, 76, 82],
            "after": [120, 120, 132, 120, 101, 96, 112],
            "five_min": [76, 95, 104, 96, 84, 72, 76],
        }
    )
    row = friedman_test(frame, n_resamples=200).iloc[0]
    assert row["statistic"] == pytest.approx(10.571428571428571)
    assert row["p_value"] == pytest.approx(0.005063414171757498, rel=1e-6)
    # Kendall's W = Q / (n (k - 1)).
    assert row["effect_size"] == pytest.approx(10.571428571428571 / (7 * 2))
    assert row["ci_low"] <= row["effect_size"] <= row["ci_high"]


def test_wilcoxon_matches_scipy_documented_example():
    # scipy.stats.wilcoxon docstring (Cressie's height differences): two-sided statistic 24,
    # p = 0.041259765625. Negative differences have ranks 10 and 14, so T- = 24, T+ = 96 and
    # the matched-pairs rank-biserial r = (96 - 24) / 120 = 0.6.
    d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
    frame = _long({"a": d, "b": [0] * len(d)})
    row = pairwise_wilcoxon(frame, n_resamples=200).iloc[0]
    assert row["statistic"] == 24
    assert row["p_value"] == pytest.approx(0.041259765625)
    assert row["effect_size"] == pytest.approx(0.6)
    assert rank_biserial_paired(np.array(d)) == pytest.approx(0.6)


def test_kruskal_matches_scipy_documented_example():
    # scipy.stats.kruskal docstring: H = 0.2727272727, p = 0.6015081344.
    frame = pd.DataFrame(
        {
            "participant": [f"p{i}" for i in range(10)],
            "question": [f"q{i}" for i in range(10)],
            "method": ["x"] * 5 + ["y"] * 5,
            "dataset": "d",
            "score": [1, 3, 5, 7, 9, 2, 4, 6, 8, 10],
        }
    )
    row = kruskal_raw(frame).iloc[0]
    assert row["statistic"] == pytest.approx(0.2727272727272734)
    assert row["p_value"] == pytest.approx(0.6015081344405895)
    assert row["effect_size"] == pytest.approx(0.2727272727272734 / 9)
    assert "ignores repeated measures" in row["note"]


def test_cliffs_delta_from_scipy_mannwhitney_example():
    # scipy.stats.mannwhitneyu docstring: U for the males is 17 of 5 x 4 = 20 pairs, so
    # delta = 2 * 17 / 20 - 1 = 0.7.
    assert cliffs_delta(np.array([19, 22, 16, 29, 24]), np.array([20, 11, 17, 12])) == (
        pytest.approx(0.7)
    )


def test_pairwise_mannwhitney_agrees_with_scipy_and_statsmodels(study):
    df = validate_ratings(study)
    table = pairwise_mannwhitney(df)
    a = df.loc[df["method"] == "protopool", "score"].to_numpy()
    b = df.loc[df["method"] == "prototree", "score"].to_numpy()
    row = table[table["comparison"] == "protopool vs prototree"].iloc[0]
    assert row["statistic"] == stats.mannwhitneyu(a, b).statistic
    assert row["effect_size"] == pytest.approx(cliffs_delta(a, b))
    # statsmodels' rank_compare_2indep works from raw values: same A, same interval.
    from statsmodels.stats.nonparametric import rank_compare_2indep

    low, high = rank_compare_2indep(a, b).conf_int()
    assert row["ci_low"] == pytest.approx(2 * low - 1, abs=1e-6)
    assert row["ci_high"] == pytest.approx(2 * high - 1, abs=1e-6)
    # Holm never lowers a p-value and keeps their order.
    assert (table["p_adjusted"] >= table["p_value"] - 1e-15).all()


def test_weighted_rank_biserial_equals_statistic_on_the_resampled_data(rng):
    diff = np.array([0.5, -0.25, 1.0, 0.5, 0.0, -1.5, 2.0, 0.25])
    weights = participant_weights(diff.size, 5, rng)
    for row, w in zip(_weighted_rank_biserial(weights, diff), weights, strict=True):
        expanded = np.repeat(diff, w.astype(int))
        assert row == pytest.approx(rank_biserial_paired(expanded))


def test_weighted_kendall_w_equals_friedman_on_the_resampled_data(rng):
    means = rng.integers(1, 6, size=(9, 3)).astype(float)
    ranks = stats.rankdata(means, axis=1)
    ties = np.array(
        [(lambda t: (t**3 - t).sum())(np.unique(r, return_counts=True)[1]) for r in means],
        dtype=float,
    )
    weights = participant_weights(9, 4, rng)
    for value, w in zip(_weighted_kendall_w(weights, ranks, ties, 3), weights, strict=True):
        expanded = np.repeat(means, w.astype(int), axis=0)
        q = stats.friedmanchisquare(*expanded.T).statistic
        assert value == pytest.approx(q / (len(expanded) * 2))


def test_holm_matches_textbook_example_and_statsmodels(rng):
    from statsmodels.stats.multitest import multipletests

    from analysis.rank_tests import holm

    # Holm (1979): p = 0.01, 0.04, 0.03 -> 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 0.04).
    assert holm(np.array([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])
    p = rng.uniform(0, 0.2, size=12)
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
