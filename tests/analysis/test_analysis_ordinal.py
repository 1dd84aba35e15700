"""Cumulative link models against R (MASS::polr, ordinal::clm/clmm) and statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.miscmodels.ordinal_model import OrderedModel

from analysis import ordinal_logit, ordinal_mixed
from analysis.clmm import fit_clm, fit_clmm
from analysis.io import validate_ratings


def test_clm_matches_polr_on_ucla_data(ucla):
    # R MASS::polr(apply ~ pared + public + gpa, method = "logistic") as recorded in
    # statsmodels/miscmodels/tests/results/results_ordinal_model.py. The cut-points move with
    # the gpa slope (gpa is about 3), and polr stops earlier than this fit: its cut-points are
    # 6e-4 higher at a slightly lower likelihood, so they are checked to 1e-3.
    x = ucla[["pared", "public", "gpa"]].to_numpy(dtype=float)
    fit = fit_clm(ucla["apply_code"].to_numpy(), x)
    assert fit.beta == pytest.approx([1.04769011, -0.05878572, 0.61594057], abs=2e-4)
    assert fit.thresholds == pytest.approx([2.203915, 4.299363], abs=1e-3)
    se = np.sqrt(np.diag(fit.cov))[2:]
    assert se == pytest.approx([0.2658, 0.2979, 0.2606], abs=1e-3)
    # Log-likelihood of the same fit with statsmodels OrderedModel (logit, BFGS).
    assert fit.loglik == pytest.approx(-358.5124, abs=1e-3)


def test_clm_matches_ordinal_clm_on_wine(wine):
    # ordinal::clm(rating ~ temp + contact, data = wine), Christensen's clm tutorial:
    # temp 2.5031, contact 1.5278, cut-points -1.3444 1.2508 3.4669 5.0064, logLik -86.49.
    fit = fit_clm(wine["rating"].to_numpy(), wine[["warm", "contact"]].to_numpy())
    assert fit.beta == pytest.approx([2.5031, 1.5278], abs=1e-4)
    assert fit.thresholds == pytest.approx([-1.3444, 1.2508, 3.4669, 5.0064], abs=1e-4)
    assert fit.loglik == pytest.approx(-86.49, abs=5e-3)


def test_clmm_matches_ordinal_clmm_on_wine(wine):
    # ordinal::clmm(rating ~ temp + contact + (1|judge), data = wine), Christensen's clmm
    # tutorial: temp 3.0630, contact 1.8349, cut-points -1.6237 1.5134 4.2285 6.0888, judge
    # SD 1.1323, logLik -81.57. This fit integrates by adaptive quadrature (converged in the
    # number of nodes, see below) and lands at temp 3.0619, contact 1.8334, SD 1.1348,
    # logLik -81.532: within 3e-3 on every parameter and 0.04 on logLik, the size of the
    # difference expected between a Laplace and a quadrature fit of these data.
    fit = fit_clmm(
        wine["rating"].to_numpy(),
        wine[["warm", "contact"]].to_numpy(),
        wine["judge"].to_numpy(),
        n_nodes=10,
    )
    assert fit.beta == pytest.approx([3.0630, 1.8349], abs=3e-3)
    assert fit.thresholds == pytest.approx([-1.6237, 1.5134, 4.2285, 6.0888], abs=3e-3)
    assert fit.sigma == pytest.approx(1.1323, abs=3e-3)
    assert fit.loglik == pytest.approx(-81.57, abs=0.05)
    assert fit.converged


def test_clmm_quadrature_has_converged_in_the_number_of_nodes(wine):
    args = (
        wine["rating"].to_numpy(),
        wine[["warm", "contact"]].to_numpy(),
        wine["judge"].to_numpy(),
    )
    few, many = fit_clmm(*args, n_nodes=7), fit_clmm(*args, n_nodes=25)
    assert few.loglik == pytest.approx(many.loglik, abs=1e-4)
    assert few.beta == pytest.approx(many.beta, abs=1e-4)


def test_clustered_clm_equals_statsmodels_ordered_model(study):
    # The compressed-cell fit used for very large tables must be the same estimator with the
    # same cluster sandwich as OrderedModel(..., cov_type="cluster").
    df = validate_ratings(study)
    small = ordinal_logit(df)
    assert small.engine == "statsmodels OrderedModel"
    x = np.column_stack(
        [(df["method"] == m).to_numpy(float) for m in ("protopool-protopnet-sim", "prototree")]
    )
    groups = pd.Categorical(df["participant"]).codes
    fast = fit_clm(df["score"].to_numpy(), x, groups)
    table = small.table.set_index("kind")
    assert fast.beta == pytest.approx(table.loc["location", "estimate"].to_numpy(), abs=1e-5)
    assert np.sqrt(np.diag(fast.cov))[4:] == pytest.approx(
        table.loc["location", "se"].to_numpy(), rel=1e-4
    )
    assert np.sqrt(np.diag(fast.cov))[:4] == pytest.approx(
        table.loc["threshold", "se"].to_numpy(), rel=1e-3
    )


def test_ordered_model_sign_convention_on_ucla(ucla):
    # P(Y <= j) = F(theta_j - x beta): the wrapper's statsmodels path and fit_clm agree in sign.
    x = ucla[["pared", "public", "gpa"]]
    res = OrderedModel(ucla["apply_code"].to_numpy(), x, distr="logit").fit(
        method="bfgs", disp=False
    )
    fit = fit_clm(ucla["apply_code"].to_numpy(), x.to_numpy(dtype=float))
    assert np.asarray(res.params)[:3] == pytest.approx(fit.beta, abs=1e-4)


def test_method_effects_point_the_right_way(study):
    df = validate_ratings(study)
    for fit in (ordinal_logit(df), ordinal_mixed(df)):
        location = fit.table[fit.table["kind"] == "location"]
        # ProtoPool is the reference and scores highest, so the others have negative effects.
        assert (location["estimate"] < 0).all()
        assert (location["odds_ratio"] < 1).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clmm_recovers_simulated_parameters_within_their_intervals(seed):
    # Ratings drawn from the model itself: cumulative logit, participant intercepts SD 0.9,
    # no question effects. Seven parameters in three studies are 21 checks, so 99% Wald
    # intervals are used to keep an honest miss (expected once in 20 at 95%) from failing.
    from analysis.simulate import simulate_ratings

    truth_effects = (0.0, -1.0, -0.4)
    df = validate_ratings(
        simulate_ratings(
            participants=50,
            questions=45,
            seed=seed,
            effects=truth_effects,
            participant_sd=0.9,
            question_sd=0.0,
        )
    )
    table = ordinal_mixed(df, confidence_level=0.99).table.set_index("term")
    thresholds = np.array([-2.2, -0.55, 0.85, 2.6])
    truth = {
        "method[protopool-protopnet-sim] vs protopool": -1.0,
        "method[prototree] vs protopool": -0.4,
        "participant sd": 0.9,
        "1|2": thresholds[0],
        "2|3": thresholds[1],
        "3|4": thresholds[2],
        "4|5": thresholds[3],
    }
    for term, value in truth.items():
        assert table.loc[term, "ci_low"] <= value <= table.loc[term, "ci_high"], term


def test_probit_clm_matches_polr_on_ucla_data(ucla):
    # R MASS::polr(..., method = "probit") from the same statsmodels results file:
    # beta 0.59811, 0.01016, 0.35815; cut-points 1.2968, 2.5028.
    x = ucla[["pared", "public", "gpa"]].to_numpy(dtype=float)
    fit = fit_clm(ucla["apply_code"].to_numpy(), x, link="probit")
    assert fit.beta == pytest.approx([0.59811, 0.01016, 0.35815], abs=5e-4)
    assert fit.thresholds == pytest.approx([1.2968, 2.5028], abs=1e-3)
