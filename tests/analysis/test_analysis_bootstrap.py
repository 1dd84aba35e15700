"""The two-way (participants x images) bootstrap and the participant-only one it replaces.

Reference: Owen (2007), "The pigeonhole bootstrap", Ann. Appl. Stat. 1(2), 386-411: rows and
columns of a crossed table are resampled independently and an entry's weight is the product of
its row's and its column's multiplicities; Owen & Eckles (2012), Ann. Appl. Stat. 6(3), 895-927,
show it is mildly conservative (the noise term enters its variance about three times).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis import simulate_ratings, validate_ratings
from analysis.bootstrap import (
    _block_means,
    _Cells,
    _stratified_weights,
    bootstrap_mean_differences,
    bootstrap_means,
)

# Two participants x two images, each image under both methods (a 2 x 2 Latin square):
# p1 sees A under m1 and B under m2, p2 the other way round.
TINY = pd.DataFrame(
    {
        "participant": ["p1", "p1", "p2", "p2"],
        "question": ["A-m1", "B-m2", "A-m2", "B-m1"],
        "image": ["A", "B", "A", "B"],
        "method": pd.Categorical(["m1", "m2", "m2", "m1"], categories=["m1", "m2"]),
        "dataset": "d",
        "score": [1, 5, 3, 4],
    }
)


def _weighted_mean(frame: pd.DataFrame, people: dict, images: dict, method: str) -> float:
    """sum(w_p v_i y) / sum(w_p v_i) over one method's answers, written out row by row."""
    rows = frame[frame["method"] == method]
    weights = np.array(
        [people[p] * images[i] for p, i in zip(rows["participant"], rows["image"], strict=True)]
    )
    return float((weights * rows["score"]).sum() / weights.sum()) if weights.sum() else np.nan


def test_a_replicate_mean_is_the_product_weighted_mean_on_a_2x2_table():
    cells = _Cells(TINY, "method", with_images=True)
    draws = [(2.0, 0.0), (1.0, 1.0), (0.0, 2.0)]  # every multinomial outcome of two clusters
    for w, v in itertools.product(draws, draws):
        got = _block_means(cells, np.array([w]), np.array([v]))[0]
        people, images = dict(zip(("p1", "p2"), w, strict=True)), dict(zip("AB", v, strict=True))
        want = [_weighted_mean(TINY, people, images, m) for m in ("m1", "m2")]
        np.testing.assert_allclose(got, want, equal_nan=True)
    # By hand: p1 twice and A twice leaves p1's answer on A (m1 = 1) and no m2 answer at all.
    both = _block_means(cells, np.array([[2.0, 0.0]]), np.array([[2.0, 0.0]]))[0]
    assert both[0] == 1 and np.isnan(both[1])
    # p1 and p2 once, A twice: m1 is p1's 1, m2 is p2's 3.
    np.testing.assert_allclose(
        _block_means(cells, np.array([[1.0, 1.0]]), np.array([[2.0, 0.0]]))[0], [1, 3]
    )


def test_participant_only_replicates_are_the_ratio_of_weighted_participant_sums(study):
    df = validate_ratings(study)
    cells = _Cells(df, "method", with_images=False)
    people = np.random.default_rng(3).poisson(1.0, size=(4, cells.n_p)).astype(float)
    got = _block_means(cells, people, None)
    sums = df.pivot_table("score", "participant", "method", aggfunc="sum", observed=True)
    counts = df.pivot_table("score", "participant", "method", aggfunc="count", observed=True)
    # The cells number participants in order of appearance; the pivot sorts them.
    order = pd.unique(df["participant"])
    sums, counts = sums.loc[order].to_numpy(), counts.loc[order].to_numpy()
    np.testing.assert_allclose(got, (people @ sums) / (people @ counts))


def test_nested_images_are_drawn_within_their_method_and_crossed_ones_together():
    nested = validate_ratings(simulate_ratings(participants=6, questions=12, seed=1))
    cells = _Cells(nested, "method", with_images=True)
    weights = _stratified_weights(cells.strata, 50, np.random.default_rng(0))
    # Each replicate draws each method's four images four times in all, as the design has.
    per_method = np.stack([weights[:, cells.strata == s].sum(axis=1) for s in range(3)])
    assert (per_method == 4).all()
    latin = validate_ratings(
        simulate_ratings(design="latin_square", participants=6, questions=12, seed=1)
    )
    assert set(_Cells(latin, "method", with_images=True).strata) == {0}


def test_two_way_intervals_match_participant_ones_without_image_variance():
    # With no image variance and 100 images per method, Owen's extra noise terms are small:
    # the two-way interval of each mean should be at most ~20% wider (measured: 2-15%).
    df = validate_ratings(simulate_ratings(question_sd=0.0, participants=40, questions=300, seed=3))
    both = bootstrap_means(df, n_resamples=1000, seed=1)
    people = bootstrap_means(df, n_resamples=1000, seed=1, resample="participants")
    ratio = (both["ci_high"] - both["ci_low"]) / (people["ci_high"] - people["ci_low"])
    assert ratio.between(0.95, 1.2).all(), ratio.tolist()
    assert both["mean"].to_numpy() == pytest.approx(people["mean"].to_numpy())
    assert set(both["resampling"]) == {"participants and images"}
    assert set(people["resampling"]) == {"participants"}


def test_null_coverage_of_differences_when_images_are_nested_in_methods():
    # 200 null studies of the paper's design (each image under one method, 10 per method),
    # image SD 0.5 and participant SD 0.8 on the logit scale. The two-way bootstrap is
    # conservative, so its coverage should be >= 0.95; with 200 studies the binomial SE is
    # <= 0.016, so 0.90 is three SEs below. The participant-only interval ignores the image
    # variance (measured: its SD is about half the true one, coverage ~0.7), so it must fall
    # well short: 0.85 is far above what it reaches and far below 0.95.
    covered: dict[str, list[np.ndarray]] = {"both": [], "participants": []}
    for seed in range(200):
        df = validate_ratings(
            simulate_ratings(
                effects=(0, 0, 0), question_sd=0.5, participant_sd=0.8, participants=30,
                questions=30, seed=seed,
            )
        )  # fmt: skip
        for resample, hits in covered.items():
            d = bootstrap_mean_differences(df, n_resamples=400, seed=seed, resample=resample)
            hits.append(((d["ci_low"] <= 0) & (d["ci_high"] >= 0)).to_numpy())
    two_way = np.mean(covered["both"], axis=0)
    participants_only = np.mean(covered["participants"], axis=0)
    assert (two_way >= 0.90).all(), two_way
    assert (participants_only <= 0.85).all(), participants_only


def test_two_way_bootstrap_works_for_any_grouping(study):
    df = validate_ratings(study)
    table = bootstrap_means(df, by="dataset", n_resamples=200, seed=2)
    assert list(table.columns) == [
        "dataset",
        "mean",
        "ci_low",
        "ci_high",
        "n_participants",
        "n_images",
        "n_answers",
        "n_resamples",
        "resampling",
    ]
    per_dataset = df.groupby(df["dataset"].astype(str), observed=True)
    expected = per_dataset["image"].nunique()
    assert dict(zip(table["dataset"], table["n_images"], strict=True)) == expected.to_dict()
    assert table["n_answers"].sum() == len(df)
    assert ((table["ci_low"] < table["mean"]) & (table["mean"] < table["ci_high"])).all()


def test_differences_carry_the_resampling_and_reproduce():
    df = validate_ratings(simulate_ratings(participants=12, questions=12, seed=4))
    first = bootstrap_mean_differences(df, n_resamples=200, seed=5)
    assert first.equals(bootstrap_mean_differences(df, n_resamples=200, seed=5))
    assert list(first.columns) == [
        "method_a",
        "method_b",
        "difference",
        "ci_low",
        "ci_high",
        "n_resamples",
        "resampling",
    ]
    assert set(first["resampling"]) == {"participants and images"}


def test_bad_resampling_requests_say_what_to_do(study):
    df = validate_ratings(study)
    with pytest.raises(ValueError, match="resample must be"):
        bootstrap_means(df, resample="images")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="validate_ratings"):
        bootstrap_mean_differences(df.drop(columns="image"), n_resamples=100)
    # Without images the participant-only bootstrap still runs.
    table = bootstrap_means(df.drop(columns="image"), n_resamples=100, resample="participants")
    questions = df.groupby("method", observed=True)["question"].nunique().to_numpy()
    assert (table["n_images"].to_numpy() == questions).all()
