"""The exact gradient of the Laplace log-likelihood against finite differences of its values.

Each check evaluates :meth:`LaplaceProblem.laplace_and_gradient` at a random parameter point and
compares with central differences of :meth:`LaplaceProblem.laplace` (step 1e-5: the values are
converged to about 1e-13, so the differences carry about 1e-8 of rounding and 1e-10 of
truncation). The fits then check that the analytic path lands where the finite-difference one
does, with the same standard errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import validate_ratings
from analysis.clmm_crossed import (
    CrossedClmmResult,
    _free_gradient,
    _to_free,
    _to_natural,
    fit_crossed_clmm,
)
from analysis.laplace import LaplaceProblem, RandomTerm
from analysis.laplace_gradient import answer_derivatives
from analysis.primary import random_terms, regular_answers
from analysis.simulate import simulate_ratings

STEP = 1e-5
GRAD_REL = 1e-5
GRAD_ABS = 1e-6
THRESHOLDS = np.array([-2.0, -0.6, 0.7, 2.4])


Problem = tuple[np.ndarray, np.ndarray, list[RandomTerm]]


def ratings_problem(ratings: pd.DataFrame, slopes: bool = False) -> Problem:
    """Codes, method dummies and the headline model's random terms of a simulated study."""
    df = regular_answers(validate_ratings(ratings))
    terms, _ = random_terms(df, slopes)
    codes = np.unique(df["score"].to_numpy(), return_inverse=True)[1]
    labels = df["method"].astype(str).to_numpy()
    methods = [str(m) for m in df["method"].cat.categories]
    x = np.column_stack([(labels == m).astype(float) for m in methods[1:]])
    return codes, x, terms


def random_point(
    rng: np.random.Generator, p: int, terms: list[RandomTerm], sd: float | None = None
) -> np.ndarray:
    """Thresholds, coefficients and factors (SDs 0.3-1, correlated slopes) at random."""
    parts = [THRESHOLDS + rng.normal(0, 0.1, 4), rng.normal(0, 0.5, p)]
    for term in terms:
        factor = np.tril(rng.normal(0, 0.3, (term.size, term.size)))
        factor[np.diag_indices(term.size)] = rng.uniform(0.3, 1.0, term.size)
        parts.append(factor[np.tril_indices(term.size)])
    point = np.concatenate(parts)
    if sd is not None:
        point[4 + p] = sd
    return point


def central_gradient(problem: LaplaceProblem, point: np.ndarray) -> np.ndarray:
    grad = np.empty_like(point)
    for i in range(point.size):
        step = np.zeros_like(point)
        step[i] = STEP
        grad[i] = (problem.laplace(point + step) - problem.laplace(point - step)) / (2 * STEP)
    return grad


def assert_gradient_exact(
    codes: np.ndarray, x: np.ndarray, terms: list[RandomTerm], seed: int, sd: float | None = None
) -> None:
    problem = LaplaceProblem(codes, x, terms, 5)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        point = random_point(rng, x.shape[1], terms, sd)
        value, grad = problem.laplace_and_gradient(point)
        assert value == pytest.approx(problem.laplace(point), abs=1e-9)
        numeric = central_gradient(problem, point)
        np.testing.assert_allclose(grad, numeric, rtol=GRAD_REL, atol=GRAD_ABS)


@pytest.fixture(scope="module")
def nested() -> Problem:
    return ratings_problem(simulate_ratings(participants=20, questions=30, seed=2))


@pytest.fixture(scope="module")
def latin() -> Problem:
    ratings = simulate_ratings(
        participants=24, questions=30, design="latin_square", item_sd=0.3, seed=1
    )
    return ratings_problem(ratings)


def test_answer_derivatives_match_differences_in_eta_and_thresholds() -> None:
    y = np.array([0, 1, 2, 3, 4, 2, 4, 0])
    eta = np.array([-3.0, -0.5, 0.2, 1.1, 2.5, 9.0, -8.0, 7.0])
    d = answer_derivatives(y, THRESHOLDS, eta)
    h = 1e-5
    up, lo = answer_derivatives(y, THRESHOLDS, eta + h), answer_derivatives(y, THRESHOLDS, eta - h)
    np.testing.assert_allclose(d.d1, (up.loglik - lo.loglik) / (2 * h), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(-d.w, (up.d1 - lo.d1) / (2 * h), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(d.dw, (up.w - lo.w) / (2 * h), rtol=1e-6, atol=1e-9)
    for j in range(4):
        shift = np.zeros(4)
        shift[j] = h
        plus = answer_derivatives(y, THRESHOLDS + shift, eta)
        minus = answer_derivatives(y, THRESHOLDS - shift, eta)
        for name in ("loglik", "d1", "w"):
            suffix = "l" if name == "loglik" else name
            expected = np.where(y == j, getattr(d, f"{suffix}_up"), 0.0) + np.where(
                y == j + 1, getattr(d, f"{suffix}_lo"), 0.0
            )
            numeric = (getattr(plus, name) - getattr(minus, name)) / (2 * h)
            np.testing.assert_allclose(expected, numeric, rtol=1e-6, atol=1e-9)


def test_one_intercept_term(
    nested: Problem,
) -> None:
    codes, x, terms = nested
    assert_gradient_exact(codes, x, terms[:1], seed=1)


def test_participant_crossed_with_image(
    nested: Problem,
) -> None:
    codes, x, terms = nested
    assert [t.name for t in terms] == ["participant", "image"]
    assert_gradient_exact(codes, x, terms, seed=2)


def test_image_term_eliminated_when_widest(
    nested: Problem,
) -> None:
    # 30 images against 20 participants: the image term is the block-diagonal one, so the
    # gradient has to come back in the caller's term order.
    codes, x, terms = nested
    assert_gradient_exact(codes, x, terms[::-1], seed=3)


def test_participant_image_and_item_in_a_latin_square(
    latin: Problem,
) -> None:
    codes, x, terms = latin
    assert [t.name for t in terms] == ["participant", "image", "item"]
    assert_gradient_exact(codes, x, terms, seed=4)


def test_correlated_participant_slopes() -> None:
    codes, x, terms = ratings_problem(
        simulate_ratings(participants=20, questions=30, seed=2), slopes=True
    )
    assert terms[0].size == 3
    assert_gradient_exact(codes, x, terms, seed=5)
    # A two-column term (correlated intercept and slope on a covariate) among the terms that
    # are not eliminated: five groups against the twenty participants.
    covariate = np.random.default_rng(0).normal(size=len(codes))
    design = np.column_stack([np.ones(len(codes)), covariate])
    group = terms[1].codes % 5
    two = RandomTerm("g", group, 5, design, ("(Intercept)", "z"))
    participant = terms[0]
    ones = np.ones((len(codes), 1))
    intercept = RandomTerm("participant", participant.codes, participant.n_groups, ones, ("1",))
    assert_gradient_exact(codes, x, [two, intercept], seed=6)


def test_near_the_boundary_of_an_sd(
    latin: Problem,
) -> None:
    codes, x, terms = latin
    assert_gradient_exact(codes, x, terms, seed=7, sd=1e-3)
    assert_gradient_exact(codes, x, terms[1:] + terms[:1], seed=8, sd=1e-3)


def assert_same_fit(analytic: CrossedClmmResult, numeric: CrossedClmmResult) -> None:
    ours = np.r_[analytic.thresholds, analytic.beta]
    np.testing.assert_allclose(ours, np.r_[numeric.thresholds, numeric.beta], atol=1e-4)
    for name, cov in analytic.covariances.items():
        sd, other = np.sqrt(np.diag(cov)), np.sqrt(np.diag(numeric.covariances[name]))
        # An SD estimated at zero sits in a flat valley: both only have to be near it.
        at_boundary = (sd < 1e-3) & (other < 1e-3)
        np.testing.assert_allclose(sd[~at_boundary], other[~at_boundary], atol=1e-4)
    n_fixed = ours.size
    se = np.sqrt(np.diag(analytic.cov)[:n_fixed])
    np.testing.assert_allclose(se, np.sqrt(np.diag(numeric.cov)[:n_fixed]), rtol=1e-3)
    assert analytic.loglik == pytest.approx(numeric.loglik, abs=1e-6)
    assert analytic.converged and numeric.converged


def test_wine_fit_matches_the_numeric_path(wine: pd.DataFrame) -> None:
    x = wine[["warm", "contact"]].to_numpy(dtype=float)
    terms = []
    for column in ("judge", "bottle"):
        codes = pd.factorize(wine[column], sort=True)[0]
        terms.append(
            RandomTerm(column, codes, int(codes.max()) + 1, np.ones((len(wine), 1)), ("1",))
        )
    y = wine["rating"].to_numpy()
    analytic = fit_crossed_clmm(y, x, terms)
    numeric = fit_crossed_clmm(y, x, terms, gradient="numeric")
    assert_same_fit(analytic, numeric)
    assert analytic.sd("bottle") < 1e-3
    # The judge SD is away from zero, so its standard error is defined and must agree too.
    np.testing.assert_allclose(
        np.sqrt(analytic.cov[-2, -2]), np.sqrt(numeric.cov[-2, -2]), rtol=1e-3
    )


def test_simulated_study_fit_matches_the_numeric_path() -> None:
    codes, x, terms = ratings_problem(simulate_ratings(participants=40, questions=60, seed=1))
    analytic = fit_crossed_clmm(codes, x, terms)
    numeric = fit_crossed_clmm(codes, x, terms, gradient="numeric")
    assert_same_fit(analytic, numeric)
    se, reference = np.sqrt(np.diag(analytic.cov)), np.sqrt(np.diag(numeric.cov))
    np.testing.assert_allclose(se, reference, rtol=1e-3)
    assert analytic.max_gradient < 1e-4


def test_unknown_gradient_option_is_refused(
    nested: Problem,
) -> None:
    codes, x, terms = nested
    with pytest.raises(ValueError, match="gradient"):
        fit_crossed_clmm(codes, x, terms, gradient="exact")  # type: ignore[arg-type]


def test_free_parameter_gradient_is_the_chain_rule() -> None:
    # Cut-points as first + log increments, log-SDs on the factor diagonals, off-diagonals as
    # they are: the optimiser's gradient against differences in those parameters.
    codes, x, terms = ratings_problem(
        simulate_ratings(participants=12, questions=18, seed=3), slopes=True
    )
    problem = LaplaceProblem(codes, x, terms, 5)
    sizes = [t.size for t in terms]
    point = random_point(np.random.default_rng(9), x.shape[1], terms)
    phi = _to_free(point, 4, x.shape[1], sizes)

    def value(free: np.ndarray) -> float:
        return problem.laplace(_to_natural(free, 4, x.shape[1], sizes))

    grad = _free_gradient(problem.laplace_and_gradient(point)[1], phi, 4, x.shape[1], sizes)
    numeric = np.array(
        [(value(phi + STEP * e) - value(phi - STEP * e)) / (2 * STEP) for e in np.eye(phi.size)]
    )
    np.testing.assert_allclose(grad, numeric, rtol=GRAD_REL, atol=GRAD_ABS)
