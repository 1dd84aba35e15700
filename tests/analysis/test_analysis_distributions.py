"""Score distributions and the cluster bootstrap of their means."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import bootstrap_means, score_distribution, summary_statistics
from analysis.bootstrap import bootstrap_mean_differences
from analysis.io import validate_ratings


def test_distribution_has_every_score_and_proportions_sum_to_one(study):
    df = validate_ratings(study)
    dist = score_distribution(df)
    assert list(dist.columns) == ["method", "score", "count", "proportion"]
    assert len(dist) == 3 * 5
    assert dist.groupby("method", observed=True)["proportion"].sum().to_numpy() == (
        pytest.approx(np.ones(3))
    )
    assert dist["count"].sum() == len(df)


def test_distribution_by_dataset_keeps_method_order(study):
    df = validate_ratings(study)
    dist = score_distribution(df, ["dataset", "method"])
    first = dist[dist["dataset"] == dist["dataset"].iloc[0]]
    assert list(dict.fromkeys(first["method"].astype(str))) == [
        "protopool",
        "protopool-protopnet-sim",
        "prototree",
    ]


def test_summary_matches_pandas(study):
    df = validate_ratings(study)
    table = summary_statistics(df).set_index("method")
    for method, group in df.groupby("method", observed=True):
        assert table.loc[method, "mean"] == pytest.approx(group["score"].mean())
        assert table.loc[method, "sd"] == pytest.approx(group["score"].std())
        assert table.loc[method, "median"] == group["score"].median()


def test_bootstrap_interval_covers_mean_and_is_wider_than_naive(study):
    df = validate_ratings(study)
    boot = bootstrap_means(df, n_resamples=1000, seed=3)
    assert list(boot.columns) == [
        "method",
        "mean",
        "ci_low",
        "ci_high",
        "n_participants",
        "n_images",
        "n_answers",
        "n_resamples",
        "resampling",
    ]
    assert set(boot["resampling"]) == {"participants and images"}
    assert ((boot["ci_low"] < boot["mean"]) & (boot["mean"] < boot["ci_high"])).all()
    # Resampling participants and images must give wider intervals than treating 800 answers
    # as independent, because answers of one participant or one image are correlated.
    naive = df.groupby("method", observed=True)["score"].agg(
        lambda s: 2 * 1.96 * s.std() / np.sqrt(len(s))
    )
    width = (boot["ci_high"] - boot["ci_low"]).to_numpy()
    assert (width > naive.to_numpy()).all()


def test_bootstrap_is_reproducible_and_differences_are_consistent(study):
    df = validate_ratings(study)
    first = bootstrap_means(df, n_resamples=300, seed=9)
    second = bootstrap_means(df, n_resamples=300, seed=9)
    assert first.equals(second)
    diffs = bootstrap_mean_differences(df, n_resamples=300, seed=9)
    means = first.set_index("method")["mean"]
    row = diffs.iloc[0]
    assert row["difference"] == pytest.approx(means[row["method_a"]] - means[row["method_b"]])


def test_bootstrap_rejects_bad_settings(study):
    df = validate_ratings(study)
    with pytest.raises(ValueError, match="confidence_level"):
        bootstrap_means(df, confidence_level=95)
