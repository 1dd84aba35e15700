"""Linear mixed models of the numeric score: a robustness check on the ordinal models.

Treating 1-5 as interval data is a simplification, but a reviewer will ask whether the method
differences survive it. Participants and questions are crossed in this design, so the model
has random intercepts for both (:mod:`analysis.lmm_crossed`); when both factors are too large
for that, only the participant intercept is kept (closed form, below) and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize

from analysis.lmm_crossed import MAX_SCHUR, CrossedResult, fit_crossed
from analysis.ordinal import method_design
from analysis.tables import wald_table

LMM_COLUMNS = ("term", "estimate", "se", "z", "p_value", "ci_low", "ci_high")


@dataclass(frozen=True)
class LmmFit:
    """Fixed-effect table and variance components of a linear mixed model."""

    model: str
    table: pd.DataFrame
    variances: dict[str, float]
    loglik: float
    n_obs: int
    converged: bool
    notes: tuple[str, ...] = field(default_factory=tuple)


def linear_mixed(
    df: pd.DataFrame,
    reference: str | None = None,
    crossed: bool | None = None,
    confidence_level: float = 0.95,
) -> LmmFit:
    """REML linear mixed model ``score ~ method`` with participant (and question) intercepts.

    Parameters
    ----------
    df
        Validated ratings.
    reference
        Baseline method; the first in study order when omitted.
    crossed
        Add crossed question intercepts. By default whenever participants or questions number
        at most ``analysis.lmm_crossed.MAX_SCHUR``.
    confidence_level
        Coverage of the Wald intervals.

    Returns
    -------
    LmmFit
        ``table`` has the columns in ``LMM_COLUMNS``; the intercept is the reference method's
        mean and the method terms are differences in mean score.
    """
    x, names = method_design(df, reference)
    exog = sm.add_constant(pd.DataFrame(x, columns=names))
    endog = df["score"].to_numpy(dtype=float)
    small = min(df["participant"].nunique(), df["question"].nunique()) <= MAX_SCHUR
    use_crossed = small if crossed is None else crossed
    notes: list[str] = []
    res: CrossedResult | RandomInterceptResult
    if use_crossed:
        res = fit_crossed(
            endog, exog.to_numpy(), df["participant"].to_numpy(), df["question"].to_numpy()
        )
        label = "LMM, crossed participant and question intercepts"
    else:
        res = fit_random_intercept(endog, exog.to_numpy(), df["participant"].to_numpy())
        label = "LMM, participant intercept"
        if crossed is None:
            notes.append(f"question intercepts omitted: both factors exceed {MAX_SCHUR} levels")
    if not res.converged:
        notes.append("optimiser did not report convergence")
    k = exog.shape[1]
    table = wald_table(
        ["intercept", *names], np.asarray(res.fe_params), np.asarray(res.bse)[:k], confidence_level
    )
    variances = _variances(res)
    return LmmFit(label, table, variances, float(res.llf), len(df), res.converged, tuple(notes))


def _variances(res: CrossedResult | RandomInterceptResult) -> dict[str, float]:
    out = {"residual": float(res.scale)}
    if isinstance(res, CrossedResult):
        out["participant"] = res.participant_variance
        out["question"] = res.question_variance
    else:
        out["participant"] = float(res.group_variance)
    return out


@dataclass(frozen=True)
class RandomInterceptResult:
    """REML fit of ``y = X beta + u_group + e`` (the attributes mirror statsmodels' names)."""

    fe_params: np.ndarray
    bse: np.ndarray
    cov_fe: np.ndarray
    scale: float
    group_variance: float
    llf: float
    converged: bool


def fit_random_intercept(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> RandomInterceptResult:
    """REML linear model with one random intercept per group, from per-group sums.

    With ``V_g = s2 (I + lam J)`` the inverse is ``(I - c_g J)/s2`` with
    ``c_g = lam / (1 + n_g lam)``, so every quantity the REML likelihood needs is a sum over
    groups of n_g, X'X, X'1, X'y, 1'y and y'y. Only the variance ratio ``lam`` is optimised
    (a bounded scalar search); ``s2`` and ``beta`` then have closed forms. statsmodels'
    MixedLM fits the same model but iterates over groups in Python and sometimes stops with a
    spurious gradient warning on balanced designs.

    Parameters
    ----------
    y
        Response, shape (N,).
    x
        Fixed-effect design including the intercept column, shape (N, P).
    groups
        Group labels, shape (N,).
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    codes = pd.factorize(np.asarray(groups))[0]
    n_obs, n_par = x.shape
    n_g = np.bincount(codes).astype(float)
    xtx = x.T @ x
    xty = x.T @ y
    yty = float(y @ y)
    sx = np.column_stack([np.bincount(codes, weights=x[:, j]) for j in range(n_par)])
    sy = np.bincount(codes, weights=y)

    def pieces(log_lam: float) -> tuple[np.ndarray, np.ndarray, float]:
        c = np.exp(log_lam) / (1 + n_g * np.exp(log_lam))
        a = xtx - (sx * c[:, None]).T @ sx
        b = xty - (sx * (c * sy)[:, None]).sum(axis=0)
        beta = np.linalg.solve(a, b)
        rss = yty - float((c * sy**2).sum()) - float(b @ beta)
        return a, beta, rss

    def neg_reml(log_lam: float) -> float:
        a, _, rss = pieces(log_lam)
        s2 = rss / (n_obs - n_par)
        logdet_a = np.linalg.slogdet(a)[1]
        ll = -0.5 * (
            (n_obs - n_par) * (np.log(2 * np.pi * s2) + 1)
            + np.log1p(n_g * np.exp(log_lam)).sum()
            + logdet_a
        )
        return float(-ll)

    # Bounds on log(lam) span a group variance from 1e-9 to 1e5 times the residual variance.
    res = optimize.minimize_scalar(
        neg_reml, bounds=(-20.7, 11.5), method="bounded", options={"xatol": 1e-10}
    )
    a, beta, rss = pieces(res.x)
    s2 = rss / (n_obs - n_par)
    cov = s2 * np.linalg.inv(a)
    return RandomInterceptResult(
        beta,
        np.sqrt(np.diag(cov)),
        cov,
        float(s2),
        float(s2 * np.exp(res.x)),
        float(-res.fun),
        bool(res.success),
    )
