"""People versus metrics: ratings against per-stimulus measures.

References: the mixed models against R's ``ordinal::clmm`` fitted by the test itself
(``tests/analysis/r_oracle.py``; tolerances as ``test_analysis_r_clmm.py``); the weighted
Spearman against ``scipy.stats.spearmanr`` of the repeated values; the rest against the
stated generative model of :mod:`analysis.simulate_measures`, which the analysis must recover.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import (
    apply_exclusions,
    human_vs_objective,
    load_ratings,
    simulate_ratings_from_measures,
    write_markdown_section,
)
from analysis.cli import main
from analysis.measure_models import measure_slopes
from analysis.stimulus_correlation import (
    POOLED,
    StimulusRatings,
    weighted_midranks,
    weighted_spearman,
)
from tests.analysis.r_oracle import r_clmm

METHODS = ("protopool", "protopool-protopnet-sim", "prototree")
COEF_TOL = 5e-3
SE_REL = 0.02
LOGLIK_TOL = 1e-3


def stimuli(images_per_method: int = 20, seed: int = 0, latin_square: bool = False) -> pd.DataFrame:
    """Stimuli whose measure differs by method, as the three conditions' maps do."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(images_per_method * (1 if latin_square else len(METHODS))):
        shown = range(len(METHODS)) if latin_square else [i % len(METHODS)]
        for m in shown:
            rows.append({
                "item": f"I{i:03d}-{m}", "image": f"I{i:03d}", "method": METHODS[m],
                "energy_in_part": rng.beta(2 + 2 * m, 3), "top5_share": rng.uniform(0.05, 0.6),
                "question_set": (i + m) % len(METHODS) if latin_square else 0,
            })  # fmt: skip
    return pd.DataFrame(rows)


def kept(frame: pd.DataFrame) -> pd.DataFrame:
    return apply_exclusions(load_ratings(frame)).kept


# --- the weighted rank correlation ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_weighted_spearman_is_spearman_of_the_repeated_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=(12, 4)).astype(float)  # ties on purpose
    y = rng.normal(size=(12, 4)).round(1)
    copies = rng.integers(0, 3, size=(12, 4))
    ours = weighted_spearman(x, y, copies)
    for r in range(4):
        xs, ys = np.repeat(x[:, r], copies[:, r]), np.repeat(y[:, r], copies[:, r])
        assert ours[r] == pytest.approx(stats.spearmanr(xs, ys).statistic, abs=1e-12)
        ranks = weighted_midranks(x[:, [r]], copies[:, [r]])[:, 0]
        drawn = copies[:, r] > 0
        expected = stats.rankdata(xs)[np.cumsum(copies[:, r])[drawn] - 1]
        np.testing.assert_allclose(ranks[drawn], expected)
        assert np.isnan(ranks[~drawn]).all()


def test_a_method_without_spread_has_no_rho() -> None:
    flat = np.ones((5, 1))
    assert np.isnan(weighted_spearman(flat, np.arange(5.0)[:, None], np.ones((5, 1))))[0]


# --- recovery of the generating model ---------------------------------------------------------


def test_the_within_method_slope_recovers_the_generating_beta() -> None:
    # 40 participants x 60 stimuli (20 per method, images nested), a tenth of them careless
    # and removed by the pre-declared speed rule, as in a real study. Over 80 such studies the
    # 95 % interval covered beta in 74 (92.5 %) and the estimates averaged 0.594; here at
    # least 6 of 8 must cover (binomial P(X <= 5 | 0.95) = 0.006) and the mean be close.
    beta, estimates, covered = 0.6, [], 0
    for seed in range(1, 9):
        frame = simulate_ratings_from_measures(
            stimuli(seed=seed), 40, beta, method_effects={"protopool": 1.0},
            careless_fraction=0.1, seed=seed,
        )  # fmt: skip
        row = measure_slopes(kept(frame), ["energy_in_part"], interaction=False).slopes.iloc[0]
        assert row["converged"] and row["p_value"] < 0.001
        estimates.append(row["estimate"])
        covered += int(row["ci_low"] <= beta <= row["ci_high"])
    assert covered >= 6
    assert np.mean(estimates) == pytest.approx(beta, abs=0.06)


def test_a_null_slope_is_not_rejected_too_often() -> None:
    # beta = 0 while the measure and the ratings both differ by method: only a within-method
    # analysis keeps the method differences from passing for a slope. 20 studies; under the
    # null at most 3 rejections at 5 % (binomial P(X >= 4) = 0.016).
    rejections = 0
    for seed in range(20):
        frame = simulate_ratings_from_measures(
            stimuli(images_per_method=12, seed=100 + seed), 20, 0.0,
            method_effects={"protopool": 1.2, "prototree": -0.4}, seed=seed,
        )  # fmt: skip
        fit = measure_slopes(load_ratings(frame), ["energy_in_part"], interaction=False)
        rejections += int(fit.slopes.iloc[0]["p_value"] < 0.05)
    assert rejections <= 3


def test_careless_raters_who_stay_pull_the_slope_towards_zero() -> None:
    frame = simulate_ratings_from_measures(stimuli(seed=4), 40, 0.8, careless_fraction=0.4,
                                           seed=4)  # fmt: skip
    everyone = measure_slopes(load_ratings(frame), ["energy_in_part"], interaction=False)
    attentive = measure_slopes(kept(frame), ["energy_in_part"], interaction=False)
    assert frame.groupby("participant")["careless"].first().sum() > 8
    assert everyone.slopes.iloc[0]["estimate"] < attentive.slopes.iloc[0]["estimate"] - 0.15


def test_slopes_that_differ_by_method_show_as_an_interaction() -> None:
    # The ratings follow the measure under the first method only.
    frame = stimuli(seed=5)
    frame["driver"] = frame["energy_in_part"] * (frame["method"] == METHODS[0])
    ratings = simulate_ratings_from_measures(frame, 40, 1.0, measure="driver", seed=5)
    fit = measure_slopes(load_ratings(ratings), ["energy_in_part"])
    assert fit.interactions.iloc[0]["p_value"] < 0.01
    assert fit.interactions.iloc[0]["df"] == 2
    slopes = fit.method_slopes.set_index("method")["estimate"]
    assert slopes[METHODS[0]] > 0.5 > max(abs(slopes[METHODS[1]]), abs(slopes[METHODS[2]]))


def test_a_latin_square_adds_item_intercepts() -> None:
    frame = simulate_ratings_from_measures(stimuli(images_per_method=24, latin_square=True), 30,
                                           0.6, image_sd=0.4, seed=6)  # fmt: skip
    assert frame.groupby("participant")["image"].nunique().eq(24).all()
    fit = measure_slopes(load_ratings(frame), ["energy_in_part"], interaction=False)
    assert fit.formula.endswith("(1 | participant) + (1 | image) + (1 | item)")
    assert fit.slopes.iloc[0]["ci_low"] <= 0.6 <= fit.slopes.iloc[0]["ci_high"]


def test_a_prototypes_own_metric_counts_prototypes_not_stimuli() -> None:
    # 8 prototypes per method, each shown on 4 images; consistency is one value per
    # prototype, the map's energy one per stimulus. Pool indices restart in every method.
    rng = np.random.default_rng(11)
    rows = []
    for m, method in enumerate(METHODS):
        for k in range(8):
            consistency = rng.uniform(0, 1)
            for i in range(4):
                rows.append({"item": f"{m}-{k}-{i}", "image": f"I{m}{k}{i}", "method": method,
                             "prototype": k, "consistency": consistency,
                             "energy_in_part": rng.beta(2, 3)})  # fmt: skip
    frame = simulate_ratings_from_measures(pd.DataFrame(rows), 30, 0.7, measure="consistency",
                                           prototype_sd=0.3, seed=11)  # fmt: skip
    fit = measure_slopes(load_ratings(frame), ["consistency", "energy_in_part"], interaction=False)
    assert fit.formula.endswith("+ (1 | prototype)")
    slopes = fit.slopes.set_index("measure")
    assert slopes.loc["consistency", "unit"] == "prototype"
    assert slopes.loc["consistency", "n_units"] == 24 and slopes.loc["consistency", "df"] == 20
    assert slopes.loc["energy_in_part", "unit"] == "item"
    assert slopes.loc["energy_in_part", "n_units"] == 96
    assert slopes.loc["consistency", "ci_low"] <= 0.7 <= slopes.loc["consistency", "ci_high"]
    result = human_vs_objective(frame, ["consistency"], n_resamples=200, n_splits=20)
    assert set(result.correlations["unit"]) == {"prototype"}
    assert result.correlations.iloc[0]["resampling"] == "participants and prototypes"
    assert "prototype" in result.stimuli.columns


# --- the whole analysis -----------------------------------------------------------------------


def test_people_versus_metrics_end_to_end(tmp_path: Path) -> None:
    frame = simulate_ratings_from_measures(
        stimuli(seed=7), 40, 0.7, method_effects={"protopool": 1.4, "prototree": -0.3},
        careless_fraction=0.1, seed=7,
    )  # fmt: skip
    result = human_vs_objective(kept(frame), ["energy_in_part", "top5_share"], tmp_path,
                                n_resamples=400, n_splits=50)  # fmt: skip
    rho = result.correlations.set_index(["measure", "method"])
    driving, unrelated = rho.loc[("energy_in_part", POOLED)], rho.loc[("top5_share", POOLED)]
    assert driving["ci_low"] > 0.2 and driving["ci_low"] <= driving["rho"] <= driving["ci_high"]
    assert unrelated["ci_low"] < 0 < unrelated["ci_high"]
    ceiling = result.noise_ceiling.set_index("method").loc[POOLED]
    assert ceiling["reliability"] == pytest.approx(
        2 * ceiling["split_half_rho"] / (1 + ceiling["split_half_rho"])
    )
    assert driving["rho"] < ceiling["ceiling"] <= 1
    assert [p.name for p in result.figures] == [
        "human_vs_objective_energy_in_part.png", "human_vs_objective_top5_share.png"]  # fmt: skip
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in result.figures)
    assert len(result.stimuli) == 60 and set(result.stimuli["method"]) == set(METHODS)
    section = write_markdown_section(result)
    assert section.startswith("## People versus metrics")
    assert "(human_vs_objective_top5_share.png)" in section and result.formula in section


def test_stimuli_without_the_annotation_are_left_out_of_that_measure() -> None:
    # Cars stimuli have no parts: their energy_in_part is empty, the other measure is not.
    frame = stimuli(seed=8)
    frame.loc[frame.index % 4 == 0, "energy_in_part"] = np.nan
    ratings = simulate_ratings_from_measures(frame, 20, 0.5, measure="top5_share", seed=8)
    result = human_vs_objective(ratings, ["energy_in_part", "top5_share"], n_resamples=200,
                                n_splits=20)  # fmt: skip
    counts = result.slopes.set_index("measure")["n_units"]
    assert counts["energy_in_part"] == 45 and counts["top5_share"] == 60
    assert any("15 of 60 stimuli have no value" in note for note in result.notes)


def test_two_way_bootstrap_draws_nested_images_within_their_method() -> None:
    nested = StimulusRatings(load_ratings(simulate_ratings_from_measures(stimuli(), 5, 0.0)))
    assert len(set(nested.image_strata())) == len(METHODS)
    square = stimuli(images_per_method=6, latin_square=True)
    crossed = StimulusRatings(load_ratings(simulate_ratings_from_measures(square, 6, 0.0)))
    assert set(crossed.image_strata()) == {0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="top5_share"), "not in the ratings"),
        (lambda f: f.assign(top5_share="high"), "non-numeric"),
        (lambda f: f.assign(top5_share=np.arange(len(f), dtype=float)), "several values"),
        (lambda f: f.assign(top5_share=0.3), "one value on every stimulus"),
    ],
)
def test_bad_measures_are_refused_with_a_fix(change: object, message: str) -> None:
    frame = simulate_ratings_from_measures(stimuli(images_per_method=5), 6, 0.5)
    with pytest.raises(ValueError, match=message):
        human_vs_objective(change(frame), ["top5_share"], n_resamples=100)  # type: ignore[operator]


def test_an_unknown_reference_method_is_refused() -> None:
    frame = simulate_ratings_from_measures(stimuli(images_per_method=5), 6, 0.5)
    with pytest.raises(ValueError, match="Reference method"):
        human_vs_objective(frame, ["top5_share"], reference="gradcam", n_resamples=100)


def test_the_command_line_writes_the_section_tables_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "responses.csv"
    simulate_ratings_from_measures(stimuli(images_per_method=8), 12, 0.8, seed=9).to_csv(csv)
    out = tmp_path / "out"
    code = main(["human-vs-objective", str(csv), "--measures", "energy_in_part,top5_share",
                 "--out", str(out), "--resamples", "200", "--splits", "20"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out.split()
    assert str(out / "human_vs_objective.md") in printed
    for name in ("energy_in_part.png", "top5_share.png", "slopes.csv", "noise_ceiling.csv"):
        assert (out / f"human_vs_objective_{name}").is_file()
    slopes = pd.read_csv(out / "human_vs_objective_slopes.csv")
    assert list(slopes["measure"]) == ["energy_in_part", "top5_share"]
    code = main(["human-vs-objective", str(csv), "--measures", "sharpness", "--out", str(out)])
    assert code == 2
    assert "sharpness" in capsys.readouterr().err


# --- R as the referee -------------------------------------------------------------------------


@pytest.mark.slow  # R fits both models with crossed effects in about 40 s
def test_slope_and_interaction_match_ordinal_clmm(tmp_path: Path) -> None:
    frame = simulate_ratings_from_measures(stimuli(images_per_method=12, seed=10), 20, 0.5,
                                           method_effects={"protopool": 0.8}, seed=10)  # fmt: skip
    df = load_ratings(frame)
    fit = measure_slopes(df, ["energy_in_part"])
    per_item = df.groupby("item", observed=True)["energy_in_part"].first()
    data = df[["participant", "image", "method", "score"]].copy()
    data["z"] = (df["energy_in_part"] - per_item.mean()) / per_item.std(ddof=1)
    levels = ", ".join(repr(m) for m in METHODS)
    prep = (
        "d$score <- factor(d$score, ordered = TRUE)\n"
        f"d$method <- factor(d$method, levels = c({levels}))\n"
        "d$participant <- factor(d$participant); d$image <- factor(d$image)"
    )
    common = r_clmm("score ~ method + z + (1|participant) + (1|image)", data, tmp_path, prep)
    by_method = r_clmm("score ~ method + method:z + (1|participant) + (1|image)", data,
                       tmp_path, prep)  # fmt: skip
    row = fit.slopes.iloc[0]
    assert row["estimate"] == pytest.approx(common["z"], abs=COEF_TOL)
    assert row["se"] == pytest.approx(common["se:z"], rel=SE_REL)
    assert fit.fits["energy_in_part"].loglik == pytest.approx(common["logLik"], abs=LOGLIK_TOL)
    lr = 2 * (by_method["logLik"] - common["logLik"])
    assert fit.interactions.iloc[0]["statistic"] == pytest.approx(lr, abs=2 * LOGLIK_TOL)
    ours = fit.method_slopes.set_index("method")
    for method in METHODS:
        assert ours.loc[method, "estimate"] == pytest.approx(
            by_method[f"method{method}:z"], abs=COEF_TOL
        )
        assert ours.loc[method, "se"] == pytest.approx(by_method[f"se:method{method}:z"],
                                                       rel=SE_REL)  # fmt: skip
