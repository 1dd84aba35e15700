"""The rank tests' unit: images where they are crossed with methods, caveats where nested.

References: Friedman (1937, JASA 32, 675-701) treats blocks as independent and the methods as
exchangeable within a block, so per-image blocks give a valid test only when each image is
seen under every method (a Latin square); Judd, Westfall & Kenny (2012, JPSP 103, 54-69) show
that a participant-level test with images nested in conditions ignores the images' variance.
Statistics are checked against scipy.stats.friedmanchisquare / wilcoxon on the same table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import (
    friedman_test,
    kruskal_raw,
    pairwise_mannwhitney,
    pairwise_wilcoxon,
    simulate_ratings,
    validate_ratings,
)
from analysis.design import describe_design
from analysis.rank_tests import image_method_means, resolve_unit

NULL = {"effects": (0, 0, 0), "participant_sd": 0.8, "question_sd": 0.5}


@pytest.fixture(scope="module")
def latin() -> pd.DataFrame:
    return validate_ratings(
        simulate_ratings(design="latin_square", participants=30, questions=30, seed=2, **NULL)
    )


@pytest.fixture(scope="module")
def nested() -> pd.DataFrame:
    return validate_ratings(simulate_ratings(participants=30, questions=30, seed=2, **NULL))


def test_latin_square_tests_run_on_images(latin):
    design = describe_design(latin)
    assert design.structure == "crossed"
    friedman = friedman_test(latin, n_resamples=100).iloc[0]
    assert friedman["unit"] == "images"
    assert friedman["n"] == design.n_images == 30
    assert friedman["note"] == ""
    wilcoxon = pairwise_wilcoxon(latin, n_resamples=100)
    assert set(wilcoxon["unit"]) == {"images"}
    assert (wilcoxon["n"] <= design.n_images).all()
    assert set(wilcoxon["note"]) == {"holm-adjusted"}


def test_per_image_blocks_are_image_means_under_each_method(latin):
    table = image_method_means(latin)
    expected = latin.groupby(["image", "method"], observed=True)["score"].mean().unstack()
    np.testing.assert_allclose(table.to_numpy(), expected[table.columns].to_numpy())
    # The test is scipy's on that table: one block per image, one column per method.
    friedman = friedman_test(latin, n_resamples=100).iloc[0]
    reference = stats.friedmanchisquare(*table.to_numpy().T)
    assert friedman["statistic"] == pytest.approx(reference.statistic)
    assert friedman["p_value"] == pytest.approx(reference.pvalue)
    first = pairwise_wilcoxon(latin, n_resamples=100).iloc[0]
    a, b = table.columns[:2]
    assert first["p_value"] == pytest.approx(stats.wilcoxon(table[a], table[b]).pvalue)


def test_nested_images_keep_participant_tests_with_the_caveat(nested):
    friedman = friedman_test(nested, n_resamples=100).iloc[0]
    assert friedman["unit"] == "participant means"
    assert friedman["n"] == 30
    for note in [friedman["note"], *pairwise_wilcoxon(nested, n_resamples=100)["note"]]:
        assert "ignores image variance" in note
        assert "not a test of the methods" in note


@pytest.mark.parametrize("design", ["nested", "latin_square"])
def test_raw_answer_tests_carry_the_caveat_in_both_designs(design):
    df = validate_ratings(simulate_ratings(design=design, participants=12, questions=12, seed=1))
    notes = [*kruskal_raw(df)["note"], *pairwise_mannwhitney(df)["note"]]
    assert all("answers treated as independent" in n for n in notes)
    assert all("not a test of the methods" in n for n in notes)


def test_the_unit_can_be_chosen_and_bad_choices_say_what_to_do(latin, nested):
    assert friedman_test(latin, n_resamples=100, unit="participants").iloc[0]["unit"] == (
        "participant means"
    )
    # In a Latin square a participant-level test is balanced over images: no caveat.
    assert resolve_unit(latin, "participants") == ("participants", "")
    with pytest.raises(ValueError, match="nested in methods"):
        friedman_test(nested, unit="images")
    with pytest.raises(ValueError, match="unit must be"):
        pairwise_wilcoxon(nested, unit="image")  # type: ignore[arg-type]


def test_images_missing_a_method_are_left_out_and_counted(latin):
    # Drop method m0's answers on the first five images: they are no longer complete blocks.
    first = latin["image"].cat.categories[:5]
    method = latin["method"].cat.categories[0]
    part = latin[~(latin["image"].isin(first) & (latin["method"] == method))]
    row = friedman_test(part, n_resamples=100).iloc[0]
    assert row["unit"] == "images" and row["n"] == 25
    assert row["note"] == "25 of 30 images rated under every method"


def test_per_image_friedman_holds_its_level_under_the_null():
    # 100 null Latin-square studies with participant SD 0.8 and image SD 0.5 (the setting in
    # which the participant-mean Friedman rejects about 40% of null studies when images are
    # nested): at alpha = 0.05 the rejections are binomial with SE ~0.022, so 0.10 is more
    # than two SEs above the nominal rate (measured: 0.03).
    rejected = [
        friedman_test(
            validate_ratings(
                simulate_ratings(
                    design="latin_square", participants=30, questions=30, seed=seed, **NULL
                )
            ),
            n_resamples=100,
        ).iloc[0]["p_value"]
        < 0.05
        for seed in range(100)
    ]
    assert np.mean(rejected) <= 0.10
