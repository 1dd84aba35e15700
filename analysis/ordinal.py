"""Ordinal models of score on method: a cumulative logit with participant-clustered errors
(statsmodels ``OrderedModel``) and a cumulative link mixed model with a participant random
intercept (:mod:`analysis.clmm`).

Both use ``P(score <= j) = F(theta_j - x'beta)``; a positive coefficient for a method means
higher scores than the reference method, and ``exp(beta)`` is the proportional odds ratio of
scoring higher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.miscmodels.ordinal_model import OrderedModel

from analysis.clmm import ClmmResult, fit_clm, fit_clmm
from analysis.io import method_order
from analysis.tables import wald_table

# Above this many answers OrderedModel's numerical derivatives dominate the report's run time,
# so the same model is fitted on compressed cells by analysis.clmm.fit_clm, which the tests
# check against OrderedModel to many digits.
STATSMODELS_MAX_ROWS = 200_000
MODEL_COLUMNS = (
    "term",
    "kind",
    "estimate",
    "se",
    "z",
    "p_value",
    "ci_low",
    "ci_high",
    "odds_ratio",
)


@dataclass(frozen=True)
class OrdinalFit:
    """Coefficient table and fit summary of an ordinal model."""

    model: str
    table: pd.DataFrame
    loglik: float
    n_obs: int
    n_groups: int
    engine: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def aic(self) -> float:
        """Akaike information criterion."""
        return 2 * len(self.table) - 2 * self.loglik


def method_design(df: pd.DataFrame, reference: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Treatment-coded method dummies (no intercept) and their names.

    Parameters
    ----------
    df
        Validated ratings.
    reference
        Baseline method; the first method in study order when omitted.
    """
    methods = method_order(df)
    reference = methods[0] if reference is None else reference
    if reference not in methods:
        raise ValueError(f"Reference method {reference!r} not in the data; choose from {methods}.")
    others = [m for m in methods if m != reference]
    if not others:
        raise ValueError("The ordinal models need at least two methods.")
    labels = df["method"].astype(str).to_numpy()
    x = np.column_stack([(labels == m).astype(float) for m in others])
    return x, [f"method[{m}] vs {reference}" for m in others]


def ordinal_logit(
    df: pd.DataFrame, reference: str | None = None, confidence_level: float = 0.95
) -> OrdinalFit:
    """Proportional-odds logistic regression of score on method, participant-clustered SEs.

    Parameters
    ----------
    df
        Validated ratings.
    reference
        Baseline method.
    confidence_level
        Coverage of the Wald intervals.

    Returns
    -------
    OrdinalFit
        ``table`` has the columns in ``MODEL_COLUMNS``; thresholds carry delta-method SEs.
    """
    x, names = method_design(df, reference)
    y = df["score"].to_numpy()
    groups = pd.Categorical(df["participant"]).codes
    if len(df) <= STATSMODELS_MAX_ROWS:
        return _ordered_model(y, x, names, groups, confidence_level)
    fit = fit_clm(y, x, groups, names=tuple(names))
    note = (
        f"fitted on compressed cells (more than {STATSMODELS_MAX_ROWS:,} answers); same "
        "estimator and cluster sandwich as OrderedModel"
    )
    return _from_clmm(
        "cumulative logit (clustered)", fit, confidence_level, "analysis.clmm", (note,)
    )


def ordinal_mixed(
    df: pd.DataFrame,
    reference: str | None = None,
    n_nodes: int = 10,
    confidence_level: float = 0.95,
) -> OrdinalFit:
    """Cumulative link mixed model with a participant random intercept (adaptive GH).

    The table gains a ``participant sd`` row (random-intercept SD on the latent logit scale).
    """
    x, names = method_design(df, reference)
    fit = fit_clmm(
        df["score"].to_numpy(), x, df["participant"].to_numpy(), names=tuple(names), n_nodes=n_nodes
    )
    notes = () if fit.converged else ("optimiser did not report convergence",)
    return _from_clmm(
        "cumulative link mixed model",
        fit,
        confidence_level,
        f"adaptive Gauss-Hermite, {n_nodes} nodes",
        notes,
    )


def _from_clmm(
    model: str, fit: ClmmResult, confidence_level: float, engine: str, notes: tuple[str, ...]
) -> OrdinalFit:
    table = fit.table(confidence_level)
    table["odds_ratio"] = np.where(table["kind"] == "location", np.exp(table["estimate"]), np.nan)
    return OrdinalFit(
        model, table[list(MODEL_COLUMNS)], fit.loglik, fit.n_obs, fit.n_groups, engine, tuple(notes)
    )


def _ordered_model(
    y: np.ndarray, x: np.ndarray, names: list[str], groups: np.ndarray, confidence_level: float
) -> OrdinalFit:
    model = OrderedModel(y, pd.DataFrame(x, columns=names), distr="logit")
    # The default optimiser is Nelder-Mead, which stalls on these likelihoods; use BFGS and
    # start from the compressed-cell fit so the clustered fit needs few iterations.
    start = fit_clm(y, x, None, names=tuple(names))
    k = len(start.thresholds)
    start_params = np.r_[start.beta, start.thresholds[0], np.log(np.diff(start.thresholds))]
    res = model.fit(
        start_params=start_params,
        method="bfgs",
        disp=False,
        maxiter=1000,
        cov_type="cluster",
        cov_kwds={"groups": groups},
    )
    params, cov = np.asarray(res.params), np.asarray(res.cov_params())
    p = len(names)
    thresholds = model.transform_threshold_params(params)[1:-1]
    # Delta method from (theta_1, log increments) to the cut-points.
    jac = np.zeros((k, k))
    jac[:, 0] = 1.0
    for j in range(1, k):
        jac[j:, j] = np.exp(params[p + j])
    cov_theta = jac @ cov[p:, p:] @ jac.T
    estimates = np.r_[thresholds, params[:p]]
    se = np.sqrt(np.r_[np.diag(cov_theta), np.diag(cov)[:p]])
    levels = np.unique(y)
    terms = [f"{levels[j]:g}|{levels[j + 1]:g}" for j in range(k)] + list(names)
    table = _wald_table(
        terms, ["threshold"] * k + ["location"] * p, estimates, se, confidence_level
    )
    return OrdinalFit(
        "cumulative logit (clustered)",
        table,
        float(res.llf),
        len(y),
        int(len(np.unique(groups))),
        "statsmodels OrderedModel",
    )


def _wald_table(
    terms: list[str],
    kinds: list[str],
    estimates: np.ndarray,
    se: np.ndarray,
    confidence_level: float,
) -> pd.DataFrame:
    table = wald_table(terms, estimates, se, confidence_level, kinds)
    table["odds_ratio"] = np.where(table["kind"] == "location", np.exp(estimates), np.nan)
    return table
