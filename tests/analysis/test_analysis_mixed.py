"""Linear mixed models against nlme/lme4 published fits and statsmodels MixedLM."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.formula.api as smf

from analysis import linear_mixed
from analysis.io import validate_ratings
from analysis.lmm_crossed import fit_crossed
from analysis.mixed import fit_random_intercept
from analysis.simulate import simulate_ratings

# nlme's Rail data (Pinheiro & Bates 2000, section 1.1): travel times of three ultrasonic
# waves through each of six rails.
RAIL = np.array(
    [[55, 53, 54], [26, 37, 32], [78, 91, 85], [92, 100, 96], [49, 51, 50], [80, 85, 83]],
    dtype=float,
)
# lme4's Dyestuff data (Davies 1947): yield of dyestuff from five preparations of six batches.
DYESTUFF = np.array(
    [
        [1545, 1440, 1440, 1520, 1580],
        [1540, 1555, 1490, 1560, 1495],
        [1595, 1550, 1605, 1510, 1560],
        [1445, 1440, 1595, 1465, 1545],
        [1595, 1630, 1515, 1635, 1625],
        [1520, 1455, 1450, 1480, 1445],
    ],
    dtype=float,
)


def test_random_intercept_matches_nlme_rail():
    # lme(travel ~ 1, random = ~1 | Rail): intercept 66.5 (SE 10.17104), rail SD 24.80547,
    # residual SD 4.020779, REML logLik -61.0885.
    fit = fit_random_intercept(RAIL.ravel(), np.ones((18, 1)), np.repeat(np.arange(6), 3))
    assert fit.fe_params[0] == pytest.approx(66.5)
    assert fit.bse[0] == pytest.approx(10.17104, abs=1e-4)
    assert np.sqrt(fit.group_variance) == pytest.approx(24.80547, abs=1e-4)
    assert np.sqrt(fit.scale) == pytest.approx(4.020779, abs=1e-5)
    assert fit.llf == pytest.approx(-61.0885, abs=1e-4)


def test_random_intercept_matches_lme4_dyestuff():
    # lmer(Yield ~ 1 + (1 | Batch), Dyestuff): batch SD 42.00, residual SD 49.51, intercept
    # 1527.5 (SE 19.38), REML criterion 319.7.
    fit = fit_random_intercept(DYESTUFF.ravel(), np.ones((30, 1)), np.repeat(np.arange(6), 5))
    assert np.sqrt(fit.group_variance) == pytest.approx(42.00, abs=5e-3)
    assert np.sqrt(fit.scale) == pytest.approx(49.51, abs=5e-3)
    assert fit.bse[0] == pytest.approx(19.38, abs=5e-3)
    assert -2 * fit.llf == pytest.approx(319.7, abs=0.05)


# How closely fit_crossed's optimiser can pin the rail SD on Rail. L-BFGS-B steers by a
# finite-difference gradient (step 1e-8) of the REML criterion (about 122), which rounding makes
# noisy by ~1e-12, so the gradient it sees is noisy by ~1e-4 and it stops once the true one is
# that small. The criterion's curvature in the relative SD t_p = SD / residual SD is 0.37, so
# t_p stops a few times 1e-4 / 0.37 = 3e-4 from the optimum, and the SD (4.02 t_p) a few times
# 1.2e-3, on a side and at a distance set by the BLAS's summation order (24.80375 on one
# machine: 1.7e-3 off). The log-likelihood, flat at its optimum, moves by ~1e-7 only.
CROSSED_RAIL_SD_TOL = 1e-2


def test_crossed_model_reduces_to_rail_when_questions_are_singletons() -> None:
    # One question per observation makes the question variance unidentifiable from the
    # residual; REML puts it at zero and the participant model is recovered: nlme's published
    # fit quoted in test_random_intercept_matches_nlme_rail (Pinheiro & Bates 2000, section 1.1).
    fit = fit_crossed(RAIL.ravel(), np.ones((18, 1)), np.repeat(np.arange(6), 3), np.arange(18))
    assert fit.llf == pytest.approx(-61.0885, abs=1e-4)
    assert np.sqrt(fit.participant_variance) == pytest.approx(24.80547, abs=CROSSED_RAIL_SD_TOL)


@pytest.mark.parametrize("drop", [0, 7])
def test_crossed_model_matches_statsmodels_variance_components(drop):
    # statsmodels' MixedLM with crossed variance components in one group is the reference;
    # dropping answers exercises the unbalanced path.
    raw = simulate_ratings(participants=15, questions=24, seed=4).iloc[drop:]
    # Alphabetical method order, the order of statsmodels' treatment coding.
    df = validate_ratings(raw, methods=sorted(raw["method"].unique()))
    data = df.assign(
        one=1,
        participant=df["participant"].astype(str),
        question=df["question"].astype(str),
        method=df["method"].astype(str),
    )
    vc = {"participant": "0 + C(participant)", "question": "0 + C(question)"}
    ref = smf.mixedlm("score ~ C(method)", data, groups="one", re_formula="0", vc_formula=vc).fit(
        reml=True
    )
    ours = linear_mixed(df)
    assert ours.model.startswith("LMM, crossed")
    assert ours.loglik == pytest.approx(ref.llf, abs=1e-4)
    assert ours.table["estimate"].to_numpy() == pytest.approx(np.asarray(ref.fe_params), abs=1e-6)
    assert ours.table["se"].to_numpy() == pytest.approx(np.asarray(ref.bse)[:3], rel=2e-3)
    names = list(ref.model.exog_vc.names)
    for name in ("participant", "question"):
        assert ours.variances[name] == pytest.approx(ref.vcomp[names.index(name)], rel=2e-3)


def test_participant_only_model_matches_statsmodels(study):
    df = validate_ratings(study)
    data = df.assign(participant=df["participant"].astype(str), method=df["method"].astype(str))
    ref = smf.mixedlm("score ~ C(method)", data, groups="participant").fit(reml=True)
    ours = linear_mixed(df, crossed=False)
    assert ours.loglik == pytest.approx(ref.llf, abs=1e-3)
    assert ours.table["estimate"].to_numpy() == pytest.approx(np.asarray(ref.fe_params))
    assert ours.variances["participant"] == pytest.approx(float(ref.cov_re.iloc[0, 0]), rel=1e-3)
