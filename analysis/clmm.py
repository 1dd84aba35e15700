"""Cumulative link models fitted on compressed data, with an optional random intercept.

The model is ``P(Y <= j | u) = F(theta_j - x'beta - u)`` with ``u ~ N(0, sigma^2)`` shared by
all answers of one group (participant); positive beta shifts ratings upward, as in R's
``ordinal::clmm``. statsmodels has no such model, so the marginal likelihood is integrated by
adaptive Gauss-Hermite quadrature: nodes are centred and scaled on each group's posterior of
``u``, re-adapted between optimisation rounds until the log-likelihood settles. Identical
(group, x, y) rows are merged into counts first, so the cost depends on the number of distinct
cells, not on the number of answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.clm_likelihood import (
    CompressedData,
    Nodes,
    adapt_nodes,
    compress,
    group_scores,
    loglik_grad,
    minimise,
    numerical_hessian,
    quadrature_nodes,
    start_params,
    to_natural,
)
from analysis.tables import wald_table


@dataclass(frozen=True)
class ClmmResult:
    """Estimates of a (mixed) cumulative link model.

    ``cov`` is ordered as (thresholds, beta, sigma); ``sigma`` is NaN for a model without a
    random effect.
    """

    thresholds: np.ndarray
    beta: np.ndarray
    sigma: float
    cov: np.ndarray
    loglik: float
    converged: bool
    n_obs: int
    n_groups: int
    n_nodes: int
    names: tuple[str, ...]
    levels: tuple[float, ...]

    def table(self, confidence_level: float = 0.95) -> pd.DataFrame:
        """Wald table with columns ``term, kind, estimate, se, z, p_value, ci_low, ci_high``."""
        k = len(self.thresholds)
        labels = [f"{self.levels[j]:g}|{self.levels[j + 1]:g}" for j in range(k)]
        estimates = np.r_[self.thresholds, self.beta]
        kinds = ["threshold"] * k + ["location"] * len(self.beta)
        terms = labels + list(self.names)
        if not np.isnan(self.sigma):
            estimates, kinds, terms = (
                np.r_[estimates, self.sigma],
                kinds + ["random sd"],
                terms + ["participant sd"],
            )
        se = np.sqrt(np.clip(np.diag(self.cov)[: len(estimates)], 0, None))
        return wald_table(terms, estimates, se, confidence_level, kinds)


def fit_clmm(
    y: np.ndarray,
    x: np.ndarray,
    groups: np.ndarray,
    names: tuple[str, ...] | None = None,
    n_nodes: int = 10,
    link: str = "logit",
    max_rounds: int = 30,
    tol: float = 1e-8,
) -> ClmmResult:
    """Fit a cumulative link mixed model with one random intercept per group.

    Parameters
    ----------
    y
        Ordinal responses, shape (N,).
    x
        Covariates without an intercept, shape (N, P).
    groups
        Group (participant) labels, shape (N,).
    names
        Names of the covariates for the output table.
    n_nodes
        Adaptive Gauss-Hermite nodes per group.
    link
        ``"logit"`` or ``"probit"``.
    max_rounds
        Rounds of (optimise, re-adapt) before giving up.
    tol
        Relative change of the log-likelihood between rounds that counts as settled.

    Returns
    -------
    ClmmResult
    """
    data, levels = compress(y, x, groups)
    k, p = data.n_levels - 1, data.x.shape[1]
    if k < 1:
        raise ValueError("The response has a single level; a cumulative model needs two or more.")
    n_groups = len(data.starts)
    clm = minimise(
        data, (np.zeros((n_groups, 1)), np.zeros((n_groups, 1))), link, False, start_params(data)
    )
    phi = np.r_[clm.x, 0.0]
    nodes = quadrature_nodes(n_groups, np.zeros(n_groups), np.ones(n_groups), n_nodes)
    nodes = adapt_nodes(to_natural(phi, k, p, True), data, nodes, link, n_nodes, rounds=5)
    natural, nodes, loglik, converged = _adaptive_rounds(
        phi, data, nodes, link, n_nodes, max_rounds, tol
    )
    hess = numerical_hessian(natural, data, nodes, link, True)
    return ClmmResult(
        thresholds=natural[:k],
        beta=natural[k : k + p],
        sigma=float(natural[-1]),
        cov=np.linalg.pinv(-hess),
        loglik=float(loglik),
        converged=converged,
        n_obs=int(data.count.sum()),
        n_groups=n_groups,
        n_nodes=n_nodes,
        names=tuple(names) if names is not None else tuple(f"x{i}" for i in range(p)),
        levels=tuple(float(v) for v in levels),
    )


def _adaptive_rounds(
    phi: np.ndarray,
    data: CompressedData,
    nodes: Nodes,
    link: str,
    n_nodes: int,
    max_rounds: int,
    tol: float,
) -> tuple[np.ndarray, Nodes, float, bool]:
    # Alternate optimisation with fixed nodes and re-adaptation of the nodes until the
    # log-likelihood settles. Each round starts from the previous inverse Hessian, so later
    # rounds take a handful of BFGS steps.
    k, p = data.n_levels - 1, data.x.shape[1]
    previous, converged, hess_inv = -np.inf, False, None
    for _ in range(max_rounds):
        res = minimise(data, nodes, link, True, phi, hess_inv)
        phi, hess_inv = res.x, _positive_definite(res.hess_inv)
        natural = to_natural(phi, k, p, True)
        nodes = adapt_nodes(natural, data, nodes, link, n_nodes, rounds=2)
        loglik = loglik_grad(natural, data, nodes, link, True)[0]
        if abs(loglik - previous) < tol * max(1.0, abs(loglik)):
            converged = True
            break
        previous = loglik
    return natural, nodes, loglik, converged


def _positive_definite(matrix: np.ndarray) -> np.ndarray | None:
    sym: np.ndarray = 0.5 * (matrix + matrix.T)
    try:
        np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        return None
    return sym


def fit_clm(
    y: np.ndarray,
    x: np.ndarray,
    groups: np.ndarray | None = None,
    names: tuple[str, ...] | None = None,
    link: str = "logit",
) -> ClmmResult:
    """Fit a cumulative link model without random effects, optionally with cluster-robust SEs.

    With ``groups`` the covariance is the cluster sandwich with the same small-sample factor
    statsmodels uses, G/(G-1) * (N-1)/(N-K), so it matches ``OrderedModel(...).fit(
    cov_type='cluster')`` while running on compressed cells.
    """
    labels = np.zeros(len(y)) if groups is None else groups
    data, levels = compress(y, x, labels)
    k, p, n_groups = data.n_levels - 1, data.x.shape[1], len(data.starts)
    nodes = (np.zeros((n_groups, 1)), np.zeros((n_groups, 1)))
    res = minimise(data, nodes, link, False, start_params(data))
    natural = to_natural(res.x, k, p, False)
    bread = np.linalg.pinv(-numerical_hessian(natural, data, nodes, link, False))
    cov = bread
    if groups is not None:
        scores = group_scores(natural, data, link)
        n_obs, n_par = data.count.sum(), natural.size
        factor = n_groups / (n_groups - 1) * (n_obs - 1) / (n_obs - n_par)
        cov = factor * bread @ (scores.T @ scores) @ bread
    return ClmmResult(
        thresholds=natural[:k],
        beta=natural[k:],
        sigma=float("nan"),
        cov=cov,
        loglik=float(-res.fun * data.count.sum()),
        converged=bool(res.success),
        n_obs=int(data.count.sum()),
        n_groups=n_groups,
        n_nodes=0,
        names=tuple(names) if names is not None else tuple(f"x{i}" for i in range(p)),
        levels=tuple(float(v) for v in levels),
    )
