"""The crossed cumulative link mixed model against R's ordinal::clmm, the crossed LMM against lme4.

Reference values are not typed in: each test fits the same data in R (Laplace approximation,
the default of ``clmm`` for more than one random term) and compares. Tolerances: both
optimisers stop where the largest gradient of the log-likelihood is about 1e-3 or below (R
prints ``max.grad``; ours is ``GRADIENT_TOL``), so each estimate is off its optimum by at
most about gradient / curvature -- a few units in the third decimal for these data sizes.
Coefficients are compared to 5e-3, SDs to 1e-2 (an SD at its boundary of zero is flat in the
likelihood and only checked to be near zero), standard errors to 2 % and the log-likelihood,
which is flat at the optimum, to 1e-3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import validate_ratings
from analysis.clmm_crossed import CrossedClmmResult, fit_crossed_clmm
from analysis.laplace import RandomTerm
from analysis.mixed import linear_mixed
from analysis.primary import PrimaryFit, primary_model
from analysis.simulate import simulate_ratings
from tests.analysis.r_oracle import r_clmm, r_lmer, run_r

COEF_TOL = 5e-3
SD_TOL = 1e-2
SE_REL = 0.02
LOGLIK_TOL = 1e-3


def intercept(frame: pd.DataFrame, column: str, name: str | None = None) -> RandomTerm:
    codes = pd.factorize(frame[column].astype(str), sort=True)[0]
    return RandomTerm(
        name or column, codes, int(codes.max()) + 1, np.ones((len(frame), 1)), ("(Intercept)",)
    )


def r_dataset(name: str, tmp_path: Path) -> pd.DataFrame:
    """A data set shipped with R's ordinal package, written out by R itself."""
    path = tmp_path / f"{name}.csv"
    run_r(
        f'data({name}, package = "ordinal"); write.csv({name}, "{path}", row.names = FALSE)\n'
        'write.csv(data.frame(name = "rows", value = 1), out, row.names = FALSE)',
        None,
        tmp_path,
    )
    return pd.read_csv(path)


def assert_matches_r(
    fit: CrossedClmmResult, r: dict[str, float], r_names: list[str], groups: dict[str, str]
) -> None:
    """Compare thresholds, coefficients (R names in ``r_names``), SEs, SDs and logLik."""
    k = len(fit.thresholds)
    labels = [f"{j + 1}|{j + 2}" for j in range(k)]
    ours = np.r_[fit.thresholds, fit.beta]
    theirs = np.array([r[n] for n in labels + r_names])
    np.testing.assert_allclose(ours, theirs, atol=COEF_TOL)
    our_se = np.sqrt(np.diag(fit.cov)[: len(ours)])
    their_se = np.array([r[f"se:{n}"] for n in labels + r_names])
    np.testing.assert_allclose(our_se, their_se, rtol=SE_REL)
    for ours_name, r_group in groups.items():
        their_sd = np.sqrt(r[f"var:{r_group}:(Intercept):(Intercept)"])
        assert fit.sd(ours_name) == pytest.approx(their_sd, abs=SD_TOL), ours_name
    assert fit.loglik == pytest.approx(r["logLik"], abs=LOGLIK_TOL)


def test_wine_judges_crossed_with_bottles(tmp_path: Path) -> None:
    # Randall (1989), `wine` in ordinal: rating ~ temp + contact + (1|judge) + (1|bottle); the
    # bottle SD is estimated at zero, so its check is that both put it at the boundary.
    wine = r_dataset("wine", tmp_path)
    r = r_clmm("rating ~ temp + contact + (1|judge) + (1|bottle)", wine, tmp_path,
               prep="d$rating <- factor(d$rating, ordered = TRUE)")  # fmt: skip
    x = np.column_stack([(wine["temp"] == "warm"), (wine["contact"] == "yes")]).astype(float)
    terms = [intercept(wine, "judge"), intercept(wine, "bottle")]
    fit = fit_crossed_clmm(wine["rating"].to_numpy(), x, terms)
    assert fit.converged
    assert_matches_r(fit, r, ["tempwarm", "contactyes"], {"judge": "judge", "bottle": "bottle"})
    assert fit.sd("bottle") < 1e-2


def test_soup_respondents_with_nested_product_intercepts(tmp_path: Path) -> None:
    # Christensen's `soup` data (1,847 answers, 185 respondents, six-point sureness scale):
    # SURENESS ~ PROD + (1|RESP) + (1|RESP:PROD), the model of the ordinal package's clmm
    # tutorial.
    soup = r_dataset("soup", tmp_path)
    prep = "d$SURENESS <- factor(d$SURENESS, ordered = TRUE); d$RESP <- factor(d$RESP)"
    r = r_clmm("SURENESS ~ PROD + (1|RESP) + (1|RESP:PROD)", soup, tmp_path, prep)
    soup["resp_prod"] = soup["RESP"].astype(str) + ":" + soup["PROD"].astype(str)
    x = (soup["PROD"] == "Test").to_numpy(dtype=float)[:, None]
    terms = [intercept(soup, "RESP"), intercept(soup, "resp_prod")]
    fit = fit_crossed_clmm(soup["SURENESS"].to_numpy(), x, terms)
    assert fit.converged
    assert_matches_r(fit, r, ["PRODTest"], {"RESP": "RESP", "resp_prod": "RESP:PROD"})


def _primary_against_r(ratings: pd.DataFrame, tmp_path: Path, formula: str) -> PrimaryFit:
    df = validate_ratings(ratings)
    fit = primary_model(df)
    methods = [str(m) for m in df["method"].cat.categories]
    prep = (
        "d$score <- factor(d$score, ordered = TRUE)\n"
        f"d$method <- factor(d$method, levels = c({', '.join(repr(m) for m in methods)}))\n"
        "d$participant <- factor(d$participant); d$image <- factor(d$image); "
        "d$item <- factor(d$item)"
    )
    r = r_clmm(formula, df[["participant", "image", "item", "method", "score"]], tmp_path, prep)
    groups = {name: name for name in fit.fit.covariances}
    assert_matches_r(fit.fit, r, [f"method{m}" for m in methods[1:]], groups)
    return fit


def test_paper_design_images_nested_in_methods(tmp_path: Path) -> None:
    ratings = simulate_ratings(participants=40, questions=60, seed=3)
    fit = _primary_against_r(ratings, tmp_path, "score ~ method + (1|participant) + (1|image)")
    assert fit.design.structure == "nested"
    assert fit.formula == "score ~ method + (1 | participant) + (1 | image)"


def test_latin_square_adds_item_intercepts(tmp_path: Path) -> None:
    ratings = simulate_ratings(
        participants=30, questions=30, design="latin_square", item_sd=0.4, seed=4
    )
    fit = _primary_against_r(
        ratings, tmp_path, "score ~ method + (1|participant) + (1|image) + (1|item)"
    )
    assert fit.design.structure == "crossed"
    assert set(fit.variances["group"]) == {"participant", "image", "item"}


def test_by_participant_method_slopes_with_correlation(tmp_path: Path) -> None:
    # Participants differ in how much they prefer the second method: slope SD 0.8, correlated
    # with the intercept, so the covariance is away from its boundary and identifiable.
    rng = np.random.default_rng(7)
    n_p, n_i = 50, 40
    cov = np.array([[0.64, 0.2], [0.2, 0.64]])
    effects = rng.multivariate_normal([0, 0], cov, n_p)
    image_effect = rng.normal(0, 0.5, n_i)
    method = np.tile(np.arange(n_i) % 2, n_p)
    p = np.repeat(np.arange(n_p), n_i)
    image = np.tile(np.arange(n_i), n_p)
    eta = 0.5 * method + effects[p, 0] + effects[p, 1] * method + image_effect[image]
    score = 1 + np.searchsorted([-1.5, -0.5, 0.5, 1.5], eta + rng.logistic(size=eta.size))
    ratings = pd.DataFrame({
        "participant": [f"P{i:02d}" for i in p], "question": [f"I{i:02d}" for i in image],
        "method": np.where(method == 1, "b", "a"), "dataset": "d", "score": score,
        "image": [f"I{i:02d}" for i in image], "item": [f"I{i:02d}" for i in image],
    })  # fmt: skip
    df = validate_ratings(ratings)
    fit = primary_model(df, slopes=True)
    prep = (
        "d$score <- factor(d$score, ordered = TRUE); d$method <- factor(d$method)\n"
        "d$participant <- factor(d$participant); d$image <- factor(d$image)"
    )
    r = r_clmm("score ~ method + (1 + method|participant) + (1|image)",
               df[["participant", "image", "method", "score"]], tmp_path, prep)  # fmt: skip
    assert_matches_r(fit.fit, r, ["methodb"], {"image": "image"})
    ours = fit.fit.covariances["participant"]
    theirs = np.array(
        [
            [
                r["var:participant:(Intercept):(Intercept)"],
                r["var:participant:methodb:(Intercept)"],
            ],
            [r["var:participant:methodb:(Intercept)"], r["var:participant:methodb:methodb"]],
        ]
    )
    np.testing.assert_allclose(ours, theirs, atol=2 * SD_TOL)


def test_crossed_lmm_matches_lmer(tmp_path: Path) -> None:
    # The linear robustness check, score ~ method + (1|participant) + (1|question), by REML.
    df = validate_ratings(simulate_ratings(participants=30, questions=45, seed=8))
    fit = linear_mixed(df, crossed=True)
    methods = [str(m) for m in df["method"].cat.categories]
    data = df[["participant", "question", "method", "score"]].copy()
    data["method"] = pd.Categorical(data["method"].astype(str), categories=methods)
    levels = ", ".join(repr(m) for m in methods)
    r = r_lmer("score ~ method + (1|participant) + (1|question)", data, tmp_path,
               prep=f"d$method <- factor(d$method, levels = c({levels}))")  # fmt: skip
    ours = fit.table["estimate"].to_numpy()
    theirs = np.array([r["(Intercept)"]] + [r[f"method{m}"] for m in methods[1:]])
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(
        fit.table["se"].to_numpy(),
        [r["se:(Intercept)"]] + [r[f"se:method{m}"] for m in methods[1:]],
        rtol=1e-3,
    )
    assert fit.variances["participant"] == pytest.approx(r["var:participant"], rel=1e-3)
    assert fit.variances["question"] == pytest.approx(r["var:question"], rel=1e-3)
    assert fit.loglik == pytest.approx(r["logLik"], abs=1e-3)
